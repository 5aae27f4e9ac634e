/* The analysis figures: trajectories, MSD, van Hove, VACF, angular MSD (see include/samem/plot.h).
 *
 * Choices an expert reviewer would ask about:
 * - Trajectories are drawn in image orientation (y down, as in the video), positions as measured (no drift
 *   subtraction), each segment coloured by its frame on a viridis scale shared by all tracks; at most 300
 *   tracks and 100,000 points (the longest tracks) are drawn so that 10,000-track files stay legible and fast; the title says so.
 * - MSD: log-log; up to 40 per-track TA-MSDs in light grey up to a quarter of their span; the ensemble
 *   EA-TA-MSD as filled points with +-1 se bars where enough tracks contribute and hollow grey points where
 *   they do not (sm_stats_curve.reliable); the Brownian fit 4Dt + 4(sigma^2 - 2RD dt) and the power law
 *   4K t^alpha + c over the whole range, so that departures show.
 * - van Hove: probability densities on a log axis (tails visible), one colour per lag, Gaussians with the
 *   fitted mean and sd dashed; |dr| with the 2-D Gaussian (Rayleigh) density r/s^2 exp(-r^2/2s^2).
 * - VACF: normalised, +-1 se bars, fBm expectation at the fitted alpha, the lag-1 value that localisation
 *   noise and blur give a Brownian particle.
 * Leaves out: per-track figure pages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_impl.h"

#define FIG_W 1000
#define FIG_H 700
#define MAX_TRAJ 300
#define MAX_TRAJ_POINTS 100000 /* keeps the SVG near 4 MB */
#define MAX_GREY 40

static const double grey[3] = {0.72, 0.72, 0.72};

/* ---------------------------------------------------------------- trajectories */

typedef struct traj_key {
    int64_t particle, frame, row;
} traj_key;

static int cmp_traj(const void *a, const void *b) {
    const traj_key *p = a, *q = b;
    if (p->particle != q->particle) return p->particle < q->particle ? -1 : 1;
    if (p->frame != q->frame) return p->frame < q->frame ? -1 : 1;
    return (p->row > q->row) - (p->row < q->row);
}

typedef struct traj_data {
    const sm_tracks *t;
    const sm_stats *s;
    traj_key *keys;
    int64_t nk;
    int64_t *start, *count; /* per drawn track */
    int ndraw, ntracks;
    double xmin, xmax, ymin, ymax;
    int64_t fmin, fmax;
} traj_data;

static void draw_traj(cairo_t *cr, int w, int h, const void *vd) {
    const traj_data *d = vd;
    const sm_stats *s = d->s;
    double L = s->len_scale;
    /* equal aspect inside the available rectangle */
    double ax0 = 90, ay0 = 60, ax1 = w - 130, ay1 = h - 80;
    double dx = (d->xmax - d->xmin) * L, dy = (d->ymax - d->ymin) * L;
    double pad = 0.04 * fmax(dx, dy) + 1e-9;
    double x0 = d->xmin * L - pad, x1 = d->xmax * L + pad, y0 = d->ymin * L - pad, y1 = d->ymax * L + pad;
    double sx = (ax1 - ax0) / (x1 - x0), sy = (ay1 - ay0) / (y1 - y0), sc = fmin(sx, sy);
    double cw = (x1 - x0) * sc, ch = (y1 - y0) * sc;
    double ox = ax0 + 0.5 * ((ax1 - ax0) - cw), oy = ay0 + 0.5 * ((ay1 - ay0) - ch);
    sm_axes a;
    /* image orientation: y grows downwards, so the axis runs from y1 (bottom) to y0 (top) */
    sm_axes_init(&a, ox, oy, ox + cw, oy + ch, x0, x1, -y1, -y0, 0, 0);
    char title[160], xl[32], yl[32];
    if (d->ndraw < d->ntracks)
        snprintf(title, sizeof title, "Trajectories (%d longest of %d tracks), coloured by time", d->ndraw, d->ntracks);
    else snprintf(title, sizeof title, "Trajectories (%d tracks), coloured by time", d->ntracks);
    snprintf(xl, sizeof xl, "x (%s)", s->len_unit);
    snprintf(yl, sizeof yl, "y (%s), image orientation", s->len_unit);
    sm_axes_clip(cr, &a);
    cairo_set_line_width(cr, 1.6);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    double fr = (double)(d->fmax - d->fmin);
    if (fr <= 0) fr = 1;
    for (int i = 0; i < d->ndraw; i++) {
        const traj_key *k = d->keys + d->start[i];
        /* polylines of up to SEG segments share one colour (that of their middle frame): 1,000-frame tracks
         * keep >= 100 colour steps while the path count (and the SVG) stays small */
        const int64_t SEG = d->count[i] > 200 ? 8 : 1;
        for (int64_t j0 = 1; j0 < d->count[i]; j0 += SEG) {
            int64_t j1 = j0 + SEG < d->count[i] ? j0 + SEG : d->count[i];
            double rgb[3];
            sm_viridis((double)(k[(j0 + j1) / 2].frame - d->fmin) / fr, rgb);
            sm_set_rgb(cr, rgb, 0.9);
            int64_t r0 = k[j0 - 1].row;
            cairo_move_to(cr, sm_axes_x(&a, d->t->x[r0] * L), sm_axes_y(&a, -d->t->y[r0] * L));
            for (int64_t j = j0; j < j1; j++) {
                int64_t r1 = k[j].row;
                /* a gap in the frames is not a path the particle took: lift the pen */
                if (k[j].frame - k[j - 1].frame > 1)
                    cairo_move_to(cr, sm_axes_x(&a, d->t->x[r1] * L), sm_axes_y(&a, -d->t->y[r1] * L));
                else
                    cairo_line_to(cr, sm_axes_x(&a, d->t->x[r1] * L), sm_axes_y(&a, -d->t->y[r1] * L));
            }
            cairo_stroke(cr);
        }
        if (d->count[i] == 1) {
            double rgb[3];
            sm_viridis((double)(k[0].frame - d->fmin) / fr, rgb);
            sm_set_rgb(cr, rgb, 0.9);
            sm_marker(cr, sm_axes_x(&a, d->t->x[k[0].row] * L), sm_axes_y(&a, -d->t->y[k[0].row] * L), 2.5, 1);
        }
    }
    cairo_restore(cr);
    /* frame and labels; y tick labels show the positive image coordinate */
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 1.2);
    cairo_rectangle(cr, a.px0, a.py0, a.px1 - a.px0, a.py1 - a.py0);
    cairo_stroke(cr);
    sm_text(cr, a.px0, a.py0 - 14, title, 17, 0, 1, 1);
    sm_text(cr, 0.5 * (a.px0 + a.px1), a.py1 + 34, xl, 16, 0.5, 0, 0);
    cairo_save(cr);
    cairo_translate(cr, a.px0 - 62, 0.5 * (a.py0 + a.py1));
    cairo_rotate(cr, -M_PI / 2);
    sm_text(cr, 0, 0, yl, 16, 0.5, 0.5, 0);
    cairo_restore(cr);
    {
        double range = x1 - x0, raw = range / 6, mag = pow(10, floor(log10(raw))), f = raw / mag;
        double st = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
        char buf[32];
        for (double v = ceil(x0 / st) * st; v <= x1; v += st) {
            double X = sm_axes_x(&a, v);
            cairo_move_to(cr, X, a.py1);
            cairo_line_to(cr, X, a.py1 - 6);
            cairo_stroke(cr);
            snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-9 * st ? 0.0 : v);
            sm_text(cr, X, a.py1 + 8, buf, 14, 0.5, 0, 0);
        }
        for (double v = ceil(y0 / st) * st; v <= y1; v += st) {
            double Y = sm_axes_y(&a, -v);
            cairo_move_to(cr, a.px0, Y);
            cairo_line_to(cr, a.px0 + 6, Y);
            cairo_stroke(cr);
            snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-9 * st ? 0.0 : v);
            sm_text(cr, a.px0 - 8, Y, buf, 14, 1, 0.5, 0);
        }
    }
    /* scale bar: a 1-2-5 length near a fifth of the width, bottom left inside the axes */
    {
        double target = (x1 - x0) / 5, mag = pow(10, floor(log10(target))), f = target / mag;
        double len = (f < 2 ? 1 : f < 5 ? 2 : 5) * mag;
        double bx = a.px0 + 20, by = a.py1 - 22, bw = len * sc;
        cairo_set_source_rgba(cr, 1, 1, 1, 0.8);
        cairo_rectangle(cr, bx - 8, by - 30, bw + 16, 40);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_rectangle(cr, bx, by - 3, bw, 6);
        cairo_fill(cr);
        char buf[48];
        snprintf(buf, sizeof buf, "%g %s", len, s->len_unit);
        sm_text(cr, bx + bw / 2, by - 8, buf, 15, 0.5, 1, 1);
    }
    /* colour bar */
    {
        double cx = a.px1 + 30, cy0 = a.py0 + 10, cy1 = a.py1 - 10;
        for (int i = 0; i < 200; i++) {
            double rgb[3];
            sm_viridis(1 - i / 199.0, rgb);
            sm_set_rgb(cr, rgb, 1);
            cairo_rectangle(cr, cx, cy0 + (cy1 - cy0) * i / 200.0, 18, (cy1 - cy0) / 200.0 + 0.8);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        char buf[48];
        double T = s->time_scale;
        snprintf(buf, sizeof buf, "%g", (double)d->fmax * (s->opt.dt_s > 0 ? T : 1));
        sm_text(cr, cx + 22, cy0, buf, 13, 0, 0.5, 0);
        snprintf(buf, sizeof buf, "%g", (double)d->fmin * (s->opt.dt_s > 0 ? T : 1));
        sm_text(cr, cx + 22, cy1, buf, 13, 0, 0.5, 0);
        snprintf(buf, sizeof buf, "time (%s)", s->time_unit);
        sm_text(cr, cx + 9, cy0 - 12, buf, 14, 0.5, 1, 0);
    }
}


typedef struct len_idx {
    int64_t n, start;
} len_idx;

static int cmp_len(const void *a, const void *b) {
    const len_idx *p = a, *q = b;
    if (p->n != q->n) return p->n > q->n ? -1 : 1;
    return (p->start > q->start) - (p->start < q->start);
}

int sm_plot_trajectories(const sm_tracks *t, const sm_stats *s, const char *base, unsigned formats, sm_error *err) {
    traj_data d;
    memset(&d, 0, sizeof d);
    d.t = t;
    d.s = s;
    d.keys = malloc((size_t)(t->n > 0 ? t->n : 1) * sizeof *d.keys);
    len_idx *li = malloc((size_t)(t->n > 0 ? t->n : 1) * sizeof *li);
    int rc = 0;
    if (!d.keys || !li) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", base);
        goto done;
    }
    d.xmin = d.ymin = INFINITY;
    d.xmax = d.ymax = -INFINITY;
    d.fmin = INT64_MAX;
    d.fmax = INT64_MIN;
    for (int64_t r = 0; r < t->n; r++) {
        if (!isfinite(t->x[r]) || !isfinite(t->y[r]) || t->visible[r] == 0) continue;
        d.keys[d.nk++] = (traj_key){t->particle[r], t->frame[r], r};
    }
    int sorted = 1;
    for (int64_t r = 1; r < d.nk && sorted; r++) sorted = cmp_traj(&d.keys[r - 1], &d.keys[r]) <= 0;
    if (!sorted) qsort(d.keys, (size_t)d.nk, sizeof *d.keys, cmp_traj);
    int64_t ntr = 0;
    for (int64_t r = 0; r < d.nk; r++) {
        if (r == 0 || d.keys[r].particle != d.keys[r - 1].particle) li[ntr++] = (len_idx){0, r};
        li[ntr - 1].n++;
    }
    d.ntracks = (int)ntr;
    qsort(li, (size_t)ntr, sizeof *li, cmp_len);
    /* at most MAX_TRAJ tracks and about MAX_TRAJ_POINTS points (the longest tracks first) */
    d.ndraw = 0;
    for (int64_t i = 0, pts = 0; i < ntr && d.ndraw < MAX_TRAJ; i++) {
        if (d.ndraw > 0 && pts + li[i].n > MAX_TRAJ_POINTS) break;
        pts += li[i].n;
        d.ndraw++;
    }
    d.start = malloc((size_t)(d.ndraw + 1) * sizeof *d.start);
    d.count = malloc((size_t)(d.ndraw + 1) * sizeof *d.count);
    if (!d.start || !d.count) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", base);
        goto done;
    }
    for (int i = 0; i < d.ndraw; i++) {
        d.start[i] = li[i].start;
        d.count[i] = li[i].n;
        for (int64_t j = 0; j < li[i].n; j++) {
            const traj_key *k = d.keys + li[i].start + j;
            double x = t->x[k->row], y = t->y[k->row];
            if (x < d.xmin) d.xmin = x;
            if (x > d.xmax) d.xmax = x;
            if (y < d.ymin) d.ymin = y;
            if (y > d.ymax) d.ymax = y;
            if (k->frame < d.fmin) d.fmin = k->frame;
            if (k->frame > d.fmax) d.fmax = k->frame;
        }
    }
    if (d.ndraw == 0) {
        d.xmin = d.ymin = 0;
        d.xmax = d.ymax = 1;
        d.fmin = 0;
        d.fmax = 1;
    }
    rc = sm_plot_render(base, formats, 900, 800, draw_traj, &d, err);
done:
    free(d.keys);
    free(d.start);
    free(d.count);
    free(li);
    return rc;
}

/* ---------------------------------------------------------------- MSD */

/* Strokes the fitted MSD model y = k t^p + c over log-spaced lags xlo..xhi; the pen lifts where y <= 0,
 * which log axes cannot show (a negative offset from localisation error and blur). */
static void stroke_msd_model(cairo_t *cr, const sm_axes *a, double xlo, double xhi, double k, double p, double c) {
    int pen = 0;
    for (int i = 0; i <= 200; i++) {
        double tt = xlo * pow(xhi / xlo, i / 200.0), y = k * pow(tt, p) + c;
        if (y <= 0) {
            pen = 0;
            continue;
        }
        double X = sm_axes_x(a, tt), Y = sm_axes_y(a, y);
        if (pen) cairo_line_to(cr, X, Y);
        else cairo_move_to(cr, X, Y);
        pen = 1;
    }
    cairo_stroke(cr);
}

static void draw_msd(cairo_t *cr, int w, int h, const void *vd) {
    const sm_stats *s = vd;
    const sm_stats_curve *c = &s->eatamsd;
    double T = s->time_scale;
    double lo = INFINITY, hi = -INFINITY;
    int kmax = 1;
    for (int k = 1; k < c->n; k++) {
        if (c->n_tracks[k] <= 0 || !(c->value[k] > 0)) continue;
        if (c->reliable[k] || k < 3) kmax = k;
        if (c->value[k] < lo) lo = c->value[k];
        if (c->value[k] > hi) hi = c->value[k];
    }
    int kshow = c->n - 1;
    /* show the unreliable tail only up to 3x the reliable range */
    if (kshow > 3 * kmax) kshow = 3 * kmax;
    if (kshow < 1) kshow = 1;
    double ylo, yhi, xlo, xhi;
    sm_nice_log_range(lo, hi, &ylo, &yhi);
    sm_nice_log_range(1 * T, kshow * T, &xlo, &xhi);
    sm_axes a;
    sm_axes_init(&a, 110, 60, w - 40, h - 80, xlo, xhi, ylo, yhi, 1, 1);
    char xl[64], yl[64];
    snprintf(xl, sizeof xl, "lag time (%s)", s->time_unit);
    snprintf(yl, sizeof yl, "MSD (%s\xc2\xb2)", s->len_unit);
    sm_axes_clip(cr, &a);
    /* per-track TA-MSDs */
    cairo_set_line_width(cr, 1);
    int64_t step = s->n_tracks > MAX_GREY ? s->n_tracks / MAX_GREY : 1;
    for (int64_t i = 0; i < s->n_tracks; i += step) {
        const sm_track_stats *t = &s->tracks[i];
        int km = t->n_lags / 4 > 3 ? t->n_lags / 4 : t->n_lags;
        int pen = 0;
        sm_set_rgb(cr, grey, 0.7);
        for (int k = 1; k <= km; k++) {
            if (t->msd_count[k] <= 0 || !(t->msd[k] > 0)) {
                pen = 0;
                continue;
            }
            double X = sm_axes_x(&a, k * T), Y = sm_axes_y(&a, t->msd[k]);
            if (pen) cairo_line_to(cr, X, Y);
            else cairo_move_to(cr, X, Y);
            pen = 1;
        }
        cairo_stroke(cr);
    }
    /* fits */
    const sm_stats_fit *f = &s->ens.fit;
    double R = s->opt.blur_R;
    if (isfinite(f->D)) {
        sm_set_rgb(cr, sm_okabe_ito[6], 1);
        cairo_set_line_width(cr, 2.5);
        double off = 4 * (f->sigma * f->sigma - 2 * R * f->D * T);
        stroke_msd_model(cr, &a, xlo, xhi, 4 * f->D, 1.0, off);
    }
    if (isfinite(f->alpha)) {
        double c0 = isfinite(f->alpha_offset) ? f->alpha_offset : 0;
        sm_set_rgb(cr, sm_okabe_ito[3], 1);
        cairo_set_line_width(cr, 2.5);
        double dd[2] = {8, 5};
        cairo_set_dash(cr, dd, 2, 0);
        stroke_msd_model(cr, &a, xlo, xhi, 4 * f->K_alpha, f->alpha, c0);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    /* ensemble points */
    cairo_set_line_width(cr, 1.5);
    for (int k = 1; k <= kshow && k < c->n; k++) {
        if (c->n_tracks[k] <= 0 || !(c->value[k] > 0)) continue;
        /* about 25 markers per decade: every lag up to 10, then log-spaced */
        if (k > 10 && floor(log10((double)k) * 25) == floor(log10((double)(k - 1)) * 25)) continue;
        double X = sm_axes_x(&a, k * T), Y = sm_axes_y(&a, c->value[k]);
        if (c->reliable[k]) {
            sm_set_rgb(cr, sm_okabe_ito[5], 1);
            if (isfinite(c->se[k]) && c->se[k] > 0) {
                double y0 = c->value[k] - c->se[k], y1 = c->value[k] + c->se[k];
                cairo_move_to(cr, X, y0 > 0 ? sm_axes_y(&a, y0) : a.py1);
                cairo_line_to(cr, X, sm_axes_y(&a, y1));
                cairo_stroke(cr);
            }
            sm_marker(cr, X, Y, 3.5, 1);
        } else {
            cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
            sm_marker(cr, X, Y, 3, 0);
        }
    }
    cairo_restore(cr);
    char title[160];
    snprintf(title, sizeof title, "Mean squared displacement (%lld tracks)", (long long)s->n_tracks);
    sm_axes_draw(cr, &a, xl, yl, title);
    char l0[160], l1[160], l2[160], l3[160], l4[64], b1[32], b2[32];
    sm_fmt(b1, sizeof b1, f->D, 4);
    sm_fmt(b2, sizeof b2, 1.96 * f->D_se, 2);
    snprintf(l0, sizeof l0, "ensemble TA-MSD \xc2\xb1 se (%lld tracks at lag 1)", (long long)(c->n > 1 ? c->n_tracks[1] : 0));
    snprintf(l1, sizeof l1, "Brownian fit: D = %s \xc2\xb1 %s %s\xc2\xb2/%s (%d lags)", b1, b2, s->len_unit, s->time_unit, f->p_D);
    sm_fmt(b1, sizeof b1, f->alpha, 3);
    sm_fmt(b2, sizeof b2, 1.96 * f->alpha_se, 2);
    snprintf(l2, sizeof l2, "power law: \xce\xb1 = %s \xc2\xb1 %s (%s, %d lags)", b1, b2, sm_stats_class_name(f->cls), f->p_alpha);
    snprintf(l3, sizeof l3, "per-track TA-MSD (%lld shown)", (long long)((s->n_tracks + step - 1) / step));
    snprintf(l4, sizeof l4, "too few tracks (unreliable)");
    const double rgb[5][3] = {{0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.000, 0.620, 0.451}, {0.72, 0.72, 0.72}, {0.55, 0.55, 0.55}};
    const int st[5] = {2, 0, 1, 0, 4};
    const char *labels[5] = {l0, l1, l2, l3, l4};
    int nleg = s->warn.first_unreliable_lag > 0 ? 5 : 4;
    sm_legend(cr, a.px0 + 12, a.py0 + 12, nleg, rgb, st, labels);
}

int sm_plot_msd(const sm_stats *s, const char *base, unsigned formats, sm_error *err) {
    return sm_plot_render(base, formats, FIG_W, FIG_H, draw_msd, s, err);
}

/* ---------------------------------------------------------------- van Hove */

static void draw_vh_panel(cairo_t *cr, const sm_stats *s, int comp, double px0, double py0, double px1, double py1) {
    double dmax = 0;
    double xlo = INFINITY, xhi = -INFINITY;
    for (int j = 0; j < s->n_vh; j++) {
        const sm_stats_vanhove *v = &s->vh[j];
        if (v->n < 2) continue;
        const double *h = comp == 0 ? v->hist_x : comp == 1 ? v->hist_y : v->hist_r;
        for (int b = 0; b < v->bins; b++)
            if (h[b] > dmax) dmax = h[b];
        double lo = comp == 2 ? 0 : v->lo, hi = comp == 2 ? v->r_hi : v->hi;
        if (lo < xlo) xlo = lo;
        if (hi > xhi) xhi = hi;
    }
    if (!(dmax > 0)) {
        dmax = 1;
        xlo = -1;
        xhi = 1;
    }
    double ylo, yhi;
    sm_nice_log_range(dmax * 3e-4, dmax * 1.5, &ylo, &yhi);
    sm_axes a;
    sm_axes_init(&a, px0, py0, px1, py1, xlo, xhi, ylo, yhi, 0, 1);
    sm_axes_clip(cr, &a);
    for (int j = 0; j < s->n_vh; j++) {
        const sm_stats_vanhove *v = &s->vh[j];
        if (v->n < 2) continue;
        const double *col = sm_okabe_ito[(j % 7) + 1 == 4 ? 7 : (j % 7) + 1];
        const double *h = comp == 0 ? v->hist_x : comp == 1 ? v->hist_y : v->hist_r;
        double lo = comp == 2 ? 0 : v->lo, hi = comp == 2 ? v->r_hi : v->hi, bw = (hi - lo) / v->bins;
        sm_set_rgb(cr, col, 1);
        cairo_set_line_width(cr, 2);
        int pen = 0;
        for (int b = 0; b < v->bins; b++) {
            if (!(h[b] > 0)) {
                pen = 0;
                continue;
            }
            double Y = sm_axes_y(&a, h[b]);
            double X0 = sm_axes_x(&a, lo + b * bw), X1 = sm_axes_x(&a, lo + (b + 1) * bw);
            if (pen) cairo_line_to(cr, X0, Y);
            else cairo_move_to(cr, X0, Y);
            cairo_line_to(cr, X1, Y);
            pen = 1;
        }
        cairo_stroke(cr);
        /* Gaussian overlay */
        double mu = comp == 0 ? v->mean_x : comp == 1 ? v->mean_y : 0, sd = comp == 0 ? v->sd_x : comp == 1 ? v->sd_y : v->sd_r;
        if (!(sd > 0)) continue;
        double dd[2] = {6, 4};
        cairo_set_dash(cr, dd, 2, 0);
        cairo_set_line_width(cr, 1.8);
        sm_set_rgb(cr, col, 0.9);
        pen = 0;
        for (int i = 0; i <= 300; i++) {
            double x = lo + (hi - lo) * i / 300.0, p;
            if (comp == 2) p = x / (sd * sd) * exp(-x * x / (2 * sd * sd));
            else p = exp(-(x - mu) * (x - mu) / (2 * sd * sd)) / (sd * sqrt(2 * M_PI));
            if (!(p > ylo * 0.5)) {
                pen = 0;
                continue;
            }
            double X = sm_axes_x(&a, x), Y = sm_axes_y(&a, p);
            if (pen) cairo_line_to(cr, X, Y);
            else cairo_move_to(cr, X, Y);
            pen = 1;
        }
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    cairo_restore(cr);
    char xl[64];
    const char *nm = comp == 0 ? "\xce\x94x" : comp == 1 ? "\xce\x94y" : "|\xce\x94r|";
    snprintf(xl, sizeof xl, "%s (%s)", nm, s->len_unit);
    char yl[64];
    snprintf(yl, sizeof yl, "probability density (1/%s)", s->len_unit);
    sm_axes_draw(cr, &a, xl, comp == 0 ? yl : NULL, comp == 0 ? "Displacements \xce\x94x" : comp == 1 ? "Displacements \xce\x94y" : "Step lengths");
}

static void draw_vanhove(cairo_t *cr, int w, int h, const void *vd) {
    const sm_stats *s = vd;
    double pw = (w - 100 - 30) / 3.0;
    for (int c = 0; c < 3; c++) draw_vh_panel(cr, s, c, 100 + c * pw + (c ? 45 : 0), 60, 100 + (c + 1) * pw - 15, h - 190);
    /* legend below: one entry per lag */
    char lab[SM_STATS_MAX_VH_LAGS + 1][160];
    const char *labels[SM_STATS_MAX_VH_LAGS + 1];
    double rgb[SM_STATS_MAX_VH_LAGS + 1][3];
    int st[SM_STATS_MAX_VH_LAGS + 1];
    int n = 0;
    for (int j = 0; j < s->n_vh; j++) {
        const sm_stats_vanhove *v = &s->vh[j];
        const double *col = sm_okabe_ito[(j % 7) + 1 == 4 ? 7 : (j % 7) + 1];
        char b1[32], b2[32], b3[32];
        sm_fmt(b1, sizeof b1, v->sd_x, 3);
        sm_fmt(b2, sizeof b2, v->ngp, 2);
        sm_fmt(b3, sizeof b3, 1.96 * v->ngp_se, 1);
        snprintf(lab[n], sizeof lab[n], "lag %d frame%s (%g %s): sd_x = %s %s, NGP = %s \xc2\xb1 %s, n = %lld", v->lag,
                 v->lag == 1 ? "" : "s", v->lag * s->time_scale, s->time_unit, b1, s->len_unit, b2, b3, (long long)v->n);
        labels[n] = lab[n];
        memcpy(rgb[n], col, sizeof rgb[n]);
        st[n] = 0;
        n++;
    }
    snprintf(lab[n], sizeof lab[n], "dashed: Gaussian (\xce\x94x, \xce\x94y) and 2-D Gaussian (|\xce\x94r|) with the fitted widths");
    labels[n] = lab[n];
    rgb[n][0] = rgb[n][1] = rgb[n][2] = 0.3;
    st[n] = 1;
    n++;
    sm_legend(cr, 100, h - 130, n, (const double(*)[3])rgb, st, labels);
}

int sm_plot_vanhove(const sm_stats *s, const char *base, unsigned formats, sm_error *err) {
    return sm_plot_render(base, formats, 1200, 620, draw_vanhove, s, err);
}

/* ---------------------------------------------------------------- VACF */

static void draw_vacf(cairo_t *cr, int w, int h, const void *vd) {
    const sm_stats *s = vd;
    const sm_stats_curve *c = &s->vacf;
    double ymin = -0.6, ymax = 1.05;
    for (int k = 0; k < c->n; k++)
        if (isfinite(c->value[k])) {
            if (c->value[k] - 0.05 < ymin) ymin = c->value[k] - 0.05;
            if (c->value[k] + 0.05 > ymax) ymax = c->value[k] + 0.05;
        }
    if (ymin < -1.2) ymin = -1.2;
    if (ymax > 1.5) ymax = 1.5;
    double T = s->time_scale;
    sm_axes a;
    sm_axes_init(&a, 110, 60, w - 40, h - 80, -0.5 * T, (c->n - 0.5) * T, ymin, ymax, 0, 0);
    sm_axes_clip(cr, &a);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, a.px0, sm_axes_y(&a, 0));
    cairo_line_to(cr, a.px1, sm_axes_y(&a, 0));
    cairo_stroke(cr);
    /* fBm expectation */
    sm_set_rgb(cr, sm_okabe_ito[3], 1);
    cairo_set_line_width(cr, 2.5);
    double dd[2] = {8, 5};
    cairo_set_dash(cr, dd, 2, 0);
    for (int k = 0; k < c->n; k++) {
        double X = sm_axes_x(&a, k * T), Y = sm_axes_y(&a, s->vacf_fbm[k]);
        if (k) cairo_line_to(cr, X, Y);
        else cairo_move_to(cr, X, Y);
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    /* data */
    sm_set_rgb(cr, sm_okabe_ito[5], 1);
    cairo_set_line_width(cr, 1.5);
    for (int k = 0; k < c->n; k++) {
        if (!isfinite(c->value[k])) continue;
        double X = sm_axes_x(&a, k * T), Y = sm_axes_y(&a, c->value[k]);
        if (isfinite(c->se[k])) {
            cairo_move_to(cr, X, sm_axes_y(&a, c->value[k] - c->se[k]));
            cairo_line_to(cr, X, sm_axes_y(&a, c->value[k] + c->se[k]));
            cairo_stroke(cr);
        }
        sm_marker(cr, X, Y, 4, c->reliable[k]);
    }
    /* noise expectation at lag 1 */
    if (isfinite(s->vacf_noise_lag1) && c->n > 1) {
        sm_set_rgb(cr, sm_okabe_ito[6], 1);
        double X = sm_axes_x(&a, T), Y = sm_axes_y(&a, s->vacf_noise_lag1);
        cairo_set_line_width(cr, 2.5);
        cairo_move_to(cr, X - 9, Y);
        cairo_line_to(cr, X, Y - 9);
        cairo_line_to(cr, X + 9, Y);
        cairo_line_to(cr, X, Y + 9);
        cairo_close_path(cr);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    char xl[64];
    snprintf(xl, sizeof xl, "lag time (%s)", s->time_unit);
    sm_axes_draw(cr, &a, xl, "normalised velocity autocorrelation", "Velocity autocorrelation (1-frame velocities)");
    char l0[96], l1[96], l2[128], b[32];
    snprintf(l0, sizeof l0, "data \xc2\xb1 se");
    sm_fmt(b, sizeof b, isfinite(s->ens.fit.alpha) ? s->ens.fit.alpha : 1.0, 3);
    snprintf(l1, sizeof l1, "fBm expectation at \xce\xb1 = %s", b);
    sm_fmt(b, sizeof b, s->vacf_noise_lag1, 3);
    snprintf(l2, sizeof l2, "lag 1 from localisation noise + blur: %s", b);
    const double rgb[3][3] = {{0.000, 0.447, 0.698}, {0.000, 0.620, 0.451}, {0.835, 0.369, 0.000}};
    const int st[3] = {2, 1, 3};
    const char *labels[3] = {l0, l1, l2};
    sm_legend(cr, a.px1 - 420, a.py0 + 12, 3, rgb, st, labels);
}

int sm_plot_vacf(const sm_stats *s, const char *base, unsigned formats, sm_error *err) {
    return sm_plot_render(base, formats, FIG_W, FIG_H, draw_vacf, s, err);
}

/* ---------------------------------------------------------------- angular MSD */

static void draw_amsd(cairo_t *cr, int w, int h, const void *vd) {
    const sm_stats *s = vd;
    const sm_stats_curve *c = &s->eaamsd;
    double T = s->time_scale;
    int kmax = 1;
    for (int k = 1; k < c->n; k++)
        if (c->reliable[k] && isfinite(c->value[k])) kmax = k;
    if (kmax > 200) kmax = 200;
    double ymax = 0;
    for (int k = 1; k <= kmax; k++)
        if (isfinite(c->value[k]) && c->value[k] + (isfinite(c->se[k]) ? c->se[k] : 0) > ymax)
            ymax = c->value[k] + (isfinite(c->se[k]) ? c->se[k] : 0);
    if (!(ymax > 0)) ymax = 1;
    sm_axes a;
    sm_axes_init(&a, 110, 60, w - 40, h - 80, 0, (kmax + 0.5) * T, 0, ymax * 1.08, 0, 0);
    sm_axes_clip(cr, &a);
    /* line 2 D_r t + c, c from the first 5 lags */
    double Dr = s->ens.D_r;
    if (isfinite(Dr)) {
        double off = 0;
        int n = 0;
        for (int k = 1; k <= 5 && k <= kmax; k++)
            if (isfinite(c->value[k])) {
                off += c->value[k] - 2 * Dr * k * T;
                n++;
            }
        off = n ? off / n : 0;
        sm_set_rgb(cr, sm_okabe_ito[6], 1);
        cairo_set_line_width(cr, 2.5);
        cairo_move_to(cr, sm_axes_x(&a, 0), sm_axes_y(&a, off));
        cairo_line_to(cr, sm_axes_x(&a, (kmax + 0.5) * T), sm_axes_y(&a, off + 2 * Dr * (kmax + 0.5) * T));
        cairo_stroke(cr);
    }
    sm_set_rgb(cr, sm_okabe_ito[5], 1);
    cairo_set_line_width(cr, 1.3);
    int stride = kmax > 100 ? kmax / 100 : 1;
    for (int k = 1; k <= kmax; k += stride) {
        if (!isfinite(c->value[k])) continue;
        double X = sm_axes_x(&a, k * T);
        if (isfinite(c->se[k])) {
            cairo_move_to(cr, X, sm_axes_y(&a, c->value[k] - c->se[k]));
            cairo_line_to(cr, X, sm_axes_y(&a, c->value[k] + c->se[k]));
            cairo_stroke(cr);
        }
        sm_marker(cr, X, sm_axes_y(&a, c->value[k]), 3.5, 1);
    }
    cairo_restore(cr);
    char xl[64];
    snprintf(xl, sizeof xl, "lag time (%s)", s->time_unit);
    sm_axes_draw(cr, &a, xl, "angular MSD (rad\xc2\xb2)", "Angular MSD (orientation unwrapped, \xcf\x80-periodic)");
    char l0[96], l1[160], b1[32], b2[32];
    snprintf(l0, sizeof l0, "ensemble angular TA-MSD \xc2\xb1 se");
    sm_fmt(b1, sizeof b1, Dr, 3);
    sm_fmt(b2, sizeof b2, 1.96 * s->ens.D_r_se, 2);
    snprintf(l1, sizeof l1, "2 D_r t + offset, D_r = %s \xc2\xb1 %s rad\xc2\xb2/%s (CVE)", b1, b2, s->time_unit);
    const double rgb[2][3] = {{0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}};
    const int st[2] = {2, 0};
    const char *labels[2] = {l0, l1};
    sm_legend(cr, a.px0 + 12, a.py0 + 12, 2, rgb, st, labels);
}

int sm_plot_angular_msd(const sm_stats *s, const char *base, unsigned formats, sm_error *err) {
    if (!s->has_angles || s->eaamsd.n < 2) return 0;
    return sm_plot_render(base, formats, FIG_W, FIG_H, draw_amsd, s, err);
}

int sm_plot_all(const sm_tracks *tracks, const sm_stats *s, const char *dir, unsigned formats, sm_error *err) {
    char pdir[4096], base[4200];
    int rc = sm_path_join(pdir, sizeof pdir, dir, "plots", err);
    if (rc == 0) rc = sm_mkdir_p(pdir, err);
    if (rc < 0) return rc;
#define FIG(name, call)                                                                                                \
    do {                                                                                                               \
        snprintf(base, sizeof base, "%s/%s", pdir, name);                                                              \
        rc = call;                                                                                                     \
        if (rc < 0) return rc;                                                                                         \
    } while (0)
    FIG("trajectories", sm_plot_trajectories(tracks, s, base, formats, err));
    FIG("msd", sm_plot_msd(s, base, formats, err));
    FIG("vanhove", sm_plot_vanhove(s, base, formats, err));
    FIG("vacf", sm_plot_vacf(s, base, formats, err));
    FIG("angular_msd", sm_plot_angular_msd(s, base, formats, err));
#undef FIG
    return 0;
}
