/* Time-averaged MSD of one track, gaps included, in O(L log L).
 *
 * Why: a 1,000-frame track has ~500,000 displacement pairs; the direct sum over all lags costs O(L^2) per
 * track, too slow for 10,000 tracks. With the validity mask m(t) (1 where frame t has a point), the squared
 * displacement summed over all valid pairs at lag k is
 *     S(k) = sum_t m(t) m(t+k) |r(t+k) - r(t)|^2 = C[q,m](k) + C[m,q](k) - 2 C[mr,mr](k),
 * with q = m |r|^2 and the correlation C[a,b](k) = sum_t a(t) b(t+k); the pair count is C[m,m](k). Each
 * correlation is one product of spectra (zero-padded to 2L, so nothing wraps). We pack two real signals into
 * one complex FFT both ways (2 forward, 2 inverse transforms of size >= 2L).
 * Precision: positions are centred on the track mean first, so rounding is relative to the track's extent,
 * not to its distance from the image origin.
 * Leaves out: Bluestein (zero padding to a power of two is needed anyway); FFTW is not a dependency.
 * Reference: the masked-correlation MSD as in Calandrini et al. 2011 (nMoldyn) / trackpy's msd_fft, derived
 * here for gaps. */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "samem/stats.h"

/* Below this span (frames) the direct O(L^2) sums are cheaper than FFTs. */
#define SM_MSD_DIRECT_MAX 48

static int64_t next_pow2(int64_t n) {
    int64_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

size_t sm_stats_msd_work_size(int64_t L) {
    if (L <= SM_MSD_DIRECT_MAX) return 1;
    int64_t n = next_pow2(2 * L);
    return (size_t)(4 * n * 2); /* two complex buffers of n, plus two more for the inverse transforms */
}

/* In-place iterative radix-2 FFT of n (power of two) complex values; sign -1 forward, +1 inverse
 * (unnormalised). */
static void fft(double complex *a, int64_t n, int sign) {
    for (int64_t i = 1, j = 0; i < n; i++) {
        int64_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double complex t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
    for (int64_t len = 2; len <= n; len <<= 1) {
        double ang = sign * 2.0 * M_PI / (double)len;
        double complex wl = cos(ang) + I * sin(ang);
        int64_t half = len >> 1;
        for (int64_t i = 0; i < n; i += len) {
            double complex w = 1.0;
            for (int64_t k = 0; k < half; k++) {
                double complex u = a[i + k], v = a[i + k + half] * w;
                a[i + k] = u + v;
                a[i + k + half] = u - v;
                /* recompute every 32 steps to keep rounding from accumulating over long transforms */
                if ((k & 31) == 31) w = cos(ang * (double)(k + 1)) + I * sin(ang * (double)(k + 1));
                else w *= wl;
            }
        }
    }
}

static void ta_msd_direct(double *msd, int32_t *count, const double *x, const double *y, const unsigned char *valid,
                          int64_t L) {
    for (int64_t k = 0; k < L; k++) {
        double s = 0;
        int64_t c = 0;
        for (int64_t t = 0; t + k < L; t++) {
            if (!valid[t] || !valid[t + k]) continue;
            double dx = x[t + k] - x[t], d2 = dx * dx;
            if (y) {
                double dy = y[t + k] - y[t];
                d2 += dy * dy;
            }
            s += d2;
            c++;
        }
        count[k] = (int32_t)c;
        msd[k] = c ? s / (double)c : NAN;
    }
}

void sm_stats_ta_msd(double *msd, int32_t *count, const double *x, const double *y, const unsigned char *valid,
                     int64_t L, double *work) {
    if (L <= 0) return;
    if (L <= SM_MSD_DIRECT_MAX) {
        ta_msd_direct(msd, count, x, y, valid, L);
        return;
    }
    int64_t n = next_pow2(2 * L);
    double complex *z1 = (double complex *)work;   /* m + i q, then the packed inverse */
    double complex *z2 = z1 + n;                   /* mx + i my */
    double complex *p1 = z2 + n, *p2 = p1 + n;
    double cx = 0, cy = 0, cnt = 0;
    for (int64_t t = 0; t < L; t++)
        if (valid[t]) {
            cx += x[t];
            if (y) cy += y[t];
            cnt++;
        }
    if (cnt > 0) {
        cx /= cnt;
        cy /= cnt;
    }
    for (int64_t t = 0; t < n; t++) {
        if (t < L && valid[t]) {
            double xv = x[t] - cx, yv = y ? y[t] - cy : 0.0;
            z1[t] = 1.0 + I * (xv * xv + yv * yv);
            z2[t] = xv + I * yv;
        } else {
            z1[t] = 0;
            z2[t] = 0;
        }
    }
    fft(z1, n, -1);
    fft(z2, n, -1);
    for (int64_t k = 0; k < n; k++) {
        int64_t nk = (n - k) & (n - 1);
        double complex a1 = z1[k], b1 = conj(z1[nk]);
        double complex M = 0.5 * (a1 + b1), Q = -0.5 * I * (a1 - b1);
        double complex a2 = z2[k], b2 = conj(z2[nk]);
        double complex X = 0.5 * (a2 + b2), Y = -0.5 * I * (a2 - b2);
        double mm = creal(M * conj(M));
        double xx = creal(X * conj(X)) + creal(Y * conj(Y));
        double qm = 2.0 * creal(conj(Q) * M);
        p1[k] = mm + I * xx;
        p2[k] = qm;
    }
    fft(p1, n, +1);
    fft(p2, n, +1);
    double inv = 1.0 / (double)n;
    for (int64_t k = 0; k < L; k++) {
        double c = creal(p1[k]) * inv;
        int64_t ci = (int64_t)llround(c);
        count[k] = (int32_t)ci;
        if (ci <= 0) {
            msd[k] = NAN;
            count[k] = 0;
            continue;
        }
        double s = creal(p2[k]) * inv - 2.0 * cimag(p1[k]) * inv;
        msd[k] = s > 0 ? s / (double)ci : 0.0;
    }
    msd[0] = 0.0;
}
