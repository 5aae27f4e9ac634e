/* The simulator's picture sheet (`make gallery`, `samem sim --gallery`): one frame of every shape under the
 * thin, medium and thick presets, side by side at their true grey levels, with each row's grey-level
 * histogram, so that grain, contrast, gradients and histograms can be compared with real LPTEM videos
 * (docs/simulator.md, REAL_DATA.md). Drawn with cairo, written with the io PNG writer (atomic).
 * Left out: animation; the sheet shows the first frame of each video and, under it, the mean of 5 frames
 * (how a microscopist sees a faint particle). */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samem/io.h"
#include "sim/sim_internal.h"

#define TILE 256
#define LABEL 22
#define HIST_W 300

static void put_gray(unsigned char *data, int stride, int x0, int y0, const float *f, int w, int h) {
    for (int y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)(data + (size_t)(y0 + y) * stride) + x0;
        for (int x = 0; x < w; x++) {
            float v = f[(size_t)y * w + x];
            uint32_t g = (uint32_t)(v < 0 ? 0 : (v > 255 ? 255 : v + 0.5f));
            row[x] = 0xFF000000u | (g << 16) | (g << 8) | g;
        }
    }
}

int sm_sim_write_gallery(const char *path, uint64_t seed, sm_error *err) {
    const char *presets[3] = {"thin", "medium", "thick"};
    const int cols = SM_SIM_SHAPE_COUNT, rows = 3;
    const int W = LABEL + cols * TILE + HIST_W, H = LABEL + rows * (2 * TILE + LABEL);
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(sf);
        return sm_error_set(err, SM_ENOMEM, "%s: cannot make a %dx%d px sheet", path, W, H);
    }
    cairo_t *cr = cairo_create(sf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 14);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int c = 0; c < cols; c++) {
        cairo_move_to(cr, LABEL + c * TILE + 6, 16);
        cairo_show_text(cr, sm_sim_shape_name((sm_sim_shape)c));
    }
    cairo_move_to(cr, LABEL + cols * TILE + 10, 16);
    cairo_show_text(cr, "grey-level histogram (0..255)");
    size_t plane = (size_t)TILE * TILE;
    float *frames = malloc(sizeof(float) * plane * 5), *mean = malloc(sizeof(float) * plane);
    int rc = frames && mean ? 0 : sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    for (int r = 0; r < rows && rc == 0; r++) {
        double hist[256] = {0};
        int y0 = LABEL + r * (2 * TILE + LABEL);
        sm_sim_config cfg;
        sm_sim_config_preset(&cfg, presets[r], NULL);
        char text[160];
        snprintf(text, sizeof text, "%s: %.0f nm liquid, top: one frame, bottom: mean of 5 frames", presets[r],
                 cfg.liquid_thickness_nm);
        cairo_surface_flush(sf);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, LABEL + 6, y0 + 2 * TILE + 16);
        cairo_show_text(cr, text);
        for (int c = 0; c < cols && rc == 0; c++) {
            cfg.width = cfg.height = TILE;
            cfg.n_particles = 3;
            cfg.shape = (sm_sim_shape)c;
            cfg.size_min_px = 20;
            cfg.size_max_px = 45;
            cfg.margin_px = 0;
            rc = sm_sim_clip(&cfg, seed + 7 * (uint64_t)c, 5, frames, NULL, NULL, err);
            if (rc < 0) break;
            for (size_t i = 0; i < plane; i++) {
                float s = 0;
                for (int t = 0; t < 5; t++) s += frames[plane * t + i];
                mean[i] = s / 5;
                hist[(int)frames[i]] += 1;
            }
            cairo_surface_flush(sf);
            unsigned char *data = cairo_image_surface_get_data(sf);
            int stride = cairo_image_surface_get_stride(sf);
            put_gray(data, stride, LABEL + c * TILE, y0, frames, TILE, TILE);
            put_gray(data, stride, LABEL + c * TILE, y0 + TILE, mean, TILE, TILE);
            cairo_surface_mark_dirty(sf);
        }
        /* the row's histogram */
        double hmax = 0;
        for (int i = 0; i < 256; i++) hmax = fmax(hmax, hist[i]);
        double hx = LABEL + cols * TILE + 20, hw = HIST_W - 40, hb = y0 + 2 * TILE - 20, hh = 2 * TILE - 60;
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.6);
        for (int i = 0; i < 256 && hmax > 0; i++) {
            double bh = hist[i] / hmax * hh;
            cairo_rectangle(cr, hx + i * hw / 256, hb - bh, hw / 256 + 0.5, bh);
        }
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, hx, hb + 0.5);
        cairo_line_to(cr, hx + hw, hb + 0.5);
        cairo_stroke(cr);
        cairo_move_to(cr, hx, hb + 14);
        cairo_show_text(cr, "0");
        cairo_move_to(cr, hx + hw - 20, hb + 14);
        cairo_show_text(cr, "255");
    }
    /* row labels, rotated */
    for (int r = 0; r < rows; r++) {
        cairo_save(cr);
        cairo_move_to(cr, 16, LABEL + r * (2 * TILE + LABEL) + TILE + 20);
        cairo_rotate(cr, -M_PI / 2);
        cairo_show_text(cr, presets[r]);
        cairo_restore(cr);
    }
    cairo_surface_flush(sf);
    if (rc == 0) {
        uint8_t *rgb = malloc((size_t)W * H * 3);
        if (!rgb) {
            rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
        } else {
            const unsigned char *data = cairo_image_surface_get_data(sf);
            int stride = cairo_image_surface_get_stride(sf);
            for (int y = 0; y < H; y++) {
                const uint32_t *row = (const uint32_t *)(data + (size_t)y * stride);
                for (int x = 0; x < W; x++) {
                    uint8_t *o = rgb + ((size_t)y * W + x) * 3;
                    o[0] = (uint8_t)(row[x] >> 16);
                    o[1] = (uint8_t)(row[x] >> 8);
                    o[2] = (uint8_t)row[x];
                }
            }
            rc = sm_png_write_rgb(path, rgb, W, H, err);
            free(rgb);
        }
    }
    cairo_destroy(cr);
    cairo_surface_destroy(sf);
    free(frames);
    free(mean);
    return rc;
}
