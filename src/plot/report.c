/* report.html (one page: the figures and the numbers) and sm_plot_analysis, the whole `samem analyze` in one
 * call so that `samem run` can analyse tracks it holds in memory.
 * The page is self-contained apart from the figures, which it references relatively (plots/NAME.png, with
 * links to the SVGs), so that the output folder can be moved or zipped as a whole. Numbers appear in tables
 * with their 95% intervals and the method that produced them; warnings (dropped rows, short tracks, gaps,
 * unreliable lags) are listed first so that nobody reads the numbers without them.
 * Per-track rows are limited to the first 1,000 tracks (stats.json has them all).
 * Leaves out: JavaScript, embedded (base64) figures. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "plot/plot_impl.h"

#define MAX_TRACK_ROWS 1000

static void html_escape(FILE *fp, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '&': fputs("&amp;", fp); break;
        case '"': fputs("&quot;", fp); break;
        default: fputc(*s, fp);
        }
    }
}

static void num(FILE *fp, double v, int sig) {
    char b[48];
    sm_fmt(b, sizeof b, v, sig);
    fputs(b, fp);
}

static void ci(FILE *fp, double v, double se, int sig) {
    if (!isfinite(v) || !isfinite(se)) {
        fputs("n/a", fp);
        return;
    }
    fputc('[', fp);
    num(fp, v - 1.96 * se, sig);
    fputs(", ", fp);
    num(fp, v + 1.96 * se, sig);
    fputc(']', fp);
}

static void row(FILE *fp, const char *name, double v, double se, const char *unit, const char *method) {
    fprintf(fp, "<tr><td>%s</td><td>", name);
    num(fp, v, 4);
    fputs("</td><td>", fp);
    ci(fp, v, se, 3);
    fprintf(fp, "</td><td>%s</td><td>%s</td></tr>\n", unit, method);
}

static int file_exists(const char *dir, const char *name) {
    char p[4300];
    snprintf(p, sizeof p, "%s/plots/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void figure(FILE *fp, const char *dir, const char *name, const char *caption) {
    char png[128], svg[128];
    snprintf(png, sizeof png, "%s.png", name);
    snprintf(svg, sizeof svg, "%s.svg", name);
    if (!file_exists(dir, png)) return;
    fprintf(fp, "<figure><a href=\"plots/%s\"><img src=\"plots/%s\" alt=\"%s\"></a><figcaption>%s", file_exists(dir, svg) ? svg : png,
            png, name, caption);
    if (file_exists(dir, svg)) fprintf(fp, " (<a href=\"plots/%s\">SVG</a>)", svg);
    fputs("</figcaption></figure>\n", fp);
}

int sm_plot_report_html(const sm_stats *s, const char *dir, const char *title, sm_error *err) {
    char path[4096];
    int rc = sm_path_join(path, sizeof path, dir, "report.html", err);
    if (rc < 0) return rc;
    sm_atomic_file f;
    if ((rc = sm_atomic_open(&f, path, err)) < 0) return rc;
    FILE *fp = f.fp;
    const char *L = s->len_unit, *T = s->time_unit;
    char uD[64], uK[64], uV[64], uR[64];
    snprintf(uD, sizeof uD, "%s&sup2;/%s", L, T);
    snprintf(uK, sizeof uK, "%s&sup2;/%s<sup>&alpha;</sup>", L, T);
    snprintf(uV, sizeof uV, "%s/%s", L, T);
    snprintf(uR, sizeof uR, "rad&sup2;/%s", T);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", fp);
    html_escape(fp, title ? title : "samem analysis");
    fputs("</title>\n<style>\n"
          "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1250px;margin:24px auto;padding:0 16px;color:#222;line-height:1.45}\n"
          "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}\n"
          "table{border-collapse:collapse;margin:8px 0;font-size:0.92em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
          "td:first-child,th:first-child{text-align:left}th{background:#f0f0f0}\n"
          "figure{margin:16px 0}img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.9em;color:#444}\n"
          ".warn{background:#fff4e0;border-left:4px solid #E69F00;padding:6px 12px}.note{color:#555;font-size:0.9em}\n"
          "</style></head><body>\n<h1>", fp);
    html_escape(fp, title ? title : "samem analysis");
    fputs("</h1>\n", fp);
    fprintf(fp, "<p>%lld tracks, %lld rows. Lengths in %s, times in %s", (long long)s->n_tracks, (long long)s->warn.rows, L, T);
    if (s->opt.px_nm > 0) fprintf(fp, " (pixel %g nm", s->opt.px_nm);
    else fputs(" (pixel size unknown", fp);
    if (s->opt.dt_s > 0) fprintf(fp, ", frame interval %g s)", s->opt.dt_s);
    else fputs(", frame interval unknown)", fp);
    fprintf(fp, ". Motion-blur coefficient R = %.4g. Intervals are 95%% (estimate &plusmn; 1.96 se).</p>\n", s->opt.blur_R);

    const sm_stats_warnings *w = &s->warn;
    int nw = 0;
    fputs("<div class=\"warn\"><b>Data notes</b><ul>\n", fp);
#define W(cond, ...)                                                                                                   \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            fputs("<li>", fp);                                                                                         \
            fprintf(fp, __VA_ARGS__);                                                                                  \
            fputs("</li>\n", fp);                                                                                      \
            nw++;                                                                                                      \
        }                                                                                                              \
    } while (0)
    W(w->nan_rows, "%lld rows without a finite position were dropped.", (long long)w->nan_rows);
    W(w->hidden_rows, "%lld rows marked visible=0 (outside the field) were dropped.", (long long)w->hidden_rows);
    W(w->duplicate_frames, "%lld repeated (particle, frame) rows were dropped; the first was kept.", (long long)w->duplicate_frames);
    W(w->single_point_tracks, "%lld tracks have a single point.", (long long)w->single_point_tracks);
    W(w->short_tracks, "%lld tracks have 2 to %d points: used in the ensemble curves, not fitted.", (long long)w->short_tracks,
      SM_STATS_MIN_FIT_POINTS - 1);
    W(w->tracks_with_gaps, "%lld tracks have gaps (%lld missing frames); lags are taken from frame numbers.",
      (long long)w->tracks_with_gaps, (long long)w->missing_frames);
    W(w->first_unreliable_lag > 0, "Ensemble curves rest on too few tracks from lag %d frames on; those points are hollow/grey and not fitted.",
      w->first_unreliable_lag);
    W(s->ens.drift_subtracted, "The ensemble drift was subtracted before analysis.");
    W(!(s->opt.px_nm > 0) || !(s->opt.dt_s > 0), "Pixel size or frame interval unknown: give --px NM and --dt S for physical units.");
    if (!nw) fputs("<li>None: no rows dropped, no gaps, every ensemble lag reliable.</li>\n", fp);
    fputs("</ul></div>\n", fp);
#undef W

    const sm_stats_fit *e = &s->ens.fit;
    fputs("<h2>Ensemble</h2>\n<table><tr><th>quantity</th><th>estimate</th><th>95% interval</th><th>unit</th><th>method</th></tr>\n", fp);
    char m[256];
    snprintf(m, sizeof m, "GLS on the EA-TA-MSD, %d lags (Michalet 2010), jackknife se", e->p_D);
    row(fp, "D", e->D, e->D_se, uD, m);
    snprintf(m, sizeof m, "OLS on the same %d lags", e->p_D);
    row(fp, "D (OLS)", e->D_ols, e->D_ols_se, uD, m);
    row(fp, "D (CVE)", e->D_cve, e->D_cve_se, uD, "covariance estimator, Vestergaard 2014");
    snprintf(m, sizeof m, "intercept, %d lags", e->p_sigma);
    row(fp, "localisation error &sigma;", e->sigma, e->sigma_se, L, m);
    row(fp, "&sigma; (CVE)", e->sigma_cve, NAN, L, "Vestergaard 2014");
    snprintf(m, sizeof m, "4K t<sup>&alpha;</sup> + c, %d lags; class: <b>%s</b>", e->p_alpha, sm_stats_class_name(e->cls));
    row(fp, "&alpha;", e->alpha, e->alpha_se, "", m);
    row(fp, "K<sub>&alpha;</sub>", e->K_alpha, e->K_alpha_se, uK, "same fit");
    row(fp, "drift v<sub>x</sub>", s->ens.drift_x, s->ens.drift_x_se, uV, s->ens.drift_subtracted ? "ensemble mean displacement (subtracted)" : "ensemble mean displacement");
    row(fp, "drift v<sub>y</sub>", s->ens.drift_y, s->ens.drift_y_se, uV, s->ens.drift_subtracted ? "ensemble mean displacement (subtracted)" : "ensemble mean displacement");
    if (s->has_angles) row(fp, "D<sub>r</sub>", s->ens.D_r, s->ens.D_r_se, uR, "CVE on unwrapped angles");
    fputs("</table>\n", fp);
    fprintf(fp, "<p class=\"note\">%d of %lld tracks fitted (at least %d points). Reduced localisation error x = &sigma;&sup2;/(D&Delta;t) = ",
            s->ens.tracks_fitted, (long long)s->n_tracks, SM_STATS_MIN_FIT_POINTS);
    num(fp, e->reduced_x, 3);
    fputs(".</p>\n", fp);

    fputs("<h2>Figures</h2>\n", fp);
    figure(fp, dir, "trajectories", "Trajectories coloured by time, with scale bar.");
    figure(fp, dir, "msd", "Mean squared displacement: per-track TA-MSDs (grey), ensemble-averaged TA-MSD with standard errors, Brownian and power-law fits.");
    figure(fp, dir, "vanhove", "Displacement distributions (van Hove) with Gaussian fits.");
    figure(fp, dir, "vacf", "Normalised velocity autocorrelation with the fBm expectation and the localisation-noise value at lag 1.");
    figure(fp, dir, "angular_msd", "Angular MSD of the unwrapped orientation, with the rotational-diffusion line.");

    fputs("<h2>Displacement distributions</h2>\n<table><tr><th>lag (frames)</th><th>n</th><th>mean &Delta;x</th><th>sd &Delta;x</th>"
          "<th>mean &Delta;y</th><th>sd &Delta;y</th><th>non-Gaussian parameter</th><th>95% interval</th></tr>\n", fp);
    for (int j = 0; j < s->n_vh; j++) {
        const sm_stats_vanhove *v = &s->vh[j];
        fprintf(fp, "<tr><td>%d</td><td>%lld</td><td>", v->lag, (long long)v->n);
        num(fp, v->mean_x, 3); fputs("</td><td>", fp);
        num(fp, v->sd_x, 3); fputs("</td><td>", fp);
        num(fp, v->mean_y, 3); fputs("</td><td>", fp);
        num(fp, v->sd_y, 3); fputs("</td><td>", fp);
        num(fp, v->ngp, 3); fputs("</td><td>", fp);
        ci(fp, v->ngp, v->ngp_se, 2);
        fputs("</td></tr>\n", fp);
    }
    fprintf(fp, "</table><p class=\"note\">Lengths in %s. The 2-D non-Gaussian parameter &lt;r&#8308;&gt;/(2&lt;r&sup2;&gt;&sup2;) &minus; 1 is 0 for Gaussian displacements.</p>\n", L);

    fputs("<h2>Ergodicity</h2>\n<table><tr><th>lag (frames)</th><th>EB</th><th>Brownian expectation</th><th>tracks</th></tr>\n", fp);
    for (int k = 1; k < s->eb.n; k = k < 4 ? k + 1 : k * 2) {
        if (!s->eb.reliable[k]) break;
        fprintf(fp, "<tr><td>%d</td><td>", k);
        num(fp, s->eb.value[k], 3); fputs("</td><td>", fp);
        num(fp, s->eb_brownian[k], 3);
        fprintf(fp, "</td><td>%lld</td></tr>\n", (long long)s->eb.n_tracks[k]);
    }
    fputs("</table>\n", fp);

    fputs("<h2>Tracks</h2>\n<table><tr><th>particle</th><th>points</th><th>frames</th><th>D</th><th>95% interval</th><th>D (CVE)</th>"
          "<th>&sigma;</th><th>&alpha;</th><th>95% interval</th><th>class</th>", fp);
    if (s->has_angles) fputs("<th>D<sub>r</sub></th>", fp);
    fputs("</tr>\n", fp);
    for (int64_t i = 0; i < s->n_tracks && i < MAX_TRACK_ROWS; i++) {
        const sm_track_stats *t = &s->tracks[i];
        fprintf(fp, "<tr><td>%lld</td><td>%lld</td><td>%lld&ndash;%lld</td><td>", (long long)t->particle, (long long)t->n,
                (long long)t->first_frame, (long long)t->last_frame);
        num(fp, t->fit.D, 4); fputs("</td><td>", fp);
        ci(fp, t->fit.D, t->fit.D_se, 3); fputs("</td><td>", fp);
        num(fp, t->fit.D_cve, 4); fputs("</td><td>", fp);
        num(fp, t->fit.sigma, 3); fputs("</td><td>", fp);
        num(fp, t->fit.alpha, 3); fputs("</td><td>", fp);
        ci(fp, t->fit.alpha, t->fit.alpha_se, 3);
        fprintf(fp, "</td><td>%s</td>", sm_stats_class_name(t->fit.cls));
        if (s->has_angles) {
            fputs("<td>", fp);
            num(fp, t->D_r, 3);
            fputs("</td>", fp);
        }
        fputs("</tr>\n", fp);
    }
    fputs("</table>\n", fp);
    if (s->n_tracks > MAX_TRACK_ROWS)
        fprintf(fp, "<p class=\"note\">First %d of %lld tracks; stats.json lists all.</p>\n", MAX_TRACK_ROWS, (long long)s->n_tracks);
    fprintf(fp, "<p class=\"note\">D in %s, &sigma; in %s. Files: <a href=\"stats.json\">stats.json</a>, <a href=\"msd.csv\">msd.csv</a>. "
                "Written by samem.</p>\n</body></html>\n", uD, L);
    return sm_atomic_commit(&f, err);
}

int sm_plot_analysis(const sm_tracks *tracks, const sm_stats_options *opt, const char *dir, sm_stats **out, sm_error *err) {
    if (out) *out = NULL;
    sm_stats *s = NULL;
    int rc = sm_mkdir_p(dir, err);
    if (rc == 0) rc = sm_stats_compute(&s, tracks, opt, err);
    char path[4096];
    if (rc == 0) rc = sm_path_join(path, sizeof path, dir, "stats.json", err);
    if (rc == 0) rc = sm_stats_write_json(s, path, err);
    if (rc == 0) rc = sm_path_join(path, sizeof path, dir, "msd.csv", err);
    if (rc == 0) rc = sm_stats_write_msd_csv(s, path, err);
    if (rc == 0) rc = sm_plot_all(tracks, s, dir, SM_PLOT_PNG | SM_PLOT_SVG, err);
    if (rc == 0) rc = sm_plot_report_html(s, dir, "samem motion analysis", err);
    if (rc == 0 && out) *out = s;
    else sm_stats_destroy(s);
    return rc;
}
