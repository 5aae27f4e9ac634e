/* sm_plot_analysis on simulated tracks (Brownian with blur, noise, drift, gaps and rotation): every file
 * exists, PNGs read back with the stated size and are not blank (cairo's own PNG reader is the independent
 * check of the encoder's output), SVGs are SVG, report.html references each figure relatively and carries
 * the numbers; degenerate inputs (one short track) still give every file. SAMEM_PLOT_KEEP=DIR keeps the
 * output there for looking at. */
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/plot.h"
#include "stats/sim_tracks.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
/* fontconfig, behind cairo's text, keeps its configuration until FcFini(), which a library may not call while
 * anything else could still draw text; LeakSanitizer would report that memory at exit. Weak, so that another
 * file may provide the process's suppression list instead. */
__attribute__((weak)) const char *__lsan_default_suppressions(void);
__attribute__((weak)) const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }
#endif

static int png_ok(const char *path, int w, int h) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    int ok = cairo_surface_status(s) == CAIRO_STATUS_SUCCESS && cairo_image_surface_get_width(s) == w &&
             cairo_image_surface_get_height(s) == h;
    if (ok) {
        /* not blank: count pixels that are not white */
        cairo_surface_flush(s);
        const unsigned char *d = cairo_image_surface_get_data(s);
        int stride = cairo_image_surface_get_stride(s);
        long dark = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const unsigned char *p = d + (size_t)y * stride + 4 * x;
                if (p[0] < 200 || p[1] < 200 || p[2] < 200) dark++;
            }
        ok = dark > 2000;
    }
    cairo_surface_destroy(s);
    return ok;
}

static int file_has(const char *path, const char *needle) {
    char *text = NULL;
    size_t len = 0;
    if (sm_read_text_file(path, 1 << 28, &text, &len, NULL) < 0) return 0;
    int ok = strstr(text, needle) != NULL;
    free(text);
    return ok;
}

int main(void) {
    char dir[1024], p[1200];
    const char *keep = getenv("SAMEM_PLOT_KEEP");
    if (keep && *keep) snprintf(dir, sizeof dir, "%s", keep);
    else sm_test_tmp_path(dir, sizeof dir, "analysis");
    sim_params sp = {0};
    sp.tracks = 60;
    sp.steps = 150;
    sp.D = 2000;
    sp.dt = 0.04;
    sp.sigma = 6;
    sp.vx = 150;
    sp.vy = 60;
    sp.px_nm = 0.8;
    sp.D_r = 0.6;
    sp.sigma_theta = 0.04;
    sp.gap_prob = 0.03;
    sp.seed = 11;
    sm_tracks *t = sim_brownian(&sp);
    /* uneven lengths: cut 4 in 5 tracks short so that the ensemble's reliable range ends early */
    for (int64_t r = 0; r < t->n; r++)
        if (t->particle[r] % 5 != 0 && t->frame[r] > 40 + (t->particle[r] % 7)) t->x[r] = NAN;
    sm_stats_options o;
    sm_stats_options_default(&o);
    o.px_nm = sp.px_nm;
    o.dt_s = sp.dt;
    o.drift_subtract = 1;
    sm_error err = {0};
    sm_stats *s = NULL;
    int rc = sm_plot_analysis(t, &o, dir, &s, &err);
    SM_CHECKF("analysis with figures succeeds", rc == 0 && s, "%s", err.msg);
    const char *figs[] = {"trajectories", "msd", "vanhove", "vacf", "angular_msd"};
    const int W[] = {900, 1000, 1200, 1000, 1000}, H[] = {800, 700, 620, 700, 700};
    for (int i = 0; i < 5; i++) {
        char name[128];
        snprintf(p, sizeof p, "%s/plots/%s.png", dir, figs[i]);
        snprintf(name, sizeof name, "%s.png reads back at %dx%d and is not blank", figs[i], W[i], H[i]);
        SM_CHECK(name, png_ok(p, W[i], H[i]));
        snprintf(p, sizeof p, "%s/plots/%s.svg", dir, figs[i]);
        snprintf(name, sizeof name, "%s.svg is an SVG", figs[i]);
        SM_CHECK(name, file_has(p, "<svg"));
        snprintf(p, sizeof p, "%s/report.html", dir);
        char ref[128];
        snprintf(ref, sizeof ref, "src=\"plots/%s.png\"", figs[i]);
        snprintf(name, sizeof name, "report.html shows %s", figs[i]);
        SM_CHECK(name, file_has(p, ref));
    }
    snprintf(p, sizeof p, "%s/report.html", dir);
    SM_CHECK("report.html has the ensemble table and the warnings", file_has(p, "<h2>Ensemble</h2>") && file_has(p, "Data notes") &&
                                                                       file_has(p, "D<sub>r</sub>"));
    SM_CHECK("report.html notes the unreliable lags", file_has(p, "rest on too few tracks"));
    snprintf(p, sizeof p, "%s/stats.json", dir);
    SM_CHECK("stats.json written", file_has(p, "\"ensemble\""));
    snprintf(p, sizeof p, "%s/msd.csv", dir);
    SM_CHECK("msd.csv written", file_has(p, "particle,kind,lag_frames"));
    sm_stats_destroy(s);

    /* degenerate: a single track of 3 points, no angles */
    sm_tracks_clear(t);
    for (int f = 0; f < 3; f++) {
        sm_tracks_row r = sm_tracks_row_empty();
        r.frame = f;
        r.particle = 1;
        r.x = 10 + f;
        r.y = 5;
        sm_tracks_append(t, &r, NULL);
    }
    sm_test_tmp_path(dir, sizeof dir, "tiny");
    rc = sm_plot_analysis(t, NULL, dir, NULL, &err);
    SM_CHECKF("a 3-point track still gives every file", rc == 0, "%s", err.msg);
    snprintf(p, sizeof p, "%s/plots/msd.png", dir);
    SM_CHECK("tiny: msd.png exists", png_ok(p, 1000, 700));
    snprintf(p, sizeof p, "%s/plots/angular_msd.png", dir);
    FILE *fp = fopen(p, "rb");
    SM_CHECK("tiny: no angular MSD figure without angles", fp == NULL);
    if (fp) fclose(fp);
    sm_tracks_destroy(t);
    return sm_test_report();
}
