/* Reference loops for every nn op, forward and backward (declared and explained in src/nn/ops.h).
 *
 * Why: the tests check the fast paths against these, and these against finite differences and PyTorch; ops
 * without a faster path run these directly. Definitions follow PyTorch 1.13's documented semantics (Conv2d,
 * ConvTranspose2d, BatchNorm2d, GroupNorm, interpolate(align_corners=False), AvgPool2d(count_include_pad),
 * BCEWithLogitsLoss, torchvision sigmoid_focal_loss, scaled_dot_product attention of Vaswani et al. 2017).
 * Left out: any speed trick. OpenMP `parallel for` only over independent outputs (planes, channels), so the
 * results do not depend on the thread count; statistics are summed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"

/* Below this many elements an op runs on one thread: forking costs more than it saves on small crops. */
#define SM_NN_PAR_MIN 32768

/* ---------------------------------------------------------------- convolution */

void sm_nn_conv2d_forward_ref(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d) {
    int Cg = d->C / d->groups, Og = d->O / d->groups, k = d->k;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < d->N; n++)
        for (int o = 0; o < d->O; o++) {
            int g = o / Og;
            float *yp = y + ((size_t)n * d->O + o) * d->OH * d->OW;
            for (int oh = 0; oh < d->OH; oh++)
                for (int ow = 0; ow < d->OW; ow++) {
                    double acc = b ? b[o] : 0.0;
                    for (int c = 0; c < Cg; c++) {
                        const float *xp = x + ((size_t)n * d->C + g * Cg + c) * d->H * d->W;
                        const float *wp = w + ((size_t)o * Cg + c) * k * k;
                        for (int kh = 0; kh < k; kh++) {
                            int ih = oh * d->stride - d->pad + kh * d->dil;
                            if (ih < 0 || ih >= d->H) continue;
                            for (int kw = 0; kw < k; kw++) {
                                int iw = ow * d->stride - d->pad + kw * d->dil;
                                if (iw < 0 || iw >= d->W) continue;
                                acc += (double)wp[kh * k + kw] * xp[ih * d->W + iw];
                            }
                        }
                    }
                    yp[oh * d->OW + ow] = (float)acc;
                }
        }
}

void sm_nn_conv2d_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               const sm_nn_conv *d) {
    int Cg = d->C / d->groups, Og = d->O / d->groups, k = d->k;
    size_t OHW = (size_t)d->OH * d->OW;
    if (db)
        for (int o = 0; o < d->O; o++) {
            double acc = 0;
            for (int n = 0; n < d->N; n++) {
                const float *p = dy + ((size_t)n * d->O + o) * OHW;
                for (size_t i = 0; i < OHW; i++) acc += p[i];
            }
            db[o] += (float)acc;
        }
    if (dw)
#pragma omp parallel for
        for (int o = 0; o < d->O; o++) {
            int g = o / Og;
            for (int c = 0; c < Cg; c++)
                for (int kh = 0; kh < k; kh++)
                    for (int kw = 0; kw < k; kw++) {
                        double acc = 0;
                        for (int n = 0; n < d->N; n++) {
                            const float *xp = x + ((size_t)n * d->C + g * Cg + c) * d->H * d->W;
                            const float *dyp = dy + ((size_t)n * d->O + o) * OHW;
                            for (int oh = 0; oh < d->OH; oh++) {
                                int ih = oh * d->stride - d->pad + kh * d->dil;
                                if (ih < 0 || ih >= d->H) continue;
                                for (int ow = 0; ow < d->OW; ow++) {
                                    int iw = ow * d->stride - d->pad + kw * d->dil;
                                    if (iw < 0 || iw >= d->W) continue;
                                    acc += (double)dyp[oh * d->OW + ow] * xp[ih * d->W + iw];
                                }
                            }
                        }
                        dw[(((size_t)o * Cg + c) * k + kh) * k + kw] += (float)acc;
                    }
        }
    if (dx)
#pragma omp parallel for collapse(2)
        for (int n = 0; n < d->N; n++)
            for (int ci = 0; ci < d->C; ci++) {
                int g = ci / Cg, c = ci % Cg;
                float *dxp = dx + ((size_t)n * d->C + ci) * d->H * d->W;
                for (int o = g * Og; o < (g + 1) * Og; o++) {
                    const float *dyp = dy + ((size_t)n * d->O + o) * OHW;
                    const float *wp = w + ((size_t)o * Cg + c) * k * k;
                    for (int oh = 0; oh < d->OH; oh++)
                        for (int kh = 0; kh < k; kh++) {
                            int ih = oh * d->stride - d->pad + kh * d->dil;
                            if (ih < 0 || ih >= d->H) continue;
                            for (int ow = 0; ow < d->OW; ow++)
                                for (int kw = 0; kw < k; kw++) {
                                    int iw = ow * d->stride - d->pad + kw * d->dil;
                                    if (iw < 0 || iw >= d->W) continue;
                                    dxp[ih * d->W + iw] += wp[kh * k + kw] * dyp[oh * d->OW + ow];
                                }
                        }
                }
            }
}

/* y[n,o,ih*s-p+kh, iw*s-p+kw] += x[n,c,ih,iw] * w[c,o,kh,kw] */
void sm_nn_convt2d_forward_ref(float *y, const float *x, const float *w, const float *b, const sm_nn_conv *d) {
    int k = d->k;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < d->N; n++)
        for (int o = 0; o < d->O; o++) {
            float *yp = y + ((size_t)n * d->O + o) * d->OH * d->OW;
            for (int i = 0; i < d->OH * d->OW; i++) yp[i] = b ? b[o] : 0.0f;
            for (int c = 0; c < d->C; c++) {
                const float *xp = x + ((size_t)n * d->C + c) * d->H * d->W;
                const float *wp = w + ((size_t)c * d->O + o) * k * k;
                for (int ih = 0; ih < d->H; ih++)
                    for (int kh = 0; kh < k; kh++) {
                        int oh = ih * d->stride - d->pad + kh;
                        if (oh < 0 || oh >= d->OH) continue;
                        for (int iw = 0; iw < d->W; iw++)
                            for (int kw = 0; kw < k; kw++) {
                                int ow = iw * d->stride - d->pad + kw;
                                if (ow < 0 || ow >= d->OW) continue;
                                yp[oh * d->OW + ow] += xp[ih * d->W + iw] * wp[kh * k + kw];
                            }
                    }
            }
        }
}

void sm_nn_convt2d_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                                const sm_nn_conv *d) {
    int k = d->k;
    size_t OHW = (size_t)d->OH * d->OW;
    if (db)
        for (int o = 0; o < d->O; o++) {
            double acc = 0;
            for (int n = 0; n < d->N; n++) {
                const float *p = dy + ((size_t)n * d->O + o) * OHW;
                for (size_t i = 0; i < OHW; i++) acc += p[i];
            }
            db[o] += (float)acc;
        }
    if (dw)
#pragma omp parallel for collapse(2)
        for (int c = 0; c < d->C; c++)
            for (int o = 0; o < d->O; o++)
                for (int kh = 0; kh < k; kh++)
                    for (int kw = 0; kw < k; kw++) {
                        double acc = 0;
                        for (int n = 0; n < d->N; n++) {
                            const float *xp = x + ((size_t)n * d->C + c) * d->H * d->W;
                            const float *dyp = dy + ((size_t)n * d->O + o) * OHW;
                            for (int ih = 0; ih < d->H; ih++) {
                                int oh = ih * d->stride - d->pad + kh;
                                if (oh < 0 || oh >= d->OH) continue;
                                for (int iw = 0; iw < d->W; iw++) {
                                    int ow = iw * d->stride - d->pad + kw;
                                    if (ow < 0 || ow >= d->OW) continue;
                                    acc += (double)xp[ih * d->W + iw] * dyp[oh * d->OW + ow];
                                }
                            }
                        }
                        dw[(((size_t)c * d->O + o) * k + kh) * k + kw] += (float)acc;
                    }
    if (dx)
#pragma omp parallel for collapse(2)
        for (int n = 0; n < d->N; n++)
            for (int c = 0; c < d->C; c++) {
                float *dxp = dx + ((size_t)n * d->C + c) * d->H * d->W;
                for (int ih = 0; ih < d->H; ih++)
                    for (int iw = 0; iw < d->W; iw++) {
                        double acc = 0;
                        for (int o = 0; o < d->O; o++) {
                            const float *dyp = dy + ((size_t)n * d->O + o) * OHW;
                            const float *wp = w + ((size_t)c * d->O + o) * k * k;
                            for (int kh = 0; kh < k; kh++) {
                                int oh = ih * d->stride - d->pad + kh;
                                if (oh < 0 || oh >= d->OH) continue;
                                for (int kw = 0; kw < k; kw++) {
                                    int ow = iw * d->stride - d->pad + kw;
                                    if (ow < 0 || ow >= d->OW) continue;
                                    acc += (double)wp[kh * k + kw] * dyp[oh * d->OW + ow];
                                }
                            }
                        }
                        dxp[ih * d->W + iw] += (float)acc;
                    }
            }
}

/* ---------------------------------------------------------------- upsampling */

/* PyTorch's source index for align_corners=False: (dst + 0.5)/s - 0.5, clamped at 0 */
static void bilinear_index(int dst, int s, int in, int *i0, int *i1, float *l1) {
    float src = ((float)dst + 0.5f) / (float)s - 0.5f;
    if (src < 0) src = 0;
    int a = (int)src;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a < in - 1 ? a + 1 : a;
    *l1 = src - (float)a;
}

void sm_nn_upsample_forward(float *y, const float *x, int NC, int H, int W, int s, int mode) {
    int OH = H * s, OW = W * s;
#pragma omp parallel for if ((size_t)NC * H * W * s * s > SM_NN_PAR_MIN)
    for (int p = 0; p < NC; p++) {
        const float *xp = x + (size_t)p * H * W;
        float *yp = y + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            if (mode == 0) {
                for (int ow = 0; ow < OW; ow++) yp[oh * OW + ow] = xp[(oh / s) * W + ow / s];
                continue;
            }
            int h0, h1;
            float lh;
            bilinear_index(oh, s, H, &h0, &h1, &lh);
            for (int ow = 0; ow < OW; ow++) {
                int w0, w1;
                float lw;
                bilinear_index(ow, s, W, &w0, &w1, &lw);
                yp[oh * OW + ow] = (1 - lh) * ((1 - lw) * xp[h0 * W + w0] + lw * xp[h0 * W + w1]) +
                                   lh * ((1 - lw) * xp[h1 * W + w0] + lw * xp[h1 * W + w1]);
            }
        }
    }
}

void sm_nn_upsample_backward(float *dx, const float *dy, int NC, int H, int W, int s, int mode) {
    int OH = H * s, OW = W * s;
#pragma omp parallel for if ((size_t)NC * H * W * s * s > SM_NN_PAR_MIN)
    for (int p = 0; p < NC; p++) {
        float *dxp = dx + (size_t)p * H * W;
        const float *dyp = dy + (size_t)p * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            if (mode == 0) {
                for (int ow = 0; ow < OW; ow++) dxp[(oh / s) * W + ow / s] += dyp[oh * OW + ow];
                continue;
            }
            int h0, h1;
            float lh;
            bilinear_index(oh, s, H, &h0, &h1, &lh);
            for (int ow = 0; ow < OW; ow++) {
                int w0, w1;
                float lw;
                bilinear_index(ow, s, W, &w0, &w1, &lw);
                float g = dyp[oh * OW + ow];
                dxp[h0 * W + w0] += (1 - lh) * (1 - lw) * g;
                dxp[h0 * W + w1] += (1 - lh) * lw * g;
                dxp[h1 * W + w0] += lh * (1 - lw) * g;
                dxp[h1 * W + w1] += lh * lw * g;
            }
        }
    }
}

/* ---------------------------------------------------------------- normalisation */

void sm_nn_batchnorm_forward_train(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                   const float *beta, int N, int C, int HW, float eps) {
#pragma omp parallel for if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int n = 0; n < N; n++) {
            const float *p = x + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) s += p[i];
        }
        double m = s / ((double)N * HW);
        for (int n = 0; n < N; n++) {
            const float *p = x + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) ss += (p[i] - m) * (p[i] - m);
        }
        double var = ss / ((double)N * HW);
        float r = (float)(1.0 / sqrt(var + eps));
        mean[c] = (float)m;
        rstd[c] = r;
        for (int n = 0; n < N; n++) {
            const float *p = x + ((size_t)n * C + c) * HW;
            float *q = y + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) q[i] = (p[i] - (float)m) * r * gamma[c] + beta[c];
        }
    }
}

void sm_nn_batchnorm_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                                  const float *rmean, const float *rvar, int N, int C, int HW, float eps) {
#pragma omp parallel for collapse(2) if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            float r = 1.0f / sqrtf(rvar[c] + eps);
            const float *p = x + ((size_t)n * C + c) * HW;
            float *q = y + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) q[i] = (p[i] - rmean[c]) * r * gamma[c] + beta[c];
        }
}

void sm_nn_batchnorm_backward_train(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                    const float *mean, const float *rstd, const float *gamma, int N, int C,
                                    int HW) {
#pragma omp parallel for if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            const float *p = x + ((size_t)n * C + c) * HW, *g = dy + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sdy += g[i];
                sdyx += (double)g[i] * (p[i] - mean[c]) * rstd[c];
            }
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        double M = (double)N * HW;
        float mdy = (float)(sdy / M), mdyx = (float)(sdyx / M);
        for (int n = 0; n < N; n++) {
            const float *p = x + ((size_t)n * C + c) * HW, *g = dy + ((size_t)n * C + c) * HW;
            float *q = dx + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                float xh = (p[i] - mean[c]) * rstd[c];
                q[i] += gamma[c] * rstd[c] * (g[i] - mdy - xh * mdyx);
            }
        }
    }
}

void sm_nn_batchnorm_backward_eval(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                   const float *gamma, const float *rmean, const float *rvar, int N, int C, int HW,
                                   float eps) {
#pragma omp parallel for if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int c = 0; c < C; c++) {
        float r = 1.0f / sqrtf(rvar[c] + eps);
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            const float *p = x + ((size_t)n * C + c) * HW, *g = dy + ((size_t)n * C + c) * HW;
            float *q = dx ? dx + ((size_t)n * C + c) * HW : NULL;
            for (int i = 0; i < HW; i++) {
                sdy += g[i];
                sdyx += (double)g[i] * (p[i] - rmean[c]) * r;
                if (q) q[i] += g[i] * gamma[c] * r;
            }
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
    }
}

void sm_nn_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                             const float *beta, int N, int C, int HW, int G, float eps) {
    int Cg = C / G;
    size_t M = (size_t)Cg * HW;
#pragma omp parallel for collapse(2) if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            const float *p = x + ((size_t)n * C + (size_t)g * Cg) * HW;
            double s = 0, ss = 0;
            for (size_t i = 0; i < M; i++) s += p[i];
            double m = s / (double)M;
            for (size_t i = 0; i < M; i++) ss += (p[i] - m) * (p[i] - m);
            float r = (float)(1.0 / sqrt(ss / (double)M + eps));
            mean[n * G + g] = (float)m;
            rstd[n * G + g] = r;
            float *q = y + ((size_t)n * C + (size_t)g * Cg) * HW;
            for (int c = 0; c < Cg; c++) {
                int cc = g * Cg + c;
                for (int i = 0; i < HW; i++) {
                    size_t j = (size_t)c * HW + i;
                    q[j] = (p[j] - (float)m) * r * gamma[cc] + beta[cc];
                }
            }
        }
}

void sm_nn_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                              const float *mean, const float *rstd, const float *gamma, int N, int C, int HW,
                              int G) {
    int Cg = C / G;
    if (dgamma || dbeta)
#pragma omp parallel for if ((size_t)N * C * HW > SM_NN_PAR_MIN)
        for (int c = 0; c < C; c++) {
            double sg = 0, sb = 0;
            int g = c / Cg;
            for (int n = 0; n < N; n++) {
                const float *p = x + ((size_t)n * C + c) * HW, *gp = dy + ((size_t)n * C + c) * HW;
                float m = mean[n * G + g], r = rstd[n * G + g];
                for (int i = 0; i < HW; i++) {
                    sb += gp[i];
                    sg += (double)gp[i] * (p[i] - m) * r;
                }
            }
            if (dgamma) dgamma[c] += (float)sg;
            if (dbeta) dbeta[c] += (float)sb;
        }
    if (!dx) return;
    size_t M = (size_t)Cg * HW;
#pragma omp parallel for collapse(2) if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            size_t off = ((size_t)n * C + (size_t)g * Cg) * HW;
            float m = mean[n * G + g], r = rstd[n * G + g];
            double s1 = 0, s2 = 0;
            for (int c = 0; c < Cg; c++)
                for (int i = 0; i < HW; i++) {
                    size_t j = off + (size_t)c * HW + i;
                    double dxh = (double)dy[j] * gamma[g * Cg + c];
                    s1 += dxh;
                    s2 += dxh * (x[j] - m) * r;
                }
            float m1 = (float)(s1 / (double)M), m2 = (float)(s2 / (double)M);
            for (int c = 0; c < Cg; c++)
                for (int i = 0; i < HW; i++) {
                    size_t j = off + (size_t)c * HW + i;
                    float dxh = dy[j] * gamma[g * Cg + c];
                    dx[j] += r * (dxh - m1 - (x[j] - m) * r * m2);
                }
        }
}

/* ---------------------------------------------------------------- activations */

static inline float sigmoidf_(float v) { return v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v)); }

/* One loop per activation (a switch inside the loop would keep the compiler from vectorising it). */
void sm_nn_act_forward(float *y, const float *x, size_t n, int act) {
    switch (act) {
    case 0:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case 1:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf_(x[i]);
        break;
    case 2:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
        break;
    case 3:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = sigmoidf_(x[i]);
        break;
    case 4:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    default:
        if (y != x) memcpy(y, x, sizeof(float) * n);
        break;
    }
}

void sm_nn_act_backward(float *dx, const float *dy, const float *x, const float *y, size_t n, int act) {
    switch (act) {
    case 0:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : 0.0f;
        break;
    case 1:   /* silu' = s (1 + x (1 - s)), with s = sigmoid(x) recovered as y / x away from 0 (no exp) */
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float v = x[i], s = fabsf(v) > 1e-3f ? y[i] / v : 0.5f + 0.25f * v;
            dx[i] += dy[i] * s * (1.0f + v * (1.0f - s));
        }
        break;
    case 2:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            dx[i] += dy[i] * (0.5f * (1.0f + erff(v * 0.70710678f)) + v * 0.39894228f * expf(-0.5f * v * v));
        }
        break;
    case 3:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
        break;
    case 4:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
        break;
    default:
#pragma omp parallel for if (n > SM_NN_PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i];
        break;
    }
}

/* ---------------------------------------------------------------- elementwise and copies */

void sm_nn_binary_forward(float *y, const float *a, const float *b, int N, int C, int HW, int bHW, int op) {
#pragma omp parallel for collapse(2) if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            size_t o = ((size_t)n * C + c) * HW, ob = ((size_t)n * C + c) * bHW;
            for (int i = 0; i < HW; i++) {
                float bv = b[ob + (bHW == 1 ? 0 : i)];
                y[o + i] = op == 0 ? a[o + i] + bv : a[o + i] * bv;
            }
        }
}

void sm_nn_binary_backward(float *da, float *db, const float *dy, const float *a, const float *b, int N, int C,
                           int HW, int bHW, int op) {
#pragma omp parallel for collapse(2) if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            size_t o = ((size_t)n * C + c) * HW, ob = ((size_t)n * C + c) * bHW;
            double acc = 0;
            for (int i = 0; i < HW; i++) {
                size_t jb = ob + (bHW == 1 ? 0 : i);
                float g = dy[o + i];
                if (da) da[o + i] += op == 0 ? g : g * b[jb];
                float gb = op == 0 ? g : g * a[o + i];
                if (bHW == 1) acc += gb;
                else if (db) db[jb] += gb;
            }
            if (bHW == 1 && db) db[ob] += (float)acc;
        }
}

void sm_nn_concat_forward(float *y, const float *x, int N, int Cx, int Cy, int c0, int HW) {
    for (int n = 0; n < N; n++)
        memcpy(y + ((size_t)n * Cy + c0) * HW, x + (size_t)n * Cx * HW, sizeof(float) * (size_t)Cx * HW);
}

void sm_nn_concat_backward(float *dx, const float *dy, int N, int Cx, int Cy, int c0, int HW) {
    for (int n = 0; n < N; n++) {
        float *p = dx + (size_t)n * Cx * HW;
        const float *q = dy + ((size_t)n * Cy + c0) * HW;
        for (size_t i = 0; i < (size_t)Cx * HW; i++) p[i] += q[i];
    }
}

void sm_nn_crop_forward(float *y, const float *x, int NC, int H, int W, int top, int left, int h, int w) {
    for (int p = 0; p < NC; p++)
        for (int r = 0; r < h; r++)
            memcpy(y + ((size_t)p * h + r) * w, x + ((size_t)p * H + top + r) * W + left, sizeof(float) * w);
}

void sm_nn_crop_backward(float *dx, const float *dy, int NC, int H, int W, int top, int left, int h, int w) {
    for (int p = 0; p < NC; p++)
        for (int r = 0; r < h; r++) {
            float *q = dx + ((size_t)p * H + top + r) * W + left;
            const float *s = dy + ((size_t)p * h + r) * w;
            for (int c = 0; c < w; c++) q[c] += s[c];
        }
}

/* ---------------------------------------------------------------- pooling */

void sm_nn_pool_forward(float *y, int32_t *argmax, const float *x, int NC, int H, int W, int OH, int OW, int k,
                        int stride, int pad, int kind) {
#pragma omp parallel for if ((size_t)NC * H * W > SM_NN_PAR_MIN)
    for (int p = 0; p < NC; p++) {
        const float *xp = x + (size_t)p * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double acc = 0;
                float best = -INFINITY;
                int32_t bi = -1;
                for (int kh = 0; kh < k; kh++) {
                    int ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < k; kw++) {
                        int iw = ow * stride - pad + kw;
                        if (iw < 0 || iw >= W) continue;
                        float v = xp[ih * W + iw];
                        acc += v;
                        if (v > best || bi < 0) {
                            best = v;
                            bi = ih * W + iw;
                        }
                    }
                }
                size_t o = ((size_t)p * OH + oh) * OW + ow;
                if (kind == 0) y[o] = (float)(acc / (k * k));
                else {
                    y[o] = bi < 0 ? 0.0f : best;
                    argmax[o] = bi;
                }
            }
    }
}

void sm_nn_pool_backward(float *dx, const float *dy, const int32_t *argmax, int NC, int H, int W, int OH, int OW,
                         int k, int stride, int pad, int kind) {
#pragma omp parallel for if ((size_t)NC * H * W > SM_NN_PAR_MIN)
    for (int p = 0; p < NC; p++) {
        float *dxp = dx + (size_t)p * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                size_t o = ((size_t)p * OH + oh) * OW + ow;
                if (kind == 1) {
                    if (argmax[o] >= 0) dxp[argmax[o]] += dy[o];
                    continue;
                }
                float g = dy[o] / (float)(k * k);
                for (int kh = 0; kh < k; kh++) {
                    int ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < k; kw++) {
                        int iw = ow * stride - pad + kw;
                        if (iw < 0 || iw >= W) continue;
                        dxp[ih * W + iw] += g;
                    }
                }
            }
    }
}

void sm_nn_gpool_forward(float *y, int32_t *argmax, const float *x, int NC, int HW, int kind) {
#pragma omp parallel for if (NC > 64)
    for (int p = 0; p < NC; p++) {
        const float *xp = x + (size_t)p * HW;
        if (kind == 0) {
            double s = 0;
            for (int i = 0; i < HW; i++) s += xp[i];
            y[p] = (float)(s / HW);
        } else {
            int b = 0;
            for (int i = 1; i < HW; i++)
                if (xp[i] > xp[b]) b = i;
            y[p] = xp[b];
            argmax[p] = b;
        }
    }
}

void sm_nn_gpool_backward(float *dx, const float *dy, const int32_t *argmax, int NC, int HW, int kind) {
#pragma omp parallel for if (NC > 64)
    for (int p = 0; p < NC; p++) {
        float *dxp = dx + (size_t)p * HW;
        if (kind == 0) {
            float g = dy[p] / (float)HW;
            for (int i = 0; i < HW; i++) dxp[i] += g;
        } else {
            dxp[argmax[p]] += dy[p];
        }
    }
}

/* ---------------------------------------------------------------- linear, softmax, attention, dropout */

void sm_nn_linear_forward_ref(float *y, const float *x, const float *w, const float *b, int N, int In, int O) {
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < In; i++) acc += (double)x[(size_t)n * In + i] * w[(size_t)o * In + i];
            y[(size_t)n * O + o] = (float)acc;
        }
}

void sm_nn_linear_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                               int N, int In, int O) {
    for (int o = 0; o < O; o++) {
        for (int n = 0; n < N; n++) {
            float g = dy[(size_t)n * O + o];
            if (db) db[o] += g;
            for (int i = 0; i < In; i++) {
                if (dw) dw[(size_t)o * In + i] += g * x[(size_t)n * In + i];
                if (dx) dx[(size_t)n * In + i] += g * w[(size_t)o * In + i];
            }
        }
    }
}

void sm_nn_softmax_forward(float *y, const float *x, int N, int C, int HW) {
#pragma omp parallel for if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int i = 0; i < HW; i++) {
            const float *p = x + (size_t)n * C * HW + i;
            float *q = y + (size_t)n * C * HW + i;
            float m = -INFINITY;
            for (int c = 0; c < C; c++) m = p[(size_t)c * HW] > m ? p[(size_t)c * HW] : m;
            double s = 0;
            for (int c = 0; c < C; c++) {
                q[(size_t)c * HW] = expf(p[(size_t)c * HW] - m);
                s += q[(size_t)c * HW];
            }
            for (int c = 0; c < C; c++) q[(size_t)c * HW] = (float)(q[(size_t)c * HW] / s);
        }
}

void sm_nn_softmax_backward(float *dx, const float *dy, const float *y, int N, int C, int HW) {
#pragma omp parallel for if ((size_t)N * C * HW > SM_NN_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int i = 0; i < HW; i++) {
            size_t o = (size_t)n * C * HW + i;
            double s = 0;
            for (int c = 0; c < C; c++) s += (double)dy[o + (size_t)c * HW] * y[o + (size_t)c * HW];
            for (int c = 0; c < C; c++) {
                size_t j = o + (size_t)c * HW;
                dx[j] += y[j] * (dy[j] - (float)s);
            }
        }
}

void sm_nn_attention_forward(float *y, float *probs, const float *q, const float *k, const float *v, int N, int C,
                             int Tq, int Tk, int heads) {
    int dh = C / heads;
    float scale = 1.0f / sqrtf((float)dh);
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < heads; h++) {
            const float *qp = q + ((size_t)n * C + (size_t)h * dh) * Tq;
            const float *kp = k + ((size_t)n * C + (size_t)h * dh) * Tk;
            const float *vp = v + ((size_t)n * C + (size_t)h * dh) * Tk;
            float *yp = y + ((size_t)n * C + (size_t)h * dh) * Tq;
            float *P = probs + ((size_t)n * heads + h) * Tq * Tk;
            for (int i = 0; i < Tq; i++) {
                float *row = P + (size_t)i * Tk, m = -INFINITY;
                for (int j = 0; j < Tk; j++) {
                    double s = 0;
                    for (int d = 0; d < dh; d++) s += (double)qp[(size_t)d * Tq + i] * kp[(size_t)d * Tk + j];
                    row[j] = (float)s * scale;
                    if (row[j] > m) m = row[j];
                }
                double sum = 0;
                for (int j = 0; j < Tk; j++) {
                    row[j] = expf(row[j] - m);
                    sum += row[j];
                }
                for (int j = 0; j < Tk; j++) row[j] = (float)(row[j] / sum);
                for (int d = 0; d < dh; d++) {
                    double s = 0;
                    for (int j = 0; j < Tk; j++) s += (double)row[j] * vp[(size_t)d * Tk + j];
                    yp[(size_t)d * Tq + i] = (float)s;
                }
            }
        }
}

void sm_nn_attention_backward(float *dq, float *dk, float *dv, const float *dy, const float *probs,
                              const float *q, const float *k, const float *v, int N, int C, int Tq, int Tk,
                              int heads) {
    int dh = C / heads;
    float scale = 1.0f / sqrtf((float)dh);
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < heads; h++) {
            size_t oq = ((size_t)n * C + (size_t)h * dh) * Tq, ok = ((size_t)n * C + (size_t)h * dh) * Tk;
            const float *P = probs + ((size_t)n * heads + h) * Tq * Tk;
            for (int i = 0; i < Tq; i++) {
                const float *row = P + (size_t)i * Tk;
                /* dP_ij = sum_d dy[d,i] v[d,j]; dS = P (dP - sum_j P dP) */
                double dot = 0;
                for (int j = 0; j < Tk; j++) {
                    double dp = 0;
                    for (int d = 0; d < dh; d++) dp += (double)dy[oq + (size_t)d * Tq + i] * v[ok + (size_t)d * Tk + j];
                    dot += dp * row[j];
                }
                for (int j = 0; j < Tk; j++) {
                    double dp = 0;
                    for (int d = 0; d < dh; d++) dp += (double)dy[oq + (size_t)d * Tq + i] * v[ok + (size_t)d * Tk + j];
                    float ds = (float)(row[j] * (dp - dot)) * scale;
                    for (int d = 0; d < dh; d++) {
                        if (dv) dv[ok + (size_t)d * Tk + j] += row[j] * dy[oq + (size_t)d * Tq + i];
                        if (dq) dq[oq + (size_t)d * Tq + i] += ds * k[ok + (size_t)d * Tk + j];
                        if (dk) dk[ok + (size_t)d * Tk + j] += ds * q[oq + (size_t)d * Tq + i];
                    }
                }
            }
        }
}

void sm_nn_dropout_forward(float *y, const float *x, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

void sm_nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * mask[i];
}

/* ---------------------------------------------------------------- losses */

/* log(1 + exp(v)), stable */
static inline double softplus(double v) { return (v > 0 ? v : 0) + log1p(exp(-fabs(v))); }
static inline double sigmoid_d(double v) { return v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)); }

/* Lovasz hinge (Berman et al. 2018), per sample: errors e_i = 1 - z_i s_i with s_i = +1 on the target (t >= 0.5),
 * -1 off it, sorted in decreasing order; the loss is sum_k max(e_k, 0) g_k, where g_k is the increment of the
 * Jaccard loss 1 - |T minus the first k errors| / |T plus the first k errors| along that order: the convex
 * (Lovasz) extension of 1 - IoU, exact when every e_i is 0 or 1. With dz (not NULL), adds scale x its
 * gradient there. Returns the loss, NAN without memory. */
typedef struct lovasz_item {
    float e;
    int i;
} lovasz_item;

static int cmp_lovasz(const void *a, const void *b) {
    float x = ((const lovasz_item *)a)->e, y = ((const lovasz_item *)b)->e;
    return (x < y) - (x > y);
}

static double lovasz_sample(const float *z, const float *t, size_t per, float *dz, double scale) {
    lovasz_item *it = malloc(per * sizeof *it);
    if (!it) return NAN;
    double pos = 0;
    for (size_t i = 0; i < per; i++) {
        int on = t[i] >= 0.5f;
        pos += on;
        it[i].e = 1.0f - z[i] * (on ? 1.0f : -1.0f);
        it[i].i = (int)i;
    }
    qsort(it, per, sizeof *it, cmp_lovasz);
    double cum_on = 0, cum_off = 0, prev = 0, loss = 0;
    for (size_t k = 0; k < per; k++) {
        int i = it[k].i, on = t[i] >= 0.5f;
        cum_on += on, cum_off += !on;
        double uni = pos + cum_off, jac = uni > 0 ? 1.0 - (pos - cum_on) / uni : 0.0, g = jac - prev;
        prev = jac;
        if (it[k].e > 0) {
            loss += it[k].e * g;
            if (dz) dz[i] += (float)(scale * g * (on ? -1.0 : 1.0));
        }
    }
    free(it);
    return loss;
}

double sm_nn_loss_forward(int kind, const float *z, const float *t, int N, size_t per, float p1, float p2) {
    size_t M = (size_t)N * per;
    double acc = 0;
    if (kind == SM_NN_LOSS_LOVASZ) {
        for (int n = 0; n < N; n++) acc += lovasz_sample(z + (size_t)n * per, t + (size_t)n * per, per, NULL, 0);
        return acc / N;
    }
    if (kind == SM_NN_LOSS_DICE) {
        for (int n = 0; n < N; n++) {
            double inter = 0, S = 0;
            for (size_t i = (size_t)n * per; i < (size_t)(n + 1) * per; i++) {
                double p = sigmoid_d(z[i]);
                inter += p * t[i];
                S += p + t[i];
            }
            acc += 1.0 - (2 * inter + p1) / (S + p1);
        }
        return acc / N;
    }
    for (size_t i = 0; i < M; i++) {
        double zi = z[i], ti = t[i];
        switch (kind) {
        case SM_NN_LOSS_BCE: acc += (1 - ti) * zi + (1 + (p1 - 1) * ti) * softplus(-zi); break;
        case SM_NN_LOSS_FOCAL: {
            double p = sigmoid_d(zi), ce = (1 - ti) * zi + softplus(-zi);
            double pt = p * ti + (1 - p) * (1 - ti), l = ce * pow(1 - pt, p2);
            if (p1 >= 0) l *= p1 * ti + (1 - p1) * (1 - ti);
            acc += l;
            break;
        }
        case SM_NN_LOSS_L1: acc += fabs(zi - ti); break;
        default: acc += (zi - ti) * (zi - ti); break;
        }
    }
    return acc / (double)M;
}

void sm_nn_loss_backward(int kind, float *dz, float g, const float *z, const float *t, int N, size_t per,
                         float p1, float p2) {
    size_t M = (size_t)N * per;
    if (kind == SM_NN_LOSS_LOVASZ) {
        for (int n = 0; n < N; n++)
            lovasz_sample(z + (size_t)n * per, t + (size_t)n * per, per, dz + (size_t)n * per, (double)g / N);
        return;
    }
    if (kind == SM_NN_LOSS_DICE) {
        for (int n = 0; n < N; n++) {
            double inter = 0, S = 0;
            size_t a = (size_t)n * per, b = a + per;
            for (size_t i = a; i < b; i++) {
                double p = sigmoid_d(z[i]);
                inter += p * t[i];
                S += p + t[i];
            }
            double den = S + p1, num = 2 * inter + p1;
            for (size_t i = a; i < b; i++) {
                double p = sigmoid_d(z[i]);
                double dp = -(2 * t[i] * den - num) / (den * den);
                dz[i] += (float)(g * dp * p * (1 - p) / N);
            }
        }
        return;
    }
    for (size_t i = 0; i < M; i++) {
        double zi = z[i], ti = t[i], d;
        switch (kind) {
        case SM_NN_LOSS_BCE: d = (1 - ti) - (1 + (p1 - 1) * ti) * sigmoid_d(-zi); break;
        case SM_NN_LOSS_FOCAL: {
            double p = sigmoid_d(zi), ce = (1 - ti) * zi + softplus(-zi);
            double pt = p * ti + (1 - p) * (1 - ti), q = 1 - pt;
            double dpt = (2 * ti - 1) * p * (1 - p);
            double mod = pow(q, p2), dmod = (p2 != 0 && q > 0) ? -p2 * pow(q, p2 - 1) * dpt : 0;
            d = (p - ti) * mod + ce * dmod;
            if (p1 >= 0) d *= p1 * ti + (1 - p1) * (1 - ti);
            break;
        }
        case SM_NN_LOSS_L1: d = zi > ti ? 1.0 : (zi < ti ? -1.0 : 0.0); break;
        default: d = 2 * (zi - ti); break;
        }
        dz[i] += (float)(g * d / (double)M);
    }
}
