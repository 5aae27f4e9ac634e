/* The CPU backend tables (see src/nn/backend_impl.h): "cpu" runs convolutions, transposed convolutions and
 * linear layers through im2col + OpenBLAS sgemm (src/nn/ops_fast.c) and everything else through the OpenMP
 * reference loops, except conv2d with 16 or more channels, which goes through oneDNN (src/nn/ops_dnnl.c; see
 * cpu_plan for the rule and docs/nn.md for the measurements); "ref" runs every op through the reference loops,
 * for tests that compare the two. */
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
static void *no_plan(const sm_nn_conv *d, int transpose, int bias, int train) {
    (void)d, (void)transpose, (void)bias, (void)train;
    return NULL;
}
static void no_plan_free(void *plan) { (void)plan; }

static void ref_conv_fwd(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                         float *work, void *plan) {
    (void)work, (void)plan;
    sm_nn_conv2d_forward_ref(y, x, w, b, d);
}
static void ref_conv_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                         const sm_nn_conv *d, float *work, void *plan) {
    (void)work, (void)plan;
    sm_nn_conv2d_backward_ref(dx, dw, db, dy, x, w, d);
}
static void ref_convt_fwd(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                          float *work, void *plan) {
    (void)work, (void)plan;
    sm_nn_convt2d_forward_ref(y, x, w, b, d);
}
static void ref_convt_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          const sm_nn_conv *d, float *work, void *plan) {
    (void)work, (void)plan;
    sm_nn_convt2d_backward_ref(dx, dw, db, dy, x, w, d);
}

/* The route for a conv2d: oneDNN for groups 1, dilation 1 and 16 or more input or output channels, where
 * bench/bench_nn.c measured it faster than im2col + sgemm on our shapes; sgemm below that and for grouped,
 * dilated and transposed convolutions. SAMEM_NN_CONV=sgemm or =dnnl forces one route (for benchmarks). */
static void *cpu_plan(const sm_nn_conv *d, int transpose, int bias, int train) {
    if (transpose) return NULL;
    const char *force = getenv("SAMEM_NN_CONV");
    if (force && strcmp(force, "sgemm") == 0) return NULL;
    int want = (d->C >= 16 || d->O >= 16) || (force && strcmp(force, "dnnl") == 0);
    if (!want || d->groups != 1 || d->dil != 1) return NULL;
    return sm_nn_dnnl_conv_create(d, bias, train);   /* NULL (sgemm) if oneDNN declines */
}
static void cpu_plan_free(void *plan) { sm_nn_dnnl_conv_destroy(plan); }

static void cpu_conv_fwd(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                         float *work, void *plan) {
    if (plan && sm_nn_dnnl_conv_forward(plan, y, x, w, b) == 0) return;
    sm_nn_conv2d_forward_gemm(y, x, w, b, d, work);
}
static void cpu_conv_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                         const sm_nn_conv *d, float *work, void *plan) {
    if (plan && sm_nn_dnnl_conv_backward(plan, dx, dw, db, dy, x, w) == 0) return;
    sm_nn_conv2d_backward_gemm(dx, dw, db, dy, x, w, d, work);
}
static void cpu_convt_fwd(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                          float *work, void *plan) {
    (void)plan;
    sm_nn_convt2d_forward_gemm(y, x, w, b, d, work);
}
static void cpu_convt_bwd(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          const sm_nn_conv *d, float *work, void *plan) {
    (void)plan;
    sm_nn_convt2d_backward_gemm(dx, dw, db, dy, x, w, d, work);
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
    .conv_plan_create = cpu_plan,
    .conv_plan_destroy = cpu_plan_free,
    .conv2d_forward = cpu_conv_fwd,
    .conv2d_backward = cpu_conv_bwd,
    .convt2d_forward = cpu_convt_fwd,
    .convt2d_backward = cpu_convt_bwd,
    .linear_forward = sm_nn_linear_forward_gemm,
    .linear_backward = sm_nn_linear_backward_gemm,
    COMMON_ENTRIES,
};

static const sm_nn_backend ref_backend = {
    .name = "ref",
    .conv_work_floats = ref_work,
    .conv_plan_create = no_plan,
    .conv_plan_destroy = no_plan_free,
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
