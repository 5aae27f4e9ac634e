/* The nn backend table: the functions the graph runner (src/nn/graph.c) calls for memory and for every op, in
 * the spirit of ggml-backend-impl.h. The CPU backend (src/nn/backend_cpu.c) fills it with the reference loops
 * of src/nn/ops_ref.c, the im2col + OpenBLAS sgemm paths of src/nn/ops_fast.c and the oneDNN convolutions of
 * src/nn/ops_dnnl.c, each where it measured faster (bench/bench_nn.c, docs/nn.md). A CUDA backend would provide the same table over device pointers; model code never sees
 * this header. Kernels take raw buffers owned by the backend's alloc; signatures are those of src/nn/ops.h.
 *
 * Left out: asynchronous execution and streams, per-op fallbacks between backends (a backend fills every
 * entry). */
#ifndef SM_NN_BACKEND_IMPL_H
#define SM_NN_BACKEND_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops.h"

typedef struct sm_nn_backend {
    const char *name;                                   /* "cpu" */
    /* memory: 64-byte aligned, zeroed; NULL on failure */
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    void (*zero)(void *p, size_t bytes);

    size_t (*conv_work_floats)(const sm_nn_conv *d);
    /* Per-node state of a convolution (oneDNN primitives, say), made once per context; NULL when the backend
     * needs none. transpose: conv_transpose2d; train: backward will be called. */
    void *(*conv_plan_create)(const sm_nn_conv *d, int transpose, int bias, int train);
    void (*conv_plan_destroy)(void *plan);
    void (*conv2d_forward)(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                           float *work, void *plan);
    void (*conv2d_backward)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                            const sm_nn_conv *d, float *work, void *plan);
    void (*convt2d_forward)(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                            float *work, void *plan);
    void (*convt2d_backward)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                             const sm_nn_conv *d, float *work, void *plan);
    void (*linear_forward)(float *y, const float *x, const float *w, const float *b, int N, int In, int O);
    void (*linear_backward)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                            int N, int In, int O);

    void (*upsample_forward)(float *y, const float *x, int NC, int H, int W, int s, int mode);
    void (*upsample_backward)(float *dx, const float *dy, int NC, int H, int W, int s, int mode);
    void (*batchnorm_forward_train)(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                    const float *beta, int N, int C, int HW, float eps);
    void (*batchnorm_forward_eval)(float *y, const float *x, const float *gamma, const float *beta,
                                   const float *rmean, const float *rvar, int N, int C, int HW, float eps);
    void (*batchnorm_backward_train)(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                     const float *mean, const float *rstd, const float *gamma, int N, int C, int HW);
    void (*batchnorm_backward_eval)(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                    const float *gamma, const float *rmean, const float *rvar, int N, int C,
                                    int HW, float eps);
    void (*groupnorm_forward)(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                              const float *beta, int N, int C, int HW, int G, float eps);
    void (*groupnorm_backward)(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                               const float *mean, const float *rstd, const float *gamma, int N, int C, int HW,
                               int G);
    void (*act_forward)(float *y, const float *x, size_t n, int act);
    void (*act_backward)(float *dx, const float *dy, const float *x, const float *y, size_t n, int act);
    void (*binary_forward)(float *y, const float *a, const float *b, int N, int C, int HW, int bHW, int op);
    void (*binary_backward)(float *da, float *db, const float *dy, const float *a, const float *b, int N, int C,
                            int HW, int bHW, int op);
    void (*concat_forward)(float *y, const float *x, int N, int Cx, int Cy, int c0, int HW);
    void (*concat_backward)(float *dx, const float *dy, int N, int Cx, int Cy, int c0, int HW);
    void (*crop_forward)(float *y, const float *x, int NC, int H, int W, int top, int left, int h, int w);
    void (*crop_backward)(float *dx, const float *dy, int NC, int H, int W, int top, int left, int h, int w);
    void (*pool_forward)(float *y, int32_t *argmax, const float *x, int NC, int H, int W, int OH, int OW, int k,
                         int stride, int pad, int kind);
    void (*pool_backward)(float *dx, const float *dy, const int32_t *argmax, int NC, int H, int W, int OH, int OW,
                          int k, int stride, int pad, int kind);
    void (*gpool_forward)(float *y, int32_t *argmax, const float *x, int NC, int HW, int kind);
    void (*gpool_backward)(float *dx, const float *dy, const int32_t *argmax, int NC, int HW, int kind);
    void (*softmax_forward)(float *y, const float *x, int N, int C, int HW);
    void (*softmax_backward)(float *dx, const float *dy, const float *y, int N, int C, int HW);
    void (*attention_forward)(float *y, float *probs, const float *q, const float *k, const float *v, int N, int C,
                              int Tq, int Tk, int heads);
    void (*attention_backward)(float *dq, float *dk, float *dv, const float *dy, const float *probs,
                               const float *q, const float *k, const float *v, int N, int C, int Tq, int Tk,
                               int heads);
    void (*dropout_forward)(float *y, const float *x, const float *mask, size_t n);
    void (*dropout_backward)(float *dx, const float *dy, const float *mask, size_t n);
    double (*loss_forward)(int kind, const float *z, const float *t, int N, size_t per, float p1, float p2);
    void (*loss_backward)(int kind, float *dz, float g, const float *z, const float *t, int N, size_t per, float p1,
                          float p2);
} sm_nn_backend;

/* The CPU backend (fast paths), and the same table with every entry a reference loop (for tests). */
const sm_nn_backend *sm_nn_backend_cpu(void);
const sm_nn_backend *sm_nn_backend_ref(void);

#endif
