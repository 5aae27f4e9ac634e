/* The classic baseline segmenter: one object in one frame, from its predicted position and size.
 *
 * In a crop around the prediction (half-size = search radius + 2.5 x the object's half-length):
 *   1. background: a plane fitted (robustly) to the crop's outer ring, where the object cannot be;
 *   2. noise: robust std from pixel differences 2 px apart (spatially correlated noise is undercounted at 1 px);
 *   3. smoothing: Gaussian with sigma = a third of the object's half-width (1..6 px), so that the object's
 *      signal survives and the noise drops by ~1/(2 sqrt(pi) sigma);
 *   4. candidates: connected components above 3 smoothed-noise sigma; the one nearest the prediction with a
 *      plausible area wins (a blob nearer another object's prediction is left to it);
 *   5. edge: the threshold moves to half of the blob's contrast (the boundary of a blurred step lies at its
 *      half-contrast point) and the component that overlaps the candidate is kept, holes filled.
 * Objectness is a logistic function of the blob's integrated contrast-to-noise, mean(z) * sqrt(area).
 * Left out: splitting touching particles, temporal averaging (the network does that). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

typedef struct scratch {
    float *raw, *z, *zs, *tmp;
    uint8_t *m, *use, *seen;
    int32_t *lab, *stack;
} scratch;

static void scratch_free(scratch *s) {
    free(s->raw), free(s->z), free(s->zs), free(s->tmp), free(s->m), free(s->use), free(s->seen), free(s->lab), free(s->stack);
}

static int scratch_alloc(scratch *s, size_t n) {
    memset(s, 0, sizeof *s);
    s->raw = malloc(n * sizeof(float)), s->z = malloc(n * sizeof(float)), s->zs = malloc(n * sizeof(float));
    s->tmp = malloc(n * sizeof(float)), s->m = malloc(n), s->use = malloc(n), s->seen = malloc(n);
    s->lab = malloc(n * sizeof(int32_t)), s->stack = malloc(n * sizeof(int32_t));
    if (!s->raw || !s->z || !s->zs || !s->tmp || !s->m || !s->use || !s->seen || !s->lab || !s->stack) {
        scratch_free(s);
        return SM_ENOMEM;
    }
    return 0;
}

static double logistic(double x) { return 1.0 / (1.0 + exp(-x)); }

int sm__classic_segment(const float *frame, int W, int H, const sm__obj_prior *pr, sm__seg_out *out, sm_error *err) {
    out->score = 0;
    out->iou_pred = NAN;
    out->contrast = 0;
    out->noise = 0;
    double half_len = fmax(pr->major, 2.0 * sqrt(fmax(pr->area, 16.0) / M_PI)) / 2;
    double half_wid = pr->minor > 0 ? pr->minor / 2 : half_len;
    half_wid = fmax(half_wid, 2.0);
    double hs = pr->search + 2.5 * half_len + 4;
    int x0 = (int)floor(pr->x - hs), x1 = (int)ceil(pr->x + hs);
    int y0 = (int)floor(pr->y - hs), y1 = (int)ceil(pr->y + hs);
    sm__clip_box(&x0, &y0, &x1, &y1, W, H);
    int w = x1 - x0 + 1, h = y1 - y0 + 1;
    if (sm__crop_mask_resize(&out->mask, x0, y0, 0, 0) < 0) return sm_error_set(err, SM_ENOMEM, "segment: out of memory");
    if (w < 4 || h < 4) return 0;
    size_t n = (size_t)w * h;
    scratch s;
    if (scratch_alloc(&s, n) < 0) return sm_error_set(err, SM_ENOMEM, "segment: out of memory for a %dx%d crop", w, h);
    for (int y = 0; y < h; y++) memcpy(s.raw + (size_t)y * w, frame + (size_t)(y0 + y) * W + x0, sizeof(float) * w);

    /* 1. background plane from the outer ring (beyond search + object half-length from the prediction) */
    double ring_r = pr->search + 1.5 * half_len + 2;
    size_t n_use = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double dx = x0 + x - pr->x, dy = y0 + y - pr->y;
            uint8_t u = dx * dx + dy * dy > ring_r * ring_r;
            s.use[(size_t)y * w + x] = u;
            n_use += u;
        }
    if (n_use < 16) /* crop clipped by the image: use its outer third */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double dx = x0 + x - pr->x, dy = y0 + y - pr->y;
                s.use[(size_t)y * w + x] = dx * dx + dy * dy > (hs * 0.66) * (hs * 0.66);
            }
    double c[3];
    sm__plane_fit(s.raw, s.use, w, h, c);
    /* 2. noise */
    double noise = sm__noise_std(s.raw, w, h, 2, s.tmp);
    if (!(noise > 0)) noise = 1e-6;
    out->noise = noise;
    int pol = pr->polarity >= 0 ? 1 : -1;
    /* the plane is in the crop's coordinates (sm__plane_fit) */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            s.z[i] = (float)(pol * (s.raw[i] - (c[0] + c[1] * x + c[2] * y)) / noise);
        }
    /* 3. smoothing */
    double sigma = fmin(fmax(half_wid / 3.0, 1.0), 6.0);
    sm__gauss_blur(s.zs, s.z, w, h, sigma, s.tmp);
    /* smoothed noise, measured on the ring */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s.use[i]) s.tmp[k++] = s.zs[i];
    double med = k > 16 ? sm__quantile(s.tmp, k, 0.5) : 0;
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (s.use[i]) s.tmp[k++] = fabsf(s.zs[i] - (float)med);
    double sn = k > 16 ? sm__quantile(s.tmp, k, 0.5) / 0.6745 : 1.0 / (2 * sqrt(M_PI) * sigma);
    if (!(sn > 0)) sn = 1.0 / (2 * sqrt(M_PI) * sigma);
    for (size_t i = 0; i < n; i++) s.zs[i] -= (float)med;

    /* negative points: pixels to keep out */
    double neg_r = fmax(2.0, half_wid / 2);

    /* 4. candidates above 3 sigma */
    double t1 = 3.0 * sn;
    for (size_t i = 0; i < n; i++) s.m[i] = s.zs[i] > t1;
    int nc = sm__components(s.m, w, h, s.lab, s.stack);
    int best = 0;
    double best_cost = INFINITY;
    if (nc > 0) {
        double *sum = calloc((size_t)nc + 1, 5 * sizeof(double)); /* area, sx, sy, positives inside, sum of z */
        if (!sum) {
            scratch_free(&s);
            return sm_error_set(err, SM_ENOMEM, "segment: out of memory");
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int l = s.lab[(size_t)y * w + x];
                if (!l) continue;
                sum[5 * l] += 1, sum[5 * l + 1] += x0 + x, sum[5 * l + 2] += y0 + y, sum[5 * l + 4] += s.zs[(size_t)y * w + x];
            }
        for (int p = 0; p < pr->n_prompts; p++) {
            const sm_prompt *q = &pr->prompts[p];
            if (q->kind != SM_PROMPT_POINT || q->negative) continue;
            int px = (int)lround(q->x) - x0, py = (int)lround(q->y) - y0;
            if (px < 0 || py < 0 || px >= w || py >= h) continue;
            int l = s.lab[(size_t)py * w + px];
            if (l) sum[5 * l + 3] += 1;
        }
        for (int l = 1; l <= nc; l++) {
            double a = sum[5 * l];
            if (a < 3) continue;
            double cx = sum[5 * l + 1] / a, cy = sum[5 * l + 2] / a;
            double d = hypot(cx - pr->x, cy - pr->y);
            if (d > pr->search + half_len) continue;
            double ratio = pr->area > 0 ? a / pr->area : 1;
            /* a blob the size of the expected object can have shrunk at 3 sigma: accept 0.05..6 */
            if (ratio < 0.05 || ratio > 6) continue;
            int taken = 0;
            for (int o = 0; o < pr->n_others; o++) {
                double dd = hypot(cx - pr->others_xy[2 * o], cy - pr->others_xy[2 * o + 1]);
                if (dd < 0.7 * d) taken = 1;
            }
            if (taken) continue;
            double cost = d / (pr->search + half_len) + 0.3 * fabs(log(ratio)) - 2.0 * sum[5 * l + 3];
            /* searching for a lost object: the clearest blob of about its size, not the nearest noise */
            if (pr->prefer_strong) cost -= 0.1 * sum[5 * l + 4] / (sn * sqrt(a));
            if (cost < best_cost) best_cost = cost, best = l;
        }
        free(sum);
    }
    if (!best) {
        scratch_free(&s);
        return 0;
    }
    /* 5. half-contrast threshold: the blob's contrast is a high quantile of its smoothed values */
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (s.lab[i] == best) s.tmp[k++] = s.zs[i];
    double peak = sm__quantile(s.tmp, k, 0.8);
    double t2 = fmax(0.5 * peak, 1.5 * sn);
    /* keep the candidate's seed pixels in seen (as a marker) before relabelling */
    for (size_t i = 0; i < n; i++) s.seen[i] = s.lab[i] == best;
    for (size_t i = 0; i < n; i++) s.m[i] = s.zs[i] > t2;
    nc = sm__components(s.m, w, h, s.lab, s.stack);
    int keep = 0, keep_n = 0;
    {
        int *cnt = calloc((size_t)nc + 1, sizeof(int));
        if (!cnt) {
            scratch_free(&s);
            return sm_error_set(err, SM_ENOMEM, "segment: out of memory");
        }
        for (size_t i = 0; i < n; i++)
            if (s.seen[i] && s.lab[i]) cnt[s.lab[i]]++;
        for (int l = 1; l <= nc; l++)
            if (cnt[l] > keep_n) keep_n = cnt[l], keep = l;
        free(cnt);
    }
    if (!keep) {
        scratch_free(&s);
        return 0;
    }
    for (size_t i = 0; i < n; i++) s.m[i] = s.lab[i] == keep;
    sm__fill_holes(s.m, w, h, s.stack, s.seen);
    /* box prompts bound the mask (with a margin of 15% for a loosely drawn box) */
    for (int p = 0; p < pr->n_prompts; p++) {
        const sm_prompt *q = &pr->prompts[p];
        if (q->kind == SM_PROMPT_BOX) {
            double mx = 0.15 * (q->x1 - q->x0) + 2, my = 0.15 * (q->y1 - q->y0) + 2;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    if (x0 + x < q->x0 - mx || x0 + x > q->x1 + mx || y0 + y < q->y0 - my || y0 + y > q->y1 + my)
                        s.m[(size_t)y * w + x] = 0;
        } else if (q->negative) {
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    if (hypot(x0 + x - q->x, y0 + y - q->y) <= neg_r) s.m[(size_t)y * w + x] = 0;
        }
    }
    /* bounding box of the mask */
    int bx0 = w, by0 = h, bx1 = -1, by1 = -1;
    double zsum = 0;
    size_t area = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (s.m[(size_t)y * w + x]) {
                if (x < bx0) bx0 = x;
                if (x > bx1) bx1 = x;
                if (y < by0) by0 = y;
                if (y > by1) by1 = y;
                zsum += s.z[(size_t)y * w + x];
                area++;
            }
    if (area == 0) {
        scratch_free(&s);
        return 0;
    }
    if (sm__crop_mask_resize(&out->mask, x0 + bx0, y0 + by0, bx1 - bx0 + 1, by1 - by0 + 1) < 0) {
        scratch_free(&s);
        return sm_error_set(err, SM_ENOMEM, "segment: out of memory");
    }
    for (int y = by0; y <= by1; y++)
        memcpy(out->mask.m + (size_t)(y - by0) * out->mask.w, s.m + (size_t)y * w + bx0, (size_t)out->mask.w);
    double zmean = zsum / (double)area;
    out->contrast = pol * zmean * noise;
    out->score = logistic((zmean * sqrt((double)area) - 6.0) / 1.5);
    scratch_free(&s);
    return 0;
}

/* Radius (px) around (x, y) at which the contrast between a disk and the ring around it peaks. */
static double scale_at_point(const float *frame, int W, int H, double x, double y, int pol) {
    static const double radii[] = {2, 3, 4, 5, 6, 8, 10, 12, 14, 17, 20, 24, 28, 34, 40, 48, 56, 64};
    double best_r = 6, best = -INFINITY;
    for (size_t k = 0; k < sizeof radii / sizeof radii[0]; k++) {
        double r = radii[k], r2 = 1.6 * r;
        double si = 0, so = 0;
        int ni = 0, no = 0;
        int x0 = (int)floor(x - r2), x1 = (int)ceil(x + r2), y0 = (int)floor(y - r2), y1 = (int)ceil(y + r2);
        for (int yy = y0; yy <= y1; yy++) {
            if (yy < 0 || yy >= H) continue;
            for (int xx = x0; xx <= x1; xx++) {
                if (xx < 0 || xx >= W) continue;
                double d = hypot(xx - x, yy - y);
                if (d <= r) si += frame[(size_t)yy * W + xx], ni++;
                else if (d <= r2) so += frame[(size_t)yy * W + xx], no++;
            }
        }
        if (ni < 3 || no < 3) continue;
        double c = pol * (si / ni - so / no);
        if (c > best) best = c, best_r = r;
    }
    return best_r;
}

int sm__prior_from_prompts(const float *frame, int W, int H, const sm_prompt *p, int n, int polarity,
                           sm__obj_prior *pr, sm_error *err) {
    (void)err;
    const sm_prompt *box = NULL;
    double px = 0, py = 0;
    int npos = 0;
    for (int i = 0; i < n; i++) {
        if (p[i].kind == SM_PROMPT_BOX) box = &p[i];
        else if (!p[i].negative) px += p[i].x, py += p[i].y, npos++;
    }
    memset(pr, 0, sizeof *pr);
    pr->prompts = p;
    pr->n_prompts = n;
    double cx, cy, bw, bh;
    if (box) {
        cx = (box->x0 + box->x1) / 2, cy = (box->y0 + box->y1) / 2;
        bw = box->x1 - box->x0 + 1, bh = box->y1 - box->y0 + 1;
    } else if (npos) {
        cx = px / npos, cy = py / npos;
        bw = bh = 0;
    } else {
        return SM_EINVAL; /* only negative points: nothing to start from */
    }
    /* polarity: the centre against a ring around the object */
    int pol = polarity;
    if (pol == 0) {
        double r = box ? 0.25 * fmin(bw, bh) : 3;
        double r_out = box ? 0.75 * hypot(bw, bh) : 0;
        if (!box) {
            /* point: try both polarities' best scale, keep the stronger contrast */
            double rd = scale_at_point(frame, W, H, cx, cy, -1), rb = scale_at_point(frame, W, H, cx, cy, +1);
            double cd = 0, cb = 0;
            for (int k = 0; k < 2; k++) {
                double rr = k ? rb : rd, si = 0, so = 0;
                int ni = 0, no = 0;
                for (int yy = (int)(cy - 1.6 * rr); yy <= (int)(cy + 1.6 * rr) + 1; yy++)
                    for (int xx = (int)(cx - 1.6 * rr); xx <= (int)(cx + 1.6 * rr) + 1; xx++) {
                        if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
                        double d = hypot(xx - cx, yy - cy);
                        if (d <= rr) si += frame[(size_t)yy * W + xx], ni++;
                        else if (d <= 1.6 * rr) so += frame[(size_t)yy * W + xx], no++;
                    }
                double c = (ni && no) ? si / ni - so / no : 0;
                if (k) cb = c;
                else cd = -c;
            }
            pol = cb > cd ? 1 : -1;
        } else {
            double si = 0, so = 0;
            int ni = 0, no = 0;
            for (int yy = (int)(cy - r_out); yy <= (int)(cy + r_out) + 1; yy++)
                for (int xx = (int)(cx - r_out); xx <= (int)(cx + r_out) + 1; xx++) {
                    if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
                    int inside_box = xx >= box->x0 && xx <= box->x1 && yy >= box->y0 && yy <= box->y1;
                    double d = hypot(xx - cx, yy - cy);
                    if (d <= r) si += frame[(size_t)yy * W + xx], ni++;
                    else if (!inside_box && d <= r_out) so += frame[(size_t)yy * W + xx], no++;
                }
            pol = (ni && no && si / ni > so / no) ? 1 : -1;
        }
    }
    if (!box) {
        double r = scale_at_point(frame, W, H, cx, cy, pol);
        bw = bh = 2 * r;
    }
    pr->x = cx, pr->y = cy;
    pr->polarity = pol;
    pr->major = fmax(bw, bh);
    pr->minor = fmin(bw, bh);
    pr->area = M_PI / 4 * bw * bh;
    pr->angle = bw >= bh ? 0 : M_PI / 2;
    pr->search = box ? 0.25 * fmin(bw, bh) + 2 : 0.5 * fmin(bw, bh) + 2;
    return 0;
}
