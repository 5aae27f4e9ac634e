/* The nn kernels: one _forward/_backward pair per op on raw float pointers, outputs first and sizes last, in
 * the style of llm.c. These are the plain reference loops (src/nn/ops_ref.c), which the CPU backend uses for
 * every op without a faster path, and which the tests keep as the reference for the fast ones
 * (src/nn/ops_fast.c: convolutions through im2col + OpenBLAS sgemm).
 *
 * Conventions: tensors are (N,C,H,W) contiguous. Backward functions ADD into every gradient they receive (a
 * tensor may feed several ops; sm_nn_backward clears the activation gradients, sm_nn_zero_grad the parameter
 * ones). A NULL gradient pointer means "not wanted". Left out: everything not float32. */
#ifndef SM_NN_OPS_H
#define SM_NN_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Convolution geometry. For conv2d: input (N,C,H,W), weight (O,C/groups,k,k), output (N,O,OH,OW).
 * For conv_transpose2d: input (N,C,H,W), weight (C,O,k,k), output (N,O,OH,OW) (groups 1, dil 1). */
typedef struct sm_nn_conv {
    int N, C, H, W;
    int O, OH, OW;
    int k, stride, pad, dil, groups;
} sm_nn_conv;

/* conv2d */
void sm_nn_conv2d_forward_ref(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d);
void sm_nn_conv2d_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               const sm_nn_conv *d);
/* conv_transpose2d */
void sm_nn_convt2d_forward_ref(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d);
void sm_nn_convt2d_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                const sm_nn_conv *d);

/* upsample by s: x (N*C planes of H,W) -> y (N*C, H*s, W*s); mode 0 nearest, 1 bilinear (align_corners=False) */
void sm_nn_upsample_forward(float *y, const float *x, int NC, int H, int W, int s, int mode);
void sm_nn_upsample_backward(float *dx, const float *dy, int NC, int H, int W, int s, int mode);

/* batch norm, x (N,C,HW). train: mean, rstd (C) are written (batch statistics, biased variance). */
void sm_nn_batchnorm_forward_train(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                   const float *beta, int N, int C, int HW, float eps);
void sm_nn_batchnorm_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                                  const float *rmean, const float *rvar, int N, int C, int HW, float eps);
void sm_nn_batchnorm_backward_train(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                    const float *mean, const float *rstd, const float *gamma, int N, int C, int HW);
void sm_nn_batchnorm_backward_eval(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                   const float *gamma, const float *rmean, const float *rvar, int N, int C, int HW,
                                   float eps);
/* group norm, x (N,C,HW), G groups; mean, rstd (N,G) written */
void sm_nn_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                             const float *beta, int N, int C, int HW, int G, float eps);
void sm_nn_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                              const float *mean, const float *rstd, const float *gamma, int N, int C, int HW, int G);

/* activations over n elements (act: enum sm_nn_act) */
void sm_nn_act_forward(float *y, const float *x, size_t n, int act);
void sm_nn_act_backward(float *dx, const float *dy, const float *x, const float *y, size_t n, int act);

/* a (N,C,HW) op b (N,C,bHW) with bHW == HW or 1 (broadcast); op 0 add, 1 multiply */
void sm_nn_binary_forward(float *y, const float *a, const float *b, int N, int C, int HW, int bHW, int op);
void sm_nn_binary_backward(float *da, float *db, const float *dy, const float *a, const float *b, int N, int C,
                           int HW, int bHW, int op);

/* channel slice copy: y (N, Cy, HW) channels [c0, c0+Cx) <- x (N, Cx, HW); backward the reverse (adds) */
void sm_nn_concat_forward(float *y, const float *x, int N, int Cx, int Cy, int c0, int HW);
void sm_nn_concat_backward(float *dx, const float *dy, int N, int Cx, int Cy, int c0, int HW);
/* crop: y (NC, h, w) <- x (NC, H, W) at (top, left) */
void sm_nn_crop_forward(float *y, const float *x, int NC, int H, int W, int top, int left, int h, int w);
void sm_nn_crop_backward(float *dx, const float *dy, int NC, int H, int W, int top, int left, int h, int w);

/* pooling: x (NC,H,W) -> y (NC,OH,OW); kind 0 avg (count_include_pad), 1 max (argmax (NC,OH,OW) written,
 * -1 when the window is all padding) */
void sm_nn_pool_forward(float *y, int32_t *argmax, const float *x, int NC, int H, int W, int OH, int OW, int k,
                        int stride, int pad, int kind);
void sm_nn_pool_backward(float *dx, const float *dy, const int32_t *argmax, int NC, int H, int W, int OH, int OW,
                         int k, int stride, int pad, int kind);

/* global pooling: x (NC, HW) -> y (NC); kind 0 average, 1 max (argmax (NC) written) */
void sm_nn_gpool_forward(float *y, int32_t *argmax, const float *x, int NC, int HW, int kind);
void sm_nn_gpool_backward(float *dx, const float *dy, const int32_t *argmax, int NC, int HW, int kind);

/* linear: x (N, I), w (O, I), b (O) -> y (N, O) */
void sm_nn_linear_forward_ref(float *y, const float *x, const float *w, const float *b, int N, int In, int O);
void sm_nn_linear_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int N, int In, int O);

/* softmax over C at each of HW positions, x (N,C,HW) */
void sm_nn_softmax_forward(float *y, const float *x, int N, int C, int HW);
void sm_nn_softmax_backward(float *dx, const float *dy, const float *y, int N, int C, int HW);

/* attention: q (N,C,Tq), k,v (N,C,Tk) (channels-first tokens), heads; probs (N,heads,Tq,Tk) written */
void sm_nn_attention_forward(float *y, float *probs, const float *q, const float *k, const float *v, int N, int C,
                             int Tq, int Tk, int heads);
void sm_nn_attention_backward(float *dq, float *dk, float *dv, const float *dy, const float *probs,
                              const float *q, const float *k, const float *v, int N, int C, int Tq, int Tk,
                              int heads);

/* dropout with a precomputed mask (0 or 1/(1-p) per element) */
void sm_nn_dropout_forward(float *y, const float *x, const float *mask, size_t n);
void sm_nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n);

/* losses over z, t (N, per = C*H*W); forward returns the scalar, backward adds g * dL/dz into dz */
double sm_nn_loss_forward(int kind, const float *z, const float *t, int N, size_t per, float p1, float p2);
void sm_nn_loss_backward(int kind, float *dz, float g, const float *z, const float *t, int N, size_t per,
                         float p1, float p2);
enum { SM_NN_LOSS_BCE, SM_NN_LOSS_DICE, SM_NN_LOSS_FOCAL, SM_NN_LOSS_L1, SM_NN_LOSS_L2, SM_NN_LOSS_LOVASZ };

/* fast paths (ops_fast.c): conv2d and conv_transpose2d through im2col + cblas_sgemm; work is scratch of
 * sm_nn_conv_work_floats(d) floats */
size_t sm_nn_conv_work_floats(const sm_nn_conv *d);
void sm_nn_conv2d_forward_gemm(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                               float *work);
void sm_nn_conv2d_backward_gemm(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                const sm_nn_conv *d, float *work);
void sm_nn_convt2d_forward_gemm(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                                float *work);
void sm_nn_convt2d_backward_gemm(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const sm_nn_conv *d, float *work);
void sm_nn_linear_forward_gemm(float *y, const float *x, const float *w, const float *b, int N, int In, int O);
void sm_nn_linear_backward_gemm(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                int N, int In, int O);

/* oneDNN route (ops_dnnl.c) for conv2d with groups 1 and dilation 1: a plan per geometry (NULL when oneDNN
 * cannot take it); forward overwrites y, backward adds into dx/dw/db (any may be NULL); both return 0 or -1 */
typedef struct sm_nn_dnnl_conv sm_nn_dnnl_conv;
sm_nn_dnnl_conv *sm_nn_dnnl_conv_create(const sm_nn_conv *d, int bias, int train);
void sm_nn_dnnl_conv_destroy(sm_nn_dnnl_conv *c);
int sm_nn_dnnl_conv_forward(sm_nn_dnnl_conv *c, float *y, const float *x, const float *w, const float *b);
int sm_nn_dnnl_conv_backward(sm_nn_dnnl_conv *c, float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w);

#endif
