/* The CPU backend tables (see src/nn/backend_impl.h): "cpu" runs convolutions, transposed convolutions and
 * linear layers through im2col + OpenBLAS sgemm (src/nn/ops_fast.c) and everything else through the OpenMP
 * reference loops; "ref" runs every op through the reference loops, for tests that compare the two.
 * Left out: oneDNN, which bench/bench_nn.c measured against sgemm on our shapes (docs/nn.md). */
#include <stdlib.h>
#include <string.h>

#include "nn/backend_impl.h"

static void *cpu_alloc(size_t bytes) {
    size_t n = (bytes + 63) / 64 * 64;
    if (n == 0) n = 64;
    void *p = aligned_alloc(64, n);
    if (p) memset(p, 0, n);
    return p;
}

static void cpu_free(void *p) { free(p); }
static void cpu_zero(void *p, size_t bytes) {
    if (p && bytes) memset(p, 0, bytes);
}

static size_t ref_work(const sm_nn_conv *d) {
    (void)d;
    return 0;
}
static void ref_conv_fwd(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                         float *work) {
    (void)work;
    sm_nn_conv2d_forward_ref(y, x, w, b, d);
}
static void ref_conv_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                         const sm_nn_conv *d, float *work) {
    (void)work;
    sm_nn_conv2d_backward_ref(dx, dw, db, dy, x, w, d);
}
static void ref_convt_fwd(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                          float *work) {
    (void)work;
    sm_nn_convt2d_forward_ref(y, x, w, b, d);
}
static void ref_convt_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          const sm_nn_conv *d, float *work) {
    (void)work;
    sm_nn_convt2d_backward_ref(dx, dw, db, dy, x, w, d);
}

#define COMMON_ENTRIES                                              \
    .alloc = cpu_alloc, .free = cpu_free, .zero = cpu_zero,         \
    .upsample_forward = sm_nn_upsample_forward,                     \
    .upsample_backward = sm_nn_upsample_backward,                   \
    .batchnorm_forward_train = sm_nn_batchnorm_forward_train,       \
    .batchnorm_forward_eval = sm_nn_batchnorm_forward_eval,         \
    .batchnorm_backward_train = sm_nn_batchnorm_backward_train,     \
    .batchnorm_backward_eval = sm_nn_batchnorm_backward_eval,       \
    .groupnorm_forward = sm_nn_groupnorm_forward,                   \
    .groupnorm_backward = sm_nn_groupnorm_backward,                 \
    .act_forward = sm_nn_act_forward, .act_backward = sm_nn_act_backward, \
    .binary_forward = sm_nn_binary_forward, .binary_backward = sm_nn_binary_backward, \
    .concat_forward = sm_nn_concat_forward, .concat_backward = sm_nn_concat_backward, \
    .crop_forward = sm_nn_crop_forward, .crop_backward = sm_nn_crop_backward, \
    .pool_forward = sm_nn_pool_forward, .pool_backward = sm_nn_pool_backward, \
    .gpool_forward = sm_nn_gpool_forward, .gpool_backward = sm_nn_gpool_backward, \
    .softmax_forward = sm_nn_softmax_forward, .softmax_backward = sm_nn_softmax_backward, \
    .attention_forward = sm_nn_attention_forward, .attention_backward = sm_nn_attention_backward, \
    .dropout_forward = sm_nn_dropout_forward, .dropout_backward = sm_nn_dropout_backward, \
    .loss_forward = sm_nn_loss_forward, .loss_backward = sm_nn_loss_backward

static const sm_nn_backend cpu_backend = {
    .name = "cpu",
    .conv_work_floats = sm_nn_conv_work_floats,
    .conv2d_forward = sm_nn_conv2d_forward_gemm,
    .conv2d_backward = sm_nn_conv2d_backward_gemm,
    .convt2d_forward = sm_nn_convt2d_forward_gemm,
    .convt2d_backward = sm_nn_convt2d_backward_gemm,
    .linear_forward = sm_nn_linear_forward_gemm,
    .linear_backward = sm_nn_linear_backward_gemm,
    COMMON_ENTRIES,
};

static const sm_nn_backend ref_backend = {
    .name = "ref",
    .conv_work_floats = ref_work,
    .conv2d_forward = ref_conv_fwd,
    .conv2d_backward = ref_conv_bwd,
    .convt2d_forward = ref_convt_fwd,
    .convt2d_backward = ref_convt_bwd,
    .linear_forward = sm_nn_linear_forward_ref,
    .linear_backward = sm_nn_linear_backward_ref,
    COMMON_ENTRIES,
};

const sm_nn_backend *sm_nn_backend_cpu(void) { return &cpu_backend; }
const sm_nn_backend *sm_nn_backend_ref(void) { return &ref_backend; }
