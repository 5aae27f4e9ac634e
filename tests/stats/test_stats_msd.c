/* TA-MSD building block: the FFT path against the direct double sum (naive reference written here), on
 * tracks with and without gaps, 1-D and 2-D, short and long; and Michalet's point formulas at known values.
 * Tolerance: 1e-7 relative up to L = 700, 2e-5 at L = 3000. The FFT path computes S(k) = C[q,m] + C[m,q] -
 * 2 C[r,r], sums of squares of the centred positions, so its rounding is ~eps * L * log2(n) * extent^2 relative
 * to the squared steps: with a drift of 0.5 px/frame and 3 px steps, extent^2/step^2 ~ (0.25 L)^2/9, i.e. ~1e4
 * at L = 700 (error ~1e-8) and ~6e4 at L = 3000 (error ~3e-6). Far below any statistical error of an MSD. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "samem/stats.h"
#include "test.h"

static void naive(double *msd, int64_t *cnt, const double *x, const double *y, const unsigned char *v, int64_t L) {
    for (int64_t k = 0; k < L; k++) {
        msd[k] = 0;
        cnt[k] = 0;
    }
    for (int64_t i = 0; i < L; i++)
        for (int64_t j = i; j < L; j++) {
            if (!v[i] || !v[j]) continue;
            double d = (x[j] - x[i]) * (x[j] - x[i]);
            if (y) d += (y[j] - y[i]) * (y[j] - y[i]);
            msd[j - i] += d;
            cnt[j - i]++;
        }
    for (int64_t k = 0; k < L; k++) msd[k] = cnt[k] ? msd[k] / cnt[k] : NAN;
}

int main(void) {
    sm_rng rng;
    sm_rng_seed(&rng, 7);
    int64_t Ls[] = {1, 2, 3, 10, 48, 49, 100, 333, 700, 3000};
    for (int dim = 1; dim <= 2; dim++)
        for (int gaps = 0; gaps <= 2; gaps++) /* 2: sparse, 1% of frames (the direct pair sum) */
            for (size_t li = 0; li < sizeof Ls / sizeof *Ls; li++) {
                int64_t L = Ls[li];
                double *x = malloc(L * sizeof *x), *y = malloc(L * sizeof *y), *m = malloc(L * sizeof *m),
                       *mr = malloc(L * sizeof *mr);
                unsigned char *v = malloc(L);
                int32_t *c = malloc(L * sizeof *c);
                int64_t *cr = malloc(L * sizeof *cr);
                double *work = calloc(sm_stats_msd_work_size(L), sizeof *work);
                double px = 5000, py = -3000; /* far from the origin: tests the centring */
                for (int64_t t = 0; t < L; t++) {
                    px += 3 * sm_rng_normal(&rng) + 0.5;
                    py += 3 * sm_rng_normal(&rng);
                    x[t] = px;
                    y[t] = py;
                    v[t] = gaps == 2 ? (sm_rng_uniform(&rng) < 0.01 || t == 0) : gaps ? (sm_rng_uniform(&rng) > 0.3 || t == 0) : 1;
                }
                sm_stats_ta_msd(m, c, x, dim == 2 ? y : NULL, v, L, work);
                naive(mr, cr, x, dim == 2 ? y : NULL, v, L);
                double worst = 0;
                int count_ok = 1;
                for (int64_t k = 0; k < L; k++) {
                    if (c[k] != cr[k]) count_ok = 0;
                    if (cr[k] == 0) {
                        if (!isnan(m[k])) count_ok = 0;
                        continue;
                    }
                    double e = fabs(m[k] - mr[k]) / (mr[k] > 1 ? mr[k] : 1);
                    if (e > worst) worst = e;
                }
                char name[128];
                snprintf(name, sizeof name, "TA-MSD %dD gaps=%d L=%lld equals the direct sum", dim, gaps, (long long)L);
                SM_CHECKF(name, count_ok && worst < (L > 1000 ? 2e-5 : 1e-7), "counts_ok=%d worst rel err=%.3g", count_ok, worst);
                free(x); free(y); free(m); free(mr); free(v); free(c); free(cr); free(work);
            }
    /* Michalet 2010: for x -> 0 and large N the optimal p for D is 2 (fig. 4), and grows with x. */
    int pD, pS, pD2, pS2;
    sm_stats_michalet_points(1000, 0.0, &pD, &pS);
    sm_stats_michalet_points(1000, 10.0, &pD2, &pS2);
    SM_CHECKF("Michalet p_D = 2 at x = 0, N = 1000", pD == 2 && pS >= 2, "pD=%d pS=%d", pD, pS);
    SM_CHECKF("Michalet p grows with the reduced error x", pD2 > pD && pS2 > pS, "pD=%d->%d pS=%d->%d", pD, pD2, pS, pS2);
    return sm_test_report();
}
