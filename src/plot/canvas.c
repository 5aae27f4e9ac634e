/* The drawing kit behind samem's figures: one render call for PNG and SVG, axes with linear or log scales,
 * tick placement (1-2-5 steps; decades with minor ticks 2..9 on log axes), text, legends and palettes.
 * Why our own: the figures are few and fixed, and cairo alone (a Debian package we already use) draws them;
 * a plotting library would be a new dependency.
 * Palettes: Okabe & Ito, "Color Universal Design" (2008); viridis (van der Walt & Smith, matplotlib 2015),
 * sampled at 10 anchors here.
 * Leaves out: automatic label collision avoidance, PDF. */
#include <cairo-svg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/plot_impl.h"

const double sm_okabe_ito[8][3] = {
    {0.000, 0.000, 0.000}, {0.902, 0.624, 0.000}, {0.337, 0.706, 0.914}, {0.000, 0.620, 0.451},
    {0.941, 0.894, 0.259}, {0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.800, 0.475, 0.655},
};

static const double viridis_anchor[10][3] = {
    {0.267, 0.005, 0.329}, {0.282, 0.157, 0.471}, {0.243, 0.290, 0.537}, {0.192, 0.408, 0.557},
    {0.149, 0.510, 0.557}, {0.122, 0.620, 0.537}, {0.208, 0.718, 0.475}, {0.427, 0.804, 0.349},
    {0.706, 0.871, 0.173}, {0.992, 0.906, 0.145},
};

void sm_viridis(double t, double rgb[3]) {
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double f = t * 9;
    int i = (int)f;
    if (i >= 9) i = 8;
    double u = f - i;
    for (int c = 0; c < 3; c++) rgb[c] = viridis_anchor[i][c] * (1 - u) + viridis_anchor[i + 1][c] * u;
}

int sm_plot_render(const char *base, unsigned formats, int w, int h, sm_draw_fn draw, const void *data, sm_error *err) {
    for (int f = 0; f < 2; f++) {
        unsigned bit = f == 0 ? SM_PLOT_PNG : SM_PLOT_SVG;
        if (!(formats & bit)) continue;
        char path[4096], tmp[4200];
        if (snprintf(path, sizeof path, "%s.%s", base, f == 0 ? "png" : "svg") >= (int)sizeof path)
            return sm_error_set(err, SM_EINVAL, "%s: path too long", base);
        int rc = sm_atomic_temp_path(tmp, sizeof tmp, path, err);
        if (rc < 0) return rc;
        cairo_surface_t *sf = f == 0 ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h)
                                     : cairo_svg_surface_create(tmp, w, h);
        if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS) {
            cairo_surface_destroy(sf);
            remove(tmp);
            return sm_error_set(err, SM_EIO, "%s: cannot create the figure (%s)", path,
                                cairo_status_to_string(cairo_surface_status(sf)));
        }
        cairo_t *cr = cairo_create(sf);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        draw(cr, w, h, data);
        cairo_status_t st = cairo_status(cr);
        cairo_destroy(cr);
        if (f == 0 && st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png(sf, tmp);
        cairo_surface_finish(sf);
        if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(sf);
        cairo_surface_destroy(sf);
        if (st != CAIRO_STATUS_SUCCESS) {
            remove(tmp);
            return sm_error_set(err, SM_EIO, "%s: cannot write the figure (%s)", path, cairo_status_to_string(st));
        }
        rc = sm_atomic_rename(tmp, path, err);
        if (rc < 0) return rc;
    }
    return 0;
}

void sm_set_rgb(cairo_t *cr, const double rgb[3], double alpha) { cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], alpha); }

void sm_text(cairo_t *cr, double x, double y, const char *s, double size, double ax, double ay, int bold) {
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    /* ax, ay: 0 left/top, 0.5 centre, 1 right/bottom (vertical by the font size, not the glyphs) */
    cairo_move_to(cr, x - ax * te.x_advance, y + (1 - ay) * size * 0.75 - ay * size * 0.0);
    cairo_show_text(cr, s);
}

void sm_marker(cairo_t *cr, double x, double y, double r, int filled) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0, 2 * M_PI);
    if (filled) cairo_fill(cr);
    else cairo_stroke(cr);
}

void sm_legend(cairo_t *cr, double x, double y, int n, const double (*rgb)[3], const int *style, const char *const *labels) {
    double row = 22, wmax = 0;
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 14);
    for (int i = 0; i < n; i++) {
        cairo_text_extents_t te;
        cairo_text_extents(cr, labels[i], &te);
        if (te.x_advance > wmax) wmax = te.x_advance;
    }
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, x, y, wmax + 52, n * row + 8);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double yy = y + 4 + row * i + row / 2;
        sm_set_rgb(cr, rgb[i], 1);
        cairo_set_line_width(cr, 2.5);
        if (style[i] == 2 || style[i] == 4) {
            cairo_set_line_width(cr, 1.5);
            sm_marker(cr, x + 20, yy, 4.5, style[i] == 2);
        } else if (style[i] == 3) {
            cairo_move_to(cr, x + 11, yy);
            cairo_line_to(cr, x + 20, yy - 9);
            cairo_line_to(cr, x + 29, yy);
            cairo_line_to(cr, x + 20, yy + 9);
            cairo_close_path(cr);
            cairo_stroke(cr);
        } else {
            if (style[i] == 1) {
                double d[2] = {6, 4};
                cairo_set_dash(cr, d, 2, 0);
            }
            cairo_move_to(cr, x + 6, yy);
            cairo_line_to(cr, x + 34, yy);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        sm_text(cr, x + 42, yy, labels[i], 14, 0, 0.5, 0);
    }
}

void sm_axes_init(sm_axes *a, double px0, double py0, double px1, double py1, double xmin, double xmax, double ymin,
                  double ymax, int logx, int logy) {
    a->px0 = px0; a->py0 = py0; a->px1 = px1; a->py1 = py1;
    if (!(xmax > xmin)) { xmin -= 1; xmax += 1; }
    if (!(ymax > ymin)) { ymin -= 1; ymax += 1; }
    a->xmin = xmin; a->xmax = xmax; a->ymin = ymin; a->ymax = ymax;
    a->logx = logx; a->logy = logy;
    a->equal = 0;
}

double sm_axes_x(const sm_axes *a, double x) {
    double u = a->logx ? (log10(x) - log10(a->xmin)) / (log10(a->xmax) - log10(a->xmin)) : (x - a->xmin) / (a->xmax - a->xmin);
    return a->px0 + u * (a->px1 - a->px0);
}

double sm_axes_y(const sm_axes *a, double y) {
    double u = a->logy ? (log10(y) - log10(a->ymin)) / (log10(a->ymax) - log10(a->ymin)) : (y - a->ymin) / (a->ymax - a->ymin);
    return a->py1 - u * (a->py1 - a->py0);
}

void sm_axes_clip(cairo_t *cr, const sm_axes *a) {
    cairo_save(cr);
    cairo_rectangle(cr, a->px0, a->py0, a->px1 - a->px0, a->py1 - a->py0);
    cairo_clip(cr);
}

void sm_fmt(char *buf, size_t n, double v, int sig) {
    if (!isfinite(v)) {
        snprintf(buf, n, "n/a");
        return;
    }
    double av = fabs(v);
    if (av != 0 && (av >= 1e6 || av < 1e-3)) snprintf(buf, n, "%.*e", sig - 1, v);
    else if (av >= pow(10, sig)) snprintf(buf, n, "%.0f", v); /* 1234.5 at 2 digits: "1235", not "1.2e+03" */
    else snprintf(buf, n, "%.*g", sig, v);
}

void sm_nice_log_range(double lo, double hi, double *out_lo, double *out_hi) {
    if (!(lo > 0)) lo = hi > 0 ? hi * 1e-3 : 1e-3;
    if (!(hi > lo)) hi = lo * 10;
    /* a 40% margin, widened to whole decades only when no decade tick would fall inside */
    double a = lo / 1.4, b = hi * 1.4;
    if (floor(log10(b)) < ceil(log10(a))) {
        a = pow(10, floor(log10(lo) + 1e-9));
        b = pow(10, ceil(log10(hi) - 1e-9));
        if (b <= a) b = a * 10;
    }
    *out_lo = a;
    *out_hi = b;
}

static double nice_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* tick label of a decade: "10" with the exponent raised */
static void decade_label(cairo_t *cr, double x, double y, int e, double ax, double ay) {
    char ex[16];
    snprintf(ex, sizeof ex, "%d", e);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 14);
    cairo_text_extents_t t1, t2;
    cairo_text_extents(cr, "10", &t1);
    cairo_set_font_size(cr, 10);
    cairo_text_extents(cr, ex, &t2);
    double wtot = t1.x_advance + t2.x_advance + 1;
    double x0 = x - ax * wtot;
    sm_text(cr, x0, y, "10", 14, 0, ay, 0);
    sm_text(cr, x0 + t1.x_advance + 1, y - 6, ex, 10, 0, ay, 0);
}

void sm_axes_draw(cairo_t *cr, const sm_axes *a, const char *xlabel, const char *ylabel, const char *title) {
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 1.2);
    cairo_rectangle(cr, a->px0, a->py0, a->px1 - a->px0, a->py1 - a->py0);
    cairo_stroke(cr);
    char buf[64];
    /* x ticks */
    if (a->logx) {
        for (int e = (int)floor(log10(a->xmin)); e <= (int)ceil(log10(a->xmax)); e++)
            for (int m = 1; m <= 9; m++) {
                double v = m * pow(10, e);
                if (v < a->xmin * 0.999 || v > a->xmax * 1.001) continue;
                double X = sm_axes_x(a, v);
                cairo_move_to(cr, X, a->py1);
                cairo_line_to(cr, X, a->py1 - (m == 1 ? 7 : 4));
                cairo_stroke(cr);
                if (m == 1) decade_label(cr, X, a->py1 + 8, e, 0.5, 0);
            }
    } else {
        double st = nice_step(a->xmax - a->xmin, 6);
        for (double v = ceil(a->xmin / st) * st; v <= a->xmax + 1e-9 * st; v += st) {
            double X = sm_axes_x(a, v);
            cairo_move_to(cr, X, a->py1);
            cairo_line_to(cr, X, a->py1 - 6);
            cairo_stroke(cr);
            snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-9 * st ? 0.0 : v);
            sm_text(cr, X, a->py1 + 8, buf, 14, 0.5, 0, 0);
        }
    }
    /* y ticks */
    if (a->logy) {
        for (int e = (int)floor(log10(a->ymin)); e <= (int)ceil(log10(a->ymax)); e++)
            for (int m = 1; m <= 9; m++) {
                double v = m * pow(10, e);
                if (v < a->ymin * 0.999 || v > a->ymax * 1.001) continue;
                double Y = sm_axes_y(a, v);
                cairo_move_to(cr, a->px0, Y);
                cairo_line_to(cr, a->px0 + (m == 1 ? 7 : 4), Y);
                cairo_stroke(cr);
                if (m == 1) decade_label(cr, a->px0 - 8, Y, e, 1, 0.5);
            }
    } else {
        double st = nice_step(a->ymax - a->ymin, 6);
        for (double v = ceil(a->ymin / st) * st; v <= a->ymax + 1e-9 * st; v += st) {
            double Y = sm_axes_y(a, v);
            cairo_move_to(cr, a->px0, Y);
            cairo_line_to(cr, a->px0 + 6, Y);
            cairo_stroke(cr);
            snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-9 * st ? 0.0 : v);
            sm_text(cr, a->px0 - 8, Y, buf, 14, 1, 0.5, 0);
        }
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (xlabel) sm_text(cr, 0.5 * (a->px0 + a->px1), a->py1 + 34, xlabel, 16, 0.5, 0, 0);
    if (ylabel) {
        cairo_save(cr);
        cairo_translate(cr, a->px0 - 62, 0.5 * (a->py0 + a->py1));
        cairo_rotate(cr, -M_PI / 2);
        sm_text(cr, 0, 0, ylabel, 16, 0.5, 0.5, 0);
        cairo_restore(cr);
    }
    if (title) sm_text(cr, a->px0, a->py0 - 14, title, 17, 0, 1, 1);
}
