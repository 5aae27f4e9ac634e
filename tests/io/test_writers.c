/* The io writers, read back by independent readers: libtiff (tags, pages, pixels), libpng, libjpeg, and
 * tifffile from Debian's python3 when present (ImageJ metadata as ImageJ/Fiji users see it). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include "samem/io.h"
#include "test.h"

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

static int count_tmp_files(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep '\\.tmp\\.')\"", dir);
    return sm_test_system(cmd) == 0 ? 0 : 1;
}

static void test_tiff_u16(void) {
    char path[2048], dir[2048];
    sm_test_tmp_path(path, sizeof path, "w16.tif");
    sm_test_tmp_path(dir, sizeof dir, "");
    enum { W = 37, H = 23, N = 5 };
    uint16_t frame[W * H];
    sm_error err = {0};
    sm_tiff_writer *w;
    int rc = sm_tiff_writer_open(&w, path, W, H, SM_SAMPLE_U16, N, 0.75, 0.05, &err);
    SM_CHECKF("tiff writer opens (u16)", rc == 0, "%s", err.msg);
    if (rc) return;
    SM_CHECK("tiff writer: nothing at the final path before commit", !file_exists(path));
    for (int k = 0; k < N; k++) {
        for (int i = 0; i < W * H; i++) frame[i] = (uint16_t)(i * 7 + k * 1000 + (i % 3) * 20000);
        rc |= sm_tiff_writer_write(w, frame, &err);
    }
    SM_CHECKF("tiff writer writes 5 frames", rc == 0, "%s", err.msg);
    rc = sm_tiff_writer_commit(w, &err);
    SM_CHECKF("tiff writer commits", rc == 0 && file_exists(path), "%s", err.msg);
    SM_CHECK("tiff writer leaves no temporary file", count_tmp_files(dir) == 0);

    TIFF *t = TIFFOpen(path, "r");
    SM_CHECK("libtiff opens the stack", t != NULL);
    if (!t) return;
    SM_CHECKF("libtiff counts 5 pages", TIFFNumberOfDirectories(t) == N, "%d", TIFFNumberOfDirectories(t));
    int bad = 0;
    for (int k = 0; k < N; k++) {
        TIFFSetDirectory(t, (tdir_t)k);
        uint32_t w32 = 0, h32 = 0;
        uint16_t bps = 0, fmt = 0;
        TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w32);
        TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h32);
        TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
        TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
        if (w32 != W || h32 != H || bps != 16 || fmt != SAMPLEFORMAT_UINT) bad++;
        for (uint32_t y = 0; y < H; y++) {
            uint16_t row[W];
            TIFFReadScanline(t, row, y, 0);
            for (int x = 0; x < W; x++) {
                int i = (int)y * W + x;
                if (row[x] != (uint16_t)(i * 7 + k * 1000 + (i % 3) * 20000)) bad++;
            }
        }
    }
    SM_CHECKF("libtiff reads back every pixel and tag exactly", bad == 0, "%d mismatches", bad);
    TIFFSetDirectory(t, 0);
    char *desc = NULL;
    float xres = 0;
    uint16_t unit = 0;
    TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xres);
    TIFFGetField(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    SM_CHECKF("ImageJ description carries images, unit and interval",
              desc && strstr(desc, "ImageJ=") == desc && strstr(desc, "images=5\n") && strstr(desc, "unit=nm\n") &&
                  strstr(desc, "finterval=0.05\n"),
              "%s", desc ? desc : "(none)");
    SM_CHECKF("XResolution is px per nm (1/0.75)", fabs(xres - 1 / 0.75) < 1e-5 && unit == RESUNIT_NONE, "%g %d",
              xres, unit);
    TIFFClose(t);

    /* tifffile (independent Python reader) sees the ImageJ series and metadata */
    if (access("/usr/bin/python3", X_OK) == 0 &&
        sm_test_system("/usr/bin/python3 -c 'import tifffile' 2>/dev/null") == 0) {
        char cmd[4400];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import tifffile,sys\n"
                 "t=tifffile.TiffFile('%s'); m=t.imagej_metadata; a=t.asarray()\n"
                 "x=t.pages[0].tags['XResolution'].value\n"
                 "ok = a.shape==(5,23,37) and m['images']==5 and m['unit']=='nm' and abs(m['finterval']-0.05)<1e-12"
                 " and abs(x[1]/x[0]-0.75)<1e-5 and int(a[2,1,2])==(39*7+2000+0*20000)%%65536\n"
                 "sys.exit(0 if ok else 1)\"",
                 path);
        SM_CHECK("tifffile reads shape, ImageJ metadata and pixels", sm_test_system(cmd) == 0);
    }
}

static void test_tiff_f32_u8_and_count_fix(void) {
    char path[2048];
    sm_test_tmp_path(path, sizeof path, "wf.tif");
    enum { W = 16, H = 9 };
    float f[W * H];
    sm_error err = {0};
    sm_tiff_writer *w;
    /* announce 10 frames, write 3: the description must say 3 */
    int rc = sm_tiff_writer_open(&w, path, W, H, SM_SAMPLE_F32, 10, 0, 0, &err);
    for (int k = 0; k < 3 && rc == 0; k++) {
        for (int i = 0; i < W * H; i++) f[i] = (float)(i - 50) * 0.125f + (float)k;
        rc = sm_tiff_writer_write(w, f, &err);
    }
    if (rc == 0) rc = sm_tiff_writer_commit(w, &err);
    SM_CHECKF("float32 stack with a wrong frame hint commits", rc == 0, "%s", err.msg);
    TIFF *t = TIFFOpen(path, "r");
    if (t) {
        char *desc = NULL;
        TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc);
        SM_CHECKF("description rewritten to images=3", desc && strstr(desc, "images=3\n"), "%s", desc ? desc : "-");
        SM_CHECK("3 pages", TIFFNumberOfDirectories(t) == 3);
        uint16_t fmt = 0, bps = 0;
        TIFFSetDirectory(t, 2);
        TIFFGetField(t, TIFFTAG_SAMPLEFORMAT, &fmt);
        TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
        float row[W];
        TIFFReadScanline(t, row, 4, 0);
        SM_CHECK("float32 page: IEEE format and exact values", fmt == SAMPLEFORMAT_IEEEFP && bps == 32 &&
                                                              row[3] == (float)(4 * W + 3 - 50) * 0.125f + 2.0f);
        TIFFClose(t);
    } else {
        SM_CHECK("libtiff opens the float stack", 0);
    }

    sm_test_tmp_path(path, sizeof path, "w8.tif");
    uint8_t b[W * H];
    for (int i = 0; i < W * H; i++) b[i] = (uint8_t)(i * 3);
    rc = sm_tiff_writer_open(&w, path, W, H, SM_SAMPLE_U8, 0, 2.5, 0, &err); /* unknown count: BigTIFF */
    if (rc == 0) rc = sm_tiff_writer_write(w, b, &err);
    if (rc == 0) rc = sm_tiff_writer_commit(w, &err);
    SM_CHECKF("u8 stack with unknown count commits", rc == 0, "%s", err.msg);
    t = TIFFOpen(path, "r");
    if (t) {
        uint8_t row[W];
        TIFFReadScanline(t, row, 2, 0);
        SM_CHECK("unknown frame count gives BigTIFF", TIFFIsBigTIFF(t));
        SM_CHECK("u8 pixels exact", row[5] == (uint8_t)((2 * W + 5) * 3));
        TIFFClose(t);
    }

    /* abort and failure leave nothing */
    sm_test_tmp_path(path, sizeof path, "aborted.tif");
    rc = sm_tiff_writer_open(&w, path, W, H, SM_SAMPLE_U8, 2, 0, 0, &err);
    if (rc == 0) {
        sm_tiff_writer_write(w, b, &err);
        sm_tiff_writer_abort(w);
    }
    SM_CHECK("aborted writer leaves no file", !file_exists(path));
    sm_tiff_writer_abort(NULL);
    rc = sm_tiff_writer_open(&w, "/nonexistent-dir/x.tif", W, H, SM_SAMPLE_U8, 2, 0, 0, &err);
    SM_CHECKF("unwritable folder: SM_EIO naming the file", rc == SM_EIO && strstr(err.msg, "/nonexistent-dir/x.tif"),
              "%d %s", rc, err.msg);
    rc = sm_tiff_writer_open(&w, path, 100000, 100000, SM_SAMPLE_F32, 2, 0, 0, &err);
    SM_CHECKF("frame over the memory limit refused", rc == SM_ENOMEM || rc == 0, "%d %s", rc, err.msg);
    if (rc == 0) sm_tiff_writer_abort(w);
    rc = sm_tiff_writer_open(&w, path, 0, 10, SM_SAMPLE_U8, 2, 0, 0, &err);
    SM_CHECK("zero width refused", rc == SM_EINVAL);
}

static int read_png(const char *path, int *w, int *h, int *bits, int *ctype, uint8_t **pix) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        return -1;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    *bits = png_get_bit_depth(png, info);
    *ctype = png_get_color_type(png, info);
    size_t rb = png_get_rowbytes(png, info);
    *pix = malloc(rb * (size_t)*h);
    for (int y = 0; y < *h; y++) png_read_row(png, *pix + rb * (size_t)y, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    return 0;
}

static void test_png(void) {
    char path[2048];
    enum { W = 19, H = 7 };
    uint16_t g16[W * H];
    uint8_t g8[W * H], rgb[W * H * 3];
    for (int i = 0; i < W * H; i++) {
        g16[i] = (uint16_t)(i * 401);
        g8[i] = (uint8_t)(i * 5);
        rgb[3 * i] = (uint8_t)i;
        rgb[3 * i + 1] = (uint8_t)(255 - i);
        rgb[3 * i + 2] = (uint8_t)(i * 2);
    }
    sm_error err = {0};
    int w, h, bits, ct;
    uint8_t *pix = NULL;
    sm_test_tmp_path(path, sizeof path, "g16.png");
    int rc = sm_png_write_gray(path, g16, W, H, 16, &err);
    SM_CHECKF("16-bit PNG written", rc == 0, "%s", err.msg);
    int bad = read_png(path, &w, &h, &bits, &ct, &pix) != 0 || w != W || h != H || bits != 16 || ct != PNG_COLOR_TYPE_GRAY;
    for (int i = 0; !bad && i < W * H; i++) bad += ((pix[2 * i] << 8) | pix[2 * i + 1]) != g16[i];
    SM_CHECK("libpng reads the 16-bit gray PNG exactly (big-endian samples)", !bad);
    free(pix);
    sm_test_tmp_path(path, sizeof path, "g8.png");
    rc = sm_png_write_gray(path, g8, W, H, 8, &err);
    bad = rc || read_png(path, &w, &h, &bits, &ct, &pix) != 0 || bits != 8 || ct != PNG_COLOR_TYPE_GRAY;
    for (int i = 0; !bad && i < W * H; i++) bad += pix[i] != g8[i];
    SM_CHECK("libpng reads the 8-bit gray PNG exactly", !bad);
    free(pix);
    sm_test_tmp_path(path, sizeof path, "rgb.png");
    rc = sm_png_write_rgb(path, rgb, W, H, &err);
    bad = rc || read_png(path, &w, &h, &bits, &ct, &pix) != 0 || ct != PNG_COLOR_TYPE_RGB;
    for (int i = 0; !bad && i < W * H * 3; i++) bad += pix[i] != rgb[i];
    SM_CHECK("libpng reads the RGB PNG exactly", !bad);
    free(pix);
    rc = sm_png_write_gray(path, g8, W, H, 12, &err);
    SM_CHECK("12-bit PNG refused", rc == SM_EINVAL);
    rc = sm_png_write_gray("/nonexistent-dir/a.png", g8, W, H, 8, &err);
    SM_CHECK("PNG into a missing folder: SM_EIO", rc == SM_EIO && strstr(err.msg, "/nonexistent-dir/a.png"));
}

static void test_jpeg(void) {
    char path[2048];
    enum { W = 64, H = 48 };
    uint8_t img[W * H], rt[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) img[y * W + x] = (uint8_t)(128 + 100 * sin(x * 0.2) * cos(y * 0.15));
    sm_error err = {0};
    sm_test_tmp_path(path, sizeof path, "g.jpg");
    int rc = sm_jpeg_write_gray(path, img, W, H, 95, &err);
    SM_CHECKF("gray JPEG written", rc == 0, "%s", err.msg);
    FILE *fp = fopen(path, "rb");
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr jerr;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    double sq = 0;
    int comps = 0;
    if (fp) {
        jpeg_stdio_src(&d, fp);
        jpeg_read_header(&d, TRUE);
        jpeg_start_decompress(&d);
        comps = d.output_components;
        uint8_t row[W];
        while (d.output_scanline < d.output_height) {
            int y = (int)d.output_scanline;
            JSAMPROW r = row;
            jpeg_read_scanlines(&d, &r, 1);
            for (int x = 0; x < W; x++) sq += (row[x] - img[y * W + x]) * (double)(row[x] - img[y * W + x]);
        }
        jpeg_finish_decompress(&d);
        fclose(fp);
    }
    jpeg_destroy_decompress(&d);
    double rmse = sqrt(sq / (W * H));
    SM_CHECKF("libjpeg decodes a gray image within RMSE 2 at quality 95", comps == 1 && rmse < 2, "rmse=%.3f", rmse);

    double e95 = 0, e10 = 0;
    memcpy(rt, img, sizeof rt);
    rc = sm_jpeg_roundtrip_gray(rt, W, H, 95, &err);
    for (int i = 0; i < W * H; i++) e95 += (rt[i] - img[i]) * (double)(rt[i] - img[i]);
    memcpy(rt, img, sizeof rt);
    rc |= sm_jpeg_roundtrip_gray(rt, W, H, 10, &err);
    for (int i = 0; i < W * H; i++) e10 += (rt[i] - img[i]) * (double)(rt[i] - img[i]);
    e95 = sqrt(e95 / (W * H));
    e10 = sqrt(e10 / (W * H));
    SM_CHECKF("round trip: quality 95 within RMSE 2, quality 10 loses more", rc == 0 && e95 < 2 && e10 > e95 && e10 < 30,
              "q95 %.3f q10 %.3f", e95, e10);
    SM_CHECK("round trip: quality 0 refused", sm_jpeg_roundtrip_gray(rt, W, H, 0, &err) == SM_EINVAL);
}

static int have_tifffile(void) {
    return access("/usr/bin/python3", X_OK) == 0 &&
           sm_test_system("/usr/bin/python3 -c 'import tifffile' 2>/dev/null") == 0;
}

/* Small frames are where an interleaved layout breaks tifffile's contiguous ImageJ reading. */
static void test_tiff_small_and_big_layouts(void) {
    char path[2048], cmd[4400];
    sm_error err = {0};
    sm_tiff_writer *w;
    uint8_t px[6] = {1, 2, 3, 4, 5, 6};
    sm_test_tmp_path(path, sizeof path, "tiny.tif");
    int rc = sm_tiff_writer_open(&w, path, 3, 2, SM_SAMPLE_U8, 2, 0, 0, &err);
    for (int k = 0; k < 2 && rc == 0; k++) {
        for (int i = 0; i < 6; i++) px[i] = (uint8_t)(10 * k + i);
        rc = sm_tiff_writer_write(w, px, &err);
    }
    if (rc == 0) rc = sm_tiff_writer_commit(w, &err);
    SM_CHECKF("tiny 2-frame stack written", rc == 0, "%s", err.msg);
    if (have_tifffile()) {
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import tifffile,numpy as np,sys\n"
                 "a=tifffile.imread('%s'); e=np.array([[[0,1,2],[3,4,5]],[[10,11,12],[13,14,15]]])\n"
                 "sys.exit(0 if a.shape==(2,2,3) and (a==e).all() else 1)\"", path);
        SM_CHECK("tifffile reads a tiny 2-frame stack exactly", sm_test_system(cmd) == 0);
    }
    /* BigTIFF (unknown count) with float samples and metadata, read by tifffile */
    sm_test_tmp_path(path, sizeof path, "bigf.tif");
    float f[4 * 3];
    rc = sm_tiff_writer_open(&w, path, 4, 3, SM_SAMPLE_F32, 0, 0.1, 0.002, &err);
    for (int k = 0; k < 3 && rc == 0; k++) {
        for (int i = 0; i < 12; i++) f[i] = (float)(k * 100 + i) - 0.5f;
        rc = sm_tiff_writer_write(w, f, &err);
    }
    if (rc == 0) rc = sm_tiff_writer_commit(w, &err);
    SM_CHECKF("BigTIFF float stack written", rc == 0, "%s", err.msg);
    if (have_tifffile()) {
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import tifffile,numpy as np,sys\n"
                 "t=tifffile.TiffFile('%s'); a=t.asarray(); m=t.imagej_metadata\n"
                 "x=t.pages[0].tags['XResolution'].value\n"
                 "e=(np.arange(3)[:,None,None]*100+np.arange(12).reshape(3,4)[None]-0.5).astype(np.float32)\n"
                 "sys.exit(0 if t.is_bigtiff and a.dtype==np.float32 and (a==e).all() and m['images']==3"
                 " and abs(m['finterval']-0.002)<1e-12 and abs(x[1]/x[0]-0.1)<1e-6 else 1)\"", path);
        SM_CHECK("tifffile reads the BigTIFF float stack, values and metadata exactly", sm_test_system(cmd) == 0);
    }
    /* a frame over 64 MiB is cut into several strips: 8192 x 4100 px x 2 bytes */
    enum { BW = 8192, BH = 4100 };
    uint16_t *big = malloc((size_t)BW * BH * 2);
    if (!big) return;
    for (size_t i = 0; i < (size_t)BW * BH; i++) big[i] = (uint16_t)(i * 2654435761u >> 16);
    for (int bigtiff = 0; bigtiff < 2; bigtiff++) {
        sm_test_tmp_path(path, sizeof path, "strips.tif");
        rc = sm_tiff_writer_open(&w, path, BW, BH, SM_SAMPLE_U16, bigtiff ? 0 : 1, 0, 0, &err);
        if (rc == 0) rc = sm_tiff_writer_write(w, big, &err);
        if (rc == 0) rc = sm_tiff_writer_commit(w, &err);
        SM_CHECKF(bigtiff ? "66 MB frame written (BigTIFF)" : "66 MB frame written (classic)", rc == 0, "%s", err.msg);
        TIFF *t = TIFFOpen(path, "r");
        int bad = !t;
        if (t) {
            bad += TIFFNumberOfStrips(t) < 2 || TIFFIsBigTIFF(t) != bigtiff;
            uint16_t *row = malloc(BW * 2);
            for (uint32_t y = 0; y < BH; y += 97) {
                TIFFReadScanline(t, row, y, 0);
                for (int x = 0; x < BW; x++) bad += row[x] != big[(size_t)y * BW + (size_t)x];
            }
            free(row);
            TIFFClose(t);
        }
        SM_CHECKF(bigtiff ? "libtiff reads the multi-strip BigTIFF frame exactly"
                          : "libtiff reads the multi-strip classic frame exactly",
                  !bad, "%d", bad);
        sm_video *v;
        float *fr = malloc(sizeof(float) * BW * BH);
        bad = !fr || sm_video_open(&v, path, &err) != 0;
        if (!bad) {
            bad += sm_video_read_frame(v, 0, fr, &err) != 0;
            for (size_t i = 0; !bad && i < (size_t)BW * BH; i += 101) bad += fr[i] != (float)big[i];
            sm_video_close(v);
        }
        free(fr);
        SM_CHECKF("samem's reader reads the multi-strip frame exactly", !bad, "%s", err.msg);
    }
    unlink(path);
    free(big);
}

int main(void) {
    test_tiff_small_and_big_layouts();
    test_tiff_u16();
    test_tiff_f32_u8_and_count_fix();
    test_png();
    test_jpeg();
    return sm_test_report();
}
