/* samem analyze TRACKS.csv -o DIR: motion statistics and figures from a trackpy-style track table.
 * A thin layer over sm_plot_analysis (src/plot/report.c), which `samem run` calls with tracks in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "samem/plot.h"
#include "samem/stats.h"
#include "samem/tracks.h"

#if defined(__SANITIZE_ADDRESS__)
/* fontconfig, behind cairo's text, keeps its configuration until FcFini(), which a library may not call while
 * anything else could still draw text; LeakSanitizer would report that memory at exit. Weak, so that another
 * file may provide the process's suppression list instead. */
__attribute__((weak)) const char *__lsan_default_suppressions(void);
__attribute__((weak)) const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }
#endif

/* "1,2,4" -> lags; returns the count or -1 on a bad list. */
static int parse_lags(const char *s, int *lags, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000 || n >= max) return -1;
        lags[n++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return n;
}

static int run_analyze(const sm_args *a) {
    sm_error err = {0};
    const char *dir = sm_args_get(a, "o");
    if (!dir) return sm_cli_usage_error("analyze", "-o DIR is required");
    sm_stats_options o;
    sm_stats_options_default(&o);
    if (sm_args_double(a, "px", 1e-6, 1e9, &o.px_nm)) return 1;
    if (sm_args_double(a, "dt", 1e-12, 1e9, &o.dt_s)) return 1;
    if (sm_args_double(a, "blur", 0, 0.25, &o.blur_R)) return 1;
    long long mt = o.min_tracks, vl = o.vacf_max_lag;
    if (sm_args_int(a, "min-tracks", 1, 1000000, &mt)) return 1;
    if (sm_args_int(a, "vacf-lags", 1, 100000, &vl)) return 1;
    o.min_tracks = (int)mt;
    o.vacf_max_lag = (int)vl;
    const char *drift = sm_args_get(a, "drift");
    if (drift) {
        if (strcmp(drift, "subtract") == 0) o.drift_subtract = 1;
        else if (strcmp(drift, "none") == 0) o.drift_subtract = 0;
        else return sm_cli_usage_error("analyze", "--drift takes 'subtract' or 'none', not '%s'", drift);
    }
    const char *lags = sm_args_get(a, "lags");
    if (lags) {
        int n = parse_lags(lags, o.vh_lags, SM_STATS_MAX_VH_LAGS);
        if (n < 1) return sm_cli_usage_error("analyze", "--lags takes up to %d positive frame lags like 1,2,4", SM_STATS_MAX_VH_LAGS);
        o.n_vh_lags = n;
    }
    sm_tracks *t = NULL;
    if (sm_tracks_read_csv(&t, a->positional[0], &err) < 0) return sm_cli_fail(&err);
    sm_stats *s = NULL;
    int rc = sm_plot_analysis(t, &o, dir, &s, &err);
    sm_tracks_destroy(t);
    if (rc < 0) return sm_cli_fail(&err);
    if (!a->quiet) {
        const sm_stats_fit *f = &s->ens.fit;
        printf("%lld tracks (%d fitted); units %s, %s\n", (long long)s->n_tracks, s->ens.tracks_fitted, s->len_unit, s->time_unit);
        printf("D       = %.6g +- %.3g %s^2/%s (95%%; GLS, %d lags)\n", f->D, 1.96 * f->D_se, s->len_unit, s->time_unit, f->p_D);
        printf("D_cve   = %.6g +- %.3g %s^2/%s\n", f->D_cve, 1.96 * f->D_cve_se, s->len_unit, s->time_unit);
        printf("sigma   = %.4g +- %.3g %s\n", f->sigma, 1.96 * f->sigma_se, s->len_unit);
        printf("alpha   = %.4g +- %.3g (%s)\n", f->alpha, 1.96 * f->alpha_se, sm_stats_class_name(f->cls));
        printf("drift   = (%.4g, %.4g) +- (%.3g, %.3g) %s/%s%s\n", s->ens.drift_x, s->ens.drift_y, 1.96 * s->ens.drift_x_se,
               1.96 * s->ens.drift_y_se, s->len_unit, s->time_unit, s->ens.drift_subtracted ? " (subtracted)" : "");
        if (s->has_angles) printf("D_r     = %.4g +- %.3g rad^2/%s\n", s->ens.D_r, 1.96 * s->ens.D_r_se, s->time_unit);
        printf("wrote %s/stats.json, msd.csv, plots/, report.html\n", dir);
    }
    sm_stats_destroy(s);
    return 0;
}

const sm_command sm_cmd_analyze = {
    .name = "analyze",
    .summary = "motion statistics (MSD, D, alpha, drift, van Hove, VACF, rotation) and figures from tracks",
    .usage = "samem analyze TRACKS.csv -o DIR [--px NM] [--dt S] [--drift subtract] [--lags 1,2,4]",
    .description =
        "Reads a trackpy-style CSV (frame, particle, x, y[, angle]) and writes DIR/stats.json, DIR/msd.csv,\n"
        "DIR/plots/*.png|svg and DIR/report.html. D in nm^2/s when --px and --dt are given, else px^2/frame.\n"
        "example: samem analyze tracks.csv --px 0.85 --dt 0.04 --drift subtract -o analysis",
    .min_positional = 1,
    .max_positional = 1,
    .options =
        (const sm_option_spec[]){
            {"o", "DIR", "output folder (created)"},
            {"px", "NM", "pixel size in nm (default: unknown, lengths in px)"},
            {"dt", "S", "frame interval in s (default: unknown, times in frames)"},
            {"drift", "MODE", "'subtract' removes the ensemble drift first; 'none' (default) only reports it"},
            {"lags", "LIST", "van Hove lags in frames, comma-separated (default 1,2,4)"},
            {"blur", "R", "motion-blur coefficient R, 0..0.25 (default 1/6: continuous exposure; 0: flash)"},
            {"min-tracks", "N", "ensemble lags from fewer tracks are unreliable (default 5)"},
            {"vacf-lags", "N", "velocity autocorrelation up to N frames (default 20)"},
            {NULL, NULL, NULL},
        },
    .run = run_analyze,
};
