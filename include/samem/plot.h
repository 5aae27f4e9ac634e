/* samem plot: figures (cairo, PNG and SVG) and the one-page HTML report of a motion analysis.
 *
 * Usage (what `samem analyze` and `samem run` do, from tracks in memory):
 *     sm_stats_options o;
 *     sm_stats_options_default(&o);
 *     o.px_nm = 0.85; o.dt_s = 0.04;
 *     sm_stats *s = NULL;
 *     if (sm_plot_analysis(tracks, &o, "out", &s, &err) < 0) ...;   // out/stats.json, msd.csv, plots/, report.html
 *     sm_stats_destroy(s);
 *
 * Or figure by figure: sm_plot_msd(s, "out/plots/msd", SM_PLOT_PNG | SM_PLOT_SVG, &err) writes
 * out/plots/msd.png and out/plots/msd.svg (each atomically). Figures use the Okabe-Ito palette (categories)
 * and viridis (time), both readable with colour-vision deficiencies, DejaVu Sans at 13-18 px on a
 * 1000 x 700 px canvas (trajectories 900 x 800 px).
 * Figures: trajectories (coloured by time, scale bar), msd (log-log, per-track TA-MSDs in grey, ensemble
 * with standard errors, linear and power-law fits), vanhove (dx, dy, |dr| at each lag, Gaussian overlays,
 * log density), vacf (with the fBm expectation and the localisation-noise lag-1 value), angular_msd (only
 * when the tracks carry angles).
 * Leaves out: PDF output, interactive figures.
 */
#ifndef SAMEM_PLOT_H
#define SAMEM_PLOT_H

#include "samem/common.h"
#include "samem/stats.h"
#include "samem/tracks.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { SM_PLOT_PNG = 1, SM_PLOT_SVG = 2 };

/* Each writes base + ".png" and/or base + ".svg". tracks is the table the stats were computed from. */
int sm_plot_trajectories(const sm_tracks *tracks, const sm_stats *s, const char *base, unsigned formats, sm_error *err);
int sm_plot_msd(const sm_stats *s, const char *base, unsigned formats, sm_error *err);
int sm_plot_vanhove(const sm_stats *s, const char *base, unsigned formats, sm_error *err);
int sm_plot_vacf(const sm_stats *s, const char *base, unsigned formats, sm_error *err);
/* Returns 0 without writing anything when the stats have no angles. */
int sm_plot_angular_msd(const sm_stats *s, const char *base, unsigned formats, sm_error *err);

/* All figures into dir/plots/ (created). */
int sm_plot_all(const sm_tracks *tracks, const sm_stats *s, const char *dir, unsigned formats, sm_error *err);

/* dir/report.html: the figures in dir/plots/ (referenced relatively) and the numbers in tables. */
int sm_plot_report_html(const sm_stats *s, const char *dir, const char *title, sm_error *err);

/* The whole analysis: computes the stats and writes dir/stats.json, dir/msd.csv, dir/plots/ (PNG, SVG) and
 * dir/report.html. If out is not NULL it receives the stats (caller destroys); otherwise they are freed. */
int sm_plot_analysis(const sm_tracks *tracks, const sm_stats_options *opt, const char *dir, sm_stats **out,
                     sm_error *err);

#ifdef __cplusplus
}
#endif
#endif
