/* Per-object measurements from one label plane: area, centroids, second-moment orientation and axes,
 * eccentricity, mean intensity, bounding box and border contact (definitions in include/samem/track.h).
 *
 * Why: trajectories, sizes and shapes all start from these numbers. How: one pass over the plane
 * accumulates, per label, the pixel count and the raw moments about the label's first pixel (so that large
 * coordinates do not cancel), plus the intensity sums of the object and of its 4-adjacent background ring;
 * a second pass (only with an intensity plane) forms the contrast-weighted centroid.
 * Moments as in Hu 1962 / scikit-image regionprops (central moments over the pixel centres, no 1/12 pixel
 * term); the axis lengths are 4*sqrt(eigenvalue) as in regionprops.
 * Left out: perimeter, convex hull, holes; labels are not checked for connectivity (a label is one object
 * even when split in pieces).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/track.h"

typedef struct acc {
    int64_t n;
    int rx, ry;                      /* reference pixel (first seen), px */
    double sx, sy, sxx, syy, sxy;    /* moments about (rx, ry) */
    double si;                       /* intensity sum inside */
    double ring_sum;                 /* intensity sum of adjacent background pixels */
    int64_t ring_n;
    double wsum, wx, wy;             /* contrast weights and weighted coordinates about (rx, ry) */
    int x0, y0, x1, y1;
    int border;
} acc;

int sm_track_measure(const uint16_t *labels, const float *image, int width, int height, sm_track_object **out,
                     int *n_out, sm_error *err) {
    *out = NULL;
    *n_out = 0;
    if (width <= 0 || height <= 0) return sm_error_set(err, SM_EINVAL, "measure: bad plane size %dx%d", width, height);
    size_t npx = (size_t)width * (size_t)height;
    int max_label = 0;
    for (size_t i = 0; i < npx; i++)
        if (labels[i] > max_label) max_label = labels[i];
    if (max_label == 0) return 0;
    acc *a = calloc((size_t)max_label + 1, sizeof *a);
    if (!a) return sm_error_set(err, SM_ENOMEM, "measure: out of memory for %d labels", max_label);

    for (int y = 0; y < height; y++) {
        const uint16_t *row = labels + (size_t)y * width;
        for (int x = 0; x < width; x++) {
            int l = row[x];
            if (l == 0) {
                if (!image) continue;
                /* background pixel: credit its intensity to each distinct adjacent label's ring */
                int nb[4], k = 0;
                if (x > 0 && row[x - 1]) nb[k++] = row[x - 1];
                if (x + 1 < width && row[x + 1]) nb[k++] = row[x + 1];
                if (y > 0 && row[x - width]) nb[k++] = row[x - width];
                if (y + 1 < height && row[x + width]) nb[k++] = row[x + width];
                double v = image[(size_t)y * width + x];
                for (int i = 0; i < k; i++) {
                    int dup = 0;
                    for (int j = 0; j < i; j++) dup |= nb[j] == nb[i];
                    if (dup) continue;
                    a[nb[i]].ring_sum += v;
                    a[nb[i]].ring_n++;
                }
                continue;
            }
            acc *o = &a[l];
            if (o->n == 0) {
                o->rx = x; o->ry = y;
                o->x0 = o->x1 = x; o->y0 = o->y1 = y;
            }
            double dx = x - o->rx, dy = y - o->ry;
            o->n++;
            o->sx += dx; o->sy += dy;
            o->sxx += dx * dx; o->syy += dy * dy; o->sxy += dx * dy;
            if (image) o->si += image[(size_t)y * width + x];
            if (x < o->x0) o->x0 = x;
            if (x > o->x1) o->x1 = x;
            if (y < o->y0) o->y0 = y;
            if (y > o->y1) o->y1 = y;
        }
    }

    int count = 0;
    for (int l = 1; l <= max_label; l++) count += a[l].n > 0;

    if (image) {
        /* second pass: contrast weights against the ring mean, on the object's side of it */
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int l = labels[(size_t)y * width + x];
                if (!l) continue;
                acc *o = &a[l];
                if (o->ring_n == 0) continue;
                double b = o->ring_sum / (double)o->ring_n;
                double mean_in = o->si / (double)o->n;
                double v = image[(size_t)y * width + x];
                double w = mean_in < b ? b - v : v - b;
                if (w <= 0) continue;
                o->wsum += w;
                o->wx += w * (x - o->rx);
                o->wy += w * (y - o->ry);
            }
        }
    }

    sm_track_object *objs = malloc((size_t)count * sizeof *objs);
    if (!objs) {
        free(a);
        return sm_error_set(err, SM_ENOMEM, "measure: out of memory for %d objects", count);
    }
    int k = 0;
    for (int l = 1; l <= max_label; l++) {
        const acc *o = &a[l];
        if (!o->n) continue;
        sm_track_object *r = &objs[k++];
        double n = (double)o->n;
        double mx = o->sx / n, my = o->sy / n;
        double mu20 = o->sxx / n - mx * mx, mu02 = o->syy / n - my * my, mu11 = o->sxy / n - mx * my;
        if (mu20 < 0) mu20 = 0;
        if (mu02 < 0) mu02 = 0;
        r->label = l;
        r->area = n;
        r->x_geom = o->rx + mx;
        r->y_geom = o->ry + my;
        r->x = r->x_geom;
        r->y = r->y_geom;
        if (image && o->wsum > 0) {
            r->x = o->rx + o->wx / o->wsum;
            r->y = o->ry + o->wy / o->wsum;
        }
        /* y up on screen: the xy moment changes sign */
        double m11_up = -mu11;
        double half_diff = 0.5 * (mu20 - mu02);
        double root = sqrt(half_diff * half_diff + m11_up * m11_up);
        double l1 = 0.5 * (mu20 + mu02) + root, l2 = 0.5 * (mu20 + mu02) - root;
        if (l2 < 0) l2 = 0;
        double ang = 0.5 * atan2(2 * m11_up, mu20 - mu02);
        if (ang <= -M_PI / 2) ang += M_PI;
        r->angle = ang + 0.0;   /* no -0 in the CSV */
        r->major = 4 * sqrt(l1);
        r->minor = 4 * sqrt(l2);
        r->eccentricity = l1 > 0 ? sqrt(1 - l2 / l1) : 0;
        r->intensity = image ? o->si / n : NAN;
        r->x0 = o->x0; r->y0 = o->y0; r->x1 = o->x1; r->y1 = o->y1;
        r->border = o->x0 == 0 || o->y0 == 0 || o->x1 == width - 1 || o->y1 == height - 1;
    }
    free(a);
    *out = objs;
    *n_out = count;
    return 0;
}
