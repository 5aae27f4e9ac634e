/* Image operations on small planes for the segmenters: Gaussian and box smoothing, a robust noise estimate,
 * a background plane, connected components, hole filling and mask moments.
 * Why here: the classic baseline, the detector and the refinement need the same few operations on crops;
 * they are plain C loops (crops are a few thousand pixels) with no dependency.
 * Left out: morphology beyond hole filling, watershed splitting of touching particles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

void sm__gauss_blur(float *dst, const float *src, int w, int h, double sigma, float *tmp) {
    if (sigma <= 0) {
        if (dst != src) memcpy(dst, src, sizeof(float) * (size_t)w * h);
        return;
    }
    int r = (int)ceil(3.0 * sigma);
    if (r > 64) r = 64;
    float k[129];
    double sum = 0;
    for (int i = -r; i <= r; i++) sum += k[i + r] = (float)exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] = (float)(k[i] / sum);
    /* rows: src -> tmp */
    for (int y = 0; y < h; y++) {
        const float *s = src + (size_t)y * w;
        float *t = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float acc = 0;
            if (x >= r && x + r < w) {
                for (int i = -r; i <= r; i++) acc += k[i + r] * s[x + i];
            } else {
                for (int i = -r; i <= r; i++) {
                    int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                    acc += k[i + r] * s[xx];
                }
            }
            t[x] = acc;
        }
    }
    /* columns: tmp -> dst */
    for (int y = 0; y < h; y++) {
        float *d = dst + (size_t)y * w;
        for (int x = 0; x < w; x++) d[x] = 0;
        for (int i = -r; i <= r; i++) {
            int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
            const float *t = tmp + (size_t)yy * w;
            float kk = k[i + r];
            for (int x = 0; x < w; x++) d[x] += kk * t[x];
        }
    }
}

void sm__box_blur(float *dst, const float *src, int w, int h, int r, float *tmp) {
    /* rows */
    for (int y = 0; y < h; y++) {
        const float *s = src + (size_t)y * w;
        float *t = tmp + (size_t)y * w;
        double acc = 0;
        for (int i = -r; i <= r; i++) acc += s[i < 0 ? 0 : i >= w ? w - 1 : i];
        for (int x = 0; x < w; x++) {
            t[x] = (float)(acc / (2 * r + 1));
            int out = x - r, in = x + r + 1;
            acc += s[in >= w ? w - 1 : in] - s[out < 0 ? 0 : out];
        }
    }
    /* columns */
    for (int x = 0; x < w; x++) {
        double acc = 0;
        for (int i = -r; i <= r; i++) acc += tmp[(size_t)(i < 0 ? 0 : i >= h ? h - 1 : i) * w + x];
        for (int y = 0; y < h; y++) {
            dst[(size_t)y * w + x] = (float)(acc / (2 * r + 1));
            int out = y - r, in = y + r + 1;
            acc += tmp[(size_t)(in >= h ? h - 1 : in) * w + x] - tmp[(size_t)(out < 0 ? 0 : out) * w + x];
        }
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float sm__quantile(float *v, size_t n, double q) {
    if (n == 0) return 0;
    /* quickselect */
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    if (k >= n) k = n - 1;
    size_t lo = 0, hi = n - 1;
    while (hi > lo + 16) {
        float pivot = v[(lo + hi) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    qsort(v + lo, hi - lo + 1, sizeof(float), cmp_float);
    return v[k];
}

/* How much line i of img (n_along samples at img[i * line_step + k * along_step]) stands above its two
 * neighbours: the median over ~256 samples of the line minus the mean of the lines on either side (one side at
 * the image's edge). A particle changes a line and its neighbours alike except where its outline crosses
 * between them, so the median of the differences sees only a line's own offset (a line's median against its
 * neighbours' medians took the edge columns of a particle 90 px across for defects). scratch: n_along floats. */
static float line_excess(const float *img, int i, int n, int n_along, size_t line_step, size_t along_step,
                         float *scratch) {
    int a = i > 0 ? i - 1 : i + 1, b = i + 1 < n ? i + 1 : i - 1;
    if (a < 0 || b < 0 || a >= n || b >= n) return 0;
    int stride = n_along > 256 ? n_along / 256 : 1;
    size_t m = 0;
    for (int k = 0; k < n_along; k += stride) {
        size_t o = (size_t)k * along_step;
        scratch[m++] = img[(size_t)i * line_step + o] -
                       0.5f * (img[(size_t)a * line_step + o] + img[(size_t)b * line_step + o]);
    }
    return sm__quantile(scratch, m, 0.5);
}

/* Lines whose excess is beyond 6 robust sigma of all lines' excesses and above their neighbours', into list
 * (at most max); returns how many, or SM_ENOMEM. */
static int find_lines(const float *img, int n, int n_along, size_t line_step, size_t along_step, int *list, int max) {
    float *ex = malloc(sizeof(float) * (size_t)n), *dev = malloc(sizeof(float) * (size_t)n),
          *scratch = malloc(sizeof(float) * (size_t)(n_along > n ? n_along : n));
    int found = 0;
    if (!ex || !dev || !scratch) found = SM_ENOMEM;
    else {
        for (int i = 0; i < n; i++) {
            ex[i] = line_excess(img, i, n, n_along, line_step, along_step, scratch);
            dev[i] = fabsf(ex[i]);
        }
        memcpy(scratch, dev, sizeof(float) * (size_t)n); /* the quantile reorders its input */
        double sigma = sm__quantile(scratch, (size_t)n, 0.5) / 0.6745;
        /* a defect line makes each neighbour look off by half its offset the other way: local peaks only */
        for (int i = 0; i < n && found < max; i++)
            if (sigma > 0 && dev[i] > 6 * sigma && (i == 0 || dev[i] > dev[i - 1]) && (i + 1 == n || dev[i] >= dev[i + 1]))
                list[found++] = i;
    }
    free(ex), free(dev), free(scratch);
    return found;
}

int sm__line_defects_find(const float *img, int w, int h, sm__line_defects *d) {
    d->n_rows = d->n_cols = 0;
    if (w < 8 || h < 8) return 0;
    int r = find_lines(img, h, w, (size_t)w, 1, d->rows, SM__MAX_DEFECT_LINES);
    if (r < 0) return r;
    int c = find_lines(img, w, h, 1, (size_t)w, d->cols, SM__MAX_DEFECT_LINES);
    if (c < 0) return c;
    d->n_rows = r, d->n_cols = c;
    return 0;
}

int sm__line_defects_fix(float *img, int w, int h, const sm__line_defects *d) {
    if (!d->n_rows && !d->n_cols) return 0; /* most frames: no allocation on the read path */
    int nmax = w > h ? w : h;
    float *scratch = malloc(sizeof(float) * (size_t)nmax);
    if (!scratch) return SM_ENOMEM;
    for (int k = 0; k < d->n_rows; k++) {
        int y = d->rows[k];
        float e = line_excess(img, y, h, w, (size_t)w, 1, scratch);
        for (int x = 0; x < w; x++) img[(size_t)y * w + x] -= e;
    }
    for (int k = 0; k < d->n_cols; k++) {
        int x = d->cols[k];
        float e = line_excess(img, x, w, h, 1, (size_t)w, scratch);
        for (int y = 0; y < h; y++) img[(size_t)y * w + x] -= e;
    }
    free(scratch);
    return 0;
}

double sm__noise_std(const float *img, int w, int h, int lag, float *scratch) {
    size_t n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x + lag < w; x++) scratch[n++] = fabsf(img[(size_t)y * w + x + lag] - img[(size_t)y * w + x]);
    if (n < 8) return 0;
    return sm__quantile(scratch, n, 0.5) / 0.6745 / sqrt(2.0);
}

double sm__noise_area(const float *img, int w, int h) {
    int bw = w / 4, bh = h / 4;
    if (bw < 3 || bh < 3) return 1.0;
    size_t np = (size_t)h * (size_t)(w - 2), nb = 2 * (size_t)bw * bh;
    float *d = malloc(sizeof(float) * (np > nb ? np : nb)), *blk = malloc(sizeof(float) * (size_t)bw * bh);
    if (!d || !blk) {
        free(d), free(blk);
        return 1.0;
    }
    double pix = sm__noise_std(img, w, h, 2, d);
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            double sum = 0;
            for (int y = 4 * by; y < 4 * by + 4; y++)
                for (int x = 4 * bx; x < 4 * bx + 4; x++) sum += img[(size_t)y * w + x];
            blk[(size_t)by * bw + bx] = (float)(sum / 16);
        }
    /* second differences of blocks 8 px apart: an illumination gradient cancels */
    size_t n = 0;
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            const float *b = &blk[(size_t)by * bw + bx];
            if (bx + 4 < bw) d[n++] = fabsf(b[0] - 2 * b[2] + b[4]);
            if (by + 4 < bh) d[n++] = fabsf(b[0] - 2 * b[(size_t)2 * bw] + b[(size_t)4 * bw]);
        }
    if (n < 8) {
        free(d), free(blk);
        return 1.0;
    }
    double block = sm__quantile(d, n, 0.5) / 0.6745 / sqrt(6.0);
    free(d), free(blk);
    return pix > 0 && block > 0 ? fmax(1.0, 16 * block * block / (pix * pix)) : 1.0;
}

static int solve3(double A[3][3], double b[3], double out[3]) {
    /* Gaussian elimination with partial pivoting */
    double M[3][4];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) M[i][j] = A[i][j];
        M[i][3] = b[i];
    }
    for (int c = 0; c < 3; c++) {
        int p = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(M[r][c]) > fabs(M[p][c])) p = r;
        if (fabs(M[p][c]) < 1e-12) return -1;
        for (int j = 0; j < 4; j++) {
            double t = M[c][j];
            M[c][j] = M[p][j];
            M[p][j] = t;
        }
        for (int r = 0; r < 3; r++) {
            if (r == c) continue;
            double f = M[r][c] / M[c][c];
            for (int j = c; j < 4; j++) M[r][j] -= f * M[c][j];
        }
    }
    for (int i = 0; i < 3; i++) out[i] = M[i][3] / M[i][i];
    return 0;
}

static int plane_pass(const float *img, const uint8_t *use, int w, int h, const double *prev, double cut, double c[3]) {
    double A[3][3] = {{0}}, b[3] = {0};
    int n = 0;
    double cx = w / 2.0, cy = h / 2.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!use[i]) continue;
            double v = img[i];
            double X = x - cx, Y = y - cy;
            if (prev && fabs(v - (prev[0] + prev[1] * X + prev[2] * Y)) > cut) continue;
            double f[3] = {1, X, Y};
            for (int r = 0; r < 3; r++) {
                for (int s = 0; s < 3; s++) A[r][s] += f[r] * f[s];
                b[r] += f[r] * v;
            }
            n++;
        }
    if (n < 3) return 0;
    double sol[3];
    if (solve3(A, b, sol) < 0) {
        sol[0] = b[0] / n;
        sol[1] = sol[2] = 0;
    }
    memcpy(c, sol, sizeof sol);
    return n;
}

int sm__plane_fit(const float *img, const uint8_t *use, int w, int h, double c[3]) {
    c[0] = c[1] = c[2] = 0;
    double p[3];
    int n = plane_pass(img, use, w, h, NULL, 0, p);
    if (n == 0) return 0;
    /* robust spread of the residuals */
    double cx = w / 2.0, cy = h / 2.0;
    float *res = malloc(sizeof(float) * (size_t)n);
    if (!res) {
        memcpy(c, p, sizeof p);
        return n;
    }
    size_t k = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (use[i]) res[k++] = fabsf((float)(img[i] - (p[0] + p[1] * (x - cx) + p[2] * (y - cy))));
        }
    double s = sm__quantile(res, k, 0.5) / 0.6745;
    free(res);
    double q[3];
    int n2 = s > 0 ? plane_pass(img, use, w, h, p, 3 * s, q) : 0;
    if (n2 >= 3) memcpy(p, q, sizeof p);
    /* report the plane in pixel coordinates: c0 + c1 x + c2 y */
    c[0] = p[0] - p[1] * cx - p[2] * cy;
    c[1] = p[1];
    c[2] = p[2];
    return n2 >= 3 ? n2 : n;
}

int sm__components(const uint8_t *m, int w, int h, int32_t *lab, int32_t *stack) {
    size_t N = (size_t)w * h;
    memset(lab, 0, sizeof(int32_t) * N);
    int n = 0;
    for (size_t s = 0; s < N; s++) {
        if (!m[s] || lab[s]) continue;
        n++;
        size_t top = 0;
        stack[top++] = (int32_t)s;
        lab[s] = n;
        while (top) {
            int32_t p = stack[--top];
            int px = p % w, py = p / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int qx = px + dx, qy = py + dy;
                    if (qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
                    size_t q = (size_t)qy * w + qx;
                    if (m[q] && !lab[q]) {
                        lab[q] = n;
                        stack[top++] = (int32_t)q;
                    }
                }
        }
    }
    return n;
}

void sm__fill_holes(uint8_t *m, int w, int h, int32_t *stack, uint8_t *seen) {
    size_t N = (size_t)w * h, top = 0;
    memset(seen, 0, N);
    for (int x = 0; x < w; x++)
        for (int k = 0; k < 2; k++) {
            size_t i = (size_t)(k ? h - 1 : 0) * w + x;
            if (!m[i] && !seen[i]) seen[i] = 1, stack[top++] = (int32_t)i;
        }
    for (int y = 0; y < h; y++)
        for (int k = 0; k < 2; k++) {
            size_t i = (size_t)y * w + (k ? w - 1 : 0);
            if (!m[i] && !seen[i]) seen[i] = 1, stack[top++] = (int32_t)i;
        }
    while (top) {
        int32_t p = stack[--top];
        int px = p % w, py = p / w;
        static const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
        for (int d = 0; d < 4; d++) {
            int qx = px + dx[d], qy = py + dy[d];
            if (qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
            size_t q = (size_t)qy * w + qx;
            if (!m[q] && !seen[q]) seen[q] = 1, stack[top++] = (int32_t)q;
        }
    }
    for (size_t i = 0; i < N; i++)
        if (!m[i] && !seen[i]) m[i] = 1;
}

void sm__mask_moments(const uint8_t *m, int w, int h, sm__moments *mo) {
    double n = 0, sx = 0, sy = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x]) n++, sx += x, sy += y;
    memset(mo, 0, sizeof *mo);
    mo->area = n;
    if (n == 0) return;
    double cx = sx / n, cy = sy / n, xx = 0, yy = 0, xy = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x]) {
                double dx = x - cx, dy = y - cy;
                xx += dx * dx, yy += dy * dy, xy += dx * dy;
            }
    /* a pixel is a unit square: add its own variance 1/12 */
    xx = xx / n + 1.0 / 12, yy = yy / n + 1.0 / 12, xy /= n;
    double tr = xx + yy, det = xx * yy - xy * xy;
    double disc = sqrt(fmax(0, tr * tr / 4 - det));
    double l1 = tr / 2 + disc, l2 = fmax(tr / 2 - disc, 0);
    double theta_img = 0.5 * atan2(2 * xy, xx - yy); /* y down */
    double angle = -theta_img;                       /* screen convention, y up */
    if (angle <= -M_PI / 2) angle += M_PI;
    if (angle > M_PI / 2) angle -= M_PI;
    mo->x = cx;
    mo->y = cy;
    mo->angle = angle;
    mo->major = 4 * sqrt(l1);
    mo->minor = 4 * sqrt(l2);
    mo->eccentricity = l1 > 0 ? sqrt(1 - l2 / l1) : 0;
}

int sm__crop_mask_resize(sm__crop_mask *c, int x0, int y0, int w, int h) {
    size_t n = (size_t)(w > 0 ? w : 0) * (h > 0 ? h : 0);
    if (n > c->cap) {
        uint8_t *m = realloc(c->m, n);
        if (!m) return SM_ENOMEM;
        c->m = m;
        c->cap = n;
    }
    c->x0 = x0, c->y0 = y0, c->w = w, c->h = h;
    if (n) memset(c->m, 0, n);
    return 0;
}

int64_t sm__label_bbox(const uint16_t *labels, int w, int h, uint16_t label, int *x0, int *y0, int *x1, int *y1) {
    int bx0 = w, by0 = h, bx1 = -1, by1 = -1;
    int64_t n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (labels[(size_t)y * w + x] == label) {
                if (x < bx0) bx0 = x;
                if (x > bx1) bx1 = x;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
                n++;
            }
    *x0 = bx0, *y0 = by0, *x1 = bx1, *y1 = by1;
    return n;
}
