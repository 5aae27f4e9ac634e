/* Internal drawing kit for src/plot: figure files, axes with linear/log scales and ticks, palettes, text. */
#ifndef SM_PLOT_IMPL_H
#define SM_PLOT_IMPL_H

#include <cairo.h>

#include "samem/plot.h"

/* Okabe & Ito 2008 colour-blind-safe palette (RGB 0..1): black, orange, sky blue, bluish green, yellow,
 * blue, vermillion, reddish purple. */
extern const double sm_okabe_ito[8][3];
/* viridis at t in [0, 1] (piecewise linear between 10 anchor colours of matplotlib's map). */
void sm_viridis(double t, double rgb[3]);

typedef void (*sm_draw_fn)(cairo_t *cr, int w, int h, const void *data);
/* Renders draw into base.png and/or base.svg (atomic). */
int sm_plot_render(const char *base, unsigned formats, int w, int h, sm_draw_fn draw, const void *data, sm_error *err);

typedef struct sm_axes {
    double px0, py0, px1, py1;     /* plot rectangle in canvas px (top-left, bottom-right) */
    double xmin, xmax, ymin, ymax; /* data range */
    int logx, logy;
    int equal;                     /* set by sm_axes_equal */
} sm_axes;

void sm_axes_init(sm_axes *a, double px0, double py0, double px1, double py1, double xmin, double xmax, double ymin,
                  double ymax, int logx, int logy);
double sm_axes_x(const sm_axes *a, double x);
double sm_axes_y(const sm_axes *a, double y);
/* Frame, ticks, tick labels, axis labels and title. */
void sm_axes_draw(cairo_t *cr, const sm_axes *a, const char *xlabel, const char *ylabel, const char *title);
/* Restricts drawing to the plot rectangle (cairo_save first; cairo_restore after). */
void sm_axes_clip(cairo_t *cr, const sm_axes *a);

void sm_set_rgb(cairo_t *cr, const double rgb[3], double alpha);
void sm_text(cairo_t *cr, double x, double y, const char *s, double size, double ax, double ay, int bold);
/* Legend: n entries of (colour, style 0 line / 1 dashed line / 2 dot / 3 diamond / 4 circle, label) at top-left x, y. */
void sm_legend(cairo_t *cr, double x, double y, int n, const double (*rgb)[3], const int *style, const char *const *labels);
void sm_marker(cairo_t *cr, double x, double y, double r, int filled);

/* Data range helpers: padded limits; for log axes whole decades around positive data. */
void sm_nice_log_range(double lo, double hi, double *out_lo, double *out_hi);
/* "1.23e3" style compact numbers with a given number of significant digits. */
void sm_fmt(char *buf, size_t n, double v, int sig);

#endif
