/* Edge profiles (src/model/edge.c): the offset from a fitted half-contrast boundary to a particle's true one.
 * Rods and disks are drawn here by supersampling their projected thickness (independently of edge.c's
 * locally flat model), blurred by a Gaussian PSF, with fresh white noise on every frame:
 * - a weakly scattering particle (contrast linear in thickness, fading toward the edge): the fitted
 *   boundary lies more than a pixel inside the true one, and fit + offset lands within 0.5 px of it;
 * - a sharp-edged particle (saturated): the offset stays near 0;
 * - a profile of too few frames or pixels gives no answer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "samem/model.h"
#include "test.h"

enum { W = 160, H = 160, SUPER = 4 };

/* Projected contrast of a spherocylinder (half_len 0: a sphere) of radius R: thickness sqrt(1 - (d/R)^2)
 * with d the distance to the core segment; `weak` = linear in it, else saturated (a step at the edge). */
static double thickness_contrast(double x, double y, double cx, double cy, double angle, double half_len, double R,
                                 int weak) {
    double dx = x - cx, dy = y - cy, c = cos(angle), s = sin(angle);
    double u = c * dx + s * dy, v = -s * dx + c * dy;
    double uu = fabs(u) > half_len ? fabs(u) - half_len : 0;
    double q = 1 - (uu * uu + v * v) / (R * R);
    if (q <= 0) return 0;
    return weak ? sqrt(q) : 1;
}

/* The noise-free image (background 100, contrast -amp at the thickest point) and the truth mask. */
static void draw(float *clean, uint16_t *lab, double cx, double cy, double angle, double half_len, double R, int weak,
                 double amp, double psf) {
    float *sharp = calloc((size_t)W * H, sizeof(float)), *tmp = calloc((size_t)W * H, sizeof(float));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double acc = 0;
            for (int a = 0; a < SUPER; a++)
                for (int b = 0; b < SUPER; b++)
                    acc += thickness_contrast(x + (b + 0.5) / SUPER - 0.5, y + (a + 0.5) / SUPER - 0.5, cx, cy, angle,
                                              half_len, R, weak);
            sharp[y * W + x] = (float)(acc / (SUPER * SUPER));
            double dx = x - cx, dy = y - cy, c = cos(angle), s = sin(angle);
            double u = c * dx + s * dy, v = -s * dx + c * dy;
            double uu = fabs(u) > half_len ? fabs(u) - half_len : 0;
            lab[y * W + x] = uu * uu + v * v <= R * R;
        }
    /* separable Gaussian blur */
    int r = (int)ceil(4 * psf);
    double k[64], ks = 0;
    for (int j = -r; j <= r; j++) ks += k[j + r] = exp(-0.5 * j * j / (psf * psf));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double acc = 0;
            for (int j = -r; j <= r; j++) acc += k[j + r] * sharp[y * W + (x + j < 0 ? 0 : x + j >= W ? W - 1 : x + j)];
            tmp[y * W + x] = (float)(acc / ks);
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double acc = 0;
            for (int j = -r; j <= r; j++) acc += k[j + r] * tmp[(y + j < 0 ? 0 : y + j >= H ? H - 1 : y + j) * W + x];
            clean[y * W + x] = (float)(100 - amp * acc / ks);
        }
    free(sharp), free(tmp);
}

typedef struct outcome {
    int fits;
    double fitted_r;  /* mean fitted half-width (the half-contrast boundary) */
    double offset;    /* edge.c's offset */
    double iou_fit, iou_offset; /* truth IoU of the drawn fit, without and with the offset (last frame) */
    int rc;
} outcome;

static outcome run(double half_len, double R, int weak, double cnr, int frames, sm_rng *rng) {
    float *clean = malloc(sizeof(float) * W * H), *frame = malloc(sizeof(float) * W * H);
    uint16_t *lab = malloc(sizeof(uint16_t) * W * H);
    double amp = 20, noise = amp / cnr;
    draw(clean, lab, 80.3, 79.6, 0.4, half_len, R, weak, amp, 1.3);
    sm__edge_profile prof;
    sm__edge_profile_reset(&prof);
    outcome o = {0};
    sm_refine_result rr = {0};
    sm_error err = {0};
    for (int t = 0; t < frames; t++) {
        for (int i = 0; i < W * H; i++) frame[i] = clean[i] + (float)(noise * sm_rng_normal(rng));
        if (sm_refine_fit(frame, W, H, lab, 1, NULL, SM_SHAPE_AUTO, &rr, &err) < 0 || !rr.ok) continue;
        o.fits++;
        o.fitted_r += 0.5 * fmin(rr.major, rr.minor);
        sm__edge_profile_add(&prof, frame, W, H, &rr, 0.9);
    }
    o.fitted_r /= o.fits > 0 ? o.fits : 1;
    o.rc = sm__edge_offset(&prof, &o.offset);
    if (o.fits > 0) {
        size_t inter[2] = {0, 0}, uni[2] = {0, 0};
        sm__shape_geom g;
        sm__shape_prepare(&rr, &g);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double d = sm__shape_distance(&g, x, y);
                int truth = lab[y * W + x] != 0;
                for (int k = 0; k < 2; k++) {
                    int in = d <= (k ? o.offset : 0);
                    inter[k] += in && truth;
                    uni[k] += in || truth;
                }
            }
        o.iou_fit = (double)inter[0] / (double)uni[0];
        o.iou_offset = (double)inter[1] / (double)uni[1];
    }
    free(clean), free(frame), free(lab);
    return o;
}

int main(void) {
    sm_rng rng;
    sm_rng_seed(&rng, 11);
    struct {
        const char *name;
        double half_len, R;
        int weak;
        double cnr;
    } cases[] = {
        {"weak sphere R 20, contrast-to-noise 1.5", 0, 20, 1, 1.5},
        {"weak rod 106 x 43, contrast-to-noise 0.9", 31.5, 21.5, 1, 0.9},
        {"sharp rod 106 x 43, contrast-to-noise 0.9", 31.5, 21.5, 0, 0.9},
        {"sharp sphere R 12, contrast-to-noise 2", 0, 12, 0, 2.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        outcome o = run(cases[c].half_len, cases[c].R, cases[c].weak, cases[c].cnr, 10, &rng);
        double R = cases[c].R, found = o.fitted_r + o.offset;
        char what[160];
        snprintf(what, sizeof what, "%s: every frame fits and the profile gives an offset", cases[c].name);
        SM_CHECKF(what, o.fits == 10 && o.rc == 0, "fits=%d rc=%d", o.fits, o.rc);
        snprintf(what, sizeof what, "%s: fitted half-width + offset within 0.5 px of the truth", cases[c].name);
        SM_CHECKF(what, fabs(found - R) < 0.5, "fitted %.2f + offset %.2f = %.2f, truth %.2f", o.fitted_r, o.offset, found, R);
        if (cases[c].weak) {
            snprintf(what, sizeof what, "%s: the half-contrast boundary alone lies > 1 px inside", cases[c].name);
            SM_CHECKF(what, R - o.fitted_r > 1.0, "fitted %.2f, truth %.2f", o.fitted_r, R);
            snprintf(what, sizeof what, "%s: the offset raises the drawn fit's IoU by > 0.03", cases[c].name);
            SM_CHECKF(what, o.iou_offset > o.iou_fit + 0.03, "IoU %.3f -> %.3f", o.iou_fit, o.iou_offset);
        } else {
            snprintf(what, sizeof what, "%s: offset within 0.4 px of 0", cases[c].name);
            SM_CHECKF(what, fabs(o.offset) < 0.4, "offset %.2f", o.offset);
        }
        snprintf(what, sizeof what, "%s: drawn with the offset, IoU >= 0.9", cases[c].name);
        SM_CHECKF(what, o.iou_offset >= 0.9, "IoU %.3f", o.iou_offset);
    }
    /* not enough to go on */
    sm__edge_profile empty;
    sm__edge_profile_reset(&empty);
    double off = 123;
    SM_CHECK("an empty profile gives no offset", sm__edge_offset(&empty, &off) < 0 && off == 123);
    return sm_test_report();
}
