/* The samem command through $SAMEM_BIN: --version, help, exit codes (0 ok, 1 usage, 2 bad input), one-line
 * errors naming the file, `info` and `convert` on fixtures written here with libtiff and libpng, and no
 * partial output left behind when convert fails. */
#include <stdint.h>
#include <stdio.h>
#include <tiffio.h>

#include "cli_helpers.h"

static char dir[2048], out_txt[2300], err_txt[2300];

/* samem("info '%s'", path) runs `samem info PATH` with stdout and stderr to out_txt and err_txt; returns the
 * exit status. */
#define samem(...) sm_test_samem(out_txt, err_txt, __VA_ARGS__)

static int no_tmp_files(const char *d) {
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep '\\.tmp\\.')\"", d);
    return sm_test_system(cmd) == 0;
}

/* value = 1000 k + 10 y + x on page k */
static double ramp(int k, int x, int y) { return 1000 * k + 10 * y + x; }

/* 3 pages of 6x4 uint16 with ImageJ metadata: 250 nm (4 px/micron), 0.1 s; the third page optionally 5 px
 * wide (a broken stack). */
static void write_stack(const char *path, int broken) {
    sm_test_stack s = {.width = 6, .height = 4, .frames = 3, .bits = 16, .value = ramp, .px_per_unit = 4.0,
                       .description = "ImageJ=1.53t\nimages=3\nframes=3\nunit=micron\nfinterval=0.1\n",
                       .last_width = broken ? 5 : 0};
    sm_test_write_stack(path, &s);
}

/* PNG frame k: value 10 k + x + y */
static double png_ramp(int k, int x, int y) { return 10 * k + x + y; }

static void test_basics(void) {
    SM_CHECK("--version: exit 0, 'samem <version>'",
             samem("--version") == 0 && strncmp(sm_test_slurp(out_txt), "samem ", 6) == 0);
    SM_CHECK("no arguments: exit 1", samem("%s", "") == 1);
    SM_CHECK("unknown command: exit 1, one line",
             samem("frobnicate") == 1 && sm_test_count_lines(sm_test_slurp(err_txt)) == 1);
    SM_CHECK("--help lists info and convert", samem("--help") == 0 && strstr(sm_test_slurp(out_txt), "convert") &&
                                                  strstr(sm_test_slurp(out_txt), "info"));
    SM_CHECK("help convert: usage and example", samem("help convert") == 0 &&
                                                    strstr(sm_test_slurp(out_txt), "usage: samem convert") &&
                                                    strstr(sm_test_slurp(out_txt), "example:"));
    SM_CHECK("info --help: exit 0", samem("info --help") == 0 && strstr(sm_test_slurp(out_txt), "usage: samem info"));
    SM_CHECK("info without VIDEO: exit 1", samem("info") == 1);
    SM_CHECK("unknown option: exit 1, one line naming it", samem("info x.tif --bogus 3") == 1 &&
                                                                sm_test_count_lines(sm_test_slurp(err_txt)) == 1 &&
                                                                strstr(sm_test_slurp(err_txt), "--bogus"));
    SM_CHECK("--threads 0: exit 1", samem("info x.tif --threads 0") == 1);
}

static void test_info_convert(void) {
    char tif[2300], out[2300], cmd[8192];
    snprintf(tif, sizeof tif, "%s/stack.tif", dir);
    write_stack(tif, 0);
    int rc = samem("info '%s'", tif);
    const char *o = sm_test_slurp(out_txt);
    SM_CHECKF("info: exit 0; format, size, frames, bit depth, pixel size, interval",
              rc == 0 && strstr(o, "format:          tiff") && strstr(o, "width:           6 px") &&
                  strstr(o, "height:          4 px") && strstr(o, "frames:          3") &&
                  strstr(o, "bit depth:       16") && strstr(o, "pixel size:      250 nm") &&
                  strstr(o, "frame interval:  0.1 s"),
              "rc=%d\n%s", rc, o);
    rc = samem("info '%s/missing.tif'", dir);
    const char *e = sm_test_slurp(err_txt);
    SM_CHECKF("info on a missing file: exit 2, one line naming it",
              rc == 2 && sm_test_count_lines(e) == 1 && strstr(e, "missing.tif"), "rc=%d %s", rc, e);

    snprintf(out, sizeof out, "%s/out.tif", dir);
    rc = samem("convert '%s' '%s' --frames 1:3 --crop 1,2,4,2 --quiet", tif, out);
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
              "rc=%d %s", rc, sm_test_slurp(err_txt));
    SM_CHECK("...and info reads 250 nm and 0.1 s back", samem("info '%s'", out) == 0 &&
                                                           strstr(sm_test_slurp(out_txt), "pixel size:      250 nm") &&
                                                           strstr(sm_test_slurp(out_txt), "frame interval:  0.1 s"));
    unlink(out);

    static const char *usage_cases[] = {"--frames 2:1", "--frames 0:4", "--frames abc", "--frames 1:x",
                                        "--crop 0,0,7,4", "--crop 1,1,0,2", "--crop 1,2,3", "--crop -1,0,2,2"};
    for (size_t k = 0; k < sizeof usage_cases / sizeof usage_cases[0]; k++) {
        rc = samem("convert '%s' '%s' %s", tif, out, usage_cases[k]);
        char label[200];
        snprintf(label, sizeof label, "convert %s: usage error (exit 1), one line, no output", usage_cases[k]);
        SM_CHECKF(label, rc == 1 && sm_test_count_lines(sm_test_slurp(err_txt)) == 1 && !sm_test_exists(out),
                  "rc=%d %s", rc, sm_test_slurp(err_txt));
    }
    SM_CHECK("convert with one argument: exit 1", samem("convert only-one.tif") == 1);

    /* a stack whose last page is broken: exit 2 naming the file; no output, no temporary file */
    char broken[2300];
    snprintf(broken, sizeof broken, "%s/broken.tif", dir);
    write_stack(broken, 1);
    rc = samem("convert '%s' '%s'", broken, out);
    e = sm_test_slurp(err_txt);
    SM_CHECKF("convert of a stack with a bad frame: exit 2, one line naming it, no partial output",
              rc == 2 && sm_test_count_lines(e) == 1 && strstr(e, "broken.tif") && strstr(e, "frame 2") &&
                  !sm_test_exists(out) && no_tmp_files(dir),
              "rc=%d %s", rc, e);
    /* truncated copy */
    char cut[2300];
    snprintf(cut, sizeof cut, "%s/cut.tif", dir);
    snprintf(cmd, sizeof cmd, "head -c 100 '%s' > '%s'", tif, cut);
    sm_test_system(cmd);
    rc = samem("convert '%s' '%s'", cut, out);
    e = sm_test_slurp(err_txt);
    SM_CHECKF("convert of a truncated file: exit 2, one line naming it, no output",
              rc == 2 && sm_test_count_lines(e) == 1 && strstr(e, "cut.tif") && !sm_test_exists(out), "rc=%d %s", rc,
              e);
    rc = samem("convert '%s' '%s/no/such/dir/out.tif'", tif, dir);
    SM_CHECKF("convert into a missing folder: exit 2, one line",
              rc == 2 && sm_test_count_lines(sm_test_slurp(err_txt)) == 1, "rc=%d %s", rc, sm_test_slurp(err_txt));

    /* a PNG folder becomes an 8-bit stack */
    char pngdir[2300], p[2400];
    snprintf(pngdir, sizeof pngdir, "%s/pngs", dir);
    sm_test_write_png_folder(pngdir, "f", 7, 5, 8, 12, png_ramp);
    rc = samem("convert '%s' '%s' --threads 2", pngdir, out);
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
    SM_CHECKF("convert of a PNG folder: 12 uint8 pages in natural order", !bad, "rc=%d %s", rc, sm_test_slurp(err_txt));
    snprintf(p, sizeof p, "%s/empty-folder", dir);
    mkdir(p, 0777);
    rc = samem("info '%s'", p);
    SM_CHECKF("info on an empty folder: exit 2, one line", rc == 2 && sm_test_count_lines(sm_test_slurp(err_txt)) == 1,
              "rc=%d %s", rc, sm_test_slurp(err_txt));
}

int main(void) {
    if (!sm_test_samem_ready()) return sm_test_report();
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
