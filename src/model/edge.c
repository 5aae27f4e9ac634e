/* Where a particle's true boundary lies against its fitted edge, from its radial contrast profile.
 *
 * The shape fit (refine.c) models a sharp-edged particle blurred by the PSF, so its boundary is the
 * half-contrast line. That is the true boundary only for particles that stay dark up to their edge (strong
 * scatterers, flat prisms). A weakly scattering sphere or rod darkens with its projected thickness,
 * sqrt(1 - (r/R)^2), so its contrast fades toward the edge and the half-contrast line lies well inside it
 * (0.87 R for a sphere before blur). The network's masks learned the true boundary from the simulator's
 * truth, but on a crop area-averaged to 64 px a large particle's edge spans a fraction of a crop pixel, and
 * their sizes came out 15% too small (weak rods, 50-106 px) or 16% too large (sharp rods).
 *
 * So: the frame's values around the particle are binned by their signed distance to the fitted boundary and
 * summed over frames (the shape is rigid), and the binned profile is matched with the blurred contrast of a
 * particle whose absorption saturates with thickness, 1 - exp(-k tau) (k = 0: weak, linear in thickness;
 * k large: a step), tau the normalised thickness sqrt(e (2h - e)) / h at depth e inside a boundary of
 * half-width h, blurred by a Gaussian of sigma. A grid over (sigma, k, offset), with background and
 * amplitude by linear least squares at each point, gives the offset from the fitted boundary to the true
 * one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

#define EDGE_STEP 0.1      /* px: fine grid of the model profiles */
#define EDGE_MAX_SIGMA 4.0 /* px: the widest blur tried (the last of `sigmas` below) */

void sm__edge_profile_reset(sm__edge_profile *p) { memset(p, 0, sizeof *p); }

void sm__edge_profile_add(sm__edge_profile *p, const float *frame, int W, int H, const sm_refine_result *rr,
                          double keep) {
    if (!rr->ok) return;
    double hw = 0.5 * fmin(rr->major, rr->minor);
    /* a particle that changed size (a new fit, another particle) starts a new profile */
    if (p->frames > 0 && (fabs(hw - p->half_width) > 0.15 * p->half_width || p->shape != (int)rr->shape))
        sm__edge_profile_reset(p);
    p->shape = (int)rr->shape;
    for (int b = 0; b < SM__EDGE_BINS; b++) p->sum[b] *= keep, p->cnt[b] *= keep;
    p->half_width = p->frames > 0 ? keep * p->half_width + (1 - keep) * hw : hw;
    double reach = 0.5 * fmax(rr->major, rr->minor) + SM__EDGE_OUT + 1;
    int x0 = (int)floor(rr->x - reach), x1 = (int)ceil(rr->x + reach);
    int y0 = (int)floor(rr->y - reach), y1 = (int)ceil(rr->y + reach);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > W - 1) x1 = W - 1;
    if (y1 > H - 1) y1 = H - 1;
    sm__shape_geom g;
    sm__shape_prepare(rr, &g);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double d = sm__shape_distance(&g, x, y);
            if (d < -SM__EDGE_IN || d >= SM__EDGE_OUT) continue;
            int b = (int)((d + SM__EDGE_IN) / SM__EDGE_BIN);
            if (b < 0 || b >= SM__EDGE_BINS) continue;
            p->sum[b] += frame[(size_t)y * W + x];
            p->cnt[b] += 1;
        }
    p->frames++;
}

/* Unblurred contrast at depth e (px, positive inside) of a boundary of half-width h, saturation k
 * (k < 0: a step). */
static double contrast_at(double e, double h, double k) {
    if (e <= 0) return 0;
    if (k < 0) return 1;
    double tau = e >= h ? 1.0 : sqrt(e * (2 * h - e)) / h;
    return k < 1e-6 ? tau : (1 - exp(-k * tau)) / (1 - exp(-k));
}

int sm__edge_offset(const sm__edge_profile *p, double *offset) {
    double h = p->half_width;
    if (p->frames < 1 || !(h > 1.5)) return -1;
    /* bins used: outside the fitted edge and inside it down to 90% of the half-width (deeper, the distance
     * to the boundary no longer says the depth) */
    double dist[SM__EDGE_BINS], val[SM__EDGE_BINS], wt[SM__EDGE_BINS];
    int nb = 0;
    double total = 0;
    for (int b = 0; b < SM__EDGE_BINS; b++) {
        double d = -SM__EDGE_IN + (b + 0.5) * SM__EDGE_BIN;
        if (d < -0.9 * h || p->cnt[b] < 1) continue;
        dist[nb] = d, val[nb] = p->sum[b] / p->cnt[b], wt[nb] = p->cnt[b];
        total += p->cnt[b];
        nb++;
    }
    if (nb < 16 || total < 100) return -1;
    /* blur and saturation grids about 20% apart: with 7 blurs and 4 saturations the best offset jumped between
     * grid points from frame to frame (a weak sphere's 0.5 -> 1.1 -> 1.5 px; its area 12% too small on 15
     * frames); this grid: 24 other simulated videos thin +0.005, medium +0.004 mean IoU (sums), a grid twice as
     * fine again +0.002 medium only */
    static const double sigmas[] = {0.5, 0.6, 0.75, 0.875, 1.0, 1.2, 1.4, 1.7, 2.0, 2.4, 2.8, 3.4, EDGE_MAX_SIGMA};
    static const double ks[] = {0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, -1.0};
    double lo = -1.5, hi = fmax(1.5, 0.4 * h);
    /* fine grid of depths e over the depths the bins are matched at, -SM__EDGE_OUT + lo to 0.9 h + hi, and over
     * the particle, 0 to h: outside that span the contrast is constant (0 outside, 1 deeper than h), so reads
     * clamped to the grid's ends below are exact and the blur needs no margin */
    double e0 = fmin(-SM__EDGE_OUT + lo, 0.0) - 2 * EDGE_STEP, e1 = fmax(0.9 * h + hi, h) + 2 * EDGE_STEP;
    int ne = (int)ceil((e1 - e0) / EDGE_STEP) + 1;
    /* raw holds the grid with the widest kernel's reach on each side, its end values repeated (the contrast is
     * constant there): the convolution below reads it without bounds checks */
    int pad = (int)ceil(4 * EDGE_MAX_SIGMA / EDGE_STEP);
    double *padded = malloc(sizeof(double) * (size_t)(ne + 2 * pad)), *blur = malloc(sizeof(double) * (size_t)ne);
    double *kern = malloc(sizeof(double) * (size_t)(2 * pad + 1));
    if (!padded || !blur || !kern) {
        free(padded), free(blur), free(kern);
        return -1;
    }
    double *raw = padded + pad;
    double best_rss = INFINITY, best = 0;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        for (int i = 0; i < ne; i++) raw[i] = contrast_at(e0 + i * EDGE_STEP, h, ks[ki]);
        for (int i = 1; i <= pad; i++) raw[-i] = raw[0], raw[ne - 1 + i] = raw[ne - 1];
        for (size_t si = 0; si < sizeof sigmas / sizeof sigmas[0]; si++) {
            double sg = sigmas[si];
            int r = (int)ceil(4 * sg / EDGE_STEP);
            double ksum = 0;
            for (int j = -r; j <= r; j++) ksum += kern[j + r] = exp(-0.5 * (j * EDGE_STEP / sg) * (j * EDGE_STEP / sg));
            for (int j = 0; j <= 2 * r; j++) kern[j] /= ksum;
            /* tap by tap over the whole grid (vectorised; each sum still adds its taps in the same order) */
            for (int i = 0; i < ne; i++) blur[i] = 0;
            for (int j = -r; j <= r; j++) {
                double kj = kern[j + r];
                const double *src = raw - j;
                for (int i = 0; i < ne; i++) blur[i] += kj * src[i];
            }
            for (double off = lo; off <= hi + 1e-9; off += EDGE_STEP) {
                /* model m_b = blurred contrast at depth -d + off; fit val = B + A m by weighted least squares */
                double sw = 0, sm = 0, sv = 0, smm = 0, smv = 0, svv = 0;
                for (int b = 0; b < nb; b++) {
                    double e = -dist[b] + off, u = (e - e0) / EDGE_STEP;
                    int i = (int)u;
                    double f = u - i, m = i < 0 ? blur[0] : i >= ne - 1 ? blur[ne - 1] : blur[i] + f * (blur[i + 1] - blur[i]);
                    double w = wt[b];
                    sw += w, sm += w * m, sv += w * val[b], smm += w * m * m, smv += w * m * val[b], svv += w * val[b] * val[b];
                }
                double det = sw * smm - sm * sm;
                if (!(det > 1e-12 * sw * sw)) continue;
                double A = (sw * smv - sm * sv) / det, B = (sv - A * sm) / sw;
                double rss = svv - 2 * A * smv - 2 * B * sv + A * A * smm + 2 * A * B * sm + B * B * sw;
                if (rss < best_rss) best_rss = rss, best = off;
            }
        }
    }
    free(padded), free(blur), free(kern);
    if (!isfinite(best_rss)) return -1;
    *offset = best;
    return 0;
}
