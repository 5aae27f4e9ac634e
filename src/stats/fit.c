/* Fits of MSD curves: D and localisation error (OLS and GLS on Michalet's optimal number of lags), the
 * anomalous exponent, and Vestergaard's covariance-based estimator.
 *
 * Model (2-D, per track, lag n frames, t = n dt): MSD(n) = a + b t with b = 4 D and
 * a = 4 (sigma^2 - 2 R D dt) (static error sigma, motion blur R; Michalet 2010 PRE 82 041914 eq. 9 with blur
 * as in Vestergaard 2014 PRE 89 022726 / Berglund 2010 PRE 82 011917).
 * Optimal lags: Michalet 2010's empirical formulas (section V, fits of the numerically optimal p):
 *     p_b = floor(f_b L_b / (f_b^3 + L_b^3)^(1/3)), f_b = 2 + 1.6 x^0.51, L_b = 3 + (4.5 N^0.4 - 8.5)^1.2
 *     p_a = floor(f_a L_a / (f_a^3 + L_a^3)^(1/3)), f_a = 2 + 1.35 x^0.6,  L_a = 0.8 + 0.564 N
 * with x = sigma^2/(D dt), iterated from p = 4 until p no longer changes (Michalet's recipe).
 * GLS: the covariance of TA-MSD points of a Gaussian process with stationary increments is exact and
 * closed-form here: with the 1-D structure function g(k) = E[(x_{i+k} - x_i)^2] (which includes noise and
 * blur), Cov(x_{i+n}-x_i, x_{j+m}-x_j) = (g(n-d) + g(d+m) - g(n-d-m) - g(d)) / 2 with d = j - i, and by Isserlis
 * Cov(rho_n, rho_m) = 2/((N-n)(N-m)) sum_{i,j} c(j-i)^2, which for Brownian g vanishes outside -m <= d <= n,
 * so each entry costs O(n + m). Two independent dimensions double it. Tracks with gaps use the formula for N
 * consecutive points with N = their number of valid points (an approximation; the estimate stays unbiased).
 * Alpha: MSD = 4 K t^alpha + c fitted with relative weights 1/MSD^2 (the least squares of a log-log fit, but
 * with the offset c that localisation noise and blur add), alpha by a grid then golden-section search on the
 * profile (K, c linear); standard errors from the Gauss-Newton covariance with the residual variance. That
 * se ignores the correlation of TA-MSD points, so the ensemble uses a jackknife instead (stats.c).
 * Leaves out: maximum-likelihood estimators (Berglund 2010), confined-diffusion models. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats_impl.h"

void sm_stats_michalet_points(int64_t N, double x, int *p_D, int *p_sigma) {
    if (!(x >= 0)) x = 0;
    if (x > 1e6) x = 1e6;
    double Nd = (double)N;
    double fb = 2.0 + 1.6 * pow(x, 0.51);
    double lb_base = 4.5 * pow(Nd, 0.4) - 8.5;
    double Lb = 3.0 + (lb_base > 0 ? pow(lb_base, 1.2) : 0.0);
    double fa = 2.0 + 1.35 * pow(x, 0.6);
    double La = 0.8 + 0.564 * Nd;
    int pb = (int)floor(fb * Lb / cbrt(fb * fb * fb + Lb * Lb * Lb));
    int pa = (int)floor(fa * La / cbrt(fa * fa * fa + La * La * La));
    *p_D = pb < 2 ? 2 : pb;
    *p_sigma = pa < 2 ? 2 : pa;
}

/* Ordinary least squares of y = a + b t on n = 1..p (t = n dt). */
static void ols(const double *msd, int p, double dt, double *a, double *b) {
    double st = 0, sy = 0, stt = 0, sty = 0;
    for (int n = 1; n <= p; n++) {
        double t = n * dt;
        st += t;
        sy += msd[n];
        stt += t * t;
        sty += t * msd[n];
    }
    double det = p * stt - st * st;
    *b = (p * sty - st * sy) / det;
    *a = (sy - *b * st) / p;
}

/* 1-D structure function for Brownian motion with offset: g(k) = (a + b |k| dt)/2, g(0) = 0. */
static double g1(long k, double a, double b, double dt) {
    if (k == 0) return 0.0;
    return 0.5 * (a + b * (double)labs(k) * dt);
}

/* Covariance matrix (p x p, row-major) of the 2-D TA-MSD at lags 1..p for N points. */
static void msd_cov(double *C, int p, int64_t N, double a, double b, double dt) {
    for (int n = 1; n <= p; n++)
        for (int m = n; m <= p; m++) {
            double s = 0;
            for (long d = -m; d <= n; d++) {
                long lo = d < 0 ? -d : 0;
                long hi = (long)(N - n) < (long)(N - m) - d ? (long)(N - n) : (long)(N - m) - d;
                long cnt = hi - lo;
                if (cnt <= 0) continue;
                double c = 0.5 * (g1(n - d, a, b, dt) + g1(d + m, a, b, dt) - g1(n - d - m, a, b, dt) - g1(d, a, b, dt));
                s += (double)cnt * c * c;
            }
            double v = 2.0 * 2.0 * s / ((double)(N - n) * (double)(N - m));
            C[(n - 1) * p + (m - 1)] = v;
            C[(m - 1) * p + (n - 1)] = v;
        }
}

/* Cholesky factorisation in place (lower). Returns 0, or -1 when not positive definite. */
static int cholesky(double *A, int p) {
    for (int j = 0; j < p; j++) {
        double s = A[j * p + j];
        for (int k = 0; k < j; k++) s -= A[j * p + k] * A[j * p + k];
        if (!(s > 0)) return -1;
        double l = sqrt(s);
        A[j * p + j] = l;
        for (int i = j + 1; i < p; i++) {
            double v = A[i * p + j];
            for (int k = 0; k < j; k++) v -= A[i * p + k] * A[j * p + k];
            A[i * p + j] = v / l;
        }
    }
    return 0;
}

/* Solves L L^T x = b in place. */
static void chol_solve(const double *Lm, int p, double *x) {
    for (int i = 0; i < p; i++) {
        double v = x[i];
        for (int k = 0; k < i; k++) v -= Lm[i * p + k] * x[k];
        x[i] = v / Lm[i * p + i];
    }
    for (int i = p - 1; i >= 0; i--) {
        double v = x[i];
        for (int k = i + 1; k < p; k++) v -= Lm[k * p + i] * x[k];
        x[i] = v / Lm[i * p + i];
    }
}

/* GLS of y = a + b t with covariance C (destroyed). Writes a, b, var(a), var(b). Returns -1 on failure.
 * Also the OLS sandwich variance of b (var_b_ols) from the same C. */
static int gls(const double *msd, int p, double dt, double *C, double *a, double *b, double *va, double *vb,
               double *vb_ols) {
    double Ccopy[SM_FIT_MAX_P * SM_FIT_MAX_P];
    memcpy(Ccopy, C, sizeof(double) * (size_t)p * (size_t)p);
    /* OLS sandwich: (X'X)^-1 X' C X (X'X)^-1 */
    double st = 0, stt = 0;
    for (int n = 1; n <= p; n++) {
        st += n * dt;
        stt += (n * dt) * (n * dt);
    }
    double det = p * stt - st * st;
    /* row 2 of (X'X)^-1 X': weights for b */
    double wb[SM_FIT_MAX_P];
    for (int n = 1; n <= p; n++) wb[n - 1] = (p * (n * dt) - st) / det;
    double v = 0;
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++) v += wb[i] * Ccopy[i * p + j] * wb[j];
    *vb_ols = v;
    if (cholesky(C, p) < 0) return -1;
    double u1[SM_FIT_MAX_P], ut[SM_FIT_MAX_P], uy[SM_FIT_MAX_P];
    for (int n = 1; n <= p; n++) {
        u1[n - 1] = 1.0;
        ut[n - 1] = n * dt;
        uy[n - 1] = msd[n];
    }
    chol_solve(C, p, u1);
    chol_solve(C, p, ut);
    chol_solve(C, p, uy);
    double A11 = 0, A12 = 0, A22 = 0, r1 = 0, r2 = 0;
    for (int n = 1; n <= p; n++) {
        double t = n * dt;
        A11 += u1[n - 1];
        A12 += ut[n - 1];
        A22 += t * ut[n - 1];
        r1 += uy[n - 1];
        r2 += t * uy[n - 1];
    }
    double dA = A11 * A22 - A12 * A12;
    if (!(dA > 0)) return -1;
    *a = (A22 * r1 - A12 * r2) / dA;
    *b = (A11 * r2 - A12 * r1) / dA;
    *va = A22 / dA;
    *vb = A11 / dA;
    return 0;
}

/* Fits a, b on lags 1..p, GLS with the Brownian covariance evaluated at the OLS estimates (two passes). */
static void fit_p(const double *msd, int p, int64_t N, double dt, double *a, double *b, double *va, double *vb,
                  double *b_ols, double *vb_ols) {
    double C[SM_FIT_MAX_P * SM_FIT_MAX_P];
    double a0, b0;
    ols(msd, p, dt, &a0, &b0);
    *b_ols = b0;
    *a = a0;
    *b = b0;
    *va = *vb = *vb_ols = NAN;
    if (N <= p + 1) return;
    double ma = a0, mb = b0;
    for (int pass = 0; pass < 2; pass++) {
        /* keep the model covariance positive: D > 0 and g(1) > 0 */
        if (!(mb > 0)) mb = fabs(msd[1]) / dt + 1e-300;
        if (ma + mb * dt <= 0.05 * mb * dt) ma = -0.95 * mb * dt;
        msd_cov(C, p, N, ma, mb, dt);
        double ga, gb, gva, gvb, vbo;
        if (gls(msd, p, dt, C, &ga, &gb, &gva, &gvb, &vbo) < 0) return;
        *a = ga;
        *b = gb;
        *va = gva;
        *vb = gvb;
        *vb_ols = vbo;
        ma = ga;
        mb = gb;
    }
}

void sm_stats_fit_linear(sm_stats_fit *f, const double *msd, int maxlag, int64_t N, double dt, double R) {
    f->D = f->D_se = f->D_ols = f->D_ols_se = f->sigma = f->sigma_se = f->reduced_x = NAN;
    f->p_D = f->p_sigma = 0;
    if (maxlag > SM_FIT_MAX_P) maxlag = SM_FIT_MAX_P;
    if (maxlag < 2) return;
    for (int n = 1; n <= maxlag; n++)
        if (!isfinite(msd[n])) {
            maxlag = n - 1;
            break;
        }
    if (maxlag < 2) return;
    int p = maxlag < 4 ? maxlag : 4, pa = 2;
    double a, b, x = 0;
    for (int it = 0; it < 20; it++) {
        ols(msd, p, dt, &a, &b);
        x = b > 0 ? (a / 4.0 > 0 ? (a / 4.0) / (b / 4.0 * dt) : 0.0) : 1e3;
        int pb;
        sm_stats_michalet_points(N, x, &pb, &pa);
        if (pb > maxlag) pb = maxlag;
        if (pb == p) break;
        p = pb;
    }
    if (pa > maxlag) pa = maxlag;
    f->reduced_x = x;
    sm_stats_fit_linear_p(f, msd, p, pa, N, dt, R);
}

void sm_stats_fit_linear_p(sm_stats_fit *f, const double *msd, int p, int pa, int64_t N, double dt, double R) {
    f->p_D = p;
    f->p_sigma = pa;
    double a, b, va, vb, bo, vbo;
    fit_p(msd, p, N, dt, &a, &b, &va, &vb, &bo, &vbo);
    f->D = b / 4.0;
    f->D_se = sqrt(vb) / 4.0;
    f->D_ols = bo / 4.0;
    f->D_ols_se = sqrt(vbo) / 4.0;
    double a2, b2, va2, vb2, bo2, vbo2;
    fit_p(msd, pa, N, dt, &a2, &b2, &va2, &vb2, &bo2, &vbo2);
    double s2 = a2 / 4.0 + 2.0 * R * f->D * dt;
    double s2_se = sqrt(va2) / 4.0;
    if (s2 > 0) {
        f->sigma = sqrt(s2);
        f->sigma_se = s2_se / (2.0 * f->sigma);
    } else {
        f->sigma = 0.0;
        f->sigma_se = sqrt(s2_se);
    }
}

#define SM_ALPHA_MAX_PTS 24

/* Weighted residual sum of squares of y = k t^alpha + c at fixed alpha over m points (lt = log t), with k, c
 * solved; u receives t^alpha. */
static double alpha_profile(const double *lt, const double *y, int m, double alpha, double *u, double *k, double *c) {
    double S00 = 0, S01 = 0, S11 = 0, r0 = 0, r1 = 0;
    for (int i = 0; i < m; i++) {
        double w = 1.0 / (y[i] * y[i]);
        u[i] = exp(alpha * lt[i]);
        S00 += w * u[i] * u[i];
        S01 += w * u[i];
        S11 += w;
        r0 += w * u[i] * y[i];
        r1 += w * y[i];
    }
    double det = S00 * S11 - S01 * S01;
    if (!(fabs(det) > 1e-12 * S00 * S11)) {
        *k = r0 / S00;
        *c = 0;
    } else {
        *k = (S11 * r0 - S01 * r1) / det;
        *c = (S00 * r1 - S01 * r0) / det;
    }
    double rss = 0;
    for (int i = 0; i < m; i++) {
        double e = (y[i] - *k * u[i] - *c) / y[i];
        rss += e * e;
    }
    return rss;
}

void sm_stats_fit_alpha(sm_stats_fit *f, const double *msd, int p, double dt) {
    f->alpha = f->alpha_se = f->K_alpha = f->K_alpha_se = f->alpha_offset = NAN;
    f->p_alpha = 0;
    f->cls = SM_DIFF_UNKNOWN;
    for (int n = 1; n <= p; n++)
        if (!(msd[n] > 0) || !isfinite(msd[n])) {
            p = n - 1;
            break;
        }
    if (p < 4) return;
    f->p_alpha = p;
    /* at most SM_ALPHA_MAX_PTS lags, log-spaced over 1..p (every lag when p is small): a log-log fit wants
     * even coverage in log t, and the cost stays independent of the track length */
    double lt[SM_ALPHA_MAX_PTS], y[SM_ALPHA_MAX_PTS], u[SM_ALPHA_MAX_PTS];
    int m = 0, last = 0;
    for (int i = 0; i < SM_ALPHA_MAX_PTS; i++) {
        int n = p <= SM_ALPHA_MAX_PTS ? i + 1 : (int)lround(exp(log((double)p) * i / (SM_ALPHA_MAX_PTS - 1)));
        if (n > p) break;
        if (n <= last) continue;
        last = n;
        lt[m] = log(n * dt);
        y[m] = msd[n];
        m++;
    }
    const double lo = 0.02, hi = 2.5;
    const int G = 40;
    double best = INFINITY, ba = 1.0, k, c;
    for (int i = 0; i <= G; i++) {
        double al = lo + (hi - lo) * i / G;
        double r = alpha_profile(lt, y, m, al, u, &k, &c);
        if (r < best) {
            best = r;
            ba = al;
        }
    }
    double A = ba - (hi - lo) / G, B = ba + (hi - lo) / G;
    if (A < lo) A = lo;
    if (B > hi) B = hi;
    const double gr = 0.6180339887498949;
    double x1 = B - gr * (B - A), x2 = A + gr * (B - A);
    double f1 = alpha_profile(lt, y, m, x1, u, &k, &c), f2 = alpha_profile(lt, y, m, x2, u, &k, &c);
    for (int it = 0; it < 36; it++) { /* bracket 0.12 * 0.618^36 ~ 4e-9 */
        if (f1 < f2) {
            B = x2; x2 = x1; f2 = f1;
            x1 = B - gr * (B - A);
            f1 = alpha_profile(lt, y, m, x1, u, &k, &c);
        } else {
            A = x1; x1 = x2; f1 = f2;
            x2 = A + gr * (B - A);
            f2 = alpha_profile(lt, y, m, x2, u, &k, &c);
        }
    }
    double al = 0.5 * (A + B);
    double rss = alpha_profile(lt, y, m, al, u, &k, &c);
    f->alpha = al;
    f->K_alpha = k / 4.0;
    f->alpha_offset = c;
    /* Gauss-Newton covariance of (k, alpha, c) */
    double M[9] = {0};
    for (int i = 0; i < m; i++) {
        double w = 1.0 / (y[i] * y[i]);
        double J[3] = {u[i], k * u[i] * lt[i], 1.0};
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) M[a * 3 + b] += w * J[a] * J[b];
    }
    double det = M[0] * (M[4] * M[8] - M[5] * M[7]) - M[1] * (M[3] * M[8] - M[5] * M[6]) + M[2] * (M[3] * M[7] - M[4] * M[6]);
    if (m > 3 && fabs(det) > 0) {
        double s2 = rss / (m - 3);
        double inv00 = (M[4] * M[8] - M[5] * M[7]) / det;
        double inv11 = (M[0] * M[8] - M[2] * M[6]) / det;
        if (inv11 > 0) f->alpha_se = sqrt(s2 * inv11);
        if (inv00 > 0) f->K_alpha_se = sqrt(s2 * inv00) / 4.0;
    }
    f->cls = sm_stats_classify(f->alpha, f->alpha_se);
}

void sm_stats_cve(double s1, double n1, double s2, double n2, int dims, double dt, double R, double *D,
                  double *D_se, double *sigma2) {
    *D = *D_se = *sigma2 = NAN;
    if (n1 < 1 || n2 < 1) return;
    double m1 = s1 / n1, m2 = s2 / n2;
    double d = m1 / (2.0 * dt) + m2 / dt;
    double sg = R * m1 + (2.0 * R - 1.0) * m2;
    *D = d;
    *sigma2 = sg;
    /* Vestergaard 2014 eq. 17: var(D) = D^2 [(6 + 4 eps + 2 eps^2)/N + 4 (1 + eps)^2 / N^2], eps the SNR^-2
     * term sigma^2/(D dt) - 2R, N steps per dimension; independent dimensions divide it by dims. */
    double N = n1 / dims;
    if (d > 0) {
        double eps = sg / (d * dt) - 2.0 * R;
        double v = d * d * ((6.0 + 4.0 * eps + 2.0 * eps * eps) / N + 4.0 * (1.0 + eps) * (1.0 + eps) / (N * N)) / dims;
        *D_se = sqrt(v);
    }
}

int sm_stats_classify(double alpha, double alpha_se) {
    if (!isfinite(alpha) || !isfinite(alpha_se)) return SM_DIFF_UNKNOWN;
    if (alpha + 1.96 * alpha_se < 1.0) return SM_DIFF_SUB;
    if (alpha - 1.96 * alpha_se > 1.0) return SM_DIFF_SUPER;
    return SM_DIFF_NORMAL;
}

const char *sm_stats_class_name(int cls) {
    switch (cls) {
    case SM_DIFF_SUB: return "sub";
    case SM_DIFF_NORMAL: return "normal";
    case SM_DIFF_SUPER: return "super";
    default: return "unknown";
    }
}
