/* Simulator configuration: the three presets (water layers of about 5, 50 and 150 nm), a random config
 * spanning the whole range for training, JSON and key=value overrides, and range checks.
 *
 * One table (fields[]) names every sm_sim_config field once; JSON reading, `--set`, checks and truth.json
 * writing all walk it, so a new field is added in one place. Left out: JSON arrays for ranges (a range is
 * two keys, "size_min_px" and "size_max_px"). The presets' dose was chosen so that the mean
 * contrast-to-noise of the default particle mix is near 2.5, 1.2 and 0.5 (docs/simulator.md shows the sum). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

/* ------------------------------------------------------------------ names */

static const char *const shape_names[] = {"sphere", "rod", "triangle", "hexagon", "cube"};
static const char *const motion_names[] = {"brownian", "fbm", "harmonic", "reflecting", "directed", "ctrw"};

const char *sm_sim_shape_name(sm_sim_shape s) {
    if (s == SM_SIM_SHAPE_MIXED) return "mixed";
    if ((int)s < 0 || s >= SM_SIM_SHAPE_COUNT) return "?";
    return shape_names[s];
}

int sm_sim_shape_from_name(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "mixed") == 0) return SM_SIM_SHAPE_MIXED;
    for (int i = 0; i < SM_SIM_SHAPE_COUNT; i++)
        if (strcmp(name, shape_names[i]) == 0) return i;
    return -1;
}

const char *sm_sim_motion_name(sm_sim_motion m) {
    if (m == SM_SIM_MOTION_MIXED) return "mixed";
    if ((int)m < 0 || m >= SM_SIM_MOTION_COUNT) return "?";
    return motion_names[m];
}

int sm_sim_motion_from_name(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "mixed") == 0) return SM_SIM_MOTION_MIXED;
    for (int i = 0; i < SM_SIM_MOTION_COUNT; i++)
        if (strcmp(name, motion_names[i]) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------------ field table */

enum { F_DOUBLE, F_INT, F_INT64, F_SHAPE, F_MOTION };

typedef struct field {
    const char *name;
    int type;
    size_t offset;
    double lo, hi;  /* accepted range (inclusive) */
} field;

#define FD(n, lo, hi) {#n, F_DOUBLE, offsetof(sm_sim_config, n), lo, hi}
#define FI(n, lo, hi) {#n, F_INT, offsetof(sm_sim_config, n), lo, hi}

static const field fields[] = {
    FI(width, 1, 32768), FI(height, 1, 32768),
    {"frames", F_INT64, offsetof(sm_sim_config, frames), 0, 1e9},
    FD(pixel_size_nm, 1e-3, 1e4), FD(frame_interval_s, 1e-6, 1e4), FD(exposure_fraction, 0, 1),
    FI(n_particles, 0, 65535),
    {"shape", F_SHAPE, offsetof(sm_sim_config, shape), 0, 0},
    FD(size_min_px, 1, 2000), FD(size_max_px, 1, 2000), FD(rod_aspect_min, 1, 50), FD(rod_aspect_max, 1, 50),
    FD(prism_aspect, 0.01, 10), FD(mu_min_per_nm, 0, 100), FD(mu_max_per_nm, 0, 100),
    FD(lattice_amplitude, 0, 1), FD(lattice_period_nm, 0.01, 1e4), FD(diffraction_variation, 0, 1),
    FI(margin_px, -1, 100000),
    FD(liquid_thickness_nm, 0, 1e5), FD(liquid_mfp_nm, 1e-3, 1e6), FD(liquid_fog_nm, 1e-3, 1e6),
    FD(liquid_blur_nm_per_nm, 0, 1),
    FD(psf_sigma_min_px, 0, 20), FD(psf_sigma_max_px, 0, 20), FD(fringe_min, -2, 2), FD(fringe_max, -2, 2),
    FD(fringe_width_px, 0, 20), FD(astigmatism, 0, 0.5),
    FD(dose_e_per_a2, 0, 1e7), FD(detector_efficiency, 0, 1), FD(noise_corr_sigma_px, 0, 8), FD(gain_noise, 0, 3),
    FD(gain, -1, 1e6), FD(background_grey, 0, 1e9), FD(offset_grey, -1e9, 1e9), FD(read_noise_grey, 0, 1e6),
    FD(illumination_gradient, 0, 0.9), FD(illumination_curvature, 0, 0.9), FD(flicker, 0, 0.5),
    FD(drift_nm_per_s, 0, 1e6),
    FI(hot_pixels, 0, 100000), FI(dead_pixels, 0, 100000), FI(bright_rows, 0, 1000), FI(dark_rows, 0, 1000),
    FI(bits, 8, 32), FI(jpeg_quality, 0, 100),
    {"motion", F_MOTION, offsetof(sm_sim_config, motion), 0, 0},
    FD(D_min_nm2_s, 0, 1e12), FD(D_max_nm2_s, 0, 1e12), FD(alpha_min, 0.05, 1.95), FD(alpha_max, 0.05, 1.95),
    FD(confinement_nm, 0, 1e9), FD(velocity_nm_s, 0, 1e9), FD(ctrw_beta, 0.05, 1), FD(ctrw_tau_s, 1e-9, 1e6),
    FD(jump_rate, 0, 1), FD(jump_min_nm, 0, 1e9), FD(jump_max_nm, 0, 1e9),
    FD(D_r_min, 0, 1e6), FD(D_r_max, 0, 1e6), FD(rotation_rate_rad_s, 0, 1e6),
    FI(contacts, 0, 1), FD(aggregation_prob, 0, 1), FI(motion_blur_max_substeps, 1, 64),
};
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

static const field *find_field(const char *name) {
    for (int i = 0; i < N_FIELDS; i++)
        if (strcmp(fields[i].name, name) == 0) return &fields[i];
    return NULL;
}

static double field_get(const sm_sim_config *c, const field *f) {
    const char *p = (const char *)c + f->offset;
    switch (f->type) {
    case F_DOUBLE: return *(const double *)p;
    case F_INT64: return (double)*(const int64_t *)p;
    case F_SHAPE: return (double)*(const sm_sim_shape *)p;
    case F_MOTION: return (double)*(const sm_sim_motion *)p;
    default: return (double)*(const int *)p;
    }
}

static int field_set_number(sm_sim_config *c, const field *f, double v, const char *where, sm_error *err) {
    char *p = (char *)c + f->offset;
    if (!isfinite(v) || v < f->lo || v > f->hi)
        return sm_error_set(err, SM_EINVAL, "%s: %s = %g is outside [%g, %g]", where, f->name, v, f->lo, f->hi);
    if (f->type != F_DOUBLE && v != floor(v))
        return sm_error_set(err, SM_EINVAL, "%s: %s must be an integer (got %g)", where, f->name, v);
    switch (f->type) {
    case F_DOUBLE: *(double *)p = v; break;
    case F_INT64: *(int64_t *)p = (int64_t)v; break;
    case F_INT: *(int *)p = (int)v; break;
    default: return sm_error_set(err, SM_EINVAL, "%s: %s takes a name", where, f->name);
    }
    return 0;
}

static int field_set_name(sm_sim_config *c, const field *f, const char *v, const char *where, sm_error *err) {
    char *p = (char *)c + f->offset;
    if (f->type == F_SHAPE) {
        int s = sm_sim_shape_from_name(v);
        if (s < 0)
            return sm_error_set(err, SM_EINVAL, "%s: unknown shape '%s' (sphere, rod, triangle, hexagon, cube, mixed)",
                                where, v);
        *(sm_sim_shape *)p = (sm_sim_shape)s;
        return 0;
    }
    if (f->type == F_MOTION) {
        int m = sm_sim_motion_from_name(v);
        if (m < 0)
            return sm_error_set(err, SM_EINVAL,
                                "%s: unknown motion '%s' (brownian, fbm, harmonic, reflecting, directed, ctrw, mixed)",
                                where, v);
        *(sm_sim_motion *)p = (sm_sim_motion)m;
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno) return sm_error_set(err, SM_EINVAL, "%s: %s: '%s' is not a number", where, f->name, v);
    return field_set_number(c, f, d, where, err);
}

/* ------------------------------------------------------------------ presets */

static void preset_medium(sm_sim_config *c) {
    memset(c, 0, sizeof *c);
    c->width = 512; c->height = 512; c->frames = 50;
    c->pixel_size_nm = 1.0; c->frame_interval_s = 0.05; c->exposure_fraction = 1.0;
    c->n_particles = 6; c->shape = SM_SIM_SHAPE_MIXED;
    c->size_min_px = 16; c->size_max_px = 30; c->rod_aspect_min = 2; c->rod_aspect_max = 4; c->prism_aspect = 0.3;
    c->mu_min_per_nm = 0.02; c->mu_max_per_nm = 0.3;
    c->lattice_amplitude = 0.15; c->lattice_period_nm = 3.0; c->diffraction_variation = 0.1;
    c->margin_px = -1;
    c->liquid_thickness_nm = 50; c->liquid_mfp_nm = 300; c->liquid_fog_nm = 200; c->liquid_blur_nm_per_nm = 0.01;
    c->psf_sigma_min_px = 0.8; c->psf_sigma_max_px = 1.8; c->fringe_min = 0; c->fringe_max = 0.25;
    c->fringe_width_px = 2.0; c->astigmatism = 0.05;
    c->dose_e_per_a2 = 0.135; c->detector_efficiency = 0.8; c->noise_corr_sigma_px = 0.45;
    c->gain_noise = 0.4; c->gain = 0; c->background_grey = 100; c->offset_grey = 0; c->read_noise_grey = 2;
    c->illumination_gradient = 0.3; c->illumination_curvature = 0.1; c->flicker = 0.03; c->drift_nm_per_s = 2;
    c->hot_pixels = 3; c->dead_pixels = 3; c->bright_rows = 1; c->dark_rows = 1;
    c->bits = 8; c->jpeg_quality = 0;
    c->motion = SM_SIM_BROWNIAN; c->D_min_nm2_s = 1; c->D_max_nm2_s = 10; c->alpha_min = 0.5; c->alpha_max = 1.5;
    c->confinement_nm = 20; c->velocity_nm_s = 20; c->ctrw_beta = 0.6; c->ctrw_tau_s = 0.02;
    c->jump_rate = 0.01; c->jump_min_nm = 20; c->jump_max_nm = 36;
    c->D_r_min = 0.01; c->D_r_max = 0.1; c->rotation_rate_rad_s = 0;
    c->contacts = 1; c->aggregation_prob = 0; c->motion_blur_max_substeps = 8;
}

int sm_sim_config_preset(sm_sim_config *cfg, const char *name, sm_error *err) {
    if (!name) name = "medium";
    if (strcmp(name, "medium") == 0) {
        preset_medium(cfg);
    } else if (strcmp(name, "thin") == 0) {
        preset_medium(cfg);
        cfg->liquid_thickness_nm = 5;
        cfg->dose_e_per_a2 = 0.32;
        cfg->psf_sigma_min_px = 0.6; cfg->psf_sigma_max_px = 1.4;
    } else if (strcmp(name, "thick") == 0) {
        preset_medium(cfg);
        cfg->liquid_thickness_nm = 150;
        cfg->dose_e_per_a2 = 0.117;
        cfg->mu_min_per_nm = 0.015; cfg->mu_max_per_nm = 0.25;
        cfg->psf_sigma_min_px = 1.2; cfg->psf_sigma_max_px = 2.4;
    } else {
        return sm_error_set(err, SM_EINVAL, "unknown simulator preset '%s' (thin, medium, thick)", name);
    }
    return 0;
}

/* ------------------------------------------------------------------ random config for training */

static double unif(sm_rng *r, double a, double b) { return a + (b - a) * sm_rng_uniform(r); }
static double logunif(sm_rng *r, double a, double b) { return exp(unif(r, log(a), log(b))); }

void sm_sim_config_random(sm_sim_config *cfg, uint64_t seed) {
    int w = cfg->width, h = cfg->height;
    int64_t frames = cfg->frames;
    sm_rng r;
    sm_rng_seed_stream(&r, seed, 0x7a11c0f1ULL);
    preset_medium(cfg);
    cfg->width = w; cfg->height = h; cfg->frames = frames;
    cfg->pixel_size_nm = logunif(&r, 0.3, 3.0);
    cfg->liquid_thickness_nm = logunif(&r, 3, 200);
    cfg->shape = sm_rng_uniform(&r) < 0.4 ? SM_SIM_SHAPE_MIXED : (sm_sim_shape)sm_rng_below(&r, SM_SIM_SHAPE_COUNT);
    double smin = logunif(&r, 5, 80);
    cfg->size_min_px = smin;
    cfg->size_max_px = fmin(150, smin * unif(&r, 1.0, 2.5));
    double mu = logunif(&r, 0.005, 0.5);
    cfg->mu_min_per_nm = mu / unif(&r, 1, 3);
    cfg->mu_max_per_nm = fmin(2.0, mu * unif(&r, 1, 3));
    cfg->lattice_amplitude = sm_rng_uniform(&r) < 0.5 ? 0 : unif(&r, 0, 0.3);
    cfg->n_particles = 1 + (int)sm_rng_below(&r, 12);
    cfg->psf_sigma_min_px = unif(&r, 0.5, 3.0);
    cfg->psf_sigma_max_px = fmin(4.0, cfg->psf_sigma_min_px * unif(&r, 1, 1.5));
    cfg->fringe_min = unif(&r, -0.5, 0.7);
    cfg->fringe_max = cfg->fringe_min + unif(&r, 0, 0.2);
    cfg->fringe_width_px = unif(&r, 0.7, 3);
    cfg->astigmatism = unif(&r, 0, 0.2);
    cfg->noise_corr_sigma_px = sm_rng_uniform(&r) < 0.2 ? 0 : unif(&r, 0.3, 1.3);
    cfg->illumination_gradient = unif(&r, 0, 0.4);
    cfg->illumination_curvature = unif(&r, 0, 0.2);
    cfg->flicker = unif(&r, 0, 0.06);
    cfg->drift_nm_per_s = logunif(&r, 0.1, 20);
    cfg->hot_pixels = (int)sm_rng_below(&r, 8);
    cfg->dead_pixels = (int)sm_rng_below(&r, 8);
    cfg->bright_rows = (int)sm_rng_below(&r, 2);
    cfg->dark_rows = (int)sm_rng_below(&r, 2);
    cfg->jpeg_quality = sm_rng_uniform(&r) < 0.3 ? 60 + (int)sm_rng_below(&r, 36) : 0;
    cfg->background_grey = unif(&r, 60, 150);
    cfg->read_noise_grey = unif(&r, 0, 4);
    cfg->gain_noise = unif(&r, 0, 0.8);
    /* dose from a target contrast-to-noise of 0.2..3 for a typical core deficit of 0.6 */
    double cnr = logunif(&r, 0.2, 3.0);
    double retention = exp(-cfg->liquid_thickness_nm / cfg->liquid_fog_nm);
    double counts = pow(cnr / (0.6 * retention), 2) * (1 + cfg->gain_noise * cfg->gain_noise);
    double a2 = pow(cfg->pixel_size_nm * 10, 2) * cfg->detector_efficiency *
                exp(-cfg->liquid_thickness_nm / cfg->liquid_mfp_nm);
    cfg->dose_e_per_a2 = fmax(1e-4, counts / a2);
    cfg->motion = sm_rng_uniform(&r) < 0.4 ? SM_SIM_MOTION_MIXED : (sm_sim_motion)sm_rng_below(&r, SM_SIM_MOTION_COUNT);
    /* steps of 0.2..5 px per frame (RMS per axis) */
    double step_px = logunif(&r, 0.2, 5.0);
    double D = step_px * step_px * cfg->pixel_size_nm * cfg->pixel_size_nm / (2 * cfg->frame_interval_s);
    cfg->D_min_nm2_s = D / 2; cfg->D_max_nm2_s = D * 2;
    cfg->velocity_nm_s = logunif(&r, 0.5, 30) * cfg->pixel_size_nm / cfg->frame_interval_s;
    cfg->confinement_nm = logunif(&r, 3, 40) * cfg->pixel_size_nm;
    cfg->jump_rate = sm_rng_uniform(&r) < 0.5 ? 0 : unif(&r, 0, 0.05);
    cfg->jump_min_nm = 20 * cfg->pixel_size_nm; cfg->jump_max_nm = 36 * cfg->pixel_size_nm;
    cfg->D_r_min = logunif(&r, 0.001, 1); cfg->D_r_max = cfg->D_r_min * 3;
    cfg->rotation_rate_rad_s = sm_rng_uniform(&r) < 0.7 ? 0 : unif(&r, 0, 2);
    cfg->aggregation_prob = sm_rng_uniform(&r) < 0.7 ? 0 : unif(&r, 0, 0.5);
}

/* ------------------------------------------------------------------ checks, JSON, key=value */

int sm_sim_config_check(const sm_sim_config *c, sm_error *err) {
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (f->type == F_SHAPE || f->type == F_MOTION) continue;
        double v = field_get(c, f);
        if (!isfinite(v) || v < f->lo || v > f->hi)
            return sm_error_set(err, SM_EINVAL, "simulator config: %s = %g is outside [%g, %g]", f->name, v, f->lo, f->hi);
    }
    if (sm_sim_shape_name(c->shape)[0] == '?') return sm_error_set(err, SM_EINVAL, "simulator config: bad shape");
    if (sm_sim_motion_name(c->motion)[0] == '?') return sm_error_set(err, SM_EINVAL, "simulator config: bad motion");
#define RANGE(a, b) \
    if (c->a > c->b) return sm_error_set(err, SM_EINVAL, "simulator config: " #a " (%g) > " #b " (%g)", (double)c->a, (double)c->b)
    RANGE(size_min_px, size_max_px);
    RANGE(rod_aspect_min, rod_aspect_max);
    RANGE(mu_min_per_nm, mu_max_per_nm);
    RANGE(psf_sigma_min_px, psf_sigma_max_px);
    RANGE(fringe_min, fringe_max);
    RANGE(D_min_nm2_s, D_max_nm2_s);
    RANGE(alpha_min, alpha_max);
    RANGE(jump_min_nm, jump_max_nm);
    RANGE(D_r_min, D_r_max);
#undef RANGE
    if (c->bits != 8 && c->bits != 16 && c->bits != 32)
        return sm_error_set(err, SM_EINVAL, "simulator config: bits must be 8, 16 or 32 (got %d)", c->bits);
    if (c->jpeg_quality > 0 && c->bits != 8)
        return sm_error_set(err, SM_EINVAL, "simulator config: JPEG compression needs bits = 8");
    if (c->n_particles > 0 && c->size_min_px <= 0)
        return sm_error_set(err, SM_EINVAL, "simulator config: size_min_px must be > 0");
    return 0;
}

int sm_sim_config_set(sm_sim_config *cfg, const char *key, const char *value, sm_error *err) {
    if (strcmp(key, "preset") == 0) return sm_sim_config_preset(cfg, value, err);
    const field *f = find_field(key);
    if (!f) return sm_error_set(err, SM_EINVAL, "unknown simulator parameter '%s'", key);
    return field_set_name(cfg, f, value, "simulator config", err);
}

int sm_sim_config_from_json(sm_sim_config *cfg, const char *path, sm_error *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = sm_read_text_file(path, 1 << 20, &text, &len, err);
    if (rc < 0) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sm_error_set(err, SM_EFORMAT, "%s: not a JSON object", path);
    }
    rc = 0;
    const cJSON *preset = cJSON_GetObjectItemCaseSensitive(root, "preset");
    if (preset) {
        if (!cJSON_IsString(preset)) rc = sm_error_set(err, SM_EFORMAT, "%s: \"preset\" must be a name", path);
        else if (sm_sim_config_preset(cfg, preset->valuestring, err) < 0) rc = sm_error_prefix(err, "%s", path);
    }
    for (const cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (strcmp(it->string, "preset") == 0 || strcmp(it->string, "seed") == 0) continue;
        const field *f = find_field(it->string);
        if (!f) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: unknown simulator parameter \"%s\"", path, it->string);
        } else if (f->type == F_SHAPE || f->type == F_MOTION) {
            if (!cJSON_IsString(it)) rc = sm_error_set(err, SM_EFORMAT, "%s: \"%s\" must be a name", path, f->name);
            else if (field_set_name(cfg, f, it->valuestring, path, err) < 0) rc = SM_EFORMAT;
        } else if (!cJSON_IsNumber(it)) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: \"%s\" must be a number", path, f->name);
        } else if (field_set_number(cfg, f, it->valuedouble, path, err) < 0) {
            rc = SM_EFORMAT;
        }
    }
    cJSON_Delete(root);
    if (rc < 0 && err) err->code = SM_EFORMAT;
    return rc < 0 ? SM_EFORMAT : 0;
}

/* Adds every field of c to a cJSON object (used by truth.json). */
void sim_config_to_json(const sm_sim_config *c, void *cjson_object) {
    cJSON *o = cjson_object;
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (f->type == F_SHAPE) cJSON_AddStringToObject(o, f->name, sm_sim_shape_name(c->shape));
        else if (f->type == F_MOTION) cJSON_AddStringToObject(o, f->name, sm_sim_motion_name(c->motion));
        else cJSON_AddNumberToObject(o, f->name, field_get(c, f));
    }
}
