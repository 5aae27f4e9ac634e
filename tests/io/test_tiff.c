/* The TIFF reader against files written by independent writers: libtiff directly (every sample type,
 * strips, tiles, compression, RGB, BigTIFF, ImageJ metadata), byte layouts built here from the TIFF 6.0
 * spec (ImageJ's big-endian single-IFD stacks, absurd sizes), tifffile when Debian's python3 has it, and
 * samem's own writer; then truncated and corrupted copies, which must give one-line errors naming the
 * file, never a crash (run under ASan by `make asan`). Pixel values must match exactly. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <tiffio.h>

#include "samem/io.h"
#include "test.h"

/* pattern value of frame k, pixel (x, y); fits 8 bits when mod is 256 */
static double pattern(int k, int x, int y, int mod) { return (double)((k * 37 + x * 3 + y * 11) % mod); }

typedef struct {
    int bits, fmt, tiled, compression, big;
    const char *name;
} variant;

/* A W x H x N stack with libtiff: pattern values (negated for signed, +0.25 for float). */
static int write_libtiff(const char *path, const variant *v, int W, int H, int N, int spp) {
    TIFF *t = TIFFOpen(path, v->big ? "w8" : "w");
    if (!t) return -1;
    int bytes = v->bits / 8;
    for (int k = 0; k < N; k++) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, v->bits);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, v->fmt);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_COMPRESSION, v->compression);
        if (v->tiled) {
            TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
            TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
        } else {
            TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3);
        }
        uint8_t *img = calloc((size_t)W * H * spp, (size_t)bytes);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < spp; c++) {
                    size_t i = ((size_t)y * W + x) * spp + c;
                    double val = pattern(k + c, x, y, v->bits == 8 ? 256 : 60000);
                    if (v->fmt == SAMPLEFORMAT_IEEEFP) ((float *)img)[i] = (float)(val + 0.25);
                    else if (v->fmt == SAMPLEFORMAT_INT && v->bits == 16) ((int16_t *)img)[i] = (int16_t)(-val / 2);
                    else if (v->fmt == SAMPLEFORMAT_INT && v->bits == 32) ((int32_t *)img)[i] = (int32_t)(-val * 1000);
                    else if (v->bits == 8) img[i] = (uint8_t)val;
                    else if (v->bits == 16) ((uint16_t *)img)[i] = (uint16_t)val;
                    else ((uint32_t *)img)[i] = (uint32_t)(val * 1000);
                }
        if (v->tiled) {
            uint8_t *tile = malloc((size_t)16 * 16 * spp * bytes);
            for (int ty = 0; ty < H; ty += 16)
                for (int tx = 0; tx < W; tx += 16) {
                    memset(tile, 0, (size_t)16 * 16 * spp * bytes);
                    for (int y = 0; y < 16 && ty + y < H; y++)
                        for (int x = 0; x < 16 && tx + x < W; x++)
                            memcpy(tile + ((size_t)y * 16 + x) * spp * bytes,
                                   img + (((size_t)(ty + y) * W) + tx + x) * spp * bytes, (size_t)spp * bytes);
                    TIFFWriteTile(t, tile, (uint32_t)tx, (uint32_t)ty, 0, 0);
                }
            free(tile);
        } else {
            for (int y = 0; y < H; y++) TIFFWriteScanline(t, img + (size_t)y * W * spp * bytes, (uint32_t)y, 0);
        }
        free(img);
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
    return 0;
}

static double expected(const variant *v, int k, int x, int y) {
    double val = pattern(k, x, y, v->bits == 8 ? 256 : 60000);
    if (v->fmt == SAMPLEFORMAT_IEEEFP) return (float)(val + 0.25);
    if (v->fmt == SAMPLEFORMAT_INT && v->bits == 16) return (int16_t)(-val / 2);
    if (v->fmt == SAMPLEFORMAT_INT && v->bits == 32) return (int32_t)(-val * 1000);
    if (v->bits == 32) return (float)(uint32_t)(val * 1000);
    return val;
}

static void test_sample_types(void) {
    static const variant vs[] = {
        {8, SAMPLEFORMAT_UINT, 0, COMPRESSION_NONE, 0, "uint8"},
        {16, SAMPLEFORMAT_UINT, 0, COMPRESSION_NONE, 0, "uint16"},
        {32, SAMPLEFORMAT_UINT, 0, COMPRESSION_NONE, 0, "uint32"},
        {16, SAMPLEFORMAT_INT, 0, COMPRESSION_NONE, 0, "int16"},
        {32, SAMPLEFORMAT_INT, 0, COMPRESSION_NONE, 0, "int32"},
        {32, SAMPLEFORMAT_IEEEFP, 0, COMPRESSION_NONE, 0, "float32"},
        {16, SAMPLEFORMAT_UINT, 0, COMPRESSION_ADOBE_DEFLATE, 0, "uint16 deflate"},
        {16, SAMPLEFORMAT_UINT, 0, COMPRESSION_LZW, 1, "uint16 LZW BigTIFF"},
        {16, SAMPLEFORMAT_UINT, 1, COMPRESSION_NONE, 0, "uint16 tiled"},
        {32, SAMPLEFORMAT_IEEEFP, 1, COMPRESSION_ADOBE_DEFLATE, 1, "float32 tiled deflate BigTIFF"},
    };
    enum { W = 37, H = 21, N = 6 };
    float *f = malloc(sizeof(float) * W * H);
    for (size_t vi = 0; vi < sizeof vs / sizeof vs[0]; vi++) {
        const variant *v = &vs[vi];
        char path[2048], name[256];
        snprintf(name, sizeof name, "lt_%zu.tif", vi);
        sm_test_tmp_path(path, sizeof path, name);
        write_libtiff(path, v, W, H, N, 1);
        sm_error err = {0};
        sm_video *vid;
        int rc = sm_video_open(&vid, path, &err);
        char label[512];
        snprintf(label, sizeof label, "libtiff %s stack: opens with width, height, frames, bit depth, type", v->name);
        if (rc) {
            SM_CHECKF(label, 0, "%s", err.msg);
            continue;
        }
        const sm_video_info *in = sm_video_get_info(vid);
        SM_CHECKF(label,
                  in->width == W && in->height == H && in->frames == N && in->bit_depth == v->bits &&
                      in->is_float == (v->fmt == SAMPLEFORMAT_IEEEFP) && in->is_signed == (v->fmt == SAMPLEFORMAT_INT) &&
                      strcmp(in->format, v->big ? "bigtiff" : "tiff") == 0,
                  "%dx%d %lld frames %d bits %s", in->width, in->height, (long long)in->frames, in->bit_depth, in->format);
        /* random order, repeats included */
        static const int order[] = {5, 0, 3, 3, 1, 4, 2, 0, 5};
        int bad = 0;
        for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
            int k = order[o];
            if (sm_video_read_frame(vid, k, f, &err)) {
                bad = -1;
                break;
            }
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) bad += f[y * W + x] != (float)expected(v, k, x, y);
        }
        snprintf(label, sizeof label, "libtiff %s stack: every pixel exact, frames read in random order", v->name);
        SM_CHECKF(label, bad == 0, "%d mismatches; %s", bad, err.msg);
        SM_CHECK("frame -1 and frame N are refused", sm_video_read_frame(vid, -1, f, &err) == SM_EINVAL &&
                                                          sm_video_read_frame(vid, N, f, &err) == SM_EINVAL);
        sm_video_close(vid);
    }
    /* RGB becomes gray with Rec.601 weights */
    variant rgb = {8, SAMPLEFORMAT_UINT, 0, COMPRESSION_NONE, 0, "rgb"};
    char path[2048];
    sm_test_tmp_path(path, sizeof path, "rgb.tif");
    write_libtiff(path, &rgb, W, H, 2, 3);
    sm_error err = {0};
    sm_video *vid;
    double maxerr = 1e9;
    if (sm_video_open(&vid, path, &err) == 0 && sm_video_read_frame(vid, 1, f, &err) == 0) {
        maxerr = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double g = 0.299 * pattern(1, x, y, 256) + 0.587 * pattern(2, x, y, 256) + 0.114 * pattern(3, x, y, 256);
                maxerr = fmax(maxerr, fabs(f[y * W + x] - g));
            }
        sm_video_close(vid);
    }
    SM_CHECKF("RGB TIFF becomes 0.299 R + 0.587 G + 0.114 B within 1e-3", maxerr < 1e-3, "%g %s", maxerr, err.msg);
    free(f);
}

/* ---------------------------------------------------------------- hand-built byte layouts */

typedef struct {
    uint8_t *b;
    size_t n, cap;
    int be;
} bytes;

static void put(bytes *s, uint64_t v, int n) {
    if (s->n + (size_t)n > s->cap) {
        s->cap = (s->n + (size_t)n) * 2 + 64;
        s->b = realloc(s->b, s->cap);
    }
    for (int k = 0; k < n; k++) s->b[s->n + (size_t)k] = (uint8_t)(v >> (8 * (s->be ? n - 1 - k : k)));
    s->n += (size_t)n;
}

/* Classic TIFF with one IFD at offset 8: entries (tag, type, count, value) with inline values. */
typedef struct { uint16_t tag, type; uint32_t count, value; } entry;

static void put_ifd(bytes *s, const entry *e, int n) {
    put(s, (uint64_t)n, 2);
    for (int k = 0; k < n; k++) {
        put(s, e[k].tag, 2);
        put(s, e[k].type, 2);
        put(s, e[k].count, 4);
        if (e[k].type == 3 && e[k].count == 1) {
            put(s, e[k].value, 2);
            put(s, 0, 2);
        } else {
            put(s, e[k].value, 4);
        }
    }
    put(s, 0, 4);
}

static int write_bytes(const char *path, const uint8_t *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    fwrite(b, 1, n, fp);
    fclose(fp);
    return 0;
}

/* ImageJ's layout for a stack over 4 GiB (here small): big-endian, one IFD, images=N, frames contiguous. */
static void test_imagej_single_ifd(void) {
    enum { W = 5, H = 3, N = 4 };
    static const char desc[] = "ImageJ=1.52a\nimages=4\nframes=4\nunit=micron\nfinterval=0.04\nloop=false\n";
    bytes s = {NULL, 0, 0, 1};
    put(&s, 'M', 1);
    put(&s, 'M', 1);
    put(&s, 42, 2);
    put(&s, 8, 4);
    uint32_t ne = 12, desc_off = 8 + 2 + ne * 12 + 4, res_off = desc_off + (uint32_t)sizeof desc + 1;
    uint32_t data_off = res_off + 8;
    entry e[] = {{256, 3, 1, W}, {257, 3, 1, H}, {258, 3, 1, 16}, {259, 3, 1, 1}, {262, 3, 1, 1},
                 {270, 2, (uint32_t)sizeof desc, desc_off}, {273, 4, 1, data_off}, {277, 3, 1, 1}, {278, 3, 1, H},
                 {279, 4, 1, W * H * 2}, {282, 5, 1, res_off}, {296, 3, 1, 1}};
    put_ifd(&s, e, 12);
    for (size_t k = 0; k < sizeof desc; k++) put(&s, (uint8_t)desc[k], 1);
    put(&s, 0, 1);
    put(&s, 4, 4); /* 4 px per micron: 250 nm */
    put(&s, 1, 4);
    for (int k = 0; k < N; k++)
        for (int i = 0; i < W * H; i++) put(&s, (uint64_t)(1000 * k + 300 * i), 2);
    char path[2048];
    sm_test_tmp_path(path, sizeof path, "ij_single.tif");
    write_bytes(path, s.b, s.n);
    sm_error err = {0};
    sm_video *v;
    int rc = sm_video_open(&v, path, &err);
    SM_CHECKF("ImageJ single-IFD big-endian stack opens", rc == 0, "%s", err.msg);
    if (rc == 0) {
        const sm_video_info *in = sm_video_get_info(v);
        SM_CHECKF("...with 4 frames from images=4, 250 nm from 4 px/micron, 0.04 s from finterval",
                  in->frames == N && fabs(in->pixel_size_nm - 250) < 1e-9 && fabs(in->frame_interval_s - 0.04) < 1e-15,
                  "%lld %g %g", (long long)in->frames, in->pixel_size_nm, in->frame_interval_s);
        float f[W * H];
        int bad = 0;
        for (int k = N - 1; k >= 0; k--) {
            if (sm_video_read_frame(v, k, f, &err)) bad = -1000;
            for (int i = 0; i < W * H; i++) bad += f[i] != (float)(1000 * k + 300 * i);
        }
        SM_CHECKF("...every frame read at its offset, byte-swapped exactly", bad == 0, "%d %s", bad, err.msg);
        sm_video_close(v);
    }
    /* cut the last frame in half: the file cannot hold images=4 */
    write_bytes(path, s.b, s.n - W * H);
    rc = sm_video_open(&v, path, &err);
    SM_CHECKF("truncated ImageJ single-IFD stack: SM_EFORMAT 'truncated' naming the file",
              rc == SM_EFORMAT && strstr(err.msg, "truncated") && strstr(err.msg, path), "%d %s", rc, err.msg);
    if (rc == 0) sm_video_close(v);
    free(s.b);

    /* absurd size: 100000 x 100000 float32 = 40 GB per frame, over the allocation limit */
    bytes a = {NULL, 0, 0, 0};
    put(&a, 'I', 1);
    put(&a, 'I', 1);
    put(&a, 42, 2);
    put(&a, 8, 4);
    entry big[] = {{256, 4, 1, 100000}, {257, 4, 1, 100000}, {258, 3, 1, 32}, {259, 3, 1, 1}, {262, 3, 1, 1},
                   {273, 4, 1, 8}, {277, 3, 1, 1}, {278, 4, 1, 100000}, {279, 4, 1, 16}, {339, 3, 1, 3}};
    put_ifd(&a, big, 10);
    sm_test_tmp_path(path, sizeof path, "absurd.tif");
    write_bytes(path, a.b, a.n);
    rc = sm_video_open(&v, path, &err);
    SM_CHECKF("100000x100000 float frame refused before allocating (SM_ENOMEM)", rc == SM_ENOMEM && strstr(err.msg, path),
              "%d %s", rc, err.msg);
    if (rc == 0) sm_video_close(v);
    /* 12-bit samples */
    a.n = 8;
    entry b12[] = {{256, 4, 1, 4}, {257, 4, 1, 4}, {258, 3, 1, 12}, {259, 3, 1, 1}, {262, 3, 1, 1},
                   {273, 4, 1, 8}, {277, 3, 1, 1}, {278, 4, 1, 4}, {279, 4, 1, 24}};
    put_ifd(&a, b12, 9);
    sm_test_tmp_path(path, sizeof path, "b12.tif");
    write_bytes(path, a.b, a.n);
    rc = sm_video_open(&v, path, &err);
    SM_CHECKF("12-bit samples: SM_EFORMAT 'unsupported bit depth'", rc == SM_EFORMAT && strstr(err.msg, "bit depth"),
              "%d %s", rc, err.msg);
    if (rc == 0) sm_video_close(v);
    /* an IFD chain that loops back onto itself */
    a.n = 8;
    entry loop[] = {{256, 4, 1, 2}, {257, 4, 1, 2}, {258, 3, 1, 8}, {259, 3, 1, 1}, {262, 3, 1, 1},
                    {273, 4, 1, 8}, {277, 3, 1, 1}, {278, 4, 1, 2}, {279, 4, 1, 4}};
    put_ifd(&a, loop, 9);
    a.n -= 4;
    put(&a, 8, 4); /* next IFD = this one */
    sm_test_tmp_path(path, sizeof path, "loop.tif");
    write_bytes(path, a.b, a.n);
    rc = sm_video_open(&v, path, &err);
    SM_CHECKF("looping IFD chain: SM_EFORMAT 'loops'", rc == SM_EFORMAT && strstr(err.msg, "loops"), "%d %s", rc, err.msg);
    if (rc == 0) sm_video_close(v);
    free(a.b);
}

/* ImageJ metadata as libtiff writes it from our own description; lazy frame count. */
static void test_imagej_metadata(void) {
    static const struct { const char *unit; double xres; double nm; } units[] = {
        {"micron", 2.0, 500}, {"\\u00B5m", 4.0, 250}, {"um", 0.5, 2000}, {"nm", 0.8, 1.25}, {"A", 2.0, 0.05},
        {"pixel", 1.0, 0},
    };
    char path[2048];
    sm_test_tmp_path(path, sizeof path, "ijmeta.tif");
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        TIFF *t = TIFFOpen(path, "w");
        char desc[256];
        snprintf(desc, sizeof desc, "ImageJ=1.53t\nimages=5\nframes=5\nunit=%s\nfps=20\n", units[u].unit);
        for (int k = 0; k < 3; k++) { /* 3 pages although the description says 5 */
            uint8_t row[4] = {(uint8_t)k, 1, 2, 3};
            TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 4);
            TIFFSetField(t, TIFFTAG_IMAGELENGTH, 1);
            TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
            TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
            TIFFSetField(t, TIFFTAG_XRESOLUTION, units[u].xres);
            TIFFSetField(t, TIFFTAG_YRESOLUTION, units[u].xres);
            TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
            if (k == 0) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, desc);
            TIFFWriteScanline(t, row, 0, 0);
            TIFFWriteDirectory(t);
        }
        TIFFClose(t);
        sm_error err = {0};
        sm_video *v;
        int rc = sm_video_open(&v, path, &err);
        char label[256];
        snprintf(label, sizeof label, "ImageJ unit=%s, %g px/unit: pixel size %g nm, fps=20: 0.05 s", units[u].unit,
                 units[u].xres, units[u].nm);
        if (rc) {
            SM_CHECKF(label, 0, "%s", err.msg);
            continue;
        }
        const sm_video_info *in = sm_video_get_info(v);
        SM_CHECKF(label, fabs(in->pixel_size_nm - units[u].nm) < 1e-6 * (units[u].nm + 1) &&
                             fabs(in->frame_interval_s - 0.05) < 1e-12, "%g nm %g s", in->pixel_size_nm, in->frame_interval_s);
        if (u == 0) {
            float f[4];
            SM_CHECK("ImageJ count is trusted at open (5 frames, the chain is not walked)", in->frames == 5);
            SM_CHECK("frame 2 (last page) reads", sm_video_read_frame(v, 2, f, &err) == 0 && f[0] == 2);
            rc = sm_video_read_frame(v, 4, f, &err);
            SM_CHECKF("frame 4 beyond the pages: SM_EFORMAT 'missing'", rc == SM_EFORMAT && strstr(err.msg, "missing"),
                      "%d %s", rc, err.msg);
        }
        sm_video_close(v);
    }
    /* resolution in centimetres, no ImageJ description */
    TIFF *t = TIFFOpen(path, "w");
    uint8_t row[2] = {7, 9};
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 2);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 1);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 1e5);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, 1e5);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    TIFFWriteScanline(t, row, 0, 0);
    TIFFWriteDirectory(t);
    TIFFClose(t);
    sm_error err = {0};
    sm_video *v;
    int rc = sm_video_open(&v, path, &err);
    SM_CHECKF("1e5 px/cm: 100 nm; no interval", rc == 0 && fabs(sm_video_get_info(v)->pixel_size_nm - 100) < 1e-6 &&
                                                  sm_video_get_info(v)->frame_interval_s == 0, "%s", err.msg);
    if (rc == 0) sm_video_close(v);
}

/* Pages of another size; truncated and corrupted copies of a good stack. */
static void test_bad_files(void) {
    char path[2048], bad[2048];
    sm_test_tmp_path(path, sizeof path, "mixed.tif");
    TIFF *t = TIFFOpen(path, "w");
    for (int k = 0; k < 3; k++) {
        int w = k == 2 ? 6 : 4;
        uint8_t row[6] = {1, 2, 3, 4, 5, 6};
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, 1);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFWriteScanline(t, row, 0, 0);
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
    sm_error err = {0};
    sm_video *v;
    float f[64];
    int rc = sm_video_open(&v, path, &err);
    SM_CHECK("stack with a page of another size opens (header only)", rc == 0);
    if (rc == 0) {
        rc = sm_video_read_frame(v, 2, f, &err);
        SM_CHECKF("...and frame 2 gives SM_EFORMAT naming the frame and sizes",
                  rc == SM_EFORMAT && strstr(err.msg, "frame 2 is 6x1 px") && strstr(err.msg, path), "%s", err.msg);
        SM_CHECK("...while frame 1 still reads", sm_video_read_frame(v, 1, f, &err) == 0 && f[3] == 4);
        sm_video_close(v);
    }

    /* a good 4-frame stack (libtiff, deflate) and every truncation of it */
    variant var = {16, SAMPLEFORMAT_UINT, 0, COMPRESSION_ADOBE_DEFLATE, 0, "deflate"};
    sm_test_tmp_path(path, sizeof path, "good.tif");
    write_libtiff(path, &var, 8, 5, 4, 1);
    FILE *fp = fopen(path, "rb");
    uint8_t *data = malloc(1 << 16);
    size_t n = fread(data, 1, 1 << 16, fp);
    fclose(fp);
    sm_test_tmp_path(bad, sizeof bad, "cut.tif");
    int all_fail = 1, named = 1, cases = 0;
    for (size_t len = 0; len < n; len += 5) {
        write_bytes(bad, data, len);
        cases++;
        rc = sm_video_open(&v, bad, &err);
        if (rc == 0) {
            int any = 0;
            for (int64_t k = 0; k < sm_video_get_info(v)->frames; k++)
                if (sm_video_read_frame(v, k, f, &err) < 0) any = 1;
            sm_video_close(v);
            if (!any) all_fail = 0;
        }
        if (!strstr(err.msg, bad)) named = 0;
    }
    SM_CHECKF("every truncated copy fails at open or at a frame", all_fail, "%d cases", cases);
    SM_CHECK("...with a message naming the file", named);
    /* byte flips in the header and IFDs: any result but a crash; errors name the file */
    sm_rng rng;
    sm_rng_seed(&rng, 7);
    named = 1;
    int opened = 0;
    for (int trial = 0; trial < 300; trial++) {
        uint8_t *c = malloc(n);
        memcpy(c, data, n);
        for (int j = 0; j < 3; j++) c[sm_rng_below(&rng, n)] ^= (uint8_t)(1 + sm_rng_below(&rng, 255));
        write_bytes(bad, c, n);
        free(c);
        err.msg[0] = 0;
        rc = sm_video_open(&v, bad, &err);
        if (rc == 0) {
            opened++;
            for (int64_t k = 0; k < sm_video_get_info(v)->frames && k < 8; k++)
                if (sm_video_read_frame(v, k, f, &err) < 0 && !strstr(err.msg, bad)) named = 0;
            sm_video_close(v);
        } else if (!strstr(err.msg, bad)) {
            named = 0;
        }
    }
    SM_CHECKF("300 corrupted copies: no crash, every error names the file", named, "last: %s", err.msg);
    free(data);

    rc = sm_video_open(&v, "/nonexistent/run.tif", &err);
    SM_CHECKF("missing file: SM_EIO naming it", rc == SM_EIO && strstr(err.msg, "/nonexistent/run.tif"), "%s", err.msg);
    sm_test_tmp_path(bad, sizeof bad, "empty.tif");
    write_bytes(bad, (const uint8_t *)"", 0);
    rc = sm_video_open(&v, bad, &err);
    SM_CHECKF("empty file: SM_EFORMAT", rc == SM_EFORMAT && strstr(err.msg, bad), "%s", err.msg);
    sm_test_tmp_path(bad, sizeof bad, "text.tif");
    write_bytes(bad, (const uint8_t *)"hello, not a tiff\n", 18);
    rc = sm_video_open(&v, bad, &err);
    SM_CHECKF("text named .tif: not a video format (the extension is not trusted)", rc == SM_EFORMAT, "%s", err.msg);
    write_bytes(bad, (const uint8_t *)"II*\0\x08\0\0\0", 8);
    rc = sm_video_open(&v, bad, &err);
    SM_CHECKF("header only, IFD missing: SM_EFORMAT", rc == SM_EFORMAT && strstr(err.msg, bad), "%s", err.msg);
}

/* samem's writer read back by samem's reader; tifffile-written files when python3 has tifffile. */
static void test_roundtrip_and_tifffile(void) {
    char path[2048];
    sm_test_tmp_path(path, sizeof path, "rt.tif");
    enum { W = 9, H = 4, N = 3 };
    uint16_t fr[W * H];
    sm_error err = {0};
    sm_tiff_writer *w;
    int rc = sm_tiff_writer_open(&w, path, W, H, SM_SAMPLE_U16, N, 0.33, 0.125, &err);
    for (int k = 0; k < N && rc == 0; k++) {
        for (int i = 0; i < W * H; i++) fr[i] = (uint16_t)(k * 5000 + i * 13);
        rc = sm_tiff_writer_write(w, fr, &err);
    }
    if (rc == 0) rc = sm_tiff_writer_commit(w, &err);
    sm_video *v;
    if (rc == 0) rc = sm_video_open(&v, path, &err);
    SM_CHECKF("samem writer -> samem reader opens", rc == 0, "%s", err.msg);
    if (rc == 0) {
        const sm_video_info *in = sm_video_get_info(v);
        float f[W * H];
        int bad = sm_video_read_frame(v, 2, f, &err) != 0;
        for (int i = 0; i < W * H; i++) bad += f[i] != (float)(2 * 5000 + i * 13);
        SM_CHECKF("...pixels exact, pixel size 0.33 nm (float rational) and 0.125 s kept",
                  !bad && fabs(in->pixel_size_nm - 0.33) < 1e-6 && in->frame_interval_s == 0.125 && in->frames == N,
                  "%g %g", in->pixel_size_nm, in->frame_interval_s);
        sm_video_close(v);
    }
    if (access("/usr/bin/python3", X_OK) != 0 || sm_test_system("/usr/bin/python3 -c 'import tifffile' 2>/dev/null"))
        return;
    char a[2048], b[2048], c[2048], cmd[8192];
    sm_test_tmp_path(a, sizeof a, "tf_ij.tif");
    sm_test_tmp_path(b, sizeof b, "tf_big.tif");
    sm_test_tmp_path(c, sizeof c, "tf_tiled.tif");
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np, tifffile\n"
             "a=((np.arange(4)[:,None,None]*7+np.arange(30)[None,:,None]*3+np.arange(20)[None,None,:]*11)%%65536)"
             ".astype(np.uint16)\n"
             "tifffile.imwrite('%s', a[:,None], imagej=True, resolution=(2.0,2.0), metadata={'unit':'um','finterval':0.25,'axes':'TCYX'})\n"
             "tifffile.imwrite('%s', a.astype(np.float32)/4, bigtiff=True, photometric='minisblack')\n"
             "tifffile.imwrite('%s', a.astype(np.int16)-300, tile=(16,16), compression='zlib', photometric='minisblack')\"",
             a, b, c);
    if (sm_test_system(cmd) != 0) {
        SM_CHECK("python3 tifffile writes the fixtures", 0);
        return;
    }
    const char *files[3] = {a, b, c};
    for (int fi = 0; fi < 3; fi++) {
        rc = sm_video_open(&v, files[fi], &err);
        int bad = rc != 0;
        const sm_video_info *in = rc == 0 ? sm_video_get_info(v) : NULL;
        float f[30 * 20];
        if (in) {
            bad += in->frames != 4 || in->width != 20 || in->height != 30;
            for (int k = 0; k < 4 && !bad; k++) {
                bad += sm_video_read_frame(v, k, f, &err) != 0;
                for (int y = 0; y < 30; y++)
                    for (int x = 0; x < 20; x++) {
                        double e = (k * 7 + y * 3 + x * 11) % 65536;
                        if (fi == 1) e /= 4;
                        if (fi == 2) e -= 300;
                        bad += f[y * 20 + x] != (float)e;
                    }
            }
            if (fi == 0)
                bad += fabs(in->pixel_size_nm - 500) > 1e-6 || in->frame_interval_s != 0.25;
            if (fi == 2) bad += !in->is_signed;
            sm_video_close(v);
        }
        static const char *names[3] = {"tifffile ImageJ uint16 (500 nm, 0.25 s)", "tifffile BigTIFF float32",
                                       "tifffile tiled zlib int16"};
        char label[256];
        snprintf(label, sizeof label, "%s: frames, size, metadata and pixels exact", names[fi]);
        SM_CHECKF(label, !bad, "%d %s", bad, err.msg);
    }
}

int main(void) {
    test_sample_types();
    test_imagej_single_ifd();
    test_imagej_metadata();
    test_bad_files();
    test_roundtrip_and_tifffile();
    return sm_test_report();
}
