/* The beam and detector model: from the transmitted-fraction field to grey levels.
 *
 *   lambda(x,y) = N0 F_t L(x,y) (1 - r + r trans(x,y))           mean counted electrons per px
 *   N0 = dose * (10 p)^2 * eta * exp(-t / mfp)                    (dose in e/A^2, p in nm, 1 nm = 10 A)
 *   k ~ Poisson(lambda);   n = k + sqrt(s^2 k + rho^2) N(0,1) - lambda   shot noise with gain noise s and read
 *                                                                  noise rho = read_noise / gain (electrons)
 *   n_c = K * n,  K = g(x) g(y), g Gaussian with sum g^2 = 1      detector transfer: correlated, same variance
 *   grey = offset + gain_row * (lambda + n_c), rounded and clipped to the bit depth
 * with defect pixels (dead: 0, hot: full scale) and defect rows (gain x1.35 or x0.6), then an optional
 * JPEG round trip. L is the illumination (1 + linear gradient - quadratic vignetting), F_t the flicker.
 *
 * Speed (about 10 ns per pixel on one core is the budget): Poisson counts for lambda < 32 come from
 * Walker alias tables (O(1), branch-free, 32 random bits) on a grid of means 1/16 apart, the mean being split between its two neighbouring grid
 * points at random (a mixture with the exact mean and a variance excess below (1/32)^2); above 32 a normal
 * approximation with continuity correction (skewness 1/sqrt(lambda) < 0.18 is lost). Normal variates come
 * from a 1024-bin piecewise-linear inverse CDF (tails cut at |z| = 3.1) or, in the hot loop, the
 * conditional means of 4096 equal-probability bins. Rows run in parallel, each on
 * its own RNG stream, so the result does not depend on the thread count. Noise outside the field is drawn
 * too (a border of the kernel's radius), so that the correlated noise is stationary up to the edge.
 * Left out: the signal's own blur by the detector MTF (the optics PSF stands for it), gain non-uniformity
 * beyond defect rows, rolling-shutter and readout artefacts. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "samem/io.h"
#include "sim/sim_internal.h"

#define PT_STEP 16       /* grid points per electron */
#define PT_MAX 32        /* table range, electrons */
#define PT_N (PT_STEP * PT_MAX + 1)

#define PT_COLS 128       /* alias columns per mean (counts 0..127; P(k >= 128 | 32) < 1e-30) */

struct sim_poisson {
    uint16_t thr[PT_N + 1][PT_COLS];  /* Walker alias: column k keeps k when u15 < thr, else alias */
    uint8_t alias[PT_N + 1][PT_COLS];
    float extra_sd[PT_COLS];          /* sqrt(s^2 k + rho^2): gain and read noise for count k, electrons */
};

/* Walker's alias method (Vose's construction) for the Poisson pmf of each grid mean over 128 columns,
 * thresholds of 15 bits (each count's probability is exact to 2.4e-7). */
static int poisson_tables(struct sim_poisson *pt) {
    double prob[PT_COLS];
    int small[PT_COLS], large[PT_COLS];
    for (int i = 0; i <= PT_N; i++) {
        double m = (double)i / PT_STEP, pk = exp(-m), F = 0;
        for (int k = 0; k < PT_COLS; k++) {
            prob[k] = pk;
            F += pk;
            pk *= m / (k + 1);
        }
        int ns = 0, nl = 0;
        for (int k = 0; k < PT_COLS; k++) {
            prob[k] *= PT_COLS / F;
            if (prob[k] < 1) small[ns++] = k;
            else large[nl++] = k;
        }
        while (ns > 0 && nl > 0) {
            int a = small[--ns], b = large[--nl];
            pt->thr[i][a] = (uint16_t)lround(prob[a] * 32768.0);
            pt->alias[i][a] = (uint8_t)b;
            prob[b] -= 1 - prob[a];
            if (prob[b] < 1) small[ns++] = b;
            else large[nl++] = b;
        }
        while (nl > 0) { int b = large[--nl]; pt->thr[i][b] = 32768; pt->alias[i][b] = (uint8_t)b; }
        while (ns > 0) { int a = small[--ns]; pt->thr[i][a] = 32768; pt->alias[i][a] = (uint8_t)a; }
    }
    return 0;
}

/* The per-row generator of the hot loops: wyrand (Wang Yi's 64-bit generator: a Weyl sequence mixed by one
 * 64x64->128-bit multiply; passes BigCrush and PractRand), seeded from the row's sm_rng stream. About a third
 * of xoshiro256**'s instructions, which matters at one or two draws per pixel. */
static inline uint64_t wy_next(uint64_t *st) {
    *st += 0xa0761d6478bd642fULL;
    __uint128_t t = (__uint128_t)*st * (*st ^ 0xe7037ed1a0b428dbULL);
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* A Poisson count of mean lam < 32 from 32 random bits: 10 choose between the two neighbouring grid means
 * (mixture with the exact mean), 7 the alias column, 15 the column's threshold. */
static inline int poisson_small(const struct sim_poisson *pt, float lam, uint32_t w) {
    float t = lam * PT_STEP;
    int i = (int)t;
    i += (float)(w >> 22) < (t - (float)i) * 1024.0f;
    uint32_t col = (w >> 15) & (PT_COLS - 1);
    uint32_t a = pt->alias[i][col], keep = -(uint32_t)((w & 0x7FFF) < pt->thr[i][col]);  /* branch-free */
    return (int)((col & keep) | (a & ~keep));
}

/* A normal variate from the top 12 of 32 random bits: the conditional means of 4096 equal-probability bins,
 * scaled to unit variance (tails beyond |z| = 3.4 fall into the end bins). */
static inline float table_normal(const float *tab, uint32_t w) { return tab[w >> 20]; }

/* Above the tables: normal approximation with continuity correction (piecewise-linear inverse CDF on the top
 * bits, tails cut at 1/1024). */
static inline float poisson_large(const float *nq, float lam, uint64_t u) {
    int bin = (int)(u >> 54);
    float f = (float)(u & ((1ULL << 54) - 1)) * 0x1.0p-54f;
    if (bin == 0) bin = 1, f = 0;
    if (bin == 1023) f = 1;
    float z = nq[bin] + f * (nq[bin + 1] - nq[bin]);
    float k = floorf(lam + sqrtf(lam) * z + 0.5f);
    return k < 0 ? 0 : k;
}

static double inv_normal_cdf(double p) {
    double lo = -6, hi = 6;
    for (int i = 0; i < 40; i++) {  /* 12 / 2^40: far below float precision */
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / sqrt(2)) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

double sim_illumination(const sm_sim *s, double x, double y) {
    double half = 0.5 * (s->cfg.width > s->cfg.height ? s->cfg.width : s->cfg.height);
    double u = (x - 0.5 * (s->cfg.width - 1)) / half, v = (y - 0.5 * (s->cfg.height - 1)) / half;
    double L = 1 + s->illum_gx * u + s->illum_gy * v - s->illum_c * 0.5 * (u * u + v * v);
    return L < 0.02 ? 0.02 : L;
}

/* Frame-sized buffers, made on the first imaged frame (a motion-only simulation never needs them). */
int sim_detector_buffers(sm_sim *s, sm_error *err) {
    if (s->trans) return 0;
    const sm_sim_config *c = &s->cfg;
    size_t W = (size_t)c->width, H = (size_t)c->height, n;
    if (sm_size_mul(&n, W, H, sizeof(float), "simulator frame", err) < 0) return SM_ENOMEM;
    s->trans = malloc(n);
    if (c->jpeg_quality > 0) s->u8 = malloc(W * H);
    if (!s->trans || (c->jpeg_quality > 0 && !s->u8)) {
        free(s->trans);
        s->trans = NULL;
        return sm_error_set(err, SM_ENOMEM, "simulator: out of memory for %zux%zu px frame buffers", W, H);
    }
    for (size_t i = 0; i < W * H; i++) s->trans[i] = 1;
    return 0;
}

int sim_detector_init(sm_sim *s, sm_rng *vr, sm_error *err) {
    const sm_sim_config *c = &s->cfg;
    size_t W = (size_t)c->width, H = (size_t)c->height;
    s->row_kind = calloc(H, 1);
    s->poisson = malloc(sizeof *s->poisson);
    s->illum_x = malloc(W * sizeof(float));
    if (!s->row_kind || !s->poisson || !s->illum_x || poisson_tables(s->poisson) < 0)
        return sm_error_set(err, SM_ENOMEM, "simulator: out of memory");
    double half = 0.5 * (double)(W > H ? W : H);
    for (size_t x = 0; x < W; x++) {
        double u = ((double)x - 0.5 * ((double)W - 1)) / half;
        s->illum_x[x] = (float)(s->illum_gx * u - s->illum_c * 0.5 * u * u);
    }
    for (int i = 1; i < 1024; i++) s->normal_q[i] = (float)inv_normal_cdf(i / 1024.0);
    s->normal_q[0] = s->normal_q[1];
    s->normal_q[1024] = s->normal_q[1023];
    /* 4096-bin table: quantiles by Newton steps from the previous one, then bin means (phi(a) - phi(b)) * 4096 */
    {
        double prev_q = -INFINITY, x = -3.4, var = 0;
        const double inv_sqrt2pi = 0.39894228040143268;
        for (int i = 1; i <= 4096; i++) {
            double q = INFINITY;
            if (i < 4096) {
                double p = i / 4096.0;
                for (int it = 0; it < 8; it++) x -= (0.5 * erfc(-x / sqrt(2)) - p) / (inv_sqrt2pi * exp(-0.5 * x * x));
                q = x;
            }
            double pa = isfinite(prev_q) ? inv_sqrt2pi * exp(-0.5 * prev_q * prev_q) : 0;
            double pb = isfinite(q) ? inv_sqrt2pi * exp(-0.5 * q * q) : 0;
            s->normal_tab[i - 1] = (float)((pa - pb) * 4096);
            var += (double)s->normal_tab[i - 1] * s->normal_tab[i - 1] / 4096;
            prev_q = q;
        }
        for (int i = 0; i < 4096; i++) s->normal_tab[i] = (float)(s->normal_tab[i] / sqrt(var));
    }
    /* gain noise and read noise (in electrons) together, per count */
    {
        double gain = s->img.gain > 0 ? s->img.gain : 1, rho = c->read_noise_grey / gain, sg = c->gain_noise;
        for (int k = 0; k < PT_COLS; k++) s->poisson->extra_sd[k] = (float)sqrt(sg * sg * k + rho * rho);
    }
    /* defects, fixed for the video */
    for (int i = 0; i < c->bright_rows; i++) s->row_kind[sm_rng_below(vr, H)] = 1;
    for (int i = 0; i < c->dark_rows; i++) s->row_kind[sm_rng_below(vr, H)] = 2;
    s->n_defects = c->hot_pixels + c->dead_pixels;
    if (s->n_defects > 0) {
        s->defect_index = malloc(sizeof(int64_t) * (size_t)s->n_defects);
        s->defect_hot = malloc((size_t)s->n_defects);
        if (!s->defect_index || !s->defect_hot) return sm_error_set(err, SM_ENOMEM, "simulator: out of memory");
        for (int i = 0; i < s->n_defects; i++) {
            s->defect_index[i] = (int64_t)sm_rng_below(vr, W * H);
            s->defect_hot[i] = i < c->hot_pixels;
        }
    }
    return 0;
}

void sim_detector_free(sm_sim *s) {
    free(s->scratch);
    free(s->trans);
    free(s->illum_x);
    free(s->u8);
    free(s->row_kind);
    free(s->defect_index);
    free(s->defect_hot);
    free(s->poisson);
}

/* Scratch rows for every thread the next parallel region may use (outside the region: no allocation in it). */
static int ensure_scratch(sm_sim *s, sm_error *err) {
    int nt = omp_get_max_threads();
    if (nt <= s->scratch_threads) return 0;
    size_t W = (size_t)s->cfg.width, R = (size_t)s->nr;
    size_t per = (2 * R + 1) * W + W + 2 * R;
    float *p = realloc(s->scratch, sizeof(float) * per * (size_t)nt);
    if (!p) return sm_error_set(err, SM_ENOMEM, "simulator: out of memory for noise rows");
    s->scratch = p;
    s->scratch_threads = nt;
    return 0;
}

int sim_detector_image(sm_sim *s, float *frame, double flicker, sm_error *err) {
    const sm_sim_config *c = &s->cfg;
    const int W = c->width, H = c->height, R = s->nr, We = W + 2 * R, K = 2 * R + 1;
    const float NF = (float)(s->counts0 * flicker), r = (float)s->img.contrast_retention;
    const float r1 = 1 - r;
    const double half = 0.5 * (W > H ? W : H), cyc = 0.5 * (H - 1);
    const double gy = s->illum_gy, cc = s->illum_c * 0.5;
    const uint64_t frame_id = (uint64_t)s->frame << 24;
    const struct sim_poisson *pt = s->poisson;
    const float *nq = s->normal_q;
    const float *nk = s->nk;
    const float *hx = s->illum_x;
    const float gn = (float)c->gain_noise;
    const float *ntab = s->normal_tab;
    const float rho2 = (float)pow(c->read_noise_grey / (s->img.gain > 0 ? s->img.gain : 1), 2);
    const int extra = gn > 0 || rho2 > 0;
    const float *trans = s->trans;
    const uint64_t seed = s->seed;
    const float maxv = c->bits == 8 ? 255.0f : (c->bits == 16 ? 65535.0f : INFINITY);
    const float off = (float)c->offset_grey;
    const int quantise = c->bits != 32;
    int rc = ensure_scratch(s, err);
    if (rc < 0) return rc;
    const size_t per = (size_t)K * W + (size_t)We;

    /* Each thread makes a block of output rows. Noise row ye (field row ye - R, clamped for the mean) is drawn
     * from its own stream and filtered horizontally into a ring of K rows; output row y is the vertical filter
     * over ring rows y..y+2R. Rows at block edges are drawn by both neighbours, identically. */
#pragma omp parallel
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        const int b0 = (int)((int64_t)H * tid / nt), b1 = (int)((int64_t)H * (tid + 1) / nt);
        float *ring = s->scratch + per * (size_t)tid, *arow = ring + (size_t)K * W;
        for (int ye = b0; ye < b1 + 2 * R; ye++) {
            /* shot noise with gain noise, one row of W + 2R px */
            int y = ye - R < 0 ? 0 : (ye - R >= H ? H - 1 : ye - R);
            sm_rng rng;
            sm_rng_seed_stream(&rng, seed ^ SIM_TAG_NOISE, frame_id + (uint64_t)ye);
            uint64_t st = sm_rng_u64(&rng);
            double v = (y - cyc) / half;
            const float a0 = (float)(1 + gy * v - cc * v * v);
            float *lam = arow + R;
            const float *trow = trans + (size_t)y * W;
#pragma omp simd
            for (int x = 0; x < W; x++) {
                float L = a0 + hx[x];
                L = L < 0.02f ? 0.02f : L;
                float m = NF * L * (r1 + r * trow[x]);
                lam[x] = m > 0 ? m : 0;
            }
            for (int k = 0; k < R; k++) {
                arow[k] = lam[0];
                lam[W + k] = lam[W - 1];
            }
            const float tmax = (float)(PT_N - 2) / PT_STEP;
            for (int xe = 0; xe < We; xe += 2) {
                uint64_t u = wy_next(&st), w = extra ? wy_next(&st) : 0;
                for (int h = 0; h < 2 && xe + h < We; h++) {
                    float m = arow[xe + h], k, sk;
                    if (m < tmax) {
                        int ki = poisson_small(pt, m, (uint32_t)(u >> (32 * h)));
                        k = (float)ki;
                        sk = pt->extra_sd[ki];
                    } else {
                        k = poisson_large(nq, m, wy_next(&st));
                        sk = sqrtf(gn * gn * k + rho2);
                    }
                    if (extra) k += sk * table_normal(ntab, (uint32_t)(w >> (32 * h)));
                    arow[xe + h] = k - m;
                }
            }
            /* horizontal half of the transfer kernel into the ring */
            float *brow = ring + (size_t)(ye % K) * W;
            for (int x = 0; x < W; x++) brow[x] = 0;
            for (int k = 0; k < K; k++) {
                const float kk = nk[k], *a = arow + k;
#pragma omp simd
                for (int x = 0; x < W; x++) brow[x] += kk * a[x];
            }
            if (ye < b0 + 2 * R) continue;
            /* output row yo: vertical half, mean, gain, quantisation */
            const int yo = ye - 2 * R;
            float *out = frame + (size_t)yo * W;
            for (int x = 0; x < W; x++) out[x] = 0;
            for (int k = 0; k < K; k++) {
                const float *b = ring + (size_t)((yo + k) % K) * W;
                const float kk = nk[k];
#pragma omp simd
                for (int x = 0; x < W; x++) out[x] += kk * b[x];
            }
            v = (yo - cyc) / half;
            const float a1 = (float)(1 + gy * v - cc * v * v);
            const float gr = (float)(s->img.gain * (s->row_kind[yo] == 1 ? 1.35 : (s->row_kind[yo] == 2 ? 0.6 : 1.0)));
            const float *tro = trans + (size_t)yo * W;
#pragma omp simd
            for (int x = 0; x < W; x++) {
                float L = a1 + hx[x];
                L = L < 0.02f ? 0.02f : L;
                float m = NF * L * (r1 + r * tro[x]);
                m = m > 0 ? m : 0;
                out[x] = off + gr * (m + out[x]);
            }
            if (quantise) {
#pragma omp simd
                for (int x = 0; x < W; x++) {
                    float q = out[x];
                    q = q < 0 ? 0 : q;
                    q = q > maxv ? maxv : q;
                    out[x] = (float)(int)(q + 0.5f);
                }
            }
        }
    }
    const float hot = c->bits == 32 ? (float)(off + 4 * s->img.gain * s->counts0) : maxv;
    for (int i = 0; i < s->n_defects; i++) frame[s->defect_index[i]] = s->defect_hot[i] ? hot : (c->bits == 32 ? off : 0);
    if (c->jpeg_quality > 0) {
        size_t n = (size_t)W * H;
        for (size_t i = 0; i < n; i++) s->u8[i] = (uint8_t)frame[i];
        int rc = sm_jpeg_roundtrip_gray(s->u8, W, H, c->jpeg_quality, err);
        if (rc < 0) return rc;
        for (size_t i = 0; i < n; i++) frame[i] = s->u8[i];
    }
    return 0;
}
