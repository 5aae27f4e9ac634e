/* Measurements against analytic values: a w x h rectangle has central moments (w^2-1)/12 and (h^2-1)/12, so
 * its axes are 4*sqrt of those; a filled ellipse drawn at a known angle gives that angle back (counter-
 * clockwise, y up) within 1 degree; the border flag; the contrast-weighted centroid of a dark spot with a
 * linear intensity ramp against the hand-computed weighted mean. */
#include <math.h>
#include <stdlib.h>

#include "samem/track.h"
#include "test.h"

#define W 64
#define H 48

static uint16_t lab[W * H];
static float img[W * H];

static const sm_track_object *find(const sm_track_object *o, int n, int label) {
    for (int i = 0; i < n; i++)
        if (o[i].label == label) return &o[i];
    return NULL;
}

int main(void) {
    sm_error err = {0};
    sm_track_object *o;
    int n;

    SM_CHECK("empty plane: no objects", sm_track_measure(lab, NULL, W, H, &o, &n, &err) == 0 && n == 0 && !o);

    /* rectangle 9 x 4 at x 10..18, y 5..8 (label 3); ellipse label 7; border object label 2 */
    for (int y = 5; y <= 8; y++)
        for (int x = 10; x <= 18; x++) lab[y * W + x] = 3;
    double th = 30 * M_PI / 180, a = 12, b = 5, cx = 40, cy = 30;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double dx = x - cx, dy = -(y - cy);   /* y up */
            double u = dx * cos(th) + dy * sin(th), v = -dx * sin(th) + dy * cos(th);
            if (u * u / (a * a) + v * v / (b * b) <= 1) lab[y * W + x] = 7;
        }
    for (int y = 40; y < H; y++)
        for (int x = 0; x < 3; x++) lab[y * W + x] = 2;
    int rc = sm_track_measure(lab, NULL, W, H, &o, &n, &err);
    SM_CHECKF("three objects in label order", rc == 0 && n == 3 && o[0].label == 2 && o[1].label == 3 && o[2].label == 7,
              "rc=%d n=%d", rc, n);
    const sm_track_object *r = find(o, n, 3), *e = find(o, n, 7), *bd = find(o, n, 2);
    SM_CHECKF("rectangle area 36 px^2 and centroid (14, 6.5)", r && r->area == 36 && fabs(r->x - 14) < 1e-12 &&
              fabs(r->y - 6.5) < 1e-12, "x=%g y=%g", r->x, r->y);
    SM_CHECKF("rectangle major = 4 sqrt((81-1)/12), minor = 4 sqrt((16-1)/12) (1e-9)",
              fabs(r->major - 4 * sqrt(80.0 / 12)) < 1e-9 && fabs(r->minor - 4 * sqrt(15.0 / 12)) < 1e-9,
              "major=%g minor=%g", r->major, r->minor);
    SM_CHECKF("rectangle angle 0, eccentricity sqrt(1 - 15/80)", fabs(r->angle) < 1e-12 &&
              fabs(r->eccentricity - sqrt(1 - 15.0 / 80)) < 1e-9, "angle=%g", r->angle);
    SM_CHECKF("rectangle bbox (10,5)-(18,8), not on border", r->x0 == 10 && r->y0 == 5 && r->x1 == 18 && r->y1 == 8 &&
              !r->border, "border=%d", r->border);
    SM_CHECKF("ellipse at 30 deg ccw: angle within 1 deg", fabs(e->angle - th) < M_PI / 180, "angle=%g deg",
              e->angle * 180 / M_PI);
    SM_CHECKF("ellipse axes near 2a = 24 and 2b = 10 px (within 0.6 px)", fabs(e->major - 24) < 0.6 &&
              fabs(e->minor - 10) < 0.6, "major=%g minor=%g", e->major, e->minor);
    SM_CHECKF("ellipse centroid (40, 30) within 0.05 px", fabs(e->x - 40) < 0.05 && fabs(e->y - 30) < 0.05,
              "x=%g y=%g", e->x, e->y);
    SM_CHECK("object in the corner touches the border", bd && bd->border == 1);
    SM_CHECK("no intensity without an image", isnan(r->intensity));
    free(o);

    /* mirrored ellipse: -30 deg */
    for (int i = 0; i < W * H; i++) lab[i] = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double dx = x - cx, dy = -(y - cy), t2 = -th;
            double u = dx * cos(t2) + dy * sin(t2), v = -dx * sin(t2) + dy * cos(t2);
            if (u * u / (a * a) + v * v / (b * b) <= 1) lab[y * W + x] = 1;
        }
    rc = sm_track_measure(lab, NULL, W, H, &o, &n, &err);
    SM_CHECKF("ellipse at -30 deg: angle within 1 deg", rc == 0 && n == 1 && fabs(o[0].angle + th) < M_PI / 180,
              "angle=%g deg", o[0].angle * 180 / M_PI);
    free(o);
    /* vertical bar: angle pi/2 exactly (the interval is (-pi/2, pi/2]) */
    for (int i = 0; i < W * H; i++) lab[i] = 0;
    for (int y = 10; y < 30; y++) lab[y * W + 20] = lab[y * W + 21] = 5;
    rc = sm_track_measure(lab, NULL, W, H, &o, &n, &err);
    SM_CHECKF("vertical bar: angle +pi/2", rc == 0 && n == 1 && fabs(o[0].angle - M_PI / 2) < 1e-12, "angle=%g",
              o[0].angle);
    free(o);

    /* dark 3x3 object on background 100; inside values 100 - (10 + x - 20) for x = 20..22, i.e. 90, 89, 88.
     * Weights b - v = 10, 11, 12 per column: weighted x = (20*10 + 21*11 + 22*12) / 33. */
    for (int i = 0; i < W * H; i++) {
        lab[i] = 0;
        img[i] = 100;
    }
    for (int y = 10; y <= 12; y++)
        for (int x = 20; x <= 22; x++) {
            lab[y * W + x] = 9;
            img[y * W + x] = (float)(100 - (10 + x - 20));
        }
    rc = sm_track_measure(lab, img, W, H, &o, &n, &err);
    double xw = (20 * 10 + 21 * 11 + 22 * 12) / 33.0;
    SM_CHECKF("dark spot: contrast-weighted x = 21.0606 (1e-9), y = 11, plain x = 21", rc == 0 && n == 1 &&
              fabs(o[0].x - xw) < 1e-9 && fabs(o[0].y - 11) < 1e-9 && fabs(o[0].x_geom - 21) < 1e-12,
              "x=%.9g y=%.9g", o[0].x, o[0].y);
    SM_CHECKF("dark spot: mean intensity 89", fabs(o[0].intensity - 89) < 1e-9, "I=%g", o[0].intensity);
    free(o);
    SM_CHECK("bad size refused", sm_track_measure(lab, NULL, 0, 5, &o, &n, &err) == SM_EINVAL);
    return sm_test_report();
}
