/* Fast convolutions and linear layers: im2col + OpenBLAS cblas_sgemm, darknet's scheme (one gemm per image and
 * group; 1x1 stride-1 unpadded kernels skip im2col). A transposed convolution is the data-gradient of a
 * convolution, so it reuses the same im2col/col2im pair with the roles swapped.
 *
 * Why not oneDNN here: bench/bench_nn.c measures both routes on our shapes; see docs/nn.md for the figures and
 * the choice. Left out: Winograd/FFT, batching several images into one gemm. The scratch buffer (`work`,
 * sm_nn_conv_work_floats floats) is allocated once per context by the caller; nothing here allocates.
 * Parallelism comes from OpenBLAS's own threads inside sgemm; im2col loops run on one thread. */
#include <cblas.h>
#include <string.h>

#include "nn/ops.h"

/* col (channels*k*k, gh*gw) <- src (channels, sh, sw) sampled at grid position g*stride - pad + kk*dil */
static void im2col(float *col, const float *src, int channels, int sh, int sw, int gh, int gw, int k, int stride,
                   int pad, int dil) {
    size_t G = (size_t)gh * gw;
    for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                float *row = col + (((size_t)c * k + kh) * k + kw) * G;
                const float *s = src + (size_t)c * sh * sw;
                for (int oh = 0; oh < gh; oh++) {
                    int ih = oh * stride - pad + kh * dil;
                    float *r = row + (size_t)oh * gw;
                    if (ih < 0 || ih >= sh) {
                        memset(r, 0, sizeof(float) * gw);
                        continue;
                    }
                    const float *sr = s + (size_t)ih * sw;
                    if (stride == 1) {
                        int off = -pad + kw * dil;   /* iw = ow + off */
                        int lo = off < 0 ? -off : 0, hi = sw - off < gw ? sw - off : gw;
                        if (hi < lo) hi = lo;
                        for (int ow = 0; ow < lo && ow < gw; ow++) r[ow] = 0;
                        if (hi > lo) memcpy(r + lo, sr + lo + off, sizeof(float) * (hi - lo));
                        for (int ow = hi > lo ? hi : lo; ow < gw; ow++) r[ow] = 0;
                    } else {
                        for (int ow = 0; ow < gw; ow++) {
                            int iw = ow * stride - pad + kw * dil;
                            r[ow] = (iw >= 0 && iw < sw) ? sr[iw] : 0.0f;
                        }
                    }
                }
            }
}

/* dst (channels, sh, sw) += col scattered back (the adjoint of im2col) */
static void col2im(float *dst, const float *col, int channels, int sh, int sw, int gh, int gw, int k, int stride,
                   int pad, int dil) {
    size_t G = (size_t)gh * gw;
    for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                const float *row = col + (((size_t)c * k + kh) * k + kw) * G;
                float *d = dst + (size_t)c * sh * sw;
                for (int oh = 0; oh < gh; oh++) {
                    int ih = oh * stride - pad + kh * dil;
                    if (ih < 0 || ih >= sh) continue;
                    const float *r = row + (size_t)oh * gw;
                    float *dr = d + (size_t)ih * sw;
                    for (int ow = 0; ow < gw; ow++) {
                        int iw = ow * stride - pad + kw * dil;
                        if (iw >= 0 && iw < sw) dr[iw] += r[ow];
                    }
                }
            }
}

static int is_pointwise(const sm_nn_conv *d) { return d->k == 1 && d->stride == 1 && d->pad == 0; }

size_t sm_nn_conv_work_floats(const sm_nn_conv *d) {
    size_t conv = (size_t)(d->C / d->groups) * d->k * d->k * d->OH * d->OW;       /* conv2d col */
    size_t convt = (size_t)d->O * d->k * d->k * d->H * d->W;                       /* conv_transpose col */
    return conv > convt ? conv : convt;
}

void sm_nn_conv2d_forward_gemm(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                               float *work) {
    int Cg = d->C / d->groups, Og = d->O / d->groups, K = Cg * d->k * d->k;
    int OHW = d->OH * d->OW, HW = d->H * d->W;
    for (int n = 0; n < d->N; n++)
        for (int g = 0; g < d->groups; g++) {
            const float *xg = x + ((size_t)n * d->C + (size_t)g * Cg) * HW;
            float *yg = y + ((size_t)n * d->O + (size_t)g * Og) * OHW;
            const float *col = xg;
            if (!is_pointwise(d)) {
                im2col(work, xg, Cg, d->H, d->W, d->OH, d->OW, d->k, d->stride, d->pad, d->dil);
                col = work;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Og, OHW, K, 1.0f, w + (size_t)g * Og * K, K,
                        col, OHW, 0.0f, yg, OHW);
            if (b)
                for (int o = 0; o < Og; o++) {
                    float bv = b[g * Og + o], *p = yg + (size_t)o * OHW;
                    for (int i = 0; i < OHW; i++) p[i] += bv;
                }
        }
}

void sm_nn_conv2d_backward_gemm(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                const sm_nn_conv *d, float *work) {
    int Cg = d->C / d->groups, Og = d->O / d->groups, K = Cg * d->k * d->k;
    int OHW = d->OH * d->OW, HW = d->H * d->W;
    if (db)
        for (int o = 0; o < d->O; o++) {
            double acc = 0;
            for (int n = 0; n < d->N; n++) {
                const float *p = dy + ((size_t)n * d->O + o) * OHW;
                for (int i = 0; i < OHW; i++) acc += p[i];
            }
            db[o] += (float)acc;
        }
    for (int n = 0; n < d->N; n++)
        for (int g = 0; g < d->groups; g++) {
            const float *xg = x + ((size_t)n * d->C + (size_t)g * Cg) * HW;
            const float *dyg = dy + ((size_t)n * d->O + (size_t)g * Og) * OHW;
            const float *wg = w + (size_t)g * Og * K;
            if (dw) {
                const float *col = xg;
                if (!is_pointwise(d)) {
                    im2col(work, xg, Cg, d->H, d->W, d->OH, d->OW, d->k, d->stride, d->pad, d->dil);
                    col = work;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Og, K, OHW, 1.0f, dyg, OHW, col, OHW, 1.0f,
                            dw + (size_t)g * Og * K, K);
            }
            if (dx) {
                float *dxg = dx + ((size_t)n * d->C + (size_t)g * Cg) * HW;
                if (is_pointwise(d)) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, OHW, Og, 1.0f, wg, K, dyg, OHW, 1.0f,
                                dxg, OHW);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, OHW, Og, 1.0f, wg, K, dyg, OHW, 0.0f,
                                work, OHW);
                    col2im(dxg, work, Cg, d->H, d->W, d->OH, d->OW, d->k, d->stride, d->pad, d->dil);
                }
            }
        }
}

/* conv_transpose2d: weight (C, O*k*k); y_n = col2im(W^T x_n) on the (H,W) grid of stride s into (OH,OW) */
void sm_nn_convt2d_forward_gemm(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d,
                                float *work) {
    int K = d->O * d->k * d->k, HW = d->H * d->W, OHW = d->OH * d->OW;
    for (int n = 0; n < d->N; n++) {
        float *yn = y + (size_t)n * d->O * OHW;
        for (int o = 0; o < d->O; o++) {
            float bv = b ? b[o] : 0.0f, *p = yn + (size_t)o * OHW;
            for (int i = 0; i < OHW; i++) p[i] = bv;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, HW, d->C, 1.0f, w, K, x + (size_t)n * d->C * HW, HW,
                    0.0f, work, HW);
        col2im(yn, work, d->O, d->OH, d->OW, d->H, d->W, d->k, d->stride, d->pad, 1);
    }
}

void sm_nn_convt2d_backward_gemm(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const sm_nn_conv *d, float *work) {
    int K = d->O * d->k * d->k, HW = d->H * d->W, OHW = d->OH * d->OW;
    if (db)
        for (int o = 0; o < d->O; o++) {
            double acc = 0;
            for (int n = 0; n < d->N; n++) {
                const float *p = dy + ((size_t)n * d->O + o) * OHW;
                for (int i = 0; i < OHW; i++) acc += p[i];
            }
            db[o] += (float)acc;
        }
    for (int n = 0; n < d->N; n++) {
        im2col(work, dy + (size_t)n * d->O * OHW, d->O, d->OH, d->OW, d->H, d->W, d->k, d->stride, d->pad, 1);
        if (dx)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d->C, HW, K, 1.0f, w, K, work, HW, 1.0f,
                        dx + (size_t)n * d->C * HW, HW);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d->C, K, HW, 1.0f, x + (size_t)n * d->C * HW, HW,
                        work, HW, 1.0f, dw, K);
    }
}

void sm_nn_linear_forward_gemm(float *y, const float *x, const float *w, const float *b, int N, int In, int O) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, In, 1.0f, x, In, w, In, 0.0f, y, O);
    if (b)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) y[(size_t)n * O + o] += b[o];
}

void sm_nn_linear_backward_gemm(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                int N, int In, int O) {
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) db[o] += dy[(size_t)n * O + o];
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, In, O, 1.0f, dy, O, w, In, 1.0f, dx, In);
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, In, N, 1.0f, dy, O, x, In, 1.0f, dw, In);
}
