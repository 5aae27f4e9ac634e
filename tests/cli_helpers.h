/* Helpers shared by the tests that run the samem command: running it, reading back what it wrote, and
 * writing its input fixtures (TIFF stacks with libtiff, PNG frames with libpng) independently of the io module.
 *
 *     static double ramp(int frame, int x, int y) { return 1000 * frame + 10 * y + x; }
 *     ...
 *     if (!sm_test_samem_ready()) return sm_test_report();
 *     sm_test_stack s = {.width = 6, .height = 4, .frames = 3, .bits = 16, .value = ramp};
 *     SM_CHECK("stack written", sm_test_write_stack(path, &s) == 0);
 *     SM_CHECK("info: exit 0, 6 px wide", sm_test_samem(out_txt, "/dev/null", "info '%s'", path) == 0 &&
 *                                          strstr(sm_test_slurp(out_txt), "width:           6 px"));
 */
#ifndef SM_CLI_HELPERS_H
#define SM_CLI_HELPERS_H

#include <stdarg.h>
#include <stdint.h>
#include <png.h>
#include <tiffio.h>

#include "test.h"

/* $SAMEM_BIN (set by ctest) if it names an executable, else NULL. */
static inline const char *sm_test_samem_bin(void) {
    const char *bin = getenv("SAMEM_BIN");
    return bin && *bin && access(bin, X_OK) == 0 ? bin : NULL;
}

/* For tests that cannot do without the command: a missing one is a named failure, not a silent exit. */
static inline int sm_test_samem_ready(void) {
    const char *bin = getenv("SAMEM_BIN");
    int ok = sm_test_samem_bin() != NULL;
    SM_CHECKF("SAMEM_BIN names the samem executable", ok, "SAMEM_BIN=%s", bin ? bin : "(unset)");
    return ok;
}

/* Runs `samem ARGS` (ARGS from printf-style FMT) with stdin from /dev/null, so that no run can wait on the
 * terminal. out_path and err_path receive stdout and stderr ("/dev/null" discards them); NULL leaves the stream
 * in the test's own output, where ctest shows it on failure. Returns the exit status, -1 if it did not run. */
__attribute__((format(printf, 3, 4))) static inline int sm_test_samem(const char *out_path, const char *err_path,
                                                                      const char *fmt, ...) {
    const char *bin = sm_test_samem_bin();
    if (!bin) return -1;
    char args[8192], out[4200] = "", err[4200] = "", cmd[24576];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    if (out_path) snprintf(out, sizeof out, " >'%s'", out_path);
    if (err_path) snprintf(err, sizeof err, " 2>'%s'", err_path);
    snprintf(cmd, sizeof cmd, "'%s' %s </dev/null%s%s", bin, args, out, err);
    return sm_test_system(cmd);
}

/* The whole file as a string, "" if it cannot be read. The buffer is reused: the text holds until the next
 * call, which keeps checks like strstr(sm_test_slurp(p), "x") free of cleanup. */
static inline const char *sm_test_slurp(const char *path) {
    static char *text;
    static size_t cap;
    size_t n = 0;
    FILE *fp = fopen(path, "rb");
    if (fp) {
        for (;;) {
            if (cap - n < 2) {
                size_t grown = cap ? 2 * cap : 65536;
                char *p = realloc(text, grown);
                if (!p) break;
                text = p;
                cap = grown;
            }
            size_t got = fread(text + n, 1, cap - n - 1, fp);
            if (got == 0) break;
            n += got;
        }
        fclose(fp);
    }
    if (!text) return "";
    text[n] = 0;
    return text;
}

static inline int sm_test_count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static inline int sm_test_exists(const char *path) { return access(path, F_OK) == 0; }

static inline int sm_test_write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int ok = fputs(text, fp) >= 0;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

/* A multi-page greyscale TIFF stack, one strip per page. */
typedef struct {
    int width, height, frames;
    int bits;                                 /* 8 or 16: unsigned integers; 32: float */
    double (*value)(int frame, int x, int y); /* cast (truncated) to the sample type */
    double px_per_unit;      /* XResolution and YResolution, unit none as ImageJ writes them; 0 leaves them out */
    const char *description; /* the first page's ImageDescription (ImageJ metadata); NULL leaves it out */
    int last_width;          /* another width for the last page, to make a broken stack; 0: the same width */
} sm_test_stack;

static inline int sm_test_write_stack(const char *path, const sm_test_stack *s) {
    if (s->bits != 8 && s->bits != 16 && s->bits != 32) return -1;
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return -1;
    int max_width = s->last_width > s->width ? s->last_width : s->width;
    void *buf = malloc((size_t)max_width * (size_t)s->height * (size_t)(s->bits / 8));
    int rc = buf ? 0 : -1;
    for (int f = 0; f < s->frames && rc == 0; f++) {
        int w = f == s->frames - 1 && s->last_width ? s->last_width : s->width;
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, s->height);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, s->bits);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, s->bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, s->height);
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, f, s->frames);
        if (s->px_per_unit > 0) {
            TIFFSetField(t, TIFFTAG_XRESOLUTION, s->px_per_unit);
            TIFFSetField(t, TIFFTAG_YRESOLUTION, s->px_per_unit);
            TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
        }
        if (s->description && f == 0) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, s->description);
        for (int y = 0; y < s->height; y++)
            for (int x = 0; x < w; x++) {
                double v = s->value(f, x, y);
                size_t i = (size_t)y * (size_t)w + (size_t)x;
                if (s->bits == 8) ((uint8_t *)buf)[i] = (uint8_t)v;
                else if (s->bits == 16) ((uint16_t *)buf)[i] = (uint16_t)v;
                else ((float *)buf)[i] = (float)v;
            }
        tmsize_t size = (tmsize_t)w * s->height * (s->bits / 8);
        if (TIFFWriteEncodedStrip(t, 0, buf, size) < 0 || !TIFFWriteDirectory(t)) rc = -1;
    }
    free(buf);
    TIFFClose(t);
    return rc;
}

/* One greyscale PNG (8 or 16 bits) of frame `frame` of value(frame, x, y). */
static inline int sm_test_write_png(const char *path, int width, int height, int bits, int frame,
                                    double (*value)(int frame, int x, int y)) {
    if (bits != 8 && bits != 16) return -1;
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *row = malloc((size_t)width * (size_t)(bits / 8));
    volatile int ok = 0;
    if (info && row && setjmp(png_jmpbuf(png)) == 0) {
        png_init_io(png, fp);
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bits, PNG_COLOR_TYPE_GRAY,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                unsigned v = (unsigned)value(frame, x, y);
                if (bits == 8) {
                    row[x] = (unsigned char)v;
                } else {
                    row[2 * x] = (unsigned char)(v >> 8); /* PNG stores 16-bit samples big-endian */
                    row[2 * x + 1] = (unsigned char)(v & 0xff);
                }
            }
            png_write_row(png, row);
        }
        png_write_end(png, NULL);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(fp);
    return ok ? 0 : -1;
}

/* DIR/<prefix><frame>.png for every frame. The numbers are not zero-padded (f10.png sorts before f2.png by
 * name), so a reader that gets the frame order right must sort naturally. */
static inline int sm_test_write_png_folder(const char *dir, const char *prefix, int width, int height, int bits,
                                           int frames, double (*value)(int frame, int x, int y)) {
    mkdir(dir, 0777);
    for (int f = 0; f < frames; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s%d.png", dir, prefix, f);
        if (sm_test_write_png(path, width, height, bits, f, value) < 0) return -1;
    }
    return 0;
}

#endif
