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
 * here for gaps. Sparse tracks (few points over a long span) use the direct sum over their valid pairs. */
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
    /* [0] the size the twiddle table was made for, [1, 1+n) twiddles (n/2 complex), then four complex
     * buffers of n */
    return (size_t)(1 + n + 4 * 2 * n);
}

/* In-place iterative radix-2 FFT of n (power of two) complex values stored as (re, im) pairs; tw holds
 * exp(-2 pi i k/N0) for k < N0/2 with N0 = n * tw_stride; inverse uses the conjugates (unnormalised). */
static void fft(double *a, int64_t n, const double *tw, int64_t tw_stride, int inverse) {
    for (int64_t i = 1, j = 0; i < n; i++) {
        int64_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double tr = a[2 * i], ti = a[2 * i + 1];
            a[2 * i] = a[2 * j];
            a[2 * i + 1] = a[2 * j + 1];
            a[2 * j] = tr;
            a[2 * j + 1] = ti;
        }
    }
    const double sgn = inverse ? -1.0 : 1.0;
    for (int64_t len = 2; len <= n; len <<= 1) {
        int64_t half = len >> 1, stride = n / len * tw_stride;
        for (int64_t i = 0; i < n; i += len) {
            double *u = a + 2 * i, *v = a + 2 * (i + half);
            for (int64_t k = 0; k < half; k++) {
                double wr = tw[2 * k * stride], wi = sgn * tw[2 * k * stride + 1];
                double vr = v[2 * k] * wr - v[2 * k + 1] * wi, vi = v[2 * k] * wi + v[2 * k + 1] * wr;
                double ur = u[2 * k], ui = u[2 * k + 1];
                u[2 * k] = ur + vr;
                u[2 * k + 1] = ui + vi;
                v[2 * k] = ur - vr;
                v[2 * k + 1] = ui - vi;
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
    /* sparse tracks (few points over a long span, e.g. a particle seen twice 10^5 frames apart): the sum over
     * the cnt^2/2 valid pairs is cheaper than transforms of size n */
    {
        int64_t cnt = 0;
        for (int64_t t = 0; t < L; t++) cnt += valid[t] != 0;
        if ((double)cnt * (double)cnt < 4.0 * (double)n * log2((double)n)) {
            double *idx = work + 1; /* valid frame offsets; the buffer holds >= 8n doubles */
            int64_t m = 0;
            for (int64_t t = 0; t < L; t++)
                if (valid[t]) idx[m++] = (double)t;
            for (int64_t k = 0; k < L; k++) {
                msd[k] = 0.0;
                count[k] = 0;
            }
            for (int64_t i = 0; i < m; i++) {
                int64_t a = (int64_t)idx[i];
                for (int64_t j = i + 1; j < m; j++) {
                    int64_t b = (int64_t)idx[j];
                    double dx = x[b] - x[a], d2 = dx * dx;
                    if (y) {
                        double dy = y[b] - y[a];
                        d2 += dy * dy;
                    }
                    msd[b - a] += d2;
                    count[b - a]++;
                }
            }
            count[0] = (int32_t)m;
            for (int64_t k = 1; k < L; k++) msd[k] = count[k] ? msd[k] / count[k] : NAN;
            msd[0] = m ? 0.0 : NAN;
            work[0] = 0.0; /* the twiddle table was overwritten */
            return;
        }
    }
    double *tw = work + 1;
    /* the twiddle table is kept for the largest size seen (N0) and strided for smaller transforms */
    if (!(work[0] >= (double)n)) {
        for (int64_t k = 0; k < n / 2; k++) {
            double ang = -2.0 * M_PI * (double)k / (double)n;
            tw[2 * k] = cos(ang);
            tw[2 * k + 1] = sin(ang);
        }
        work[0] = (double)n;
    }
    int64_t N0 = (int64_t)work[0], tws = N0 / n;
    double *z1 = tw + N0;     /* m + i q (complex, n) */
    double *z2 = z1 + 2 * n;  /* x + i y */
    double *p1 = z2 + 2 * n, *p2 = p1 + 2 * n;
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
    memset(z1, 0, sizeof(double) * 4 * (size_t)n);
    for (int64_t t = 0; t < L; t++) {
        if (!valid[t]) continue;
        double xv = x[t] - cx, yv = y ? y[t] - cy : 0.0;
        z1[2 * t] = 1.0;
        z1[2 * t + 1] = xv * xv + yv * yv;
        z2[2 * t] = xv;
        z2[2 * t + 1] = yv;
    }
    fft(z1, n, tw, tws, 0);
    fft(z2, n, tw, tws, 0);
    /* Unpack two real spectra from one complex one: A = (Z[k] + conj Z[n-k])/2, B = (Z[k] - conj Z[n-k])/(2i). */
    for (int64_t k = 0; k < n; k++) {
        int64_t nk = (n - k) & (n - 1);
        double ar = z1[2 * k], ai = z1[2 * k + 1], br = z1[2 * nk], bi = -z1[2 * nk + 1];
        double Mr = 0.5 * (ar + br), Mi = 0.5 * (ai + bi);
        double Qr = 0.5 * (ai - bi), Qi = -0.5 * (ar - br);
        ar = z2[2 * k]; ai = z2[2 * k + 1]; br = z2[2 * nk]; bi = -z2[2 * nk + 1];
        double Xr = 0.5 * (ar + br), Xi = 0.5 * (ai + bi);
        double Yr = 0.5 * (ai - bi), Yi = -0.5 * (ar - br);
        double mm = Mr * Mr + Mi * Mi;
        double xx = Xr * Xr + Xi * Xi + Yr * Yr + Yi * Yi;
        double qm = 2.0 * (Qr * Mr + Qi * Mi); /* 2 Re(conj(Q) M) */
        p1[2 * k] = mm;
        p1[2 * k + 1] = xx;
        p2[2 * k] = qm;
        p2[2 * k + 1] = 0.0;
    }
    fft(p1, n, tw, tws, 1);
    fft(p2, n, tw, tws, 1);
    double inv = 1.0 / (double)n;
    for (int64_t k = 0; k < L; k++) {
        double c = p1[2 * k] * inv;
        int64_t ci = (int64_t)llround(c);
        count[k] = (int32_t)ci;
        if (ci <= 0) {
            msd[k] = NAN;
            count[k] = 0;
            continue;
        }
        double s = p2[2 * k] * inv - 2.0 * p1[2 * k + 1] * inv;
        msd[k] = s > 0 ? s / (double)ci : 0.0;
    }
    msd[0] = 0.0;
}
