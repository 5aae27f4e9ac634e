/* Automatic detection: every particle in a frame (or the mean of a few frames), without prompts.
 *
 * The mean of the given frames is block-averaged to at most ~512 px on its long side, the illumination is
 * removed with a box mean a quarter of the frame wide, then each row's and column's median (detector row and
 * column artefacts), the residual is smoothed (Gaussian, 1.5 reduced px, and 3 px for large faint particles
 * that the finer scale misses) and thresholded with hysteresis: components above 2.5 smoothed-noise sigma whose peak passes
 * min_contrast sigma and whose area (full-resolution px^2) lies within [min_area, max_area] are kept,
 * strongest first, at most max_objects. Polarity: dark unless bright outliers outnumber dark ones.
 * Left out: the network's full-frame head (proposals come from this detector for both methods);
 * splitting touching particles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

static int cmp_det(const void *a, const void *b) {
    const sm__detection *x = a, *y = b;
    double sx = x->cnr * sqrt(x->area), sy = y->cnr * sqrt(y->area);
    return (sx < sy) - (sx > sy);
}

/* Thresholds one scale's normalised response zs (w x h, reduced px; f = reduction) with hysteresis and
 * appends the components that pass the filters to *det (realloc'ed; *nd entries, *cap allocated). With
 * `skip` set, components whose centre lies inside one of the first `skip` detections' boxes are left out
 * (the same particle seen at a finer scale). Returns 0 or SM_ENOMEM. */
static int collect(const float *zs, int w, int h, int f, const sm_segment_options *opt, double min_peak,
                   double max_area, uint8_t *m, int32_t *lab, int32_t *stack, int skip, sm__detection **det, int *nd,
                   int *cap) {
    size_t N = (size_t)w * h;
    for (size_t i = 0; i < N; i++) m[i] = zs[i] > 2.5f;
    int nc = sm__components(m, w, h, lab, stack);
    /* per component: area, sum x, sum y, peak (5+ px inside the image), bbox, peak in the border band. The
     * smoothing replicates the edge, so smoothed noise is larger there: a border-band peak must be 1.5 x
     * higher (measured: two 5.3-5.6 sigma "particles" on the border of pure noise) */
    double *st = calloc((size_t)nc + 1, 9 * sizeof(double));
    if (!st) return SM_ENOMEM;
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
        /* the coarse scale (skip > 0) leaves the border (6 px) to the fine one: its smoothing reaches past the edge */
        int seen = skip > 0 && (s[4] < 6 || s[5] < 6 || s[6] > w - 7 || s[7] > h - 7);
        for (int k = 0; k < skip && !seen; k++) {
            const sm__detection *q = &(*det)[k];
            seen = d.x >= q->x0 - 2 && d.x <= q->x1 + 2 && d.y >= q->y0 - 2 && d.y <= q->y1 + 2;
        }
        if (seen) continue;
        if (*nd == *cap) {
            int nc2 = *cap ? 2 * *cap : 64;
            sm__detection *g = realloc(*det, sizeof *g * (size_t)nc2);
            if (!g) {
                free(st);
                return SM_ENOMEM;
            }
            *det = g, *cap = nc2;
        }
        (*det)[(*nd)++] = d;
    }
    free(st);
    return 0;
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
    float *zs = malloc(N * sizeof(float));
    uint8_t *m = malloc(N);
    int32_t *lab = malloc(N * sizeof(int32_t)), *stack = malloc(N * sizeof(int32_t));
    int rc = 0;
    sm__detection *det = NULL;
    if (!img || !bg || !tmp || !zs || !m || !lab || !stack) {
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
    sm__box_blur(bg, img, w, h, rb, tmp);
    for (size_t i = 0; i < N; i++) img[i] -= bg[i];
    /* bright and dark detector rows and columns: each row's and column's median taken out (particles cover
     * a small part of any row; measured: a simulated dark row became four "particles" in automatic mode) */
    for (int y = 0; y < h; y++) {
        memcpy(tmp, img + (size_t)y * w, sizeof(float) * w);
        float med = sm__quantile(tmp, (size_t)w, 0.5);
        for (int x = 0; x < w; x++) img[(size_t)y * w + x] -= med;
    }
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++) tmp[y] = img[(size_t)y * w + x];
        float med = sm__quantile(tmp, (size_t)h, 0.5);
        for (int y = 0; y < h; y++) img[(size_t)y * w + x] -= med;
    }
    sm__gauss_blur(zs, img, w, h, 1.5, tmp);
    for (size_t i = 0; i < N; i++) tmp[i] = fabsf(zs[i]);
    double sn = sm__quantile(tmp, N, 0.5) / 0.6745;
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
    if ((rc = collect(zs, w, h, f, opt, opt->min_contrast, max_area, m, lab, stack, 0, &det, &nd, &cap)) < 0) {
        rc = sm_error_set(err, rc, "detect: out of memory");
        goto done;
    }
    /* a second, coarser scale (sigma 3 reduced px, in units of its own noise) for large faint particles that
     * the fine scale misses; its boxes are looser, so it only adds particles the fine scale did not find
     * (measured on the benchmark's automatic mode: thick videos 0.46 -> 0.78 and 0 -> 0.12 mean IoU, while
     * using the larger of both responses everywhere cost thin videos 0.85 -> 0.74) */
    sm__gauss_blur(bg, img, w, h, 3.0, tmp);
    for (size_t i = 0; i < N; i++) tmp[i] = fabsf(bg[i]);
    double sn2 = sm__quantile(tmp, N, 0.5) / 0.6745;
    if (sn2 > 0) {
        for (size_t i = 0; i < N; i++) zs[i] = (float)(pol * bg[i] / sn2);
        if ((rc = collect(zs, w, h, f, opt, opt->min_contrast, max_area, m, lab, stack, nd, &det, &nd, &cap)) < 0) {
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
    free(det), free(img), free(bg), free(tmp), free(zs), free(m), free(lab), free(stack);
    return rc;
}
