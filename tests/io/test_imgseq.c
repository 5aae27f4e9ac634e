/* The PNG/JPEG folder reader against files written here with libpng and libjpeg directly: natural name
 * order, 8/16-bit gray, RGB, palette, gray+alpha and 4-bit PNG, gray and colour JPEG, then empty folders,
 * frames of different sizes, truncated and corrupt files, files that lie about their type. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>

#include "samem/io.h"
#include "test.h"

/* Writes a PNG of the given colour type and depth; px holds rows of png_get_rowbytes size. */
static int write_png(const char *path, int w, int h, int ctype, int depth, const uint8_t *px, size_t row_bytes,
                     const png_color *palette, int npal) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(fp);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, npal);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, px + (size_t)y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    return 0;
}

static int write_jpeg(const char *path, int w, int h, int comps, const uint8_t *px, int quality) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * (size_t)comps);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(fp);
    return 0;
}

static void mkdir_fresh(char *dir, size_t size, const char *name) {
    sm_test_tmp_path(dir, size, name);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    sm_test_system(cmd);
}

static void test_png_folder(void) {
    enum { W = 13, H = 7 };
    char dir[2048], path[2300];
    mkdir_fresh(dir, sizeof dir, "png8");
    /* written out of order, names whose plain strcmp order differs from the natural one */
    static const int idx[] = {10, 2, 1, 11, 3};
    uint8_t px[W * H];
    for (size_t k = 0; k < 5; k++) {
        for (int i = 0; i < W * H; i++) px[i] = (uint8_t)(idx[k] * 20 + i % 17);
        snprintf(path, sizeof path, "%s/frame_%d.png", dir, idx[k]);
        write_png(path, W, H, PNG_COLOR_TYPE_GRAY, 8, px, W, NULL, 0);
    }
    snprintf(path, sizeof path, "%s/.frame_0.png.tmp.1", dir); /* a hidden temporary file: skipped */
    write_png(path, W, H, PNG_COLOR_TYPE_GRAY, 8, px, W, NULL, 0);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    FILE *fp = fopen(path, "w");
    fputs("not a frame\n", fp);
    fclose(fp);
    sm_error err = {0};
    sm_video *v;
    int rc = sm_video_open(&v, dir, &err);
    SM_CHECKF("folder of 8-bit PNG opens", rc == 0, "%s", err.msg);
    if (rc) return;
    const sm_video_info *in = sm_video_get_info(v);
    SM_CHECKF("...5 frames of 13x7 px, 8 bits, format png-folder",
              in->frames == 5 && in->width == W && in->height == H && in->bit_depth == 8 &&
                  strcmp(in->format, "png-folder") == 0,
              "%lld %dx%d %d %s", (long long)in->frames, in->width, in->height, in->bit_depth, in->format);
    float f[W * H];
    static const int natural[] = {1, 2, 3, 10, 11};
    int bad = 0;
    for (int k = 4; k >= 0; k--) {
        bad += sm_video_read_frame(v, k, f, &err) != 0;
        for (int i = 0; i < W * H; i++) bad += f[i] != (float)(natural[k] * 20 + i % 17);
    }
    SM_CHECKF("...in natural order (frame_2 before frame_10), every pixel exact", bad == 0, "%d", bad);
    sm_video_close(v);

    /* 16-bit gray, RGB, palette, gray+alpha, 4-bit gray: one folder each */
    mkdir_fresh(dir, sizeof dir, "pngkinds");
    uint8_t buf[W * H * 8];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint16_t v16 = (uint16_t)(x * 4000 + y * 300 + 7);
            buf[(y * W + x) * 2] = (uint8_t)(v16 >> 8); /* PNG stores big-endian */
            buf[(y * W + x) * 2 + 1] = (uint8_t)v16;
        }
    snprintf(path, sizeof path, "%s/a16.png", dir);
    write_png(path, W, H, PNG_COLOR_TYPE_GRAY, 16, buf, W * 2, NULL, 0);
    rc = sm_video_open(&v, path, &err);
    bad = rc != 0;
    if (!rc) {
        bad += sm_video_get_info(v)->bit_depth != 16 || sm_video_read_frame(v, 0, f, &err) != 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) bad += f[y * W + x] != (float)(x * 4000 + y * 300 + 7);
        sm_video_close(v);
    }
    SM_CHECKF("16-bit gray PNG (single file): bit depth 16, values exact", !bad, "%s", err.msg);

    for (int i = 0; i < W * H; i++) {
        buf[3 * i] = (uint8_t)(i * 3);
        buf[3 * i + 1] = (uint8_t)(255 - i);
        buf[3 * i + 2] = (uint8_t)(i * 7);
    }
    snprintf(path, sizeof path, "%s/rgb.png", dir);
    write_png(path, W, H, PNG_COLOR_TYPE_RGB, 8, buf, W * 3, NULL, 0);
    double maxerr = 1e9;
    if (sm_video_open(&v, path, &err) == 0) {
        if (sm_video_read_frame(v, 0, f, &err) == 0) {
            maxerr = 0;
            for (int i = 0; i < W * H; i++)
                maxerr = fmax(maxerr, fabs(f[i] - (0.299 * (uint8_t)(i * 3) + 0.587 * (uint8_t)(255 - i) +
                                                   0.114 * (uint8_t)(i * 7))));
        }
        sm_video_close(v);
    }
    SM_CHECKF("RGB PNG: gray = 0.299 R + 0.587 G + 0.114 B within 1e-3", maxerr < 1e-3, "%g", maxerr);

    png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
    for (int i = 0; i < W * H; i++) buf[i] = (uint8_t)(i % 4);
    snprintf(path, sizeof path, "%s/pal.png", dir);
    write_png(path, W, H, PNG_COLOR_TYPE_PALETTE, 8, buf, W, pal, 4);
    maxerr = 1e9;
    if (sm_video_open(&v, path, &err) == 0) {
        if (sm_video_read_frame(v, 0, f, &err) == 0) {
            maxerr = 0;
            for (int i = 0; i < W * H; i++) {
                png_color c = pal[i % 4];
                maxerr = fmax(maxerr, fabs(f[i] - (0.299 * c.red + 0.587 * c.green + 0.114 * c.blue)));
            }
        }
        sm_video_close(v);
    }
    SM_CHECKF("palette PNG: luminance of the palette colour", maxerr < 1e-3, "%g", maxerr);

    for (int i = 0; i < W * H; i++) {
        buf[2 * i] = (uint8_t)(i + 5);
        buf[2 * i + 1] = (uint8_t)(i * 9); /* alpha, ignored */
    }
    snprintf(path, sizeof path, "%s/ga.png", dir);
    write_png(path, W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, buf, W * 2, NULL, 0);
    bad = 1;
    if (sm_video_open(&v, path, &err) == 0) {
        bad = sm_video_read_frame(v, 0, f, &err) != 0;
        for (int i = 0; i < W * H; i++) bad += f[i] != (float)(i + 5);
        sm_video_close(v);
    }
    SM_CHECK("gray+alpha PNG: gray values, alpha dropped", !bad);

    /* 4-bit gray: two pixels per byte, expanded to 8 bits (v * 17) */
    uint8_t packed[7 * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < 7; x++) packed[y * 7 + x] = (uint8_t)(((x + y) % 16) << 4 | ((x + 2 * y) % 16));
    snprintf(path, sizeof path, "%s/g4.png", dir);
    write_png(path, W, H, PNG_COLOR_TYPE_GRAY, 4, packed, 7, NULL, 0);
    bad = 1;
    if (sm_video_open(&v, path, &err) == 0) {
        bad = sm_video_read_frame(v, 0, f, &err) != 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int b = packed[y * 7 + x / 2];
                int nib = x % 2 ? b & 15 : b >> 4;
                bad += f[y * W + x] != (float)(nib * 17);
            }
        sm_video_close(v);
    }
    SM_CHECK("4-bit gray PNG: expanded to 8 bits (v * 17)", !bad);
}

static void test_jpeg_folder(void) {
    enum { W = 48, H = 32 };
    char dir[2048], path[2300];
    mkdir_fresh(dir, sizeof dir, "jpg");
    uint8_t g[W * H], rgb[W * H * 3];
    for (int k = 0; k < 3; k++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) g[y * W + x] = (uint8_t)(100 + 60 * sin(0.2 * x + k) * cos(0.3 * y));
        snprintf(path, sizeof path, "%s/img%02d.JPG", dir, k);
        write_jpeg(path, W, H, 1, g, 100);
    }
    sm_error err = {0};
    sm_video *v;
    int rc = sm_video_open(&v, dir, &err);
    SM_CHECKF("folder of gray JPEG (upper-case .JPG) opens as jpeg-folder, 3 frames",
              rc == 0 && sm_video_get_info(v)->frames == 3 && strcmp(sm_video_get_info(v)->format, "jpeg-folder") == 0,
              "%s", err.msg);
    float f[W * H];
    if (rc == 0) {
        double sq = 0;
        rc = sm_video_read_frame(v, 2, f, &err);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double e = f[y * W + x] - (uint8_t)(100 + 60 * sin(0.2 * x + 2) * cos(0.3 * y));
                sq += e * e;
            }
        SM_CHECKF("gray JPEG at quality 100: RMSE below 1 against the original", rc == 0 && sqrt(sq / (W * H)) < 1,
                  "%g", sqrt(sq / (W * H)));
        sm_video_close(v);
    }
    for (int i = 0; i < W * H; i++) {
        rgb[3 * i] = (uint8_t)(50 + (i % W) * 3);
        rgb[3 * i + 1] = (uint8_t)(200 - (i / W) * 2);
        rgb[3 * i + 2] = 90;
    }
    snprintf(path, sizeof path, "%s/colour.jpeg", dir);
    write_jpeg(path, W, H, 3, rgb, 100);
    rc = sm_video_open(&v, path, &err);
    double sq = 1e9;
    if (rc == 0 && sm_video_read_frame(v, 0, f, &err) == 0) {
        sq = 0;
        for (int i = 0; i < W * H; i++) {
            double e = f[i] - (0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
            sq += e * e;
        }
        sq = sqrt(sq / (W * H));
    }
    if (rc == 0) sm_video_close(v);
    SM_CHECKF("colour JPEG becomes Rec.601 luminance within RMSE 1.5", sq < 1.5, "%g %s", sq, err.msg);
}

static void copy_prefix(const char *src, const char *dst, long len) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    for (long i = 0; i < len; i++) {
        int c = fgetc(in);
        if (c == EOF) break;
        fputc(c, out);
    }
    fclose(in);
    fclose(out);
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void test_bad_folders(void) {
    char dir[2048], path[2300], path2[2300];
    sm_error err = {0};
    sm_video *v;
    mkdir_fresh(dir, sizeof dir, "empty");
    int rc = sm_video_open(&v, dir, &err);
    SM_CHECKF("empty folder: SM_EFORMAT naming the folder", rc == SM_EFORMAT && strstr(err.msg, dir), "%d %s", rc, err.msg);

    mkdir_fresh(dir, sizeof dir, "mixed");
    uint8_t px[16 * 16] = {0};
    snprintf(path, sizeof path, "%s/f1.png", dir);
    write_png(path, 16, 16, PNG_COLOR_TYPE_GRAY, 8, px, 16, NULL, 0);
    snprintf(path, sizeof path, "%s/f2.png", dir);
    write_png(path, 8, 16, PNG_COLOR_TYPE_GRAY, 8, px, 8, NULL, 0);
    snprintf(path2, sizeof path2, "%s/f3.jpg", dir);
    write_jpeg(path2, 16, 8, 1, px, 90);
    rc = sm_video_open(&v, dir, &err);
    SM_CHECK("folder with frames of different sizes opens (first header only)", rc == 0);
    float f[16 * 16];
    if (rc == 0) {
        rc = sm_video_read_frame(v, 1, f, &err);
        SM_CHECKF("...frame of another size: SM_EFORMAT naming that file",
                  rc == SM_EFORMAT && strstr(err.msg, path) && strstr(err.msg, "8x16"), "%s", err.msg);
        rc = sm_video_read_frame(v, 2, f, &err);
        SM_CHECKF("...also for a JPEG frame", rc == SM_EFORMAT && strstr(err.msg, path2), "%s", err.msg);
        SM_CHECK("...frame 0 still reads", sm_video_read_frame(v, 0, f, &err) == 0);
        sm_video_close(v);
    }

    /* truncated PNG and JPEG copies: every prefix fails with the file named */
    mkdir_fresh(dir, sizeof dir, "trunc");
    for (int i = 0; i < 16 * 16; i++) px[i] = (uint8_t)(i * 37 % 251);
    snprintf(path, sizeof path, "%s/good.png", dir);
    write_png(path, 16, 16, PNG_COLOR_TYPE_GRAY, 8, px, 16, NULL, 0);
    snprintf(path2, sizeof path2, "%s/good.jpg", dir);
    write_jpeg(path2, 16, 16, 1, px, 90);
    char cut[2300];
    snprintf(cut, sizeof cut, "%s/cut.png", dir);
    const char *srcs[2] = {path, path2};
    for (int s = 0; s < 2; s++) {
        long n = file_size(srcs[s]);
        int all_fail = 1, named = 1;
        for (long len = 1; len < n; len += 3) {
            copy_prefix(srcs[s], cut, len);
            rc = sm_video_open(&v, cut, &err);
            if (rc == 0) {
                rc = sm_video_read_frame(v, 0, f, &err);
                sm_video_close(v);
            }
            if (rc == 0) all_fail = 0;
            else if (!strstr(err.msg, cut)) named = 0;
        }
        SM_CHECKF(s == 0 ? "every truncated PNG fails, naming the file" : "every truncated JPEG fails, naming the file",
                  all_fail && named, "%s", err.msg);
    }
    /* flipped bytes: no crash, errors name the file */
    FILE *fp = fopen(path, "rb");
    uint8_t data[4096];
    size_t n = fread(data, 1, sizeof data, fp);
    fclose(fp);
    sm_rng rng;
    sm_rng_seed(&rng, 11);
    int named = 1;
    for (int t = 0; t < 200; t++) {
        uint8_t c[4096];
        memcpy(c, data, n);
        c[8 + sm_rng_below(&rng, n - 8)] ^= (uint8_t)(1 + sm_rng_below(&rng, 255));
        fp = fopen(cut, "wb");
        fwrite(c, 1, n, fp);
        fclose(fp);
        rc = sm_video_open(&v, cut, &err);
        if (rc == 0) {
            rc = sm_video_read_frame(v, 0, f, &err);
            sm_video_close(v);
        }
        if (rc && !strstr(err.msg, cut)) named = 0;
    }
    SM_CHECK("200 corrupted PNG copies: no crash, errors name the file", named);

    /* a text file named .png inside a folder */
    mkdir_fresh(dir, sizeof dir, "liar");
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_png(path, 4, 4, PNG_COLOR_TYPE_GRAY, 8, px, 4, NULL, 0);
    snprintf(path2, sizeof path2, "%s/b.png", dir);
    fp = fopen(path2, "w");
    fputs("plain text\n", fp);
    fclose(fp);
    rc = sm_video_open(&v, dir, &err);
    if (rc == 0) {
        rc = sm_video_read_frame(v, 1, f, &err);
        SM_CHECKF("text file named b.png: 'neither PNG nor JPEG' naming it",
                  rc == SM_EFORMAT && strstr(err.msg, path2) && strstr(err.msg, "neither"), "%s", err.msg);
        sm_video_close(v);
    }
    rc = sm_video_open(&v, "/nonexistent-folder/", &err);
    SM_CHECK("missing folder: SM_EIO", rc == SM_EIO);
}

int main(void) {
    test_png_folder();
    test_jpeg_folder();
    test_bad_folders();
    return sm_test_report();
}
