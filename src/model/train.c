/* Training the samem network on simulated clips generated on the fly (src/sim), for `samem train`.
 *
 * Data: a pool of short clips (clip.size px square, clip.frames frames) is refreshed as training goes, one
 * new clip every clip.refresh steps; clip k's simulator configuration and seed depend only on (seed, k), drawn
 * from the mix of presets and random configurations in the JSON (weighted toward thick, low-contrast
 * liquid). Each sample picks a clip, a direction (forward or backward in time), a frame t and a particle,
 * and builds the network's input exactly as a session does (net_internal.h): in tracking mode the past
 * positions are the truth plus 0.4 px noise, the predicted centre is off by a few px (occasionally by a
 * hop), the previous mask is the truth of the previous frame; in prompt mode the window is not registered
 * and the prompt is a box with edges jittered by ~8% of the size, or one or two positive points (and
 * sometimes a negative one), as a person would draw them. Negative samples (a particle out of the field or
 * empty background) teach the objectness. Targets: the truth mask of frame t on the crop grid, objectness 1
 * when the particle is in the crop.
 * Validation: fixed crops from the thin, medium and thick presets (tracking mode), mean IoU and objectness
 * accuracy, every val_every steps. Everything a sample draws comes from sm_rng streams of (seed, step,
 * sample), so runs are reproducible and a resumed run sees the same data.
 * Checkpoint: out.ckpt (parameters, AdamW's moments, step, seconds) every checkpoint_every steps and at the
 * end: a run killed and resumed ends with the same weights as one that was not (tests/model/test_train.c). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/net_internal.h"
#include "samem/sim.h"

typedef struct train_cfg {
    uint64_t seed;
    sm__net_config net;
    int steps, batch, warmup;
    double lr, min_lr, weight_decay;
    int clip_size, clip_frames, pool, refresh;
    double mix[4];   /* thin, medium, thick, random */
    double prompt_fraction, negative_fraction;
    int border_seen;  /* "border_positions": "seen" (1): a particle cut by the border is tracked at the centroid
                       * of its visible part, as a session measures it; "truth" (0): at its true centre */
    int focal;       /* "mask_loss": "focal" (1) or "bce" (0) */
    double size_lo, size_hi; /* "preset_sizes": [lo, hi]: preset clips' smallest particle size, px, uniform in it */
    double sharp_fraction;   /* "sharp_fraction": share of preset clips whose particles are strong, sharp-edged
                              * scatterers (default 0.5) */
    double ncorr_lo, ncorr_hi; /* "preset_noise_corr": [lo, hi]: training preset clips' noise correlation (the
                                * detector's Gaussian sigma, px), uniform in it; unset (hi < 0): the preset's own */
    /* "finetune": {"steps", "lr", "lovasz"}: after the main schedule, ft_steps more with the Lovasz hinge
     * (weight ft_lovasz) added to the loss, the learning rate falling from ft_lr to min_lr (cosine) */
    int ft_steps;
    double ft_lr, ft_lovasz;
    int val_every, val_samples, checkpoint_every, log_every;
} train_cfg;

static void train_cfg_default(train_cfg *c) {
    memset(c, 0, sizeof *c);
    c->seed = 1;
    sm__net_config_default(&c->net);
    c->steps = 3000, c->batch = 16, c->warmup = 100;
    c->lr = 2e-3, c->min_lr = 1e-4, c->weight_decay = 1e-4;
    c->clip_size = 192, c->clip_frames = 8, c->pool = 6, c->refresh = 2;
    c->mix[0] = 0.15, c->mix[1] = 0.25, c->mix[2] = 0.35, c->mix[3] = 0.25;
    c->prompt_fraction = 0.3, c->negative_fraction = 0.1;
    c->size_lo = 10, c->size_hi = 20;
    c->sharp_fraction = 0.5;
    c->ncorr_lo = c->ncorr_hi = -1;
    c->val_every = 200, c->val_samples = 32, c->checkpoint_every = 50, c->log_every = 10;
}

static int json_num(const cJSON *o, const char *key, double lo, double hi, double *out, const char *path, sm_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return sm_error_set(err, SM_EFORMAT, "%s: \"%s\" must be a number in [%g, %g]", path, key, lo, hi);
    *out = v->valuedouble;
    return 0;
}

/* An optional [lo, hi] px pair under key with min <= lo <= hi <= max into *lo, *hi (left as they are when the key
 * is absent). Returns 0, or SM_EFORMAT naming the file and the key. */
static int json_range(const cJSON *root, const char *key, double min, double max, double *lo, double *hi,
                      const char *path, sm_error *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!a) return 0;
    const cJSON *a0 = cJSON_GetArrayItem(a, 0), *a1 = cJSON_GetArrayItem(a, 1);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2 || !cJSON_IsNumber(a0) || !cJSON_IsNumber(a1) ||
        !(a0->valuedouble >= min && a1->valuedouble >= a0->valuedouble && a1->valuedouble <= max))
        return sm_error_set(err, SM_EFORMAT, "%s: \"%s\" must be [lo, hi] px with %g <= lo <= hi <= %g", path, key, min,
                            max);
    *lo = a0->valuedouble, *hi = a1->valuedouble;
    return 0;
}

/* A string that must be one of two words: *out = 1 for the first, 0 for the second, unchanged when absent. */
static int json_choice(const cJSON *o, const char *key, const char *one, const char *zero, int *out, const char *path,
                       sm_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, one) != 0 && strcmp(v->valuestring, zero) != 0))
        return sm_error_set(err, SM_EFORMAT, "%s: \"%s\" must be \"%s\" or \"%s\"", path, key, one, zero);
    *out = strcmp(v->valuestring, one) == 0;
    return 0;
}

static int train_cfg_read(train_cfg *c, const char *path, char **json_out, sm_error *err) {
    train_cfg_default(c);
    char *text;
    size_t len;
    int rc = sm_read_text_file(path, 1 << 20, &text, &len, err);
    if (rc < 0) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        free(text);
        return sm_error_set(err, SM_EFORMAT, "%s: not a JSON object", path);
    }
    double v;
#define NUM(key, lo, hi, field, cast)                                                \
    v = (double)c->field;                                                            \
    if ((rc = json_num(root, key, lo, hi, &v, path, err)) < 0) goto done;            \
    c->field = (cast)v;
    NUM("seed", 0, 9e15, seed, uint64_t);
    NUM("steps", 1, 1e9, steps, int);
    NUM("batch", 1, 1024, batch, int);
    NUM("warmup", 0, 1e9, warmup, int);
    NUM("lr", 1e-7, 1, lr, double);
    NUM("min_lr", 0, 1, min_lr, double);
    NUM("weight_decay", 0, 1, weight_decay, double);
    NUM("prompt_fraction", 0, 1, prompt_fraction, double);
    NUM("negative_fraction", 0, 1, negative_fraction, double);
    NUM("val_every", 1, 1e9, val_every, int);
    NUM("val_samples", 1, 4096, val_samples, int);
    NUM("checkpoint_every", 1, 1e9, checkpoint_every, int);
    NUM("log_every", 1, 1e9, log_every, int);
    NUM("sharp_fraction", 0, 1, sharp_fraction, double);
    {
        if ((rc = json_choice(root, "mask_loss", "focal", "bce", &c->focal, path, err)) < 0) goto done;
        if ((rc = json_choice(root, "border_positions", "seen", "truth", &c->border_seen, path, err)) < 0) goto done;
        if ((rc = json_range(root, "preset_sizes", 2, 60, &c->size_lo, &c->size_hi, path, err)) < 0) goto done;
        if ((rc = json_range(root, "preset_noise_corr", 0, 4, &c->ncorr_lo, &c->ncorr_hi, path, err)) < 0) goto done;
        const cJSON *ft = cJSON_GetObjectItemCaseSensitive(root, "finetune");
        if (ft && !cJSON_IsObject(ft)) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: \"finetune\" must be an object {\"steps\", \"lr\", \"lovasz\"}", path);
            goto done;
        }
        if (ft) {
            double fs = 0, fl = 3e-4, fw = 1;
            if ((rc = json_num(ft, "steps", 0, 1e9, &fs, path, err)) < 0 || (rc = json_num(ft, "lr", 1e-7, 1, &fl, path, err)) < 0 ||
                (rc = json_num(ft, "lovasz", 0, 100, &fw, path, err)) < 0)
                goto done;
            c->ft_steps = (int)fs, c->ft_lr = fl, c->ft_lovasz = fw;
        }
        const cJSON *clip = cJSON_GetObjectItemCaseSensitive(root, "clip");
        if (clip) {
            const cJSON *save = root;
            (void)save;
#define CNUM(key, lo, hi, field)                                                      \
    v = (double)c->field;                                                             \
    if ((rc = json_num(clip, key, lo, hi, &v, path, err)) < 0) goto done;             \
    c->field = (int)v;
            CNUM("size", 64, 2048, clip_size);
            CNUM("frames", 5, 256, clip_frames);
            CNUM("pool", 1, 256, pool);
            CNUM("refresh", 1, 1e6, refresh);
#undef CNUM
        }
        const cJSON *mix = cJSON_GetObjectItemCaseSensitive(root, "mix");
        if (mix) {
            const char *names[4] = {"thin", "medium", "thick", "random"};
            double sum = 0;
            for (int i = 0; i < 4; i++) {
                c->mix[i] = 0;
                if ((rc = json_num(mix, names[i], 0, 1e6, &c->mix[i], path, err)) < 0) goto done;
                sum += c->mix[i];
            }
            if (!(sum > 0)) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: \"mix\" weights sum to 0", path);
                goto done;
            }
            for (int i = 0; i < 4; i++) c->mix[i] /= sum;
        }
        const cJSON *net = cJSON_GetObjectItemCaseSensitive(root, "net");
        if (net) {
            char *nj = cJSON_PrintUnformatted(net);
            rc = nj ? sm__net_config_from_json(&c->net, nj, err) : SM_ENOMEM;
            free(nj);
            if (rc < 0) {
                sm_error_prefix(err, "%s", path);
                goto done;
            }
        }
    }
#undef NUM
    if (c->clip_frames < c->net.past + 2) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: clip.frames (%d) must exceed the network's past frames (%d) by 2", path,
                          c->clip_frames, c->net.past);
        goto done;
    }
    rc = 0;
    if (json_out) {
        *json_out = cJSON_PrintUnformatted(root);
        if (!*json_out) rc = sm_error_set(err, SM_ENOMEM, "out of memory");
    }
done:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- clips */

typedef struct clip {
    int W, H, T, np;
    int preset;          /* 0 thin, 1 medium, 2 thick, 3 random */
    float *frames;       /* (T, H, W) */
    uint16_t *labels;    /* (T, H, W) */
    double *x, *y, *area, *major, *minor; /* (T, np+1) truth, indexed [t*(np+1)+id] */
    double *seen_x, *seen_y; /* (T, np+1) the centroid of the particle's pixels in the field */
    int *vis;            /* (T, np+1) */
    int *border;         /* (T, np+1) the particle is cut by the clip's border */
    int64_t index;       /* which clip of the stream */
} clip;

static void clip_free(clip *c) {
    free(c->frames), free(c->labels), free(c->x), free(c->y), free(c->area), free(c->major), free(c->minor), free(c->vis);
    free(c->seen_x), free(c->seen_y), free(c->border);
    memset(c, 0, sizeof *c);
}

static const char *preset_names[3] = {"thin", "medium", "thick"};

/* Clip number k of the stream (or of the validation set when val != 0, with preset forced). */
static int clip_make(clip *c, const train_cfg *tc, int64_t k, int val, int val_preset, sm_error *err) {
    clip_free(c);
    sm_rng r;
    sm_rng_seed_stream(&r, tc->seed ^ (val ? 0x5eed5eedULL : 0), 1000003ULL * (uint64_t)k + 17);
    sm_sim_config cfg;
    int preset;
    if (val) {
        preset = val_preset;
    } else {
        double u = sm_rng_uniform(&r), acc = 0;
        preset = 3;
        for (int i = 0; i < 4; i++)
            if (u < (acc += tc->mix[i])) {
                preset = i;
                break;
            }
    }
    cfg.width = cfg.height = tc->clip_size;
    cfg.frames = tc->clip_frames;
    if (preset < 3) {
        sm_sim_config_preset(&cfg, preset_names[preset], err);
        cfg.shape = SM_SIM_SHAPE_MIXED;
        cfg.motion = SM_SIM_MOTION_MIXED;
        /* presets' particles are 16..30 px; spread sizes wider for training */
        cfg.size_min_px = tc->size_lo + (tc->size_hi - tc->size_lo) * sm_rng_uniform(&r);
        cfg.size_max_px = cfg.size_min_px * (1.3 + 1.5 * sm_rng_uniform(&r));
        cfg.jpeg_quality = sm_rng_uniform(&r) < 0.3 ? 60 + (int)sm_rng_below(&r, 36) : 0;
        /* a share of the clips (half by default) with sharp-edged, strongly scattering (saturated) particles */
        if (sm_rng_uniform(&r) < tc->sharp_fraction) cfg.mu_max_per_nm = fmax(cfg.mu_max_per_nm, 0.5), cfg.mu_min_per_nm = 0.2;
        /* faster motion and hops too */
        double f = exp(sm_rng_uniform(&r) * log(30.0));
        cfg.D_min_nm2_s *= f, cfg.D_max_nm2_s *= f;
        /* detectors correlate noise over 1 to 4 px (the presets: 0.45 px). Trained on 0.3-1.3 px, the network
         * scored no better at 0.8 px and lower on the benchmark (models/MODEL_CARD.md); validation keeps 0.45 */
        if (!val && tc->ncorr_hi >= 0)
            cfg.noise_corr_sigma_px = tc->ncorr_lo + (tc->ncorr_hi - tc->ncorr_lo) * sm_rng_uniform(&r);
    } else {
        sm_sim_config_random(&cfg, sm_rng_u64(&r));
        cfg.size_max_px = fmin(cfg.size_max_px, tc->clip_size * 0.4);
        cfg.size_min_px = fmin(cfg.size_min_px, cfg.size_max_px);
    }
    cfg.n_particles = 2 + (int)sm_rng_below(&r, 5);
    cfg.width = cfg.height = tc->clip_size;
    cfg.frames = tc->clip_frames;
    int rc = sm_sim_config_check(&cfg, err);
    if (rc < 0) return rc;
    size_t n = (size_t)tc->clip_size * tc->clip_size * tc->clip_frames;
    size_t nt = (size_t)tc->clip_frames * (cfg.n_particles + 1);
    c->W = c->H = tc->clip_size, c->T = tc->clip_frames, c->np = cfg.n_particles, c->preset = preset, c->index = k;
    c->frames = malloc(n * sizeof(float));
    c->labels = malloc(n * sizeof(uint16_t));
    c->x = calloc(nt, sizeof(double)), c->y = calloc(nt, sizeof(double)), c->area = calloc(nt, sizeof(double));
    c->major = calloc(nt, sizeof(double)), c->minor = calloc(nt, sizeof(double)), c->vis = calloc(nt, sizeof(int));
    c->seen_x = calloc(nt, sizeof(double)), c->seen_y = calloc(nt, sizeof(double)), c->border = calloc(nt, sizeof(int));
    sm_tracks *truth = sm_tracks_create();
    if (!c->frames || !c->labels || !c->x || !c->y || !c->area || !c->major || !c->minor || !c->vis || !c->seen_x ||
        !c->seen_y || !c->border || !truth) {
        sm_tracks_destroy(truth);
        return sm_error_set(err, SM_ENOMEM, "train: out of memory for a clip");
    }
    rc = sm_sim_clip(&cfg, sm_rng_u64(&r), c->T, c->frames, c->labels, truth, err);
    if (rc < 0) {
        sm_tracks_destroy(truth);
        return rc;
    }
    for (int64_t i = 0; i < truth->n; i++) {
        int64_t t = truth->frame[i], id = truth->particle[i];
        if (t < 0 || t >= c->T || id < 1 || id > c->np) continue;
        size_t j = (size_t)t * (c->np + 1) + id;
        c->x[j] = truth->x[i], c->y[j] = truth->y[i];
        c->area[j] = isfinite(truth->area[i]) ? truth->area[i] : 0;
        c->major[j] = truth->major[i], c->minor[j] = truth->minor[i];
        c->vis[j] = c->area[j] > 0;
        c->border[j] = truth->border[i] == 1;
    }
    sm_tracks_destroy(truth);
    /* areas from the label planes (the truth's area column may count only visible pixels) */
    for (int t = 0; t < c->T; t++) {
        size_t row = (size_t)t * (c->np + 1);
        for (int id = 1; id <= c->np; id++) c->area[row + id] = c->seen_x[row + id] = c->seen_y[row + id] = 0;
        const uint16_t *L = c->labels + (size_t)t * c->W * c->H;
        for (size_t i = 0; i < (size_t)c->W * c->H; i++)
            if (L[i] >= 1 && L[i] <= c->np) {
                c->area[row + L[i]] += 1;
                c->seen_x[row + L[i]] += (double)(i % (size_t)c->W), c->seen_y[row + L[i]] += (double)(i / (size_t)c->W);
            }
        for (int id = 1; id <= c->np; id++) {
            size_t j = row + id;
            if (c->area[j] > 0) c->seen_x[j] /= c->area[j], c->seen_y[j] /= c->area[j];
            c->vis[j] = c->area[j] >= 4;
            if (!isfinite(c->major[j]) || c->major[j] <= 0) c->major[j] = 2 * sqrt(fmax(c->area[j], 1) / M_PI);
            if (!isfinite(c->minor[j]) || c->minor[j] <= 0) c->minor[j] = c->major[j];
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- samples */

/* A session's previous mask is its own last output, not the truth: shifted by its centroid error, a pixel or
 * two too large or too small, now and then missing. Training on the truth alone made the network copy the
 * previous mask, so that one oversized frame stayed oversized and crept off its particle (measured on the
 * benchmark's medium rods). */
static void perturb_prev_mask(sm__crop_mask *m, sm_rng *r, double major) {
    if (m->w <= 0) return;
    if (sm_rng_uniform(r) < 0.05) {
        m->w = m->h = 0;
        return;
    }
    double sd = 0.3 + 0.03 * major;
    m->x0 += (int)lround(sd * sm_rng_normal(r)), m->y0 += (int)lround(sd * sm_rng_normal(r));
    double u = sm_rng_uniform(r);
    int steps = u < 0.2 ? 1 : u < 0.35 ? -1 : u < 0.42 ? 2 : u < 0.47 ? -2 : 0;
    if (!steps) return;
    int pad = 2, w = m->w + 2 * pad, h = m->h + 2 * pad;
    uint8_t *a = calloc((size_t)w * h, 1), *b = calloc((size_t)w * h, 1);
    if (!a || !b) {
        free(a), free(b);
        return;
    }
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) a[(size_t)(y + pad) * w + x + pad] = m->m[(size_t)y * m->w + x];
    int grow = steps > 0, n = abs(steps), count = 0;
    for (int it = 0; it < n; it++) {
        count = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int v = a[(size_t)y * w + x];
                for (int q = 0; q < 4; q++) {
                    int xx = x + (q == 0) - (q == 1), yy = y + (q == 2) - (q == 3);
                    int nv = xx >= 0 && yy >= 0 && xx < w && yy < h ? a[(size_t)yy * w + xx] : 0;
                    v = grow ? (v | nv) : (v & nv);
                }
                b[(size_t)y * w + x] = (uint8_t)v;
                count += v;
            }
        memcpy(a, b, (size_t)w * h);
    }
    /* an erosion that leaves nothing keeps the mask as it was */
    if (count > 0 && sm__crop_mask_resize(m, m->x0 - pad, m->y0 - pad, w, h) == 0) memcpy(m->m, a, (size_t)w * h);
    free(a), free(b);
}

/* Where a session would have placed particle row j of clip c: its true centre, or with "border_positions":
 * "seen" the centroid of its pixels in the field when the border cuts it (a session measures the visible
 * part there; fed the true centre, the network kept the whole particle's shape at the border). */
static void tracked_position(const train_cfg *tc, const clip *c, size_t j, double *x, double *y) {
    int seen = tc->border_seen && c->border[j] && c->area[j] > 0;
    *x = seen ? c->seen_x[j] : c->x[j];
    *y = seen ? c->seen_y[j] : c->y[j];
}

/* Fills one sample (input, mask target, objectness target) from clip c. Returns the objectness target. */
static float make_sample(const train_cfg *tc, const clip *c, sm_rng *r, int force_track, float *input, float *mask_gt,
                         float *scratch) {
    int S = tc->net.crop;
    int dir = sm_rng_uniform(r) < 0.5 ? 1 : -1;
    int P = tc->net.past;
    int t = dir > 0 ? P + (int)sm_rng_below(r, (uint64_t)(c->T - P)) : (int)sm_rng_below(r, (uint64_t)(c->T - P));
    int np1 = c->np + 1;
    int prompt_mode = !force_track && sm_rng_uniform(r) < tc->prompt_fraction;
    int negative = !force_track && sm_rng_uniform(r) < tc->negative_fraction;
    /* choose a particle visible on t (and on t-1 for tracking); sometimes one that has just left the field
     * (tracking mode, objectness 0: the session must stop painting it) */
    int id = 0, leaving = 0;
    if (!prompt_mode && !negative && sm_rng_uniform(r) < 0.08)
        for (int tries = 0; tries < 20 && !id; tries++) {
            int cand = 1 + (int)sm_rng_below(r, (uint64_t)c->np);
            size_t j = (size_t)t * np1 + cand, jp = (size_t)(t - dir) * np1 + cand;
            if (!c->vis[j] && c->vis[jp] && c->area[jp] >= 12) id = cand, leaving = 1;
        }
    for (int tries = 0; tries < 20 && !id; tries++) {
        int cand = 1 + (int)sm_rng_below(r, (uint64_t)c->np);
        size_t j = (size_t)t * np1 + cand, jp = (size_t)(t - dir) * np1 + cand;
        if (c->vis[j] && c->area[j] >= 12 && (prompt_mode || c->vis[jp])) id = cand;
    }
    const float *win[SM__NET_PAST_MAX + 1];
    for (int k = 0; k <= P; k++) win[k] = c->frames + (size_t)(t - k * dir) * c->W * c->H;
    double hx[SM__NET_HIST], hy[SM__NET_HIST];
    for (int h = 0; h < SM__NET_HIST; h++) hx[h] = hy[h] = NAN;
    sm__obj_prior pr;
    memset(&pr, 0, sizeof pr);
    pr.polarity = -1;
    sm__crop_mask prev = {0};
    sm_prompt prompts[3];
    int n_prompts = 0;
    float obj_target = 1;
    if (!id || negative) {
        /* negative: a random place (a particle may be near by chance: the target follows the truth) */
        obj_target = 0;
        pr.x = sm_rng_uniform(r) * (c->W - 1), pr.y = sm_rng_uniform(r) * (c->H - 1);
        double size = 10 + 30 * sm_rng_uniform(r);
        pr.major = pr.minor = size, pr.area = M_PI / 4 * size * size;
        id = 0;
    } else {
        size_t j = (size_t)t * np1 + id, jp = (size_t)(t - dir) * np1 + id;
        if (leaving) j = jp; /* sizes from the last frame it was seen on */
        double gx = c->x[j], gy = c->y[j];
        double major = c->major[j], minor = c->minor[j];
        double size_jit = exp(0.15 * sm_rng_normal(r));
        pr.area = c->area[j] * size_jit * size_jit, pr.major = major * size_jit, pr.minor = minor * size_jit;
        if (prompt_mode) {
            /* the truth mask's bounding box */
            const uint16_t *L = c->labels + (size_t)t * c->W * c->H;
            int bx0, by0, bx1, by1;
            sm__label_bbox(L, c->W, c->H, (uint16_t)id, &bx0, &by0, &bx1, &by1);
            double bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;
            if (sm_rng_uniform(r) < 0.6) {
                sm_prompt *p = &prompts[n_prompts++];
                memset(p, 0, sizeof *p);
                p->kind = SM_PROMPT_BOX, p->object_id = 1;
                p->x0 = bx0 - 0.5 + 0.08 * bw * sm_rng_normal(r), p->x1 = bx1 + 0.5 + 0.08 * bw * sm_rng_normal(r);
                p->y0 = by0 - 0.5 + 0.08 * bh * sm_rng_normal(r), p->y1 = by1 + 0.5 + 0.08 * bh * sm_rng_normal(r);
                if (p->x1 < p->x0 + 2) p->x1 = p->x0 + 2;
                if (p->y1 < p->y0 + 2) p->y1 = p->y0 + 2;
                pr.x = (p->x0 + p->x1) / 2, pr.y = (p->y0 + p->y1) / 2;
                pr.major = fmax(p->x1 - p->x0, p->y1 - p->y0), pr.minor = fmin(p->x1 - p->x0, p->y1 - p->y0);
                pr.area = M_PI / 4 * (p->x1 - p->x0) * (p->y1 - p->y0);
            } else {
                int npos = 1 + (sm_rng_uniform(r) < 0.3);
                double sx = 0, sy = 0;
                for (int q = 0; q < npos; q++) {
                    /* a random pixel of the mask, biased to its middle: rejection on distance to the centre */
                    double px = gx, py = gy;
                    for (int tries = 0; tries < 30; tries++) {
                        int x = (int)(bx0 + sm_rng_below(r, (uint64_t)bw)), y = (int)(by0 + sm_rng_below(r, (uint64_t)bh));
                        if (L[(size_t)y * c->W + x] == id && hypot(x - gx, y - gy) < 0.35 * major + 1) {
                            px = x, py = y;
                            break;
                        }
                    }
                    sm_prompt *p = &prompts[n_prompts++];
                    memset(p, 0, sizeof *p);
                    p->kind = SM_PROMPT_POINT, p->object_id = 1, p->x = px, p->y = py;
                    sx += px, sy += py;
                }
                pr.x = sx / npos, pr.y = sy / npos;
                if (sm_rng_uniform(r) < 0.2) {
                    sm_prompt *p = &prompts[n_prompts++];
                    memset(p, 0, sizeof *p);
                    double a = 2 * M_PI * sm_rng_uniform(r), d = 0.5 * major + 3 + 5 * sm_rng_uniform(r);
                    p->kind = SM_PROMPT_POINT, p->object_id = 1, p->negative = 1;
                    p->x = fmin(fmax(gx + d * cos(a), 0), c->W - 1), p->y = fmin(fmax(gy + d * sin(a), 0), c->H - 1);
                }
            }
        } else {
            /* the session's past positions are its own estimates: 0.3..1.3 px off */
            double pos_sd = 0.3 + sm_rng_uniform(r);
            for (int h = 0; h < P; h++) {
                size_t jh = (size_t)(t - (h + 1) * dir) * np1 + id;
                double px, py;
                tracked_position(tc, c, jh, &px, &py);
                if (c->vis[jh]) hx[h] = px + pos_sd * sm_rng_normal(r), hy[h] = py + pos_sd * sm_rng_normal(r);
            }
            double vx = 0, vy = 0;
            if (isfinite(hx[0]) && isfinite(hx[1])) vx = hx[0] - hx[1], vy = hy[0] - hy[1];
            double ex = 1.0 + 0.04 * major;
            double px, py;
            tracked_position(tc, c, jp, &px, &py);
            pr.x = px + 0.5 * vx + ex * sm_rng_normal(r), pr.y = py + 0.5 * vy + ex * sm_rng_normal(r);
            if (sm_rng_uniform(r) < 0.1) { /* a hop the prediction missed */
                double a = 2 * M_PI * sm_rng_uniform(r), d = (0.2 + 0.3 * sm_rng_uniform(r)) * (2.0 * major + 24);
                pr.x += d * cos(a), pr.y += d * sin(a);
            }
            /* previous mask = the truth of frame t - dir */
            const uint16_t *L = c->labels + (size_t)(t - dir) * c->W * c->H;
            int bx0, by0, bx1, by1;
            sm__label_bbox(L, c->W, c->H, (uint16_t)id, &bx0, &by0, &bx1, &by1);
            if (bx1 >= 0 && sm__crop_mask_resize(&prev, bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1) == 0)
                for (int y = by0; y <= by1; y++)
                    for (int x = bx0; x <= bx1; x++) prev.m[(size_t)(y - by0) * prev.w + (x - bx0)] = L[(size_t)y * c->W + x] == id;
            perturb_prev_mask(&prev, r, major);
        }
    }
    sm__crop_geom g = sm__net_geom(&tc->net, &pr);
    /* neighbours: the other particles' truth masks on frame t - dir (in prompt mode half of the time, as a
     * session has them only for objects already followed) */
    sm__neighbours nb = {0};
    if (!prompt_mode || sm_rng_uniform(r) < 0.5) nb.labels = c->labels + (size_t)(t - dir) * c->W * c->H, nb.self = id;
    /* the first frames of a pass have a shorter window (a prompt on frame 0 has only frame 0) */
    int n_win = P + 1;
    if (prompt_mode && sm_rng_uniform(r) < 0.4) n_win = 1;
    else if (!prompt_mode && sm_rng_uniform(r) < 0.1) n_win = 2 + (int)sm_rng_below(r, (uint64_t)(P - 1));
    /* frames ahead of t, as a session reads them (none past the clip's end, as at the end of a video) */
    const float *ahead[SM__NET_AHEAD_MAX];
    int n_ahead = 0;
    for (int k = 1; k <= tc->net.future; k++) {
        int ta = t + k * dir;
        if (ta < 0 || ta >= c->T) break;
        ahead[n_ahead++] = c->frames + (size_t)ta * c->W * c->H;
    }
    sm__net_fill_input(&tc->net, &g, win, n_win, ahead, n_ahead, c->W, c->H, hx, hy, prev.w ? &prev : NULL, prompts, n_prompts, pr.polarity,
                       &nb, input, scratch);
    free(prev.m);
    /* target: truth of frame t on the crop grid; with id 0 (negative) whatever particle lies under the
     * centre is not the object, so the mask stays empty */
    const uint16_t *L = c->labels + (size_t)t * c->W * c->H;
    double half = (S - 1) / 2.0;
    int inside = 0;
    for (int i = 0; i < S; i++)
        for (int jx = 0; jx < S; jx++) {
            int x = (int)lround(g.cx + (jx - half) * g.scale), y = (int)lround(g.cy + (i - half) * g.scale);
            int on = id && x >= 0 && y >= 0 && x < c->W && y < c->H && L[(size_t)y * c->W + x] == id;
            mask_gt[i * S + jx] = (float)on;
            inside += on;
        }
    if (id && (leaving || inside * g.scale * g.scale < 0.3 * c->area[(size_t)t * np1 + id])) obj_target = 0;
    return obj_target;
}

/* ---------------------------------------------------------------- the loop */

typedef struct val_set {
    int n;
    float *in, *mask;   /* (n, channels, S, S), (n, S, S) */
    float *obj;         /* (n) */
    int *preset;        /* (n) */
} val_set;

static int val_make(val_set *v, const train_cfg *tc, sm_error *err) {
    int S = tc->net.crop, per = tc->val_samples, CIN = sm__net_in_channels(&tc->net);
    v->n = 3 * per;
    v->in = malloc(sizeof(float) * (size_t)v->n * CIN * S * S);
    v->mask = malloc(sizeof(float) * (size_t)v->n * S * S);
    v->obj = malloc(sizeof(float) * (size_t)v->n);
    v->preset = malloc(sizeof(int) * (size_t)v->n);
    float *scratch = malloc(sizeof(float) * (size_t)S * S);
    if (!v->in || !v->mask || !v->obj || !v->preset || !scratch) {
        free(scratch);
        return sm_error_set(err, SM_ENOMEM, "train: out of memory for validation");
    }
    clip c = {0};
    int rc = 0;
    for (int p = 0; p < 3 && rc == 0; p++)
        for (int k = 0; k < per; k++) {
            if (k % 8 == 0 && (rc = clip_make(&c, tc, p * 1000 + k / 8, 1, p, err)) < 0) break;
            sm_rng r;
            sm_rng_seed_stream(&r, tc->seed ^ 0xfa1fa1ULL, (uint64_t)(p * per + k));
            int i = p * per + k;
            v->obj[i] = make_sample(tc, &c, &r, 1, v->in + (size_t)i * CIN * S * S, v->mask + (size_t)i * S * S, scratch);
            v->preset[i] = p;
        }
    clip_free(&c);
    free(scratch);
    return rc;
}

static void val_free(val_set *v) {
    free(v->in), free(v->mask), free(v->obj), free(v->preset);
}

static int validate(const val_set *v, const train_cfg *tc, sm__net_graph *g, sm_nn_ctx *ctx, int B, sm_train_report *rep,
                    sm_error *err) {
    int S = tc->net.crop, CIN = sm__net_in_channels(&tc->net);
    double iou_sum[3] = {0}, iou_n[3] = {0}, acc = 0;
    float *in = sm_nn_ctx_data(ctx, g->in);
    for (int start = 0; start < v->n; start += B) {
        int m = v->n - start < B ? v->n - start : B;
        memcpy(in, v->in + (size_t)start * CIN * S * S, sizeof(float) * (size_t)m * CIN * S * S);
        if (m < B) memset(in + (size_t)m * CIN * S * S, 0, sizeof(float) * (size_t)(B - m) * CIN * S * S);
        int rc = sm_nn_forward(ctx, err);
        if (rc < 0) return rc;
        const float *lg = sm_nn_ctx_data(ctx, g->logits), *ob = sm_nn_ctx_data(ctx, g->obj);
        for (int k = 0; k < m; k++) {
            int i = start + k;
            int present = ob[k] > 0;
            acc += present == (v->obj[i] > 0.5f);
            if (v->obj[i] < 0.5f) continue;
            double inter = 0, uni = 0;
            for (int q = 0; q < S * S; q++) {
                int a = present && lg[(size_t)k * S * S + q] > 0, b = v->mask[(size_t)i * S * S + q] > 0.5f;
                inter += a && b, uni += a || b;
            }
            iou_sum[v->preset[i]] += uni > 0 ? inter / uni : 1;
            iou_n[v->preset[i]] += 1;
        }
    }
    for (int p = 0; p < 3; p++) rep->val_iou[p] = iou_n[p] ? iou_sum[p] / iou_n[p] : NAN;
    rep->val_obj_acc = acc / v->n;
    rep->has_val = 1;
    return 0;
}

static int save_weights(sm__net_graph *g, const train_cfg *tc, const char *path, int64_t step, double seconds,
                        const char *cfg_json, const sm_train_report *rep, int with_optimizer, sm_error *err) {
    char net_json[512], steps[32], schedule[32], secs[32], seed[32], val[160];
    sm__net_config_to_json(&tc->net, net_json, sizeof net_json);
    snprintf(steps, sizeof steps, "%lld", (long long)step);
    snprintf(schedule, sizeof schedule, "%d", tc->steps);
    snprintf(secs, sizeof secs, "%.1f", seconds);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)tc->seed);
    snprintf(val, sizeof val, "thin %.3f, medium %.3f, thick %.3f, objectness accuracy %.3f", rep->val_iou[0],
             rep->val_iou[1], rep->val_iou[2], rep->val_obj_acc);
    /* schedule_steps: the cosine schedule's length (--minutes may shorten the config's); a run stopped early
     * ends the same schedule when resumed with "steps" set to it */
    const char *meta[] = {"format", "samem-net-1", "samem_net", net_json, "steps", steps, "schedule_steps", schedule,
                          "train_seconds", secs,
                          "seed", seed, "train_config", cfg_json ? cfg_json : "{}", "val_iou", val,
                          "trained_on", "samem simulator clips (src/sim), generated on the fly", NULL};
    return sm_nn_save_checkpoint(g->net, path, meta, with_optimizer, err);
}

int sm_model_train(const char *config_path, const char *out_path, int resume, double max_minutes,
                   sm_train_callback cb, void *user, sm_error *err) {
    train_cfg tc;
    char *cfg_json = NULL;
    int rc = train_cfg_read(&tc, config_path, &cfg_json, err);
    if (rc < 0) return rc;
    char ckpt[4096], logp[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out_path);
    snprintf(logp, sizeof logp, "%s.log.csv", out_path);
    sm__net_graph g;
    if ((rc = sm__net_build(&g, &tc.net, tc.focal ? 2 : 1, tc.ft_steps > 0 ? tc.ft_lovasz : 0, tc.seed, err)) < 0) {
        free(cfg_json);
        return rc;
    }
    int B = tc.batch, S = tc.net.crop, CIN = sm__net_in_channels(&tc.net);
    sm_nn_ctx *ctx = sm_nn_ctx_create(g.net, B, SM_NN_TRAIN, err);
    sm_nn_ctx *vctx = ctx ? sm_nn_ctx_create(g.net, B, SM_NN_INFER, err) : NULL;
    clip *pool = calloc((size_t)tc.pool, sizeof *pool);
    float *scratch = malloc(sizeof(float) * (size_t)S * S * (size_t)B);
    val_set val = {0};
    FILE *log = NULL;
    int64_t step = 0;
    double seconds0 = 0;
    sm_train_report rep;
    memset(&rep, 0, sizeof rep);
    rep.val_iou[0] = rep.val_iou[1] = rep.val_iou[2] = rep.val_obj_acc = NAN;
    if (!ctx || !vctx || !pool || !scratch) {
        if (ctx && vctx) rc = sm_error_set(err, SM_ENOMEM, "train: out of memory");
        else rc = rc < 0 ? rc : SM_ENOMEM;
        goto done;
    }
    if (resume && access(ckpt, R_OK) == 0) {
        sm_nn_st *st;
        if ((rc = sm_nn_st_read(ckpt, &st, err)) < 0) goto done;
        rc = sm_nn_load_st(g.net, st, ckpt, err);
        if (rc == 0 && (rc = sm_nn_load_optimizer_st(g.net, st, ckpt, err)) > 0) rc = 0;
        const char *s1 = sm_nn_st_meta(st, "steps"), *s2 = sm_nn_st_meta(st, "train_seconds");
        const char *s3 = sm_nn_st_meta(st, "schedule_steps");
        if (s1) step = atoll(s1);
        if (s2) seconds0 = atof(s2);
        /* the run goes on with the schedule it started (--minutes may have shortened the config's) */
        if (s3 && atoll(s3) > 0 && atoll(s3) < INT32_MAX) tc.steps = (int)atoll(s3);
        sm_nn_st_destroy(st);
        if (rc < 0) goto done;
    }
    if ((rc = val_make(&val, &tc, err)) < 0) goto done;
    log = fopen(logp, step > 0 ? "a" : "w");
    if (!log) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot write the training log", logp);
        goto done;
    }
    if (step == 0) fprintf(log, "step,seconds,loss,lr,val_iou_thin,val_iou_medium,val_iou_thick,val_obj_acc\n");
    sm_nn_adamw opt = sm_nn_adamw_default();
    opt.lr = (float)tc.lr, opt.min_lr = (float)tc.min_lr, opt.weight_decay = (float)tc.weight_decay;
    opt.warmup_steps = tc.warmup, opt.total_steps = tc.steps, opt.clip_norm = 1.0f;
    opt.step = (int)step;
    /* the pool as it stands at this step: clips (i - pool, i] with i = step / refresh */
    int64_t cur_clip = -1, step0 = step;
    double t0 = sm_now();
    double loss_avg = NAN;
    float *in = sm_nn_ctx_data(ctx, g.in), *mgt = sm_nn_ctx_data(ctx, g.mask_gt), *ogt = sm_nn_ctx_data(ctx, g.obj_gt);
    int stop = 0;
    int64_t end = (int64_t)tc.steps + tc.ft_steps;
    for (; step < end && !stop; step++) {
        /* the fine-tuning phase: its own cosine from ft_lr, the Adam moments and step count carried on */
        int tuning = step >= tc.steps;
        if (tuning) {
            opt.lr = (float)tc.ft_lr;
            opt.warmup_steps = tc.steps, opt.total_steps = (int)end;
        }
        sm_nn_t loss_t = tuning && g.loss_iou != SM_NN_NONE ? g.loss_iou : g.loss;
        int64_t want = step / tc.refresh + tc.pool - 1;
        while (cur_clip < want) {
            int64_t k = cur_clip + 1;
            if (k < want - tc.pool + 1) k = want - tc.pool + 1;
            if ((rc = clip_make(&pool[k % tc.pool], &tc, k, 0, 0, err)) < 0) goto done;
            cur_clip = k;
        }
#pragma omp parallel for schedule(dynamic, 1)
        for (int b = 0; b < B; b++) {
            sm_rng r;
            sm_rng_seed_stream(&r, tc.seed, (uint64_t)step * 4096 + (uint64_t)b);
            const clip *c = &pool[sm_rng_below(&r, (uint64_t)tc.pool)];
            ogt[b] = make_sample(&tc, c, &r, 0, in + (size_t)b * CIN * S * S, mgt + (size_t)b * S * S,
                                 scratch + (size_t)b * S * S);
        }
        sm_nn_zero_grad(g.net);
        if ((rc = sm_nn_forward(ctx, err)) < 0 || (rc = sm_nn_backward(ctx, loss_t, err)) < 0 ||
            (rc = sm_nn_adamw_step(g.net, &opt, err)) < 0)
            goto done;
        double l = sm_nn_ctx_data(ctx, loss_t)[0];
        loss_avg = isnan(loss_avg) ? l : 0.95 * loss_avg + 0.05 * l;
        double secs = seconds0 + sm_now() - t0;
        rep.step = step + 1, rep.total_steps = (int)end, rep.seconds = secs, rep.loss = loss_avg, rep.lr = opt.last_lr;
        rep.has_val = 0;
        if ((step + 1) % tc.val_every == 0 || step + 1 == tc.steps || step + 1 == end) {
            if ((rc = validate(&val, &tc, &g, vctx, B, &rep, err)) < 0) goto done;
        }
        /* with a time budget, the schedule's length is fixed at the end of the warm-up (before the cosine
         * decay starts, so that a rerun with "steps" = the result reproduces it exactly) */
        if (max_minutes > 0 && step + 1 == (tc.warmup > 20 ? tc.warmup : 20) && step + 1 > step0) {
            double el = sm_now() - t0, per = el / (double)(step + 1 - step0);
            double left = max_minutes * 60 - el;
            int64_t n = step + 1 + (int64_t)(0.95 * left / per);
            if (n < tc.steps) tc.steps = (int)n, opt.total_steps = tc.steps, end = n + tc.ft_steps;
        }
        if (max_minutes > 0 && sm_now() - t0 > max_minutes * 60) stop = 1;
        if ((step + 1) % tc.log_every == 0 || rep.has_val || stop) {
            fprintf(log, "%lld,%.1f,%.5f,%.6g,", (long long)rep.step, secs, loss_avg, rep.lr);
            if (rep.has_val)
                fprintf(log, "%.4f,%.4f,%.4f,%.4f\n", rep.val_iou[0], rep.val_iou[1], rep.val_iou[2], rep.val_obj_acc);
            else
                fprintf(log, ",,,\n");
            fflush(log);
            if (cb && cb(&rep, user)) stop = 1;
        }
        if ((step + 1) % tc.checkpoint_every == 0 || stop || step + 1 == tc.steps || step + 1 == end)
            if ((rc = save_weights(&g, &tc, ckpt, step + 1, secs, cfg_json, &rep, 1, err)) < 0) goto done;
    }
    if (!rep.has_val && (rc = validate(&val, &tc, &g, vctx, B, &rep, err)) < 0) goto done;
    rc = save_weights(&g, &tc, out_path, step, seconds0 + sm_now() - t0, cfg_json, &rep, 0, err);
done:
    if (log) fclose(log);
    val_free(&val);
    if (pool)
        for (int i = 0; i < tc.pool; i++) clip_free(&pool[i]);
    free(pool);
    free(scratch);
    sm_nn_ctx_destroy(vctx);
    sm_nn_ctx_destroy(ctx);
    sm_nn_destroy(g.net);
    free(cfg_json);
    return rc;
}
