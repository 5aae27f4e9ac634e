/* The simulator's outputs: whole clips in memory (for training), and videos on disk with their ground
 * truth: video.tif or a PNG/JPEG frame folder, gt_labels.tif, gt_tracks.csv, truth.json and preview.png.
 *
 * Every file is written under a temporary name and renamed into place (the io writers and
 * sm_atomic_*), so an interrupted run leaves no half-written result. Left out: HDF5/EMD output, a
 * per-frame JSON of the imaging state beyond the contrast-to-noise (flicker and drift are in the tracks'
 * positions already). With --format jpeg the frames are compressed by the writer after the simulator made
 * them, so a JPEG file differs from the in-memory frame by the compression (video.tif never does). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samem/io.h"
#include "sim/sim_internal.h"

#ifndef SM_VERSION
#define SM_VERSION "unknown"
#endif

int sm_sim_clip(const sm_sim_config *cfg, uint64_t seed, int64_t n_frames, float *frames, uint16_t *labels,
                sm_tracks *truth, sm_error *err) {
    sm_sim *s;
    int rc = sm_sim_create(&s, cfg, seed, err);
    if (rc < 0) return rc;
    size_t plane = (size_t)cfg->width * cfg->height;
    for (int64_t t = 0; t < n_frames; t++) {
        int64_t r = sm_sim_next_frame(s, frames ? frames + plane * (size_t)t : NULL,
                                      labels ? labels + plane * (size_t)t : NULL, truth, err);
        if (r < 0) {
            sm_sim_destroy(s);
            return (int)r;
        }
    }
    sm_sim_destroy(s);
    return 0;
}

static cJSON *particle_json(const sm_sim_particle *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", p->id);
    cJSON_AddStringToObject(o, "shape", sm_sim_shape_name(p->shape));
    cJSON_AddStringToObject(o, "motion", sm_sim_motion_name(p->motion));
    cJSON_AddNumberToObject(o, "size_px", p->size_px);
    cJSON_AddNumberToObject(o, "width_px", p->width_px);
    cJSON_AddNumberToObject(o, "thickness_nm", p->thickness_nm);
    cJSON_AddNumberToObject(o, "area_px2", p->area_px2);
    cJSON_AddNumberToObject(o, "mu_per_nm", p->mu_per_nm);
    cJSON_AddNumberToObject(o, "D_nm2_s", p->D_nm2_s);
    cJSON_AddNumberToObject(o, "alpha", p->alpha);
    cJSON_AddNumberToObject(o, "D_r_rad2_s", p->D_r_rad2_s);
    cJSON *v = cJSON_AddArrayToObject(o, "velocity_nm_s");
    cJSON_AddItemToArray(v, cJSON_CreateNumber(p->velocity_nm_s[0]));
    cJSON_AddItemToArray(v, cJSON_CreateNumber(p->velocity_nm_s[1]));
    cJSON_AddNumberToObject(o, "confinement_nm", p->confinement_nm);
    return o;
}

int sm_sim_write_truth(const sm_sim *s, const char *path, sm_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)s->seed);
    cJSON_AddStringToObject(root, "generator", "samem sim " SM_VERSION);
    cJSON_AddStringToObject(root, "seed", seed_text);
    cJSON_AddStringToObject(root, "units", "positions and sizes px; pixel_size nm; time s; D nm^2/s (fbm nm^2/s^alpha); "
                                           "D_r rad^2/s; mu 1/nm; dose e/A^2 per frame");
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    sim_config_to_json(&s->cfg, cfg);
    const sm_sim_imaging *im = &s->img;
    cJSON *io = cJSON_AddObjectToObject(root, "imaging");
    cJSON_AddNumberToObject(io, "psf_sigma_px", im->psf_sigma_px);
    cJSON_AddNumberToObject(io, "psf_sigma_x_px", im->psf_sigma_x_px);
    cJSON_AddNumberToObject(io, "psf_sigma_y_px", im->psf_sigma_y_px);
    cJSON_AddNumberToObject(io, "fringe", im->fringe);
    cJSON_AddNumberToObject(io, "counts_per_px", im->counts_per_px);
    cJSON_AddNumberToObject(io, "gain_grey_per_electron", im->gain);
    cJSON_AddNumberToObject(io, "contrast_retention", im->contrast_retention);
    cJSON_AddNumberToObject(io, "noise_corr_1px", im->noise_corr_1px);
    cJSON_AddNumberToObject(io, "illumination_angle_rad", im->illumination_angle);
    cJSON *dr = cJSON_AddArrayToObject(io, "drift_px_per_frame");
    cJSON_AddItemToArray(dr, cJSON_CreateNumber(im->drift_px[0]));
    cJSON_AddItemToArray(dr, cJSON_CreateNumber(im->drift_px[1]));
    cJSON *rows = cJSON_AddArrayToObject(io, "defect_rows");
    for (int y = 0; y < s->cfg.height; y++)
        if (s->row_kind[y]) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "y", y);
            cJSON_AddStringToObject(r, "kind", s->row_kind[y] == 1 ? "bright" : "dark");
            cJSON_AddItemToArray(rows, r);
        }
    cJSON *px = cJSON_AddArrayToObject(io, "defect_pixels");
    for (int i = 0; i < s->n_defects; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "x", (double)(s->defect_index[i] % s->cfg.width));
        cJSON_AddNumberToObject(r, "y", (double)(s->defect_index[i] / s->cfg.width));
        cJSON_AddStringToObject(r, "kind", s->defect_hot[i] ? "hot" : "dead");
        cJSON_AddItemToArray(px, r);
    }
    cJSON *parts = cJSON_AddArrayToObject(root, "particles");
    for (int i = 0; i < s->n; i++) cJSON_AddItemToArray(parts, particle_json(&s->parts[i].pub));
    cJSON *fr = cJSON_AddObjectToObject(root, "frames");
    cJSON_AddNumberToObject(fr, "count", (double)s->frame);
    cJSON *cnr = cJSON_AddArrayToObject(fr, "cnr");
    double sum = 0;
    int n = 0;
    for (int64_t t = 0; t < s->frame; t++) {
        cJSON_AddItemToArray(cnr, cJSON_CreateNumber(s->cnr_hist[t]));
        if (isfinite(s->cnr_hist[t])) sum += s->cnr_hist[t], n++;
    }
    cJSON_AddNumberToObject(fr, "cnr_mean", n ? sum / n : NAN);
    /* each particle's own, per frame (null where it is out of the field): scores can be split by contrast */
    cJSON *cp = cJSON_AddArrayToObject(fr, "cnr_particle");
    for (int64_t t = 0; t < s->frame; t++) {
        cJSON *row = cJSON_CreateArray();
        for (int i = 0; i < s->n; i++) {
            double v = s->cnr_part_hist[(size_t)t * (size_t)s->n + (size_t)i];
            cJSON_AddItemToArray(row, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(cp, row);
    }
    int rc = sm_json_write_file(path, root, err);
    cJSON_Delete(root);
    return rc;
}

/* First frame as grey RGB with each particle's mask outline in its own colour. */
static int write_preview(const char *path, const float *frame, const uint16_t *labels, int W, int H, int bits, sm_error *err) {
    size_t n = (size_t)W * H;
    uint8_t *rgb = malloc(n * 3);
    if (!rgb) return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    float lo = 0, hi = 255;
    if (bits != 8) {
        lo = INFINITY; hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (frame[i] < lo) lo = frame[i];
            if (frame[i] > hi) hi = frame[i];
        }
        if (!(hi > lo)) hi = lo + 1;
    }
    static const uint8_t palette[8][3] = {{255, 64, 64}, {64, 220, 64}, {64, 128, 255}, {255, 200, 0},
                                          {255, 64, 255}, {0, 230, 230}, {255, 140, 0}, {160, 100, 255}};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            float v = (frame[i] - lo) / (hi - lo) * 255.0f;
            uint8_t g = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v + 0.5f));
            uint16_t l = labels[i];
            int edge = 0;
            if (l) {
                edge = x == 0 || y == 0 || x == W - 1 || y == H - 1 || labels[i - 1] != l || labels[i + 1] != l ||
                       labels[i - W] != l || labels[i + W] != l;
            }
            if (edge) memcpy(rgb + 3 * i, palette[(l - 1) % 8], 3);
            else rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g;
        }
    int rc = sm_png_write_rgb(path, rgb, W, H, err);
    free(rgb);
    return rc;
}

int sm_sim_write_video(const sm_sim_config *cfg, uint64_t seed, const char *dir, sm_sim_format format,
                       sm_sim_progress_fn progress, void *progress_ctx, sm_error *err) {
    if (cfg->frames < 1) return sm_error_set(err, SM_EINVAL, "%s: a video needs at least one frame", dir);
    if (format == SM_SIM_FORMAT_JPEG && cfg->bits != 8)
        return sm_error_set(err, SM_EINVAL, "%s: JPEG frames need bits = 8 (got %d)", dir, cfg->bits);
    int rc = sm_mkdir_p(dir, err);
    if (rc < 0) return rc;
    sm_sim *s = NULL;
    rc = sm_sim_create(&s, cfg, seed, err);
    if (rc < 0) return rc;
    const int W = cfg->width, H = cfg->height;
    const size_t plane = (size_t)W * H;
    const double p = cfg->pixel_size_nm, dt = cfg->frame_interval_s;
    char path[4096], frames_dir[4096];
    float *frame = malloc(plane * sizeof(float));
    uint16_t *labels = malloc(plane * sizeof(uint16_t));
    void *packed = malloc(plane * 4);
    sm_tracks *truth = sm_tracks_create();
    sm_tiff_writer *vw = NULL, *lw = NULL;
    if (!frame || !labels || !packed || !truth) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for %dx%d px frames", dir, W, H);
        goto done;
    }
    sm_sample_type st = cfg->bits == 8 ? SM_SAMPLE_U8 : (cfg->bits == 16 ? SM_SAMPLE_U16 : SM_SAMPLE_F32);
    if (format == SM_SIM_FORMAT_TIFF) {
        if ((rc = sm_path_join(path, sizeof path, dir, "video.tif", err)) < 0) goto done;
        if ((rc = sm_tiff_writer_open(&vw, path, W, H, st, cfg->frames, p, dt, err)) < 0) goto done;
    } else {
        if ((rc = sm_path_join(frames_dir, sizeof frames_dir, dir, "frames", err)) < 0) goto done;
        if ((rc = sm_mkdir_p(frames_dir, err)) < 0) goto done;
    }
    if ((rc = sm_path_join(path, sizeof path, dir, "gt_labels.tif", err)) < 0) goto done;
    if ((rc = sm_tiff_writer_open(&lw, path, W, H, SM_SAMPLE_U16, cfg->frames, p, dt, err)) < 0) goto done;
    for (int64_t t = 0; t < cfg->frames; t++) {
        int64_t r = sm_sim_next_frame(s, frame, labels, truth, err);
        if (r < 0) {
            rc = (int)r;
            goto done;
        }
        if (t == 0) {
            if ((rc = sm_path_join(path, sizeof path, dir, "preview.png", err)) < 0) goto done;
            if ((rc = write_preview(path, frame, labels, W, H, cfg->bits, err)) < 0) goto done;
        }
        const void *data = frame;
        if (cfg->bits == 8) {
            uint8_t *u = packed;
            for (size_t i = 0; i < plane; i++) u[i] = (uint8_t)frame[i];
            data = u;
        } else if (cfg->bits == 16) {
            uint16_t *u = packed;
            for (size_t i = 0; i < plane; i++) u[i] = (uint16_t)frame[i];
            data = u;
        }
        if (format == SM_SIM_FORMAT_TIFF) {
            rc = sm_tiff_writer_write(vw, data, err);
        } else {
            char name[64];
            snprintf(name, sizeof name, "frame_%04lld.%s", (long long)t, format == SM_SIM_FORMAT_PNG ? "png" : "jpg");
            if ((rc = sm_path_join(path, sizeof path, frames_dir, name, err)) < 0) goto done;
            if (format == SM_SIM_FORMAT_PNG) {
                if (cfg->bits == 32) {
                    rc = sm_error_set(err, SM_EINVAL, "%s: PNG frames need bits = 8 or 16", dir);
                    goto done;
                }
                rc = sm_png_write_gray(path, data, W, H, cfg->bits, err);
            } else {
                rc = sm_jpeg_write_gray(path, data, W, H, cfg->jpeg_quality > 0 ? cfg->jpeg_quality : 95, err);
            }
        }
        if (rc < 0) goto done;
        if ((rc = sm_tiff_writer_write(lw, labels, err)) < 0) goto done;
        if (progress && progress(progress_ctx, t + 1, cfg->frames)) {
            rc = sm_error_set(err, SM_ECANCELLED, "%s: stopped", dir);
            goto done;
        }
    }
    if (vw) {
        rc = sm_tiff_writer_commit(vw, err);
        vw = NULL;
        if (rc < 0) goto done;
    }
    rc = sm_tiff_writer_commit(lw, err);
    lw = NULL;
    if (rc < 0) goto done;
    if ((rc = sm_path_join(path, sizeof path, dir, "gt_tracks.csv", err)) < 0) goto done;
    if ((rc = sm_tracks_write_csv(truth, path, SM_COL_ANGLE | SM_COL_AREA | SM_COL_VISIBLE, err)) < 0) goto done;
    if ((rc = sm_path_join(path, sizeof path, dir, "truth.json", err)) < 0) goto done;
    rc = sm_sim_write_truth(s, path, err);
done:
    sm_tiff_writer_abort(vw);
    sm_tiff_writer_abort(lw);
    sm_tracks_destroy(truth);
    free(frame);
    free(labels);
    free(packed);
    sm_sim_destroy(s);
    return rc < 0 ? rc : 0;
}
