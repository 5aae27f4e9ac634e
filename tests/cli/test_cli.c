/* The samem command through $SAMEM_BIN: --version, help, exit codes (0 ok, 1 usage, 2 bad input), one-line
 * errors naming the file, `info` and `convert` on fixtures written here with libtiff and libpng, and no
 * partial output left behind when convert fails. */
#include <stdint.h>
#include <stdio.h>
#include <png.h>
#include <tiffio.h>

#include "test.h"

static const char *bin;
static char dir[2048], out_txt[2300], err_txt[2300];

/* Runs `samem ARGS` with stdout and stderr to files; returns the exit status. */
static int run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", bin, args, out_txt, err_txt);
    return sm_test_system(cmd);
}

static char *slurp(const char *path) {
    static char buf[65536];
    buf[0] = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

static int lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static int no_tmp_files(const char *d) {
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep '\\.tmp\\.')\"", d);
    return sm_test_system(cmd) == 0;
}

/* 3 pages of 6x4 uint16 with ImageJ metadata: 250 nm (4 px/micron), 0.1 s; value = 1000 k + 10 y + x;
 * the third page optionally 5 px wide (a broken stack). */
static void write_stack(const char *path, int broken) {
    TIFF *t = TIFFOpen(path, "w");
    for (int k = 0; k < 3; k++) {
        int w = broken && k == 2 ? 5 : 6;
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, 4);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_XRESOLUTION, 4.0);
        TIFFSetField(t, TIFFTAG_YRESOLUTION, 4.0);
        TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
        if (k == 0)
            TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, "ImageJ=1.53t\nimages=3\nframes=3\nunit=micron\nfinterval=0.1\n");
        for (int y = 0; y < 4; y++) {
            uint16_t row[6];
            for (int x = 0; x < 6; x++) row[x] = (uint16_t)(1000 * k + 10 * y + x);
            TIFFWriteScanline(t, row, (uint32_t)y, 0);
        }
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
}

static void write_png8(const char *path, int w, int h, int value) {
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    uint8_t row[64];
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) row[x] = (uint8_t)(value + x + y);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
}

static void test_basics(void) {
    SM_CHECK("--version: exit 0, 'samem <version>'", run("--version") == 0 && strncmp(slurp(out_txt), "samem ", 6) == 0);
    SM_CHECK("no arguments: exit 1", run("") == 1);
    SM_CHECK("unknown command: exit 1, one line", run("frobnicate") == 1 && lines(slurp(err_txt)) == 1);
    SM_CHECK("--help lists info and convert", run("--help") == 0 && strstr(slurp(out_txt), "convert") &&
                                                  strstr(slurp(out_txt), "info"));
    SM_CHECK("help convert: usage and example", run("help convert") == 0 && strstr(slurp(out_txt), "usage: samem convert") &&
                                                    strstr(slurp(out_txt), "example:"));
    SM_CHECK("info --help: exit 0", run("info --help") == 0 && strstr(slurp(out_txt), "usage: samem info"));
    SM_CHECK("info without VIDEO: exit 1", run("info") == 1);
    SM_CHECK("unknown option: exit 1, one line naming it", run("info x.tif --bogus 3") == 1 &&
                                                                lines(slurp(err_txt)) == 1 && strstr(slurp(err_txt), "--bogus"));
    SM_CHECK("--threads 0: exit 1", run("info x.tif --threads 0") == 1);
}

static void test_info_convert(void) {
    char tif[2300], out[2300], args[8192];
    snprintf(tif, sizeof tif, "%s/stack.tif", dir);
    write_stack(tif, 0);
    snprintf(args, sizeof args, "info '%s'", tif);
    int rc = run(args);
    const char *o = slurp(out_txt);
    SM_CHECKF("info: exit 0; format, size, frames, bit depth, pixel size, interval",
              rc == 0 && strstr(o, "format:          tiff") && strstr(o, "width:           6 px") &&
                  strstr(o, "height:          4 px") && strstr(o, "frames:          3") &&
                  strstr(o, "bit depth:       16") && strstr(o, "pixel size:      250 nm") &&
                  strstr(o, "frame interval:  0.1 s"),
              "rc=%d\n%s", rc, o);
    snprintf(args, sizeof args, "info '%s/missing.tif'", dir);
    rc = run(args);
    const char *e = slurp(err_txt);
    SM_CHECKF("info on a missing file: exit 2, one line naming it", rc == 2 && lines(e) == 1 && strstr(e, "missing.tif"),
              "rc=%d %s", rc, e);

    snprintf(out, sizeof out, "%s/out.tif", dir);
    snprintf(args, sizeof args, "convert '%s' '%s' --frames 1:3 --crop 1,2,4,2 --quiet", tif, out);
    rc = run(args);
    int bad = rc != 0;
    TIFF *t = bad ? NULL : TIFFOpen(out, "r");
    if (t) {
        bad += TIFFNumberOfDirectories(t) != 2;
        for (int k = 0; k < 2 && !bad; k++) {
            TIFFSetDirectory(t, (tdir_t)k);
            uint32_t w = 0, h = 0;
            uint16_t bps = 0;
            TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
            TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
            TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
            bad += w != 4 || h != 2 || bps != 16;
            for (uint32_t y = 0; y < 2 && !bad; y++) {
                uint16_t row[4];
                TIFFReadScanline(t, row, y, 0);
                for (int x = 0; x < 4; x++) bad += row[x] != (uint16_t)(1000 * (k + 1) + 10 * (y + 2) + x + 1);
            }
        }
        char *desc = NULL;
        TIFFSetDirectory(t, 0);
        TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc);
        bad += !desc || !strstr(desc, "images=2") || !strstr(desc, "finterval=0.1") || !strstr(desc, "unit=nm");
        TIFFClose(t);
    } else {
        bad++;
    }
    SM_CHECKF("convert --frames 1:3 --crop 1,2,4,2: uint16 pixels exact, metadata kept (libtiff reads it)", !bad,
              "rc=%d %s", rc, slurp(err_txt));
    snprintf(args, sizeof args, "info '%s'", out);
    SM_CHECK("...and info reads 250 nm and 0.1 s back", run(args) == 0 && strstr(slurp(out_txt), "pixel size:      250 nm") &&
                                                           strstr(slurp(out_txt), "frame interval:  0.1 s"));
    unlink(out);

    static const char *usage_cases[] = {"--frames 2:1", "--frames 0:4", "--frames abc", "--frames 1:x",
                                        "--crop 0,0,7,4", "--crop 1,1,0,2", "--crop 1,2,3", "--crop -1,0,2,2"};
    for (size_t k = 0; k < sizeof usage_cases / sizeof usage_cases[0]; k++) {
        snprintf(args, sizeof args, "convert '%s' '%s' %s", tif, out, usage_cases[k]);
        rc = run(args);
        char label[200];
        snprintf(label, sizeof label, "convert %s: usage error (exit 1), one line, no output", usage_cases[k]);
        SM_CHECKF(label, rc == 1 && lines(slurp(err_txt)) == 1 && access(out, F_OK) != 0, "rc=%d %s", rc, slurp(err_txt));
    }
    SM_CHECK("convert with one argument: exit 1", run("convert only-one.tif") == 1);

    /* a stack whose last page is broken: exit 2 naming the file; no output, no temporary file */
    char broken[2300];
    snprintf(broken, sizeof broken, "%s/broken.tif", dir);
    write_stack(broken, 1);
    snprintf(args, sizeof args, "convert '%s' '%s'", broken, out);
    rc = run(args);
    e = slurp(err_txt);
    SM_CHECKF("convert of a stack with a bad frame: exit 2, one line naming it, no partial output",
              rc == 2 && lines(e) == 1 && strstr(e, "broken.tif") && strstr(e, "frame 2") && access(out, F_OK) != 0 &&
                  no_tmp_files(dir),
              "rc=%d %s", rc, e);
    /* truncated copy */
    char cut[2300];
    snprintf(cut, sizeof cut, "%s/cut.tif", dir);
    snprintf(args, sizeof args, "head -c 100 '%s' > '%s'", tif, cut);
    sm_test_system(args);
    snprintf(args, sizeof args, "convert '%s' '%s'", cut, out);
    rc = run(args);
    e = slurp(err_txt);
    SM_CHECKF("convert of a truncated file: exit 2, one line naming it, no output", rc == 2 && lines(e) == 1 &&
                                                                                         strstr(e, "cut.tif") &&
                                                                                         access(out, F_OK) != 0,
              "rc=%d %s", rc, e);
    snprintf(args, sizeof args, "convert '%s' '%s/no/such/dir/out.tif'", tif, dir);
    rc = run(args);
    SM_CHECKF("convert into a missing folder: exit 2, one line", rc == 2 && lines(slurp(err_txt)) == 1, "rc=%d %s", rc,
              slurp(err_txt));

    /* a PNG folder becomes an 8-bit stack */
    char pngdir[2300], p[2400];
    snprintf(pngdir, sizeof pngdir, "%s/pngs", dir);
    mkdir(pngdir, 0777);
    for (int k = 0; k < 12; k++) {
        snprintf(p, sizeof p, "%s/f%d.png", pngdir, k);
        write_png8(p, 7, 5, 10 * k);
    }
    snprintf(args, sizeof args, "convert '%s' '%s' --threads 2", pngdir, out);
    rc = run(args);
    bad = rc != 0;
    t = bad ? NULL : TIFFOpen(out, "r");
    if (t) {
        uint16_t bps = 0;
        TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
        bad += TIFFNumberOfDirectories(t) != 12 || bps != 8;
        TIFFSetDirectory(t, 10); /* natural order: f10 is the 11th frame */
        uint8_t row[7];
        TIFFReadScanline(t, row, 3, 0);
        bad += row[2] != 100 + 2 + 3;
        TIFFClose(t);
    } else {
        bad++;
    }
    SM_CHECKF("convert of a PNG folder: 12 uint8 pages in natural order", !bad, "rc=%d %s", rc, slurp(err_txt));
    snprintf(args, sizeof args, "info '%s/empty-folder'", dir);
    snprintf(p, sizeof p, "%s/empty-folder", dir);
    mkdir(p, 0777);
    rc = run(args);
    SM_CHECKF("info on an empty folder: exit 2, one line", rc == 2 && lines(slurp(err_txt)) == 1, "rc=%d %s", rc,
              slurp(err_txt));
}

int main(void) {
    bin = getenv("SAMEM_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        SM_CHECKF("SAMEM_BIN names the samem executable", 0, "SAMEM_BIN=%s", bin ? bin : "(unset)");
        return sm_test_report();
    }
    sm_test_tmp_path(dir, sizeof dir, "cli");
    mkdir(dir, 0777);
    snprintf(out_txt, sizeof out_txt, "%s/stdout.txt", dir);
    snprintf(err_txt, sizeof err_txt, "%s/stderr.txt", dir);
    char sub[2300];
    snprintf(sub, sizeof sub, "%s/w", dir);
    mkdir(sub, 0777);
    snprintf(dir, sizeof dir, "%s", sub);
    test_basics();
    test_info_convert();
    return sm_test_report();
}
