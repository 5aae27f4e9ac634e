/* `samem track` end to end on label stacks written here with libtiff: two squares moving 2 px per frame
 * whose label values swap every frame (linking must follow the squares, not the labels), an intensity video
 * (mean intensity and contrast-weighted centroid), --keep-ids (labels kept as identities), --events, and the
 * exit codes for bad input. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <png.h>
#include <sys/stat.h>
#include <tiffio.h>

#include "samem/tracks.h"
#include "test.h"

#define W 64
#define H 48
#define NF 6

static int write_stack(const char *path, int sample_format, int bits, double (*value)(int f, int x, int y)) {
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return -1;
    void *buf = malloc((size_t)W * H * 4);
    for (int f = 0; f < NF; f++) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, sample_format);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, H);
        TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(t, TIFFTAG_PAGENUMBER, f, NF);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double v = value(f, x, y);
                if (bits == 16) ((uint16_t *)buf)[y * W + x] = (uint16_t)v;
                else ((float *)buf)[y * W + x] = (float)v;
            }
        if (TIFFWriteEncodedStrip(t, 0, buf, (tmsize_t)W * H * (bits / 8)) < 0 || !TIFFWriteDirectory(t)) {
            free(buf);
            TIFFClose(t);
            return -1;
        }
    }
    free(buf);
    TIFFClose(t);
    return 0;
}

/* One 16-bit grey PNG written with libpng. */
static int write_png(const char *path, int f, double (*value)(int f, int x, int y)) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    static unsigned char row[W * 2];
    volatile int ok = 0;
    if (setjmp(png_jmpbuf(png)) == 0) {
        png_init_io(png, fp);
        png_set_IHDR(png, info, W, H, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                unsigned v = (unsigned)value(f, x, y);
                row[2 * x] = (unsigned char)(v >> 8);   /* PNG stores 16-bit samples big-endian */
                row[2 * x + 1] = (unsigned char)(v & 0xff);
            }
            png_write_row(png, row);
        }
        png_write_end(png, NULL);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    return ok ? 0 : -1;
}

/* The same labels as a folder of PNGs. */
static int write_png_folder(const char *dir, double (*value)(int f, int x, int y)) {
    mkdir(dir, 0777);
    for (int f = 0; f < NF; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/frame_%d.png", dir, f);
        if (write_png(path, f, value) < 0) return -1;
    }
    return 0;
}

/* square A: x 10+2f .. 13+2f, y 10..13; square B: x 40-2f .. 43-2f, y 30..33 (4x4 = 16 px each) */
static int which(int f, int x, int y) {
    if (y >= 10 && y <= 13 && x >= 10 + 2 * f && x <= 13 + 2 * f) return 1;
    if (y >= 30 && y <= 33 && x >= 40 - 2 * f && x <= 43 - 2 * f) return 2;
    return 0;
}
static double labels(int f, int x, int y) {
    int w = which(f, x, y);
    if (!w) return 0;
    return (f % 2) ? 3 - w : w;   /* labels swap every frame */
}
static double video(int f, int x, int y) { return which(f, x, y) ? 50 : 100; }
static double halves(int f, int x, int y) { return which(f, x, y) ? 1.5 : 0; }

int main(void) {
    const char *bin = getenv("SAMEM_BIN");
    if (!bin) {
        printf("SAMEM_BIN not set\n");
        return 1;
    }
    char lab[2048], vid[2048], out[2048], ev[2048], bad[2048], cmd[8192];
    sm_test_tmp_path(lab, sizeof lab, "labels.tif");
    sm_test_tmp_path(vid, sizeof vid, "video.tif");
    sm_test_tmp_path(out, sizeof out, "tracks.csv");
    sm_test_tmp_path(ev, sizeof ev, "events.csv");
    sm_test_tmp_path(bad, sizeof bad, "halves.tif");
    SM_CHECK("label and video TIFFs written with libtiff", write_stack(lab, SAMPLEFORMAT_UINT, 16, labels) == 0 &&
             write_stack(vid, SAMPLEFORMAT_IEEEFP, 32, video) == 0 && write_stack(bad, SAMPLEFORMAT_IEEEFP, 32, halves) == 0);

    snprintf(cmd, sizeof cmd, "%s track %s --video %s --weighted-centroid -o %s --max-disp 5 --events %s --quiet", bin,
             lab, vid, out, ev);
    SM_CHECK("samem track exits 0", sm_test_system(cmd) == 0);
    char *text = NULL;
    size_t len;
    sm_error err = {0};
    SM_CHECK("header has trackpy's columns in order", sm_read_text_file(out, 1 << 20, &text, &len, &err) == 0 &&
             strncmp(text, "frame,particle,x,y,area,angle,major,minor,eccentricity,intensity,border\n", 72) == 0);
    free(text);
    sm_tracks *t = NULL;
    int rc = sm_tracks_read_csv(&t, out, &err);
    SM_CHECKF("12 rows read back", rc == 0 && t->n == 12, "rc=%d %s", rc, err.msg);
    int ok = rc == 0 && t->n == 12;
    /* each particle follows one square: x steps of +2 or -2 px, area 16, intensity 50 */
    for (int64_t i = 0; ok && i < t->n; i++) {
        int64_t f = t->frame[i];
        double xa = 11.5 + 2 * f, xb = 41.5 - 2 * f;
        int is_a = fabs(t->y[i] - 11.5) < 1e-9;
        double xe = is_a ? xa : xb;
        if (fabs(t->x[i] - xe) > 1e-9 || t->area[i] != 16 || fabs(t->intensity[i] - 50) > 1e-9 || t->border[i] != 0) ok = 0;
        for (int64_t j = 0; j < t->n; j++)
            if (t->particle[j] == t->particle[i] && fabs(t->y[j] - t->y[i]) > 1e-9) ok = 0;   /* one square per id */
    }
    SM_CHECK("linking follows the squares although labels swap: 2 ids, x steps 2 px, area 16, intensity 50", ok);
    sm_tracks_destroy(t);
    SM_CHECK("events file written with its header", sm_read_text_file(ev, 1 << 20, &text, &len, &err) == 0 &&
             strncmp(text, "frame,event,particle,other,x,y\n", 31) == 0);
    free(text);

    snprintf(cmd, sizeof cmd, "%s track %s -o %s --keep-ids --quiet", bin, lab, out);
    SM_CHECK("samem track --keep-ids exits 0", sm_test_system(cmd) == 0);
    rc = sm_tracks_read_csv(&t, out, &err);
    ok = rc == 0 && t->n == 12;
    for (int64_t i = 0; ok && i < t->n; i++) {
        int is_a = fabs(t->y[i] - 11.5) < 1e-9;
        int64_t expect = (t->frame[i] % 2) ? (is_a ? 2 : 1) : (is_a ? 1 : 2);
        if (t->particle[i] != expect) ok = 0;
        if (!isnan(t->intensity[i])) ok = 0;
    }
    SM_CHECK("--keep-ids keeps the label values as particle ids (no intensity without a video)", ok);
    sm_tracks_destroy(t);

    char dir[2048];
    sm_test_tmp_path(dir, sizeof dir, "pngs");
    SM_CHECK("PNG folder written with libpng", write_png_folder(dir, labels) == 0);
    snprintf(cmd, sizeof cmd, "%s track %s -o %s --keep-ids --quiet", bin, dir, out);
    SM_CHECK("samem track on a PNG folder exits 0", sm_test_system(cmd) == 0);
    rc = sm_tracks_read_csv(&t, out, &err);
    ok = rc == 0 && t->n == 12;
    for (int64_t i = 0; ok && i < t->n; i++) {
        int is_a = fabs(t->y[i] - 11.5) < 1e-9;
        int64_t expect = (t->frame[i] % 2) ? (is_a ? 2 : 1) : (is_a ? 1 : 2);
        if (t->particle[i] != expect || t->area[i] != 16) ok = 0;
    }
    SM_CHECK("PNG folder gives the same 12 detections and ids as the TIFF stack", ok);
    sm_tracks_destroy(t);

    snprintf(cmd, sizeof cmd, "%s track %s -o %s --weighted-centroid --quiet 2>/dev/null", bin, lab, out);
    SM_CHECK("--weighted-centroid without --video: exit 1", sm_test_system(cmd) == 1);
    snprintf(cmd, sizeof cmd, "%s track %s --quiet 2>/dev/null", bin, lab);
    SM_CHECK("missing -o: exit 1", sm_test_system(cmd) == 1);
    snprintf(cmd, sizeof cmd, "%s track %s.missing -o %s --quiet 2>/dev/null", bin, lab, out);
    SM_CHECK("missing labels file: exit 2", sm_test_system(cmd) == 2);
    snprintf(cmd, sizeof cmd, "%s track %s -o %s --quiet 2>/dev/null", bin, bad, out);
    SM_CHECK("non-integer labels: exit 2", sm_test_system(cmd) == 2);
    snprintf(cmd, sizeof cmd, "%s track %s -o %s --max-disp -3 --quiet 2>/dev/null", bin, lab, out);
    SM_CHECK("negative --max-disp: exit 1", sm_test_system(cmd) == 1);
    return sm_test_report();
}
