/* Particle rendering: projected thickness of each shape, attenuation exp(-mu T), motion blur over the
 * exposure, the optical point-spread function with Fresnel fringes, and the ground-truth mask.
 *
 * Each particle is drawn in its own patch (its swept bounding box plus the blur's reach), never over the
 * whole frame, so the cost grows with particle area. In the patch the deficit d = 1 - exp(-mu_eff T) is
 * averaged over the sub-positions of the exposure; pixels within 0.75 px of the edge are supersampled 4x4,
 * the others use their centre. The blurred deficit is
 *     d_obs = (1 + f) G_sigma * d  -  f G_wide * d,      wide = sqrt(sigma^2 + fringe_width^2)
 * a difference of Gaussians that puts a bright halo (f > 0, underfocus) or a dark one (f < 0) along edges:
 * the first-order effect of defocus on an amplitude edge. Blurs are separable (astigmatism along x and y).
 * mu_eff = mu * b(t) * (1 + a cos(2 pi X / period + phase)): Bragg flicker b and lattice fringes a along the
 * particle's axis. Left out: a wave-optical (CTF) image, tilted particles, astigmatism at other angles.
 * The mask is the set of pixels whose centre lies inside the shape at the truth pose (signed distance < 0). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

void sim_make_gauss(float *k, int *radius, double sigma, int normalise_squares) {
    if (!(sigma > 0.05)) {
        *radius = 0;
        k[0] = 1;
        return;
    }
    int R = (int)ceil(3.5 * sigma);
    if (R > SIM_MAX_KERNEL) R = SIM_MAX_KERNEL;
    double w[2 * SIM_MAX_KERNEL + 1], sum = 0;
    for (int i = -R; i <= R; i++) {
        w[i + R] = exp(-(double)i * i / (2 * sigma * sigma));
        sum += normalise_squares ? w[i + R] * w[i + R] : w[i + R];
    }
    double norm = normalise_squares ? 1 / sqrt(sum) : 1 / sum;
    for (int i = 0; i <= 2 * R; i++) k[i] = (float)(w[i] * norm);
    *radius = R;
}

void sim_particle_geometry(const sm_sim_particle *p, double *bound_r, double *major, double *minor) {
    double d = p->size_px;
    switch (p->shape) {
    case SM_SIM_SPHERE: *bound_r = d / 2; *major = d; *minor = d; break;
    case SM_SIM_ROD: *bound_r = d / 2; *major = d; *minor = p->width_px; break;
    case SM_SIM_TRIANGLE: *bound_r = d / sqrt(3); *major = d; *minor = d * sqrt(3) / 2; break;
    case SM_SIM_HEXAGON: *bound_r = d / 2; *major = d; *minor = d * sqrt(3) / 2; break;
    default: *bound_r = d / sqrt(2); *major = d; *minor = d; break;
    }
}

/* The triangle's edge normals, at -90, 30 and 150 degrees in the particle frame. */
static const double tri_n[3][2] = {{0, -1}, {0.86602540378443865, 0.5}, {-0.86602540378443865, 0.5}};

double sim_shape_eval(const sm_sim_particle *p, double flat_px, double X, double Y, double *thick) {
    double sd;
    switch (p->shape) {
    case SM_SIM_SPHERE: {
        double R = p->size_px / 2, r2 = X * X + Y * Y;
        sd = sqrt(r2) - R;
        *thick = r2 < R * R ? 2 * sqrt(R * R - r2) : 0;
        return sd;
    }
    case SM_SIM_ROD: {
        double a = p->width_px / 2, h = p->size_px / 2 - a;
        double ax = fabs(X) - h;
        if (ax < 0) ax = 0;
        double d2 = ax * ax + Y * Y;
        sd = sqrt(d2) - a;
        *thick = d2 < a * a ? 2 * sqrt(a * a - d2) : 0;
        return sd;
    }
    case SM_SIM_TRIANGLE: {
        double ri = p->size_px / (2 * sqrt(3));
        sd = -1e300;
        for (int k = 0; k < 3; k++) {
            double e = tri_n[k][0] * X + tri_n[k][1] * Y;
            if (e > sd) sd = e;
        }
        sd -= ri;
        break;
    }
    case SM_SIM_HEXAGON: {
        double ri = p->size_px / 2 * 0.86602540378443865, ax = fabs(X), ay = fabs(Y);
        double e2 = 0.5 * ax + 0.86602540378443865 * ay;
        sd = (ax > e2 ? ax : e2) - ri;
        break;
    }
    default: {
        double ax = fabs(X), ay = fabs(Y);
        sd = (ax > ay ? ax : ay) - p->size_px / 2;
        break;
    }
    }
    *thick = sd < 0 ? flat_px : 0;
    return sd;
}

/* Screen angle (counter-clockwise, y up) to the rotation that maps image offsets into the particle frame. */
static inline void to_particle(double dx, double dy, double c, double s, double *X, double *Y) {
    *X = dx * c - dy * s;
    *Y = dx * s + dy * c;
}

static int ensure_patch(sim_particle *sp, size_t need) {
    if (need <= sp->patch_cap) return 0;
    size_t cap = sp->patch_cap ? sp->patch_cap : 1024;
    while (cap < need) cap *= 2;
    float *a = realloc(sp->patch, cap * sizeof(float));
    if (a) sp->patch = a;
    float *b = realloc(sp->patch_tmp, cap * sizeof(float));
    if (b) sp->patch_tmp = b;
    float *c = realloc(sp->patch_wide, cap * sizeof(float));
    if (c) sp->patch_wide = c;
    if (!a || !b || !c) return -1;
    sp->patch_cap = cap;
    return 0;
}

/* Separable blur of src (h, w) into dst through tmp; zero outside the patch. */
static void blur(const float *src, float *dst, float *tmp, int w, int h, const float *kx, int rx, const float *ky, int ry) {
    for (int y = 0; y < h; y++) {
        const float *s = src + (size_t)y * w;
        float *t = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int k0 = x - rx < 0 ? rx - x : 0, k1 = x + rx >= w ? rx + (w - 1 - x) : 2 * rx;
            float acc = 0;
            for (int k = k0; k <= k1; k++) acc += kx[k] * s[x + k - rx];
            t[x] = acc;
        }
    }
    for (int y = 0; y < h; y++) {
        float *d = dst + (size_t)y * w;
        int k0 = y - ry < 0 ? ry - y : 0, k1 = y + ry >= h ? ry + (h - 1 - y) : 2 * ry;
        for (int x = 0; x < w; x++) d[x] = 0;
        for (int k = k0; k <= k1; k++) {
            const float *t = tmp + (size_t)(y + k - ry) * w;
            float kk = ky[k];
#pragma omp simd
            for (int x = 0; x < w; x++) d[x] += kk * t[x];
        }
    }
}

int sim_render_particle(sm_sim *s, sim_particle *sp, sm_error *err) {
    const sm_sim_config *c = &s->cfg;
    const sm_sim_particle *q = &sp->pub;
    const double p = c->pixel_size_nm, e = c->exposure_fraction;
    double bound, major, minor;
    sim_particle_geometry(q, &bound, &major, &minor);
    double ex = sp->qx + s->drift_x, ey = sp->qy + s->drift_y, ea = sp->angle;  /* pose at exposure end */
    double swx = e * sp->step_x, swy = e * sp->step_y, swa = e * sp->step_angle;  /* sweep during exposure */
    double sweep = hypot(swx, swy) + fabs(swa) * bound;
    int nsub = 1;
    if (sweep > 0.5) {
        nsub = (int)ceil(sweep / 0.5);
        if (nsub > c->motion_blur_max_substeps) nsub = c->motion_blur_max_substeps;
    }
    int reach = (s->kr_x > s->kr_y ? s->kr_x : s->kr_y);
    int wreach = (s->kw_x > s->kw_y ? s->kw_x : s->kw_y);
    if (s->img.fringe != 0 && wreach > reach) reach = wreach;
    reach += 2;
    double xmin = fmin(ex, ex - swx) - bound, xmax = fmax(ex, ex - swx) + bound;
    double ymin = fmin(ey, ey - swy) - bound, ymax = fmax(ey, ey - swy) + bound;
    int x0 = (int)floor(xmin) - reach, x1 = (int)ceil(xmax) + reach;
    int y0 = (int)floor(ymin) - reach, y1 = (int)ceil(ymax) + reach;
    if (x0 < -reach) x0 = -reach;
    if (y0 < -reach) y0 = -reach;
    if (x1 > c->width - 1 + reach) x1 = c->width - 1 + reach;
    if (y1 > c->height - 1 + reach) y1 = c->height - 1 + reach;
    sp->core_contrast = NAN;
    if (x1 < x0 || y1 < y0 || x1 < 0 || y1 < 0 || x0 >= c->width || y0 >= c->height) {
        sp->pw = sp->ph = 0;
        return 0;
    }
    int pw = x1 - x0 + 1, ph = y1 - y0 + 1;
    if (ensure_patch(sp, (size_t)pw * ph) < 0)
        return sm_error_set(err, SM_ENOMEM, "simulator: out of memory for a %dx%d px particle patch", pw, ph);
    sp->px0 = x0; sp->py0 = y0; sp->pw = pw; sp->ph = ph;
    float *d = sp->patch;
    memset(d, 0, sizeof(float) * (size_t)pw * ph);
    const double flat = q->thickness_nm / p;             /* px of material for prisms and cubes */
    const double mu_px = q->mu_per_nm * p * sp->diffraction; /* attenuation per px of thickness */
    const double lat_a = c->lattice_amplitude, lat_k = 2 * M_PI * p / c->lattice_period_nm;
    const float wsub = 1.0f / nsub;
    for (int k = 0; k < nsub; k++) {
        double t = (k + 0.5) / nsub;
        double cx = ex - swx * (1 - t), cy = ey - swy * (1 - t), ang = ea - swa * (1 - t);
        double cs = cos(ang), sn = sin(ang);
        int bx0 = (int)floor(cx - bound - 1) - x0, bx1 = (int)ceil(cx + bound + 1) - x0;
        int by0 = (int)floor(cy - bound - 1) - y0, by1 = (int)ceil(cy + bound + 1) - y0;
        if (bx0 < 0) bx0 = 0;
        if (by0 < 0) by0 = 0;
        if (bx1 > pw - 1) bx1 = pw - 1;
        if (by1 > ph - 1) by1 = ph - 1;
        for (int iy = by0; iy <= by1; iy++) {
            double dy = y0 + iy - cy;
            float *row = d + (size_t)iy * pw;
            for (int ix = bx0; ix <= bx1; ix++) {
                double dx = x0 + ix - cx, X, Y, th;
                to_particle(dx, dy, cs, sn, &X, &Y);
                double sd = sim_shape_eval(q, flat, X, Y, &th);
                if (sd > 0.75) continue;
                double acc;
                if (sd < -0.75) {
                    double m = mu_px * (lat_a > 0 ? 1 + lat_a * cos(lat_k * X + sp->lattice_phase) : 1);
                    acc = 1 - exp(-m * th);
                } else {
                    acc = 0;
                    for (int sy = 0; sy < 4; sy++)
                        for (int sx = 0; sx < 4; sx++) {
                            double X2, Y2, th2;
                            to_particle(dx + (sx - 1.5) * 0.25, dy + (sy - 1.5) * 0.25, cs, sn, &X2, &Y2);
                            if (sim_shape_eval(q, flat, X2, Y2, &th2) >= 0) continue;
                            double m = mu_px * (lat_a > 0 ? 1 + lat_a * cos(lat_k * X2 + sp->lattice_phase) : 1);
                            acc += 1 - exp(-m * th2);
                        }
                    acc /= 16;
                }
                row[ix] += (float)acc * wsub;
            }
        }
    }
    /* optics */
    double f = s->img.fringe;
    if (f != 0) blur(d, sp->patch_wide, sp->patch_tmp, pw, ph, s->wx, s->kw_x, s->wy, s->kw_y);
    blur(d, d, sp->patch_tmp, pw, ph, s->kx, s->kr_x, s->ky, s->kr_y);
    if (f != 0) {
        const float a = (float)(1 + f), b = (float)f;
        const float *wd = sp->patch_wide;
        for (size_t i = 0; i < (size_t)pw * ph; i++) d[i] = a * d[i] - b * wd[i];
    }
    /* core contrast for the contrast-to-noise: mask pixels within half the equivalent radius of the centre */
    double rc = 0.5 * sqrt(q->area_px2 / M_PI), cs = cos(sp->tangle), sn = sin(sp->tangle), sum = 0;
    int n = 0;
    for (int iy = (int)floor(sp->ty - rc); iy <= (int)ceil(sp->ty + rc); iy++) {
        if (iy < 0 || iy >= c->height || iy < y0 || iy > y1) continue;
        for (int ix = (int)floor(sp->tx - rc); ix <= (int)ceil(sp->tx + rc); ix++) {
            if (ix < 0 || ix >= c->width || ix < x0 || ix > x1) continue;
            double dx = ix - sp->tx, dy = iy - sp->ty, X, Y, th;
            if (dx * dx + dy * dy > rc * rc) continue;
            to_particle(dx, dy, cs, sn, &X, &Y);
            if (sim_shape_eval(q, flat, X, Y, &th) >= 0) continue;
            sum += d[(size_t)(iy - y0) * pw + (ix - x0)];
            n++;
        }
    }
    if (n > 0) sp->core_contrast = sum / n;
    sp->core_bg = s->counts0 * sim_illumination(s, sp->tx, sp->ty);
    return 0;
}

void sim_particle_mask(sm_sim *s, sim_particle *sp, uint16_t *labels) {
    const sm_sim_config *c = &s->cfg;
    const sm_sim_particle *q = &sp->pub;
    double bound, major, minor;
    sim_particle_geometry(q, &bound, &major, &minor);
    double cs = cos(sp->tangle), sn = sin(sp->tangle), flat = 1;
    int x0 = (int)floor(sp->tx - bound - 1), x1 = (int)ceil(sp->tx + bound + 1);
    int y0 = (int)floor(sp->ty - bound - 1), y1 = (int)ceil(sp->ty + bound + 1);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->width - 1) x1 = c->width - 1;
    if (y1 > c->height - 1) y1 = c->height - 1;
    int64_t area = 0;
    int border = 0;
    for (int y = y0; y <= y1; y++) {
        double dy = y - sp->ty;
        for (int x = x0; x <= x1; x++) {
            double X, Y, th;
            to_particle(x - sp->tx, dy, cs, sn, &X, &Y);
            if (sim_shape_eval(q, flat, X, Y, &th) >= 0) continue;
            area++;
            if (x == 0 || y == 0 || x == c->width - 1 || y == c->height - 1) border = 1;
            if (labels) labels[(size_t)y * c->width + x] = (uint16_t)q->id;
        }
    }
    sp->mask_area = area;
    sp->touches_border = border;
}
