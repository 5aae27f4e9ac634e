/* Automatic detection: every particle in a frame (or the mean of a few frames), without prompts.
 *
 * The mean of the given frames is block-averaged to at most ~512 px on its long side, the illumination is
 * removed with a box mean a quarter of the frame wide, then each row's and column's median (detector row and
 * column artefacts), the residual is smoothed (Gaussian, 1.5 reduced px, and 3 px for large faint particles
 * that the finer scale misses; 6 px, at half resolution, on an image whose illumination came from the
 * background pixels alone, for particles as large as the box mean) and thresholded with hysteresis: components above 2.5 smoothed-noise sigma whose peak passes
 * min_contrast sigma and whose area (full-resolution px^2) lies within [min_area, max_area] are kept,
 * strongest first, at most max_objects. Polarity: dark unless bright outliers outnumber dark ones.
 * Components holding several particles (touching, or merged by the smoothing) are split by a watershed
 * from their separate maxima (split_components).
 * Left out: the network's full-frame head (proposals come from this detector for both methods). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

static int cmp_det(const void *a, const void *b) {
    const sm__detection *x = a, *y = b;
    double sx = x->cnr * sqrt(x->area), sy = y->cnr * sqrt(y->area);
    return (sx < sy) - (sx > sy);
}

/* Splits components that hold several particles (touching, or merged by the smoothing): a maximum of zs
 * above min_peak is a particle of its own when it stands above the saddle joining it to a stronger maximum
 * of its component by 40% of its height and by 5 noise sigma (topological persistence). Pixels then go to
 * these seeds by a watershed on zs (pixels in decreasing order take the label of their highest labelled
 * neighbour). Relabels lab in place and returns the new number of labels, or -1 without memory (lab
 * unchanged); *shared_out (malloc'ed; NULL when nothing was split) marks the new labels that came out of a
 * split component. Measured: a cube of contrast-to-noise 2.9 two pixels from a much darker one was one
 * detection with it, and never became an object. */
typedef struct zpix {
    float z;
    int32_t i;
} zpix;

static int cmp_zpix(const void *a, const void *b) {
    float x = ((const zpix *)a)->z, y = ((const zpix *)b)->z;
    return (x < y) - (x > y);
}

static int split_components(const float *zs, int w, int h, double min_peak, int32_t *lab, int nc, uint8_t **shared_out) {
    *shared_out = NULL;
    size_t N = (size_t)w * h, n_in = 0;
    for (size_t i = 0; i < N; i++) n_in += lab[i] != 0;
    zpix *px = malloc(sizeof *px * (n_in ? n_in : 1));
    int32_t *out = calloc(N, sizeof(int32_t));
    int32_t *seed_px = malloc(sizeof(int32_t) * (n_in ? n_in : 1)); /* accepted seeds: pixel index */
    if (!px || !out || !seed_px) {
        free(px), free(out), free(seed_px);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < N; i++)
        if (lab[i]) px[k].z = zs[i], px[k].i = (int32_t)i, k++;
    qsort(px, n_in, sizeof *px, cmp_zpix);
    /* seeds by persistence: pixels in decreasing order join their processed neighbours' sets (union-find);
     * where two sets meet, the level is their saddle, and the weaker set is a particle of its own when its
     * peak stands above it by 40% and by 5 noise sigma (zs is in units of the smoothed noise; on a flat
     * particle the noise alone makes dips of 2-3 sigma between its maxima). The true saddle (over every
     * path) keeps a ring-shaped response, as the background removal leaves on a large particle, whole. */
    int32_t *parent = malloc(sizeof(int32_t) * N);
    if (!parent) {
        free(px), free(out), free(seed_px);
        return -1;
    }
    for (size_t i = 0; i < N; i++) parent[i] = -1;
    int n_seed = 0;
    for (size_t q = 0; q < n_in; q++) {
        int i = px[q].i, x = i % w, y = i / w;
        float z = px[q].z;
        parent[i] = i; /* a set of its own; its peak is its root's value (roots are each set's first pixel) */
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int xx = x + dx, yy = y + dy;
                if ((!dx && !dy) || xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                int j = yy * w + xx;
                if (parent[j] < 0 || lab[j] != lab[i]) continue;
                int ri = i, rj = j;
                while (parent[ri] != ri) ri = parent[ri] = parent[parent[ri]];
                while (parent[rj] != rj) rj = parent[rj] = parent[parent[rj]];
                if (ri == rj) continue;
                /* the stronger root survives; the weaker one's peak against the saddle z */
                int strong = zs[ri] >= zs[rj] ? ri : rj, weak = strong == ri ? rj : ri;
                float pw = zs[weak];
                if (weak != i && pw >= min_peak && pw - z >= fmaxf(0.4f * pw, 5.0f) && !out[weak])
                    seed_px[n_seed++] = weak, out[weak] = n_seed;
                parent[weak] = strong;
            }
    }
    /* each component's strongest pixel: its first seed (when it passes min_peak) */
    for (size_t q = 0; q < n_in; q++) {
        int i = px[q].i;
        if (parent[i] == i && px[q].z >= min_peak && !out[i]) seed_px[n_seed++] = i, out[i] = n_seed;
    }
    free(parent);
    /* seeds per component: a component with two or more is split */
    int32_t *per_comp = calloc((size_t)nc + 1, sizeof(int32_t));
    if (!per_comp) {
        free(px), free(out), free(seed_px);
        return -1;
    }
    int any_split = 0;
    for (int a = 0; a < n_seed; a++) any_split |= ++per_comp[lab[seed_px[a]]] > 1;
    if (!any_split) {
        free(per_comp), free(px), free(out), free(seed_px);
        return nc;
    }
    /* watershed: every pixel in decreasing order takes its highest labelled neighbour's label (same
     * component); plateaus without one are settled in later sweeps */
    int pending = 1;
    for (int sweep = 0; sweep < 64 && pending; sweep++) {
        pending = 0;
        for (size_t q = 0; q < n_in; q++) {
            int i = px[q].i, x = i % w, y = i / w;
            if (out[i]) continue;
            float best = -1e30f;
            int32_t l = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if ((!dx && !dy) || xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    size_t j = (size_t)yy * w + xx;
                    if (out[j] && lab[j] == lab[i] && zs[j] > best) best = zs[j], l = out[j];
                }
            if (l) out[i] = l;
            else pending = 1;
        }
    }
    /* components without a seed (no peak above min_peak: dropped by the filters anyway) keep new labels of
     * their own */
    int next = n_seed;
    int32_t *remap = calloc((size_t)nc + 1, sizeof(int32_t));
    if (!remap) {
        free(per_comp), free(px), free(out), free(seed_px);
        return -1;
    }
    for (size_t i = 0; i < N; i++) {
        if (!lab[i]) continue;
        if (!out[i]) {
            if (!remap[lab[i]]) remap[lab[i]] = ++next;
            out[i] = remap[lab[i]];
        }
    }
    uint8_t *shared = calloc((size_t)next + 1, 1);
    if (shared)
        for (int a = 0; a < n_seed; a++) shared[a + 1] = per_comp[lab[seed_px[a]]] > 1; /* seed a's label is a + 1 */
    memcpy(lab, out, sizeof(int32_t) * N);
    free(per_comp), free(remap), free(px), free(out), free(seed_px);
    *shared_out = shared;
    return next;
}

/* Thresholds one scale's normalised response zs (w x h, reduced px; f = reduction) with hysteresis and
 * appends the components that pass the filters to *det (realloc'ed; *nd entries, *cap allocated). With
 * `skip` set, components whose centre lies inside one of the first `skip` detections' boxes are left out
 * (the same particle seen at a finer scale); with `coarse` set, those within 6 px of the border. Returns 0 or
 * SM_ENOMEM. */
static int collect(const float *zs, int w, int h, int f, const sm_segment_options *opt, double min_peak,
                   double max_area, uint8_t *m, int32_t *lab, int32_t *stack, int coarse, int skip, sm__detection **det,
                   int *nd, int *cap) {
    size_t N = (size_t)w * h;
    for (size_t i = 0; i < N; i++) m[i] = zs[i] > 2.5f;
    int nc = sm__components(m, w, h, lab, stack);
    uint8_t *shared = NULL;
    int split = split_components(zs, w, h, min_peak, lab, nc, &shared);
    if (split < 0) return SM_ENOMEM;
    nc = split;
    /* per component: area, sum x, sum y, peak (5+ px inside the image), bbox, peak in the border band. The
     * smoothing replicates the edge, so smoothed noise is larger there: a border-band peak must be 1.5 x
     * higher (measured: two 5.3-5.6 sigma "particles" on the border of pure noise) */
    double *st = calloc((size_t)nc + 1, 9 * sizeof(double));
    if (!st) {
        free(shared);
        return SM_ENOMEM;
    }
    for (int l = 1; l <= nc; l++) st[9 * l + 4] = 1e30, st[9 * l + 5] = 1e30, st[9 * l + 6] = -1, st[9 * l + 7] = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int l = lab[(size_t)y * w + x];
            if (!l) continue;
            double *s = st + 9 * l;
            float z = zs[(size_t)y * w + x];
            int band = x < 5 || y < 5 || x > w - 6 || y > h - 6;
            s[0] += 1, s[1] += x, s[2] += y;
            if (!band && z > s[3]) s[3] = z;
            if (band && z > s[8]) s[8] = z;
            if (x < s[4]) s[4] = x;
            if (y < s[5]) s[5] = y;
            if (x > s[6]) s[6] = x;
            if (y > s[7]) s[7] = y;
        }
    for (int l = 1; l <= nc; l++) {
        double *s = st + 9 * l;
        double area = s[0] * f * f;
        if (area < opt->min_area || area > max_area || (s[3] < min_peak && s[8] < 1.5 * min_peak)) continue;
        /* components touching the border of a clipped image are kept (particles cut by the border) */
        sm__detection d;
        d.x = (s[1] / s[0] + 0.5) * f - 0.5;
        d.y = (s[2] / s[0] + 0.5) * f - 0.5;
        d.area = area;
        d.x0 = s[4] * f, d.y0 = s[5] * f, d.x1 = (s[6] + 1) * f - 1, d.y1 = (s[7] + 1) * f - 1;
        d.cnr = s[3] >= min_peak ? s[3] : s[8] / 1.5;
        d.touching = shared && shared[l];
        /* a coarse scale leaves the border (6 px) to the fine one: its smoothing reaches past the edge (also when
         * the fine scale found nothing: a 5-sigma noise blob on the border of a noise-only frame became an object) */
        int seen = coarse && (s[4] < 6 || s[5] < 6 || s[6] > w - 7 || s[7] > h - 7);
        for (int k = 0; k < skip && !seen; k++) {
            const sm__detection *q = &(*det)[k];
            seen = d.x >= q->x0 - 2 && d.x <= q->x1 + 2 && d.y >= q->y0 - 2 && d.y <= q->y1 + 2;
        }
        if (seen) continue;
        if (*nd == *cap) {
            int nc2 = *cap ? 2 * *cap : 64;
            sm__detection *g = realloc(*det, sizeof *g * (size_t)nc2);
            if (!g) {
                free(st), free(shared);
                return SM_ENOMEM;
            }
            *det = g, *cap = nc2;
        }
        (*det)[(*nd)++] = d;
    }
    free(st), free(shared);
    return 0;
}

/* The noise sigma of v (n values around 0) from their median absolute value (robust to the particles among
 * them); tmp: n floats of scratch. */
static double robust_sigma(const float *v, size_t n, float *tmp) {
    for (size_t i = 0; i < n; i++) tmp[i] = fabsf(v[i]);
    return sm__quantile(tmp, n, 0.5) / 0.6745;
}

/* The illumination under img (w x h) into bg: a plane fitted to the background pixels plus a box mean of
 * radius rb of what is left there (a normalised convolution; where the box holds under a fifth of background,
 * a box of radius rb_wide). The background pixels are found by three passes: all pixels first, then those
 * whose residual, smoothed over 3 px, is not particle-like (beyond 3 sigma in the particles' polarity, or in
 * either when it is not known yet; grown by 2 px). Why: a plain box mean takes up a particle as large as the
 * box (100-150 px particles at 512 px came out level with the background, and automatic mode found none of
 * five); the plane keeps the box mean unbiased at the frame's edges under an illumination gradient. On return
 * m holds 1 on the background pixels. Scratch: tmp, zs (w x h floats). Returns 0 or -1 without memory. */
static int background_without_particles(const float *img, int w, int h, int rb, int rb_wide, int polarity, float *bg,
                                        float *tmp, float *zs, uint8_t *m) {
    size_t N = (size_t)w * h;
    float *wt = malloc(N * sizeof(float)), *num = malloc(N * sizeof(float)), *den = malloc(N * sizeof(float));
    float *res = malloc(N * sizeof(float));
    if (!wt || !num || !den || !res) {
        free(wt), free(num), free(den), free(res);
        return -1;
    }
    for (size_t i = 0; i < N; i++) wt[i] = 1.0f;
    for (int pass = 0; pass < 3; pass++) {
        if (pass > 0) {
            for (size_t i = 0; i < N; i++) res[i] = img[i] - bg[i];
            sm__gauss_blur(zs, res, w, h, 3.0, tmp);
            double sn = robust_sigma(zs, N, tmp);
            if (!(sn > 0)) break;
            for (size_t i = 0; i < N; i++) {
                double z = zs[i] / sn;
                res[i] = (float)(polarity < 0 ? z < -3.0 : polarity > 0 ? z > 3.0 : fabs(z) > 3.0);
            }
            sm__box_blur(num, res, w, h, 2, tmp); /* grown by 2 px */
            for (size_t i = 0; i < N; i++) wt[i] = num[i] > 1e-3f ? 0.0f : 1.0f;
        }
        double p[3];
        for (size_t i = 0; i < N; i++) m[i] = wt[i] > 0.5f; /* also the caller's background pixels on return */
        sm__plane_fit(img, m, w, h, p);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = (size_t)y * w + x;
                bg[i] = (float)(p[0] + p[1] * x + p[2] * y);
                res[i] = (img[i] - bg[i]) * wt[i];
            }
        /* zs keeps the narrow box's background share (1 everywhere on the first pass) */
        sm__box_blur(num, res, w, h, rb, tmp);
        if (pass == 0) {
            for (size_t i = 0; i < N; i++) bg[i] += num[i];
            continue;
        }
        sm__box_blur(zs, wt, w, h, rb, tmp);
        int sparse = 0;
        for (size_t i = 0; i < N; i++) {
            if (zs[i] >= 0.2f) bg[i] += num[i] / zs[i];
            else sparse = 1;
        }
        if (!sparse) continue;
        sm__box_blur(num, res, w, h, rb_wide, tmp);
        sm__box_blur(den, wt, w, h, rb_wide, tmp);
        for (size_t i = 0; i < N; i++)
            if (zs[i] < 0.2f && den[i] > 1e-3f) bg[i] += num[i] / den[i];
    }
    free(wt), free(num), free(den), free(res);
    return 0;
}

/* Bright and dark detector rows and columns: each row's and column's median (over the pixels where bgmask is
 * set, all when it is NULL; left alone where under a quarter of the line is set) is taken out of img. Particles
 * cover a small part of most lines; measured: a simulated dark row became four "particles" in automatic mode. */
static void remove_line_medians(float *img, int w, int h, const uint8_t *bgmask, float *tmp) {
    /* rows (pixels 1 apart, lines w apart), then columns (pixels w apart, lines 1 apart) */
    for (int col = 0; col < 2; col++) {
        int n_lines = col ? w : h, len = col ? h : w;
        size_t step = col ? (size_t)w : 1, line = col ? 1 : (size_t)w;
        for (int l = 0; l < n_lines; l++) {
            float *p = img + l * line;
            const uint8_t *b = bgmask ? bgmask + l * line : NULL;
            size_t k = 0;
            for (int i = 0; i < len; i++)
                if (!b || b[i * step]) tmp[k++] = p[i * step];
            if (k < (size_t)len / 4) continue;
            float med = sm__quantile(tmp, k, 0.5);
            for (int i = 0; i < len; i++) p[i * step] -= med;
        }
    }
}

/* One coarse scale: src (w x h, reduction f) smoothed with a Gaussian of sigma, in units of its own noise and
 * polarity pol, thresholded by collect (coarse: border left to the fine scale, finer detections skipped).
 * Scratch: sm (smoothed), tmp, zs (w x h floats), m, lab, stack. Returns 0 or SM_ENOMEM. */
static int coarse_scale(const float *src, int w, int h, int f, double sigma, int pol, const sm_segment_options *opt,
                        double max_area, float *sm, float *tmp, float *zs, uint8_t *m, int32_t *lab, int32_t *stack,
                        sm__detection **det, int *nd, int *cap) {
    size_t N = (size_t)w * h;
    sm__gauss_blur(sm, src, w, h, sigma, tmp);
    double sn = robust_sigma(sm, N, tmp);
    if (!(sn > 0)) return 0;
    for (size_t i = 0; i < N; i++) zs[i] = (float)(pol * sm[i] / sn);
    /* a component narrower than the kernel is the kernel's own response to the noise (measured: a 5-sigma blob
     * of 107 px at sigma 3 on noise alone); small particles are the fine scale's */
    sm_segment_options wide = *opt;
    wide.min_area = fmax(opt->min_area, M_PI * 4 * sigma * sigma * f * f);
    return collect(zs, w, h, f, &wide, opt->min_contrast, max_area, m, lab, stack, 1, *nd, det, nd, cap);
}

int sm__detect(const float *const *frames, int n, int W, int H, const sm_segment_options *opt, int polarity,
               sm__detection **out, int *n_out, int *polarity_out, sm_error *err) {
    *out = NULL;
    *n_out = 0;
    int f = (int)lround(fmax(W, H) / 512.0);
    if (f < 1) f = 1;
    if (f > 8) f = 8;
    int w = W / f, h = H / f;
    if (w < 8 || h < 8) return sm_error_set(err, SM_EINVAL, "detect: frame of %dx%d px is too small", W, H);
    size_t N = (size_t)w * h;
    float *img = calloc(N, sizeof(float)), *bg = malloc(N * sizeof(float)), *tmp = malloc(N * sizeof(float));
    float *zs = malloc(N * sizeof(float)), *coarse = malloc((N / 4 + 1) * sizeof(float));
    uint8_t *m = malloc(N);
    int32_t *lab = malloc(N * sizeof(int32_t)), *stack = malloc(N * sizeof(int32_t));
    int rc = 0;
    sm__detection *det = NULL;
    if (!img || !bg || !tmp || !zs || !coarse || !m || !lab || !stack) {
        rc = sm_error_set(err, SM_ENOMEM, "detect: out of memory");
        goto done;
    }
    double scale = 1.0 / ((double)n * f * f);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < h * f; y++) {
            const float *row = frames[k] + (size_t)y * W;
            float *dst = img + (size_t)(y / f) * w;
            for (int x = 0; x < w * f; x++) dst[x / f] += (float)(row[x] * scale);
        }
    int rb = (w > h ? w : h) / 8;
    if (rb < 4) rb = 4;
    /* the sigma-6 scale's image, before the illumination is taken out: 2 x 2 block means (half resolution) */
    int w2 = w / 2, h2 = h / 2;
    for (int y = 0; y < h2; y++)
        for (int x = 0; x < w2; x++) {
            const float *a = img + (size_t)(2 * y) * w + 2 * x;
            coarse[(size_t)y * w2 + x] = 0.25f * (a[0] + a[1] + a[w] + a[w + 1]);
        }
    sm__box_blur(bg, img, w, h, rb, tmp);
    for (size_t i = 0; i < N; i++) img[i] -= bg[i];
    remove_line_medians(img, w, h, NULL, tmp);
    sm__gauss_blur(zs, img, w, h, 1.5, tmp);
    double sn = robust_sigma(zs, N, tmp);
    if (!(sn > 0)) sn = 1e-6;
    int pol = polarity;
    if (pol == 0) {
        size_t nd = 0, nb = 0;
        for (size_t i = 0; i < N; i++) {
            if (zs[i] < -5 * sn) nd++;
            if (zs[i] > 5 * sn) nb++;
        }
        pol = nb > 2 * nd + 10 ? 1 : -1;
    }
    *polarity_out = pol;
    for (size_t i = 0; i < N; i++) zs[i] = (float)(pol * zs[i] / sn);
    int nd = 0, cap = 0;
    double max_area = opt->max_area > 0 ? opt->max_area : 0.25 * W * H;
    if ((rc = collect(zs, w, h, f, opt, opt->min_contrast, max_area, m, lab, stack, 0, 0, &det, &nd, &cap)) < 0) {
        rc = sm_error_set(err, rc, "detect: out of memory");
        goto done;
    }
    /* coarser scales for large faint particles that the fine scale misses; their boxes are looser, so they only
     * add particles the finer scales did not find. Sigma 3 reduced px on the fine scale's image (measured on the
     * benchmark's automatic mode: thick videos 0.46 -> 0.78 and 0 -> 0.12 mean IoU, while using the larger of
     * both responses everywhere cost thin videos 0.85 -> 0.74). */
    if ((rc = coarse_scale(img, w, h, f, 3.0, pol, opt, max_area, bg, tmp, zs, m, lab, stack, &det, &nd, &cap)) < 0) {
        rc = sm_error_set(err, rc, "detect: out of memory");
        goto done;
    }
    /* Sigma 6 (as sigma 3 at half resolution, a quarter of the cost) on an image whose illumination comes from
     * the background pixels alone (background_without_particles), so that particles of 90-150 px keep their
     * insides: the box mean above is 1/4 of the frame wide, such a particle took it up and came out level with
     * the background. Measured, --auto, on videos of another generator: five 100-150 px particles 0.07 -> 0.72
     * mean IoU, faint 20-50 px ones 0.07 -> 0.34, bright ones 0.60 -> 0.73, JPEG frames unchanged; benchmark
     * 0.865 / 0.731 / 0.512 -> 0.865 / 0.743 / 0.520. On this image at sigma 3 too, or at the fine scale, 5-sigma
     * noise blobs became objects (a noise-only video, tests/model/test_session.c; one thin video) and a faint
     * disk touching a dark one was no longer split from it. */
    if (w2 >= 8 && h2 >= 8) {
        int rb2 = rb / 4 > 2 ? rb / 4 : 2;
        if (background_without_particles(coarse, w2, h2, rb2, rb, pol, bg, tmp, zs, m) < 0) {
            rc = sm_error_set(err, SM_ENOMEM, "detect: out of memory");
            goto done;
        }
        for (size_t i = 0; i < (size_t)w2 * h2; i++) coarse[i] -= bg[i];
        remove_line_medians(coarse, w2, h2, m, tmp);
        if ((rc = coarse_scale(coarse, w2, h2, 2 * f, 3.0, pol, opt, max_area, bg, tmp, zs, m, lab, stack, &det, &nd,
                               &cap)) < 0) {
            rc = sm_error_set(err, rc, "detect: out of memory");
            goto done;
        }
    }
    if (nd > 1) qsort(det, (size_t)nd, sizeof *det, cmp_det); /* det is NULL when nothing was found */
    if (opt->max_objects > 0 && nd > opt->max_objects) nd = opt->max_objects;
    *out = det;
    *n_out = nd;
    det = NULL;
done:
    free(det), free(img), free(bg), free(tmp), free(zs), free(coarse), free(m), free(lab), free(stack);
    return rc;
}
