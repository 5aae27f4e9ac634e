/* The simulator's generator: draws a video's optics, detector and particles from one seed, then makes
 * frames one at a time (motion step, particle patches, transmitted-fraction field, detector, masks, truth
 * rows and contrast-to-noise). See docs/simulator.md for the model and include/samem/sim.h for the API.
 *
 * Order of work per frame: motion (serial, per-particle RNG streams), particle patches (parallel over
 * particles, no RNG), deposit into the field (serial, id order), detector (parallel over rows, per-row RNG
 * streams), masks (serial, id order). No step depends on the thread count, so frames are bit-identical
 * whatever it is. Left out: particles above or below the focal plane (all are in focus). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

static double unif(sm_rng *r, double a, double b) { return a + (b - a) * sm_rng_uniform(r); }

void sm_sim_destroy(sm_sim *s) {
    if (!s) return;
    if (s->parts) {
        for (int i = 0; i < s->n; i++) {
            sim_particle *sp = &s->parts[i];
            free(sp->fbm_phi); free(sp->fbm_tmp); free(sp->fbm_hx); free(sp->fbm_hy);
            free(sp->patch); free(sp->patch_tmp); free(sp->patch_wide);
        }
    }
    free(s->parts);
    free(s->pub_view);
    sim_detector_free(s);
    free(s->cnr_hist);
    free(s->cnr_part_hist);
    free(s);
}

int sm_sim_create(sm_sim **out, const sm_sim_config *cfg, uint64_t seed, sm_error *err) {
    *out = NULL;
    int rc = sm_sim_config_check(cfg, err);
    if (rc < 0) return rc;
    sm_sim *s = calloc(1, sizeof *s);
    if (!s) return sm_error_set(err, SM_ENOMEM, "simulator: out of memory");
    s->cfg = *cfg;
    s->seed = seed;
    const sm_sim_config *c = &s->cfg;
    const double p = c->pixel_size_nm, t = c->liquid_thickness_nm;
    sm_rng vr;
    sm_rng_seed_stream(&vr, seed ^ SIM_TAG_VIDEO, 0);

    /* optics: drawn PSF combined in quadrature with the liquid's chromatic blur */
    sm_sim_imaging *im = &s->img;
    double sig_optics = unif(&vr, c->psf_sigma_min_px, c->psf_sigma_max_px);
    double sig_liquid = c->liquid_blur_nm_per_nm * t / p;
    im->psf_sigma_px = sqrt(sig_optics * sig_optics + sig_liquid * sig_liquid);
    im->psf_sigma_x_px = im->psf_sigma_px * (1 + c->astigmatism);
    im->psf_sigma_y_px = im->psf_sigma_px * (1 - c->astigmatism);
    im->fringe = unif(&vr, c->fringe_min, c->fringe_max);
    sim_make_gauss(s->kx, &s->kr_x, im->psf_sigma_x_px, 0);
    sim_make_gauss(s->ky, &s->kr_y, im->psf_sigma_y_px, 0);
    double fw = c->fringe_width_px;
    sim_make_gauss(s->wx, &s->kw_x, sqrt(im->psf_sigma_x_px * im->psf_sigma_x_px + fw * fw), 0);
    sim_make_gauss(s->wy, &s->kw_y, sqrt(im->psf_sigma_y_px * im->psf_sigma_y_px + fw * fw), 0);
    /* beam and detector */
    s->counts0 = c->dose_e_per_a2 * (10 * p) * (10 * p) * c->detector_efficiency * exp(-t / c->liquid_mfp_nm);
    im->counts_per_px = s->counts0;
    im->gain = c->gain > 0 ? c->gain : (s->counts0 > 0 ? (c->background_grey - c->offset_grey) / s->counts0 : 1);
    if (!(im->gain > 0)) im->gain = 1;
    im->contrast_retention = exp(-t / c->liquid_fog_nm);
    sim_make_gauss(s->nk, &s->nr, c->noise_corr_sigma_px, 1);
    double rho = 0;
    for (int i = 0; i < 2 * s->nr; i++) rho += (double)s->nk[i] * s->nk[i + 1];
    im->noise_corr_1px = rho;
    im->illumination_angle = unif(&vr, 0, 2 * M_PI);
    s->illum_gx = c->illumination_gradient * cos(im->illumination_angle);
    s->illum_gy = c->illumination_gradient * sin(im->illumination_angle);
    s->illum_c = c->illumination_curvature;
    double da = unif(&vr, 0, 2 * M_PI), dpx = c->drift_nm_per_s * c->frame_interval_s / p;
    im->drift_px[0] = dpx * cos(da);
    im->drift_px[1] = dpx * sin(da);
    s->margin = c->margin_px >= 0 ? c->margin_px : c->size_max_px + 8;

    /* particles */
    s->n = c->n_particles;
    if (s->n > 0) {
        s->parts = calloc((size_t)s->n, sizeof *s->parts);
        if (!s->parts) {
            sm_sim_destroy(s);
            return sm_error_set(err, SM_ENOMEM, "simulator: out of memory for %d particles", c->n_particles);
        }
    }
    rc = sim_motion_init(s, &vr, err);
    if (rc == 0 && s->n > 0) {
        s->pub_view = malloc(sizeof(sm_sim_particle) * (size_t)s->n);
        if (!s->pub_view) rc = sm_error_set(err, SM_ENOMEM, "simulator: out of memory");
        else
            for (int i = 0; i < s->n; i++) s->pub_view[i] = s->parts[i].pub;
    }
    if (rc == 0) rc = sim_detector_init(s, &vr, err);
    if (rc < 0) {
        sm_sim_destroy(s);
        return rc;
    }
    s->last.frame = -1;
    s->last.cnr = NAN;
    *out = s;
    return 0;
}

static int64_t fail(sm_error *err, int code, const char *what) { return sm_error_set(err, code, "simulator: %s", what); }

int64_t sm_sim_next_frame(sm_sim *s, float *frame, uint16_t *labels, sm_tracks *truth, sm_error *err) {
    const sm_sim_config *c = &s->cfg;
    const int W = c->width, H = c->height;
    const double e = c->exposure_fraction;
    sim_motion_step(s);
    /* truth pose: the mean pose over the exposure */
    for (int i = 0; i < s->n; i++) {
        sim_particle *sp = &s->parts[i];
        sp->tx = sp->qx + s->drift_x - 0.5 * e * sp->step_x;
        sp->ty = sp->qy + s->drift_y - 0.5 * e * sp->step_y;
        sp->tangle = sp->angle - 0.5 * e * sp->step_angle;
        sp->core_contrast = NAN;
    }
    sm_rng fr;
    sm_rng_seed_stream(&fr, s->seed ^ SIM_TAG_FRAME, (uint64_t)s->frame);
    double flicker = 1 + c->flicker * sm_rng_normal(&fr);
    if (flicker < 0.05) flicker = 0.05;
    if (frame) {
        int rc = sim_detector_buffers(s, err);
        if (rc < 0) return rc;
        /* clear last frame's patches */
        for (int i = 0; i < s->n; i++) {
            sim_particle *sp = &s->parts[i];
            if (!sp->had_patch) continue;
            for (int y = sp->py0 < 0 ? 0 : sp->py0; y < sp->py0 + sp->ph && y < H; y++) {
                int x0 = sp->px0 < 0 ? 0 : sp->px0, x1 = sp->px0 + sp->pw < W ? sp->px0 + sp->pw : W;
                for (int x = x0; x < x1; x++) s->trans[(size_t)y * W + x] = 1;
            }
            sp->had_patch = 0;
        }
        int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
        for (int i = 0; i < s->n; i++) {
            sm_error e2 = {0};
            if (sim_render_particle(s, &s->parts[i], &e2) < 0) bad = 1;
        }
        if (bad) return fail(err, SM_ENOMEM, "out of memory for particle patches");
        for (int i = 0; i < s->n; i++) {
            sim_particle *sp = &s->parts[i];
            if (sp->pw <= 0 || sp->ph <= 0) continue;
            sp->had_patch = 1;
            for (int iy = 0; iy < sp->ph; iy++) {
                int y = sp->py0 + iy;
                if (y < 0 || y >= H) continue;
                const float *src = sp->patch + (size_t)iy * sp->pw;
                float *dst = s->trans + (size_t)y * W;
                for (int ix = 0; ix < sp->pw; ix++) {
                    int x = sp->px0 + ix;
                    if (x < 0 || x >= W) continue;
                    dst[x] *= 1 - src[ix];
                }
            }
        }
        rc = sim_detector_image(s, frame, flicker, err);
        if (rc < 0) return rc;
    }
    if (labels) memset(labels, 0, sizeof(uint16_t) * (size_t)W * H);
    /* masks, truth rows and contrast-to-noise */
    double noise_var_grey_per_count = s->img.gain * s->img.gain * (1 + c->gain_noise * c->gain_noise);
    double qvar = c->bits == 32 ? 0 : 1.0 / 12, cnr_sum = 0;
    int cnr_n = 0, visible = 0;
    if (s->frame >= s->cnr_cap) {
        int64_t cap = s->cnr_cap ? s->cnr_cap * 2 : 256;
        double *h = realloc(s->cnr_hist, sizeof(double) * (size_t)cap);
        if (h) s->cnr_hist = h;
        double *hp = h ? realloc(s->cnr_part_hist, sizeof(double) * (size_t)cap * (size_t)(s->n > 0 ? s->n : 1)) : NULL;
        if (!h || !hp) return fail(err, SM_ENOMEM, "out of memory");
        s->cnr_part_hist = hp;
        s->cnr_cap = cap;
    }
    double *cnr_part = s->cnr_part_hist + (size_t)s->frame * (size_t)s->n;
    for (int i = 0; i < s->n; i++) {
        sim_particle *sp = &s->parts[i];
        sim_particle_mask(s, sp, labels);
        if (sp->mask_area > 0) visible++;
        cnr_part[i] = NAN;
        if (frame && sp->mask_area > 0 && isfinite(sp->core_contrast)) {
            double bg = sp->core_bg * flicker;  /* expected counts */
            double sd = sqrt(noise_var_grey_per_count * bg + c->read_noise_grey * c->read_noise_grey + qvar);
            if (sd > 0) {
                cnr_part[i] = s->img.gain * bg * s->img.contrast_retention * sp->core_contrast / sd;
                cnr_sum += cnr_part[i];
                cnr_n++;
            }
        }
        if (truth) {
            double bound, major, minor;
            sim_particle_geometry(&sp->pub, &bound, &major, &minor);
            sm_tracks_row r = sm_tracks_row_empty();
            r.frame = s->frame;
            r.particle = sp->pub.id;
            r.x = sp->tx;
            r.y = sp->ty;
            double a = remainder(sp->tangle, M_PI);  /* (-pi/2, pi/2] */
            if (a <= -M_PI / 2) a += M_PI;
            r.angle = a;
            r.area = (double)sp->mask_area;
            r.major = major;
            r.minor = minor;
            r.border = sp->touches_border;
            r.visible = sp->mask_area > 0;
            int rc = sm_tracks_append(truth, &r, err);
            if (rc < 0) return rc;
        }
    }
    s->last.frame = s->frame;
    s->last.cnr = cnr_n > 0 ? cnr_sum / cnr_n : NAN;
    s->last.flicker = flicker;
    s->last.drift_px[0] = s->drift_x;
    s->last.drift_px[1] = s->drift_y;
    s->last.visible = visible;
    s->cnr_hist[s->frame] = s->last.cnr;
    return s->frame++;
}

const sm_sim_config *sm_sim_get_config(const sm_sim *s) { return &s->cfg; }

const sm_sim_particle *sm_sim_particles(const sm_sim *s, int *n) {
    if (n) *n = s->n;
    return s->n ? (const sm_sim_particle *)s->pub_view : NULL;
}

const sm_sim_imaging *sm_sim_get_imaging(const sm_sim *s) { return &s->img; }
const sm_sim_frame_info *sm_sim_last_frame(const sm_sim *s) { return &s->last; }

const double *sm_sim_cnr_history(const sm_sim *s, int64_t *n) {
    if (n) *n = s->frame;
    return s->cnr_hist;
}
