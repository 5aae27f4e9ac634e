/* Sub-pixel refinement against synthetic blurred shapes with known centres: the centroid error must be
 * sub-pixel (well below the mask centroid's) and the reported 1-sigma errors must match the scatter.
 * Faceted particles (a triangle, a hexagon; drawn here by supersampling a sharp polygon and blurring it,
 * independently of the fit's model) get their polygon model; disks are not mistaken for polygons. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model_internal.h"
#include "samem/model.h"
#include "synth.h"
#include "test.h"

/* A sharp regular polygon (sides, circumradius R, rotation rot) supersampled 8x8 per pixel, blurred with a
 * Gaussian of sigma px (separable, truncated at 4 sigma), on background bg with contrast amp and white noise;
 * lab = pixel centres inside the polygon. */
static void render_polygon(float *frame, uint16_t *lab, int W, int H, double cx, double cy, int sides, double R,
                           double rot, double sigma, double amp, double noise, double bg, sm_rng *rng) {
    double *cover = calloc((size_t)W * H, sizeof(double)), *tmp = calloc((size_t)W * H, sizeof(double));
    double ri = R * cos(M_PI / sides);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int in = 0;
            for (int a = 0; a < 8; a++)
                for (int b = 0; b < 8; b++) {
                    double dx = x - 0.5 + (b + 0.5) / 8 - cx, dy = y - 0.5 + (a + 0.5) / 8 - cy;
                    int inside = 1;
                    for (int k = 0; k < sides; k++) {
                        double t = rot + 2 * M_PI * k / sides;
                        if (dx * cos(t) + dy * sin(t) > ri) inside = 0;
                    }
                    in += inside;
                }
            cover[y * W + x] = in / 64.0;
            int centre = 1;
            for (int k = 0; k < sides; k++) {
                double t = rot + 2 * M_PI * k / sides;
                if ((x - cx) * cos(t) + (y - cy) * sin(t) > ri) centre = 0;
            }
            lab[y * W + x] = (uint16_t)centre;
        }
    int rad = (int)ceil(4 * sigma);
    for (int pass = 0; pass < 2; pass++) {
        double *src = pass ? tmp : cover, *dst = pass ? cover : tmp;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double acc = 0, wsum = 0;
                for (int k = -rad; k <= rad; k++) {
                    int xx = pass ? x : x + k, yy = pass ? y + k : y;
                    if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
                    double w = exp(-0.5 * k * k / (sigma * sigma));
                    acc += w * src[yy * W + xx], wsum += w;
                }
                dst[y * W + x] = acc / wsum;
            }
    }
    for (int i = 0; i < W * H; i++) frame[i] = (float)(bg + amp * cover[i] + noise * sm_rng_normal(rng));
    free(cover), free(tmp);
}

static double render_iou(const sm_refine_result *r, const uint16_t *lab, int W, int H) {
    uint8_t *m = malloc((size_t)W * H);
    sm_refine_render(r, 0, 0, W, H, m);
    int64_t in = 0, un = 0;
    for (int i = 0; i < W * H; i++) in += m[i] && lab[i], un += m[i] || lab[i];
    free(m);
    return un ? (double)in / (double)un : 0;
}

int main(void) {
    sm_error err = {0};
    const int W = 64, H = 64;
    float *frame = malloc(sizeof(float) * W * H);
    uint16_t *lab = malloc(sizeof(uint16_t) * W * H);
    sm_rng rng;
    sm_rng_seed(&rng, 7);
    /* disk, radius 8 px, contrast-to-noise 2 per pixel (the "thin" regime; Cramer-Rao ~0.23 px), edge sigma 1.5 px */
    int trials = 40, ok = 0;
    double se_fit = 0, se_mask = 0, sum_err = 0, se_r = 0;
    for (int t = 0; t < trials; t++) {
        synth_obj o = {.x = 31.3 + sm_rng_uniform(&rng), .y = 30.6 + sm_rng_uniform(&rng), .r = 8, .amp = -1.0};
        synth_render(frame, lab, W, H, &o, 1, 1.5, 0.5, 10.0, &rng);
        sm_refine_result r;
        if (sm_refine_fit(frame, W, H, lab, 1, NULL, SM_SHAPE_ELLIPSE, &r, &err) < 0 || !r.ok) continue;
        ok++;
        double e2 = (r.x - o.x) * (r.x - o.x) + (r.y - o.y) * (r.y - o.y);
        se_fit += e2;
        sum_err += r.x_err * r.x_err + r.y_err * r.y_err;
        se_r += (r.major / 2 - 8) * (r.major / 2 - 8);
        /* the mask's own centroid (pixel-centre truth mask) as a reference scale */
        double sx = 0, sy = 0, n = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (lab[y * W + x] == 1) sx += x, sy += y, n++;
        se_mask += (sx / n - o.x) * (sx / n - o.x) + (sy / n - o.y) * (sy / n - o.y);
    }
    double rms = sqrt(se_fit / ok / 2), rms_pred = sqrt(sum_err / ok / 2); /* per axis */
    SM_CHECKF("disk fits converge (>= 38 of 40)", ok >= 38, "ok=%d", ok);
    SM_CHECKF("disk centre rms error per axis < 0.3 px at CNR 2", rms < 0.3, "rms=%.3f px", rms);
    SM_CHECKF("reported errors match the scatter within a factor 2", rms_pred > rms / 2 && rms_pred < rms * 2,
              "predicted %.3f, observed %.3f", rms_pred, rms);
    SM_CHECKF("radius within 0.5 px rms", sqrt(se_r / ok) < 0.5, "rms=%.3f", sqrt(se_r / ok));
    printf("info: fit rms %.3f px, predicted %.3f px\n", rms, rms_pred);
    printf("info: mask-centroid rms (truth mask) %.3f px\n", sqrt(se_mask / trials));

    /* noise-free: exact to 0.02 px from a deliberately offset start mask */
    synth_obj o = {.x = 30.37, .y = 33.81, .r = 7, .amp = 2.0};
    synth_render(frame, lab, W, H, &o, 1, 1.2, 0.0, 5.0, &rng);
    for (int i = 0; i < W * H; i++) lab[i] = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (hypot(x - 31.5, y - 33) < 6) lab[y * W + x] = 3;
    sm_refine_result r;
    SM_CHECK("noise-free fit runs", sm_refine_fit(frame, W, H, lab, 3, NULL, SM_SHAPE_AUTO, &r, &err) == 0 && r.ok);
    SM_CHECKF("noise-free disk centre within 0.02 px", hypot(r.x - o.x, r.y - o.y) < 0.02, "(%.3f, %.3f)", r.x, r.y);
    SM_CHECKF("noise-free radius within 0.05 px", fabs(r.major / 2 - 7) < 0.05 && fabs(r.minor / 2 - 7) < 0.05,
              "major %.3f minor %.3f", r.major, r.minor);
    SM_CHECKF("edge sigma found", fabs(r.edge_sigma - 1.2) < 0.05, "%.3f", r.edge_sigma);

    /* rod (spherocylinder) at 30 degrees on screen, noise CNR 1.5 */
    synth_obj rod = {.x = 32.2, .y = 31.7, .r = 5, .half_len = 12, .angle = -M_PI / 6, .amp = -1.5};
    synth_render(frame, lab, W, H, &rod, 1, 1.0, 1.0, 10.0, &rng);
    SM_CHECK("rod fit runs", sm_refine_fit(frame, W, H, lab, 1, NULL, SM_SHAPE_AUTO, &r, &err) == 0 && r.ok);
    SM_CHECKF("rod model chosen", r.shape == SM_SHAPE_SPHEROCYL, "shape=%d", r.shape);
    SM_CHECKF("rod centre within 0.3 px", hypot(r.x - rod.x, r.y - rod.y) < 0.3, "(%.3f, %.3f)", r.x, r.y);
    SM_CHECKF("rod angle +30 deg within 1.5 deg", fabs(r.angle - M_PI / 6) < 1.5 * M_PI / 180, "%.2f deg", r.angle * 180 / M_PI);
    SM_CHECKF("rod length 34 px within 1 px", fabs(r.major - 34) < 1.0, "%.2f", r.major);
    SM_CHECKF("rod width 10 px within 0.6 px", fabs(r.minor - 10) < 0.6, "%.2f", r.minor);
    sm_refine_result rod_fit = r;
    SM_CHECK("unknown label is SM_EINVAL", sm_refine_fit(frame, W, H, lab, 9, NULL, SM_SHAPE_AUTO, &r, &err) == SM_EINVAL);
    /* the same rod seen through a compact, bloated mask (a disk of radius 15 over it, as a fast rod's mask on
     * its second frame was), with the last fit as the hint: the hint's rod model is fitted (before, a compact
     * mask skipped the rod model, and with the hint's model alone the fit failed) */
    {
        sm_refine_result hint = rod_fit, rb;
        sm__crop_mask blob = {0};
        SM_CHECK("blob mask allocated", sm__crop_mask_resize(&blob, 16, 16, 33, 33) == 0);
        for (int y = 0; y < blob.h; y++)
            for (int x = 0; x < blob.w; x++) blob.m[(size_t)y * blob.w + x] = (uint8_t)(hypot(x - 16, y - 16) <= 15);
        int rc = sm__refine_mask(frame, W, H, &blob, NULL, SM_SHAPE_AUTO, &hint, &rb, &err);
        SM_CHECKF("rod through a compact mask, with the rod hint: the rod model, converged",
                  rc == 0 && rb.ok && rb.shape == SM_SHAPE_SPHEROCYL, "rc %d ok %d shape %d", rc, rb.ok, (int)rb.shape);
        SM_CHECKF("its length 34 px within 2 px", fabs(rb.major - 34) < 2.0, "%.2f", rb.major);
        free(blob.m);
    }
    /* a large rod (100 x 40 px) through a compact blob mask (a disk of radius 45) and no hint, as the network's
     * first mask of a large weak rod was: large masks are fitted as rods too (before, the ellipse was taken) */
    {
        enum { LW = 160, LH = 160 };
        float *big = malloc(sizeof(float) * LW * LH);
        synth_obj lr = {.x = 80.3, .y = 79.6, .r = 20, .half_len = 30, .angle = 0.4, .amp = -1.5};
        sm_rng lrng; /* its own noise: the checks below keep theirs */
        sm_rng_seed(&lrng, 5);
        synth_render(big, NULL, LW, LH, &lr, 1, 1.2, 1.0, 10.0, &lrng);
        sm__crop_mask blob = {0};
        SM_CHECK("large blob mask allocated", sm__crop_mask_resize(&blob, 35, 35, 91, 91) == 0);
        for (int y = 0; y < blob.h; y++)
            for (int x = 0; x < blob.w; x++) blob.m[(size_t)y * blob.w + x] = (uint8_t)(hypot(x - 45, y - 45) <= 45);
        sm_refine_result rb;
        int rc = sm__refine_mask(big, LW, LH, &blob, NULL, SM_SHAPE_AUTO, NULL, &rb, &err);
        SM_CHECKF("large rod through a compact mask, no hint: the rod model", rc == 0 && rb.ok && rb.shape == SM_SHAPE_SPHEROCYL,
                  "rc %d ok %d shape %d", rc, rb.ok, (int)rb.shape);
        SM_CHECKF("its length 100 px within 2 px, width 40 within 1", fabs(rb.major - 100) < 2.0 && fabs(rb.minor - 40) < 1.0,
                  "%.2f x %.2f", rb.major, rb.minor);
        free(blob.m);
        free(big);
    }

    /* faceted particles at contrast-to-noise 2 per pixel: the polygon model wins, and its drawing matches (a
     * hexagon of 12 px circumradius won only 5 of 10 times: that close to a disk the ellipse fits as well) */
    const struct {
        int sides;
        sm_shape_kind kind;
        double R, rot;
        const char *name;
    } polys[2] = {{3, SM_SHAPE_TRIANGLE, 13, 0.3, "triangle"}, {6, SM_SHAPE_HEXAGON, 16, 0.2, "hexagon"}};
    for (int k = 0; k < 2; k++) {
        int right = 0, n_fit = 0;
        double se = 0, iou_sum = 0;
        for (int t = 0; t < 10; t++) {
            double cx = 31.2 + sm_rng_uniform(&rng), cy = 32.4 + sm_rng_uniform(&rng);
            render_polygon(frame, lab, W, H, cx, cy, polys[k].sides, polys[k].R, polys[k].rot + 0.1 * t, 1.0, -2.0, 1.0, 10.0, &rng);
            if (sm_refine_fit(frame, W, H, lab, 1, NULL, SM_SHAPE_AUTO, &r, &err) < 0 || !r.ok) continue;
            n_fit++;
            right += r.shape == polys[k].kind;
            se += (r.x - cx) * (r.x - cx) + (r.y - cy) * (r.y - cy);
            iou_sum += render_iou(&r, lab, W, H);
        }
        SM_CHECKF("polygon fits converge", n_fit == 10, "%s: %d/10", polys[k].name, n_fit);
        SM_CHECKF("polygon model chosen for 9 of 10", right >= 9, "%s: %d/10", polys[k].name, right);
        SM_CHECKF("polygon centre rms < 0.3 px", sqrt(se / fmax(n_fit, 1)) < 0.3, "%s: %.3f", polys[k].name,
                  sqrt(se / fmax(n_fit, 1)));
        SM_CHECKF("drawn polygon IoU with the truth >= 0.9", iou_sum / fmax(n_fit, 1) >= 0.9, "%s: %.3f",
                  polys[k].name, iou_sum / fmax(n_fit, 1));
    }
    /* disks at contrast-to-noise 1 stay ellipses */
    int polygon_disks = 0;
    for (int t = 0; t < 20; t++) {
        synth_obj o2 = {.x = 31.3 + sm_rng_uniform(&rng), .y = 30.6 + sm_rng_uniform(&rng), .r = 9, .amp = -1.0};
        synth_render(frame, lab, W, H, &o2, 1, 1.2, 1.0, 10.0, &rng);
        if (sm_refine_fit(frame, W, H, lab, 1, NULL, SM_SHAPE_AUTO, &r, &err) == 0 && r.ok) polygon_disks += r.shape >= SM_SHAPE_TRIANGLE;
    }
    SM_CHECKF("disks taken for polygons at most 2 of 20", polygon_disks <= 2, "%d/20", polygon_disks);

    /* the fit's analytic Jacobian against central differences of its model, each shape, several poses
     * (an elongated ellipse, a rod, stretched polygons; angle and edge blur away from round numbers) */
    const sm_shape_kind kinds[5] = {SM_SHAPE_ELLIPSE, SM_SHAPE_SPHEROCYL, SM_SHAPE_TRIANGLE, SM_SHAPE_SQUARE, SM_SHAPE_HEXAGON};
    for (int k = 0; k < 5; k++)
        for (int pose = 0; pose < 3; pose++) {
            double p[10] = {20.3 + pose, 18.7 - 0.4 * pose, 0.37 + 0.9 * pose, 7.2 + pose, 4.1 + 0.5 * pose, -35.0 + 20 * pose,
                            100.0, 0.3, -0.2, log(0.9 + 0.4 * pose)};
            double e = sm__refine_jacobian_error(kinds[k], p, 40, 38);
            SM_CHECKF("analytic Jacobian matches central differences within 1e-4", e < 1e-4, "shape %d pose %d: %.2e",
                      (int)kinds[k], pose, e);
        }
    free(frame);
    free(lab);
    return sm_test_report();
}
