/* Particle motion: draws each particle's parameters, then advances every particle by one frame interval
 * under its motion model, with rotation, rare long jumps, contacts, aggregation, stage drift and a
 * periodic domain larger than the field (so that particles leave and re-enter across the border).
 *
 * Models (units: D in nm^2/s, dt in s, lengths converted to px by the pixel size p):
 *   Brownian:    dx = sqrt(2 D dt) N(0,1) per axis                        MSD(t) = 4 D t
 *   fBm:         increments are fractional Gaussian noise with Hurst H = alpha/2, generated exactly by
 *                Hosking's method (Durbin-Levinson recursion, Hosking 1984, Water Resour. Res. 20:1898);
 *                per-axis increment variance 2 D dt^alpha, so MSD(t) = 4 D t^alpha. The recursion remembers
 *                SIM_FBM_MAX_MEMORY increments; beyond that the predictor is truncated to that order.
 *   harmonic:    exact Ornstein-Uhlenbeck update, relaxation rate theta = D / L^2, stationary std L per axis
 *   reflecting:  Brownian sub-steps (std <= L/10) mirrored at a disc of radius L
 *   directed:    Brownian plus v dt
 *   CTRW:        jumps of per-axis std sqrt(2 D tau) after Pareto waiting times tau * U^(-1/beta), so that
 *                the ensemble MSD grows as t^beta (stick-slip); Metzler & Klafter 2000, Phys. Rep. 339:1
 *   rotation:    d(angle) = sqrt(2 D_r dt) N(0,1) + spin dt
 * Left out: hydrodynamic coupling between particles, 3-D motion (particles stay in the focal plane) and
 * out-of-plane rotation. Aggregates keep their members' offsets but do not rotate as one body. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

static double unif(sm_rng *r, double a, double b) { return a + (b - a) * sm_rng_uniform(r); }
static double logunif(sm_rng *r, double a, double b) {
    if (a <= 0 || b <= 0) return unif(r, a, b);
    return exp(unif(r, log(a), log(b)));
}

/* Equivalent radius for contacts, px. */
static double contact_radius(const sim_particle *sp) { return sqrt(sp->pub.area_px2 / M_PI); }

static double fgn_cov(double k, double H) {
    double h2 = 2 * H;
    return 0.5 * (pow(fabs(k + 1), h2) - 2 * pow(fabs(k), h2) + pow(fabs(k - 1), h2));
}

/* One standardised fGn increment for particle sp (x and y share the recursion). */
static void fbm_next(sim_particle *sp, double *ox, double *oy) {
    const int M = SIM_FBM_MAX_MEMORY;
    double H = sp->pub.alpha / 2;
    int64_t n = sp->fbm_n;
    double zx = sm_rng_normal(&sp->rng), zy = sm_rng_normal(&sp->rng);
    if (n == 0) {
        sp->fbm_v = 1;
    } else if (n <= M) {
        int m = (int)n;  /* phi holds phi_{m-1, 1..m-1}; make phi_{m, 1..m} */
        double acc = fgn_cov(m, H);
        for (int j = 1; j < m; j++) acc -= sp->fbm_phi[j - 1] * fgn_cov(m - j, H);
        double pnn = acc / sp->fbm_v;
        for (int j = 1; j < m; j++) sp->fbm_tmp[j - 1] = sp->fbm_phi[j - 1] - pnn * sp->fbm_phi[m - j - 1];
        memcpy(sp->fbm_phi, sp->fbm_tmp, sizeof(double) * (size_t)(m - 1));
        sp->fbm_phi[m - 1] = pnn;
        sp->fbm_v *= 1 - pnn * pnn;
    }
    int order = n < M ? (int)n : M;
    double mx = 0, my = 0;
    for (int j = 1; j <= order; j++) {
        int64_t idx = (n - j) % M;
        mx += sp->fbm_phi[j - 1] * sp->fbm_hx[idx];
        my += sp->fbm_phi[j - 1] * sp->fbm_hy[idx];
    }
    double sd = sqrt(fmax(sp->fbm_v, 0));
    double x = mx + sd * zx, y = my + sd * zy;
    sp->fbm_hx[n % M] = x;
    sp->fbm_hy[n % M] = y;
    sp->fbm_n = n + 1;
    *ox = x;
    *oy = y;
}

int sim_motion_init(sm_sim *s, sm_rng *vr, sm_error *err) {
    const sm_sim_config *c = &s->cfg;
    const double p = c->pixel_size_nm;
    double W = c->width, H = c->height, m = s->margin;
    for (int i = 0; i < s->n; i++) {
        sim_particle *sp = &s->parts[i];
        sm_sim_particle *q = &sp->pub;
        q->id = i + 1;
        q->shape = c->shape == SM_SIM_SHAPE_MIXED ? (sm_sim_shape)sm_rng_below(vr, SM_SIM_SHAPE_COUNT) : c->shape;
        q->motion = c->motion == SM_SIM_MOTION_MIXED ? (sm_sim_motion)sm_rng_below(vr, SM_SIM_MOTION_COUNT) : c->motion;
        q->size_px = logunif(vr, c->size_min_px, c->size_max_px);
        double aspect = unif(vr, c->rod_aspect_min, c->rod_aspect_max);
        double d = q->size_px;
        switch (q->shape) {
        case SM_SIM_SPHERE: q->width_px = d; q->thickness_nm = d * p; q->area_px2 = M_PI * d * d / 4; break;
        case SM_SIM_ROD: {
            q->width_px = d / aspect;
            double a = q->width_px / 2, h = d / 2 - a;
            q->thickness_nm = q->width_px * p;
            q->area_px2 = M_PI * a * a + 4 * h * a;
            break;
        }
        case SM_SIM_TRIANGLE: q->width_px = d; q->thickness_nm = d * c->prism_aspect * p; q->area_px2 = sqrt(3) / 4 * d * d; break;
        case SM_SIM_HEXAGON: q->width_px = d; q->thickness_nm = d * c->prism_aspect * p; q->area_px2 = 3 * sqrt(3) / 8 * d * d; break;
        default: q->width_px = d; q->thickness_nm = d * p; q->area_px2 = d * d; break;
        }
        q->mu_per_nm = logunif(vr, c->mu_min_per_nm, c->mu_max_per_nm);
        q->D_nm2_s = logunif(vr, c->D_min_nm2_s, c->D_max_nm2_s);
        q->alpha = q->motion == SM_SIM_FBM ? unif(vr, c->alpha_min, c->alpha_max) : 1.0;
        q->D_r_rad2_s = logunif(vr, c->D_r_min, c->D_r_max);
        double dir = unif(vr, 0, 2 * M_PI);
        if (q->motion == SM_SIM_DIRECTED) {
            q->velocity_nm_s[0] = c->velocity_nm_s * cos(dir);
            q->velocity_nm_s[1] = c->velocity_nm_s * sin(dir);
        }
        if (q->motion == SM_SIM_HARMONIC || q->motion == SM_SIM_REFLECTING) q->confinement_nm = c->confinement_nm;
        sp->spin = c->rotation_rate_rad_s * (sm_rng_uniform(vr) < 0.5 ? -1 : 1);
        sp->angle = unif(vr, 0, 2 * M_PI);
        sp->lattice_phase = unif(vr, 0, 2 * M_PI);
        sp->diffraction = 1;
        sp->leader = -1;
        /* position: uniform in the domain, away from the others when contacts are on */
        for (int tries = 0; tries < 200; tries++) {
            sp->qx = unif(vr, -m, W + m);
            sp->qy = unif(vr, -m, H + m);
            if (!c->contacts) break;
            int ok = 1;
            for (int j = 0; j < i && ok; j++) {
                double dx = sp->qx - s->parts[j].qx, dy = sp->qy - s->parts[j].qy;
                if (hypot(dx, dy) < contact_radius(sp) + contact_radius(&s->parts[j])) ok = 0;
            }
            if (ok) break;
        }
        sp->cx = sp->qx;
        sp->cy = sp->qy;
        sm_rng_seed_stream(&sp->rng, s->seed ^ SIM_TAG_PARTICLE, (uint64_t)i);
        /* confined particles start in equilibrium: the centre is drawn around the particle */
        double L = q->confinement_nm / p;
        if (q->motion == SM_SIM_HARMONIC) {
            sp->cx -= L * sm_rng_normal(&sp->rng);
            sp->cy -= L * sm_rng_normal(&sp->rng);
        } else if (q->motion == SM_SIM_REFLECTING) {
            double rr = L * sqrt(sm_rng_uniform(&sp->rng)), aa = 2 * M_PI * sm_rng_uniform(&sp->rng);
            sp->cx -= rr * cos(aa);
            sp->cy -= rr * sin(aa);
        }
        if (q->motion == SM_SIM_CTRW) sp->ctrw_wait = c->ctrw_tau_s * pow(1 - sm_rng_uniform(&sp->rng), -1 / c->ctrw_beta);
        if (q->motion == SM_SIM_FBM) {
            size_t M = SIM_FBM_MAX_MEMORY;
            sp->fbm_phi = calloc(M, sizeof(double));
            sp->fbm_tmp = calloc(M, sizeof(double));
            sp->fbm_hx = calloc(M, sizeof(double));
            sp->fbm_hy = calloc(M, sizeof(double));
            if (!sp->fbm_phi || !sp->fbm_tmp || !sp->fbm_hx || !sp->fbm_hy)
                return sm_error_set(err, SM_ENOMEM, "simulator: out of memory for fBm state");
        }
    }
    return 0;
}

static void reflect_disc(double *x, double *y, double cx, double cy, double R) {
    double dx = *x - cx, dy = *y - cy, r = hypot(dx, dy);
    if (r <= R || r == 0) return;
    double rn = 2 * R - r;
    if (rn < 0) rn = 0;
    *x = cx + dx / r * rn;
    *y = cy + dy / r * rn;
}

/* Continuous displacement (px) and rotation of one free particle over dt. */
static void free_step(sm_sim *s, sim_particle *sp, double *sx, double *sy, double *sa) {
    const sm_sim_config *c = &s->cfg;
    const double p = c->pixel_size_nm, dt = c->frame_interval_s;
    const sm_sim_particle *q = &sp->pub;
    sm_rng *r = &sp->rng;
    double sig = sqrt(2 * q->D_nm2_s * dt) / p;  /* px per axis */
    double dx = 0, dy = 0;
    switch (q->motion) {
    case SM_SIM_BROWNIAN:
        dx = sig * sm_rng_normal(r); dy = sig * sm_rng_normal(r);
        break;
    case SM_SIM_DIRECTED:
        dx = sig * sm_rng_normal(r) + q->velocity_nm_s[0] * dt / p;
        dy = sig * sm_rng_normal(r) + q->velocity_nm_s[1] * dt / p;
        break;
    case SM_SIM_FBM: {
        double fx, fy, sf = sqrt(2 * q->D_nm2_s * pow(dt, q->alpha)) / p;
        fbm_next(sp, &fx, &fy);
        dx = sf * fx; dy = sf * fy;
        break;
    }
    case SM_SIM_HARMONIC: {
        double L = q->confinement_nm / p;
        if (L <= 0) break;
        double theta = q->D_nm2_s / (q->confinement_nm * q->confinement_nm), e = exp(-theta * dt);
        double sd = L * sqrt(1 - e * e);
        double nx = sp->cx + (sp->qx - sp->cx) * e + sd * sm_rng_normal(r);
        double ny = sp->cy + (sp->qy - sp->cy) * e + sd * sm_rng_normal(r);
        dx = nx - sp->qx; dy = ny - sp->qy;
        break;
    }
    case SM_SIM_REFLECTING: {
        double R = q->confinement_nm / p;
        if (R <= 0) break;
        int k = (int)ceil(pow(sig / (0.1 * R), 2));
        if (k < 1) k = 1;
        if (k > 400) k = 400;
        double ss = sig / sqrt(k), x = sp->qx, y = sp->qy;
        for (int i = 0; i < k; i++) {
            x += ss * sm_rng_normal(r);
            y += ss * sm_rng_normal(r);
            reflect_disc(&x, &y, sp->cx, sp->cy, R);
        }
        dx = x - sp->qx; dy = y - sp->qy;
        break;
    }
    case SM_SIM_CTRW: {
        double left = dt, tau = c->ctrw_tau_s, sj = sqrt(2 * q->D_nm2_s * tau) / p;
        int jumps = 0;
        while (sp->ctrw_wait <= left && jumps < 100000) {
            left -= sp->ctrw_wait;
            dx += sj * sm_rng_normal(r);
            dy += sj * sm_rng_normal(r);
            sp->ctrw_wait = tau * pow(1 - sm_rng_uniform(r), -1 / c->ctrw_beta);
            jumps++;
        }
        sp->ctrw_wait -= left;
        break;
    }
    default: break;
    }
    *sx = dx;
    *sy = dy;
    *sa = sqrt(2 * q->D_r_rad2_s * dt) * sm_rng_normal(r) + sp->spin * dt;
}

void sim_motion_step(sm_sim *s) {
    const sm_sim_config *c = &s->cfg;
    const double p = c->pixel_size_nm;
    double ddx = s->img.drift_px[0], ddy = s->img.drift_px[1];
    s->drift_x += ddx;
    s->drift_y += ddy;
    /* the displacement each particle made this frame (for aggregates), px */
    for (int i = 0; i < s->n; i++) {
        sim_particle *sp = &s->parts[i];
        double sx, sy, sa, jx = 0, jy = 0;
        free_step(s, sp, &sx, &sy, &sa);
        if (c->jump_rate > 0 && sm_rng_uniform(&sp->rng) < c->jump_rate) {
            double len = unif(&sp->rng, c->jump_min_nm, c->jump_max_nm) / p, a = unif(&sp->rng, 0, 2 * M_PI);
            jx = len * cos(a);
            jy = len * sin(a);
        }
        /* Bragg flicker: AR(1) with correlation 0.9 per frame around 1 */
        sp->diffraction = 1 + (sp->diffraction - 1) * 0.9 + c->diffraction_variation * sqrt(1 - 0.81) * sm_rng_normal(&sp->rng);
        if (sp->diffraction < 0) sp->diffraction = 0;
        if (sp->leader >= 0) {
            /* aggregated: move with the leader (processed earlier, lower index) */
            const sim_particle *ld = &s->parts[sp->leader];
            sx = ld->step_x - ddx; sy = ld->step_y - ddy; sa = 0;
            jx = ld->jump_x; jy = ld->jump_y;
        }
        sp->qx += sx + jx;
        sp->qy += sy + jy;
        sp->angle += sa;
        sp->jump_x = jx;
        sp->jump_y = jy;
        sp->step_x = sx + ddx;  /* drift moves the image during the exposure too */
        sp->step_y = sy + ddy;
        sp->step_angle = sa;
    }
    /* contacts: push apart, or stick */
    if (c->contacts && s->n <= 4096) {
        for (int i = 0; i < s->n; i++) {
            for (int j = i + 1; j < s->n; j++) {
                sim_particle *a = &s->parts[i], *b = &s->parts[j];
                int ga = a->leader >= 0 ? a->leader : i, gb = b->leader >= 0 ? b->leader : j;
                if (ga == gb) continue;
                double dx = b->qx - a->qx, dy = b->qy - a->qy, d = hypot(dx, dy);
                double contact = contact_radius(a) + contact_radius(b);
                if (d >= contact) continue;
                if (c->aggregation_prob > 0 && sm_rng_uniform(&b->rng) < c->aggregation_prob) {
                    int lo = ga < gb ? ga : gb, hi = ga < gb ? gb : ga;
                    for (int k = 0; k < s->n; k++)
                        if (k == hi || s->parts[k].leader == hi) s->parts[k].leader = lo;
                    s->parts[lo].leader = -1;
                    continue;
                }
                if (a->leader >= 0 || b->leader >= 0) continue;
                double ux = d > 1e-9 ? dx / d : 1, uy = d > 1e-9 ? dy / d : 0, push = (contact - d) / 2;
                a->qx -= ux * push; a->qy -= uy * push;
                b->qx += ux * push; b->qy += uy * push;
            }
        }
    }
    /* periodic domain: field plus margin on every side */
    double m = s->margin, Wd = c->width + 2 * m, Hd = c->height + 2 * m;
    for (int i = 0; i < s->n; i++) {
        sim_particle *sp = &s->parts[i];
        double x = sp->qx + s->drift_x, y = sp->qy + s->drift_y;
        double sx = 0, sy = 0;
        if (x < -m) sx = Wd * ceil((-m - x) / Wd);
        else if (x >= c->width + m) sx = -Wd * floor((x - (c->width + m)) / Wd + 1);
        if (y < -m) sy = Hd * ceil((-m - y) / Hd);
        else if (y >= c->height + m) sy = -Hd * floor((y - (c->height + m)) / Hd + 1);
        sp->qx += sx; sp->cx += sx;
        sp->qy += sy; sp->cy += sy;
    }
}
