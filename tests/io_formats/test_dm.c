/* DM3/DM4 reader against files built byte by byte from the published tag-format description (the
 * EMAN/ImageJ "DM3 Image Format" note; DM4 widens counts and sizes to 8 bytes and adds an entry size):
 * a thumbnail plus a 3-D stack, five sample types, both data byte orders, pixel size and frame interval from
 * ImageData.Calibrations; then hostile files: truncation, deep nesting, absurd counts, unknown types. */
#include "fmt_test.h"

enum { W = 19, H = 11, N = 4 };

typedef struct dmw {
    bytes b;
    int v4, little;   /* DM4?, data byte order */
} dmw;

static void count(dmw *d, uint64_t v) { b_uint(&d->b, v, d->v4 ? 8 : 4, 0); }

static void group_begin(dmw *d, uint64_t ntags) {
    uint8_t flags[2] = {0, 1};
    b_put(&d->b, flags, 2);
    count(d, ntags);
}

/* Entry header; returns where the DM4 entry size must be patched (0 for DM3). */
static size_t entry(dmw *d, int kind, const char *name) {
    uint8_t k = (uint8_t)kind;
    b_put(&d->b, &k, 1);
    b_uint(&d->b, strlen(name), 2, 0);
    b_put(&d->b, name, strlen(name));
    if (!d->v4) return 0;
    size_t at = d->b.n;
    b_uint(&d->b, 0, 8, 0);
    return at;
}

static void entry_end(dmw *d, size_t at) {
    if (d->v4) b_set_uint(&d->b, at, d->b.n - at - 8, 8, 0);
}

static void data_head(dmw *d, const uint64_t *info, int ninfo) {
    b_put(&d->b, "%%%%", 4);
    count(d, (uint64_t)ninfo);
    for (int k = 0; k < ninfo; k++) count(d, info[k]);
}

/* A simple-valued tag: type 3 (long), 6 (float), 7 (double). */
static void tag_num(dmw *d, const char *name, int type, double v) {
    size_t at = entry(d, 21, name);
    uint64_t info[1] = {(uint64_t)type};
    data_head(d, info, 1);
    if (type == 3) b_uint(&d->b, (uint64_t)(int64_t)v, 4, d->little);
    else if (type == 6) b_f32(&d->b, (float)v, d->little);
    else b_f64(&d->b, v, d->little);
    entry_end(d, at);
}

/* Units as an array of UTF-16 ushorts, the way Digital Micrograph stores strings. */
static void tag_units(dmw *d, const char *name, const uint16_t *u, int n) {
    size_t at = entry(d, 21, name);
    uint64_t info[3] = {20, 4, (uint64_t)n};
    data_head(d, info, 3);
    for (int k = 0; k < n; k++) b_uint(&d->b, u[k], 2, d->little);
    entry_end(d, at);
}

/* Sample value of the stack at (x, y, frame), exact in every tested type. */
static double sample(int dtype, int x, int y, int z) {
    int v = (x * 5 + y * 3 + z * 11) % 97;
    switch (dtype) {
    case 6: return v + 100;
    case 10: return v * 500 + z;
    case 1: return (v - 48) * 250;
    case 7: return (v - 48) * 100000;
    default: return v * 0.125 - 4;
    }
}

static int dtype_bytes(int dtype) { return dtype == 6 ? 1 : dtype == 10 || dtype == 1 ? 2 : 4; }
static int dtype_array_elem(int dtype) { return dtype == 6 ? 10 : dtype == 10 ? 4 : dtype == 1 ? 2 : dtype == 7 ? 3 : 6; }

static void put_sample(dmw *d, int dtype, double v) {
    if (dtype == 2) b_f32(&d->b, (float)v, d->little);
    else b_uint(&d->b, (uint64_t)(int64_t)v, dtype_bytes(dtype), d->little);
}

/* One image group (unnamed entry of ImageList): Data, DataType, Dimensions, Calibrations. */
static void image(dmw *d, int dtype, int w, int h, int n, double scale, const uint16_t *unit, int unit_len,
                  double tscale, const uint16_t *tunit, int tunit_len) {
    int nd = n > 1 ? 3 : 2;
    size_t img = entry(d, 20, "");
    group_begin(d, 2);
    size_t tags = entry(d, 20, "ImageTags");   /* an unrelated group with a struct and a string, to be skipped */
    group_begin(d, 2);
    size_t st = entry(d, 21, "Position");
    uint64_t sinfo[7] = {15, 0, 2, 0, 6, 0, 7};
    data_head(d, sinfo, 7);
    b_f32(&d->b, 1.5f, d->little);
    b_f64(&d->b, 2.5, d->little);
    entry_end(d, st);
    size_t str = entry(d, 21, "Name");
    uint64_t strinfo[2] = {18, 3};
    data_head(d, strinfo, 2);
    b_put(&d->b, "a\0b\0c\0", 6);
    entry_end(d, str);
    entry_end(d, tags);

    size_t idata = entry(d, 20, "ImageData");
    group_begin(d, 4);
    size_t cal = entry(d, 20, "Calibrations");
    group_begin(d, 1);
    size_t dim = entry(d, 20, "Dimension");
    group_begin(d, (uint64_t)nd);
    for (int k = 0; k < nd; k++) {
        size_t g = entry(d, 20, "");
        group_begin(d, 3);
        tag_num(d, "Origin", 6, 0);
        tag_num(d, "Scale", 6, k == 2 ? tscale : scale);
        if (k == 2) tag_units(d, "Units", tunit, tunit_len);
        else tag_units(d, "Units", unit, unit_len);
        entry_end(d, g);
    }
    entry_end(d, dim);
    entry_end(d, cal);
    size_t data = entry(d, 21, "Data");
    uint64_t ainfo[3] = {20, (uint64_t)dtype_array_elem(dtype), (uint64_t)w * h * n};
    data_head(d, ainfo, 3);
    for (int z = 0; z < n; z++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) put_sample(d, dtype, sample(dtype, x, y, z));
    entry_end(d, data);
    tag_num(d, "DataType", 3, dtype);
    size_t dims = entry(d, 20, "Dimensions");
    group_begin(d, (uint64_t)nd);
    tag_num(d, "", 3, w);
    tag_num(d, "", 3, h);
    if (nd == 3) tag_num(d, "", 3, n);
    entry_end(d, dims);
    entry_end(d, idata);
    entry_end(d, img);
}

/* A whole file: a thumbnail image, then the stack. */
static void build(dmw *d, int v4, int little, int dtype, double scale, const uint16_t *unit, int unit_len,
                  double tscale, const uint16_t *tunit, int tunit_len) {
    memset(d, 0, sizeof *d);
    d->v4 = v4;
    d->little = little;
    b_uint(&d->b, v4 ? 4 : 3, 4, 0);
    b_uint(&d->b, 0, v4 ? 8 : 4, 0);   /* root length, patched below */
    b_uint(&d->b, (uint64_t)little, 4, 0);
    group_begin(d, 2);
    tag_num(d, "Version", 3, 7);
    size_t list = entry(d, 20, "ImageList");
    group_begin(d, 2);
    uint16_t px[2] = {'p', 'x'};
    image(d, 6, 8, 6, 1, 1, px, 2, 0, px, 0);   /* thumbnail: 8x6 uint8 */
    image(d, dtype, W, H, N, scale, unit, unit_len, tscale, tunit, tunit_len);
    entry_end(d, list);
    b_uint(&d->b, 0, 8, 0);   /* end padding: 8 zero bytes in DM3, 16 in DM4 */
    if (v4) b_uint(&d->b, 0, 8, 0);
    b_set_uint(&d->b, 4, d->b.n - (v4 ? 16 : 12), v4 ? 8 : 4, 0);
}

int main(void) {
    char dir[2048], path[2200], name[160];
    sm_test_tmp_path(dir, sizeof dir, "dm");
    mkdir(dir, 0777);
    const uint16_t nm[2] = {'n', 'm'}, um[2] = {0xB5, 'm'}, s[1] = {'s'}, ms[2] = {'m', 's'};
    const int dtypes[] = {6, 10, 1, 7, 2};
    const int bits[] = {8, 16, 16, 32, 32};
    float *plane = malloc(sizeof(float) * W * H);
    for (int v4 = 0; v4 < 2; v4++)
        for (int t = 0; t < 5; t++)
            for (int little = 0; little < 2; little++) {
                dmw d;
                int use_um = (t + little) % 2;
                build(&d, v4, little, dtypes[t], use_um ? 0.002 : 0.25, use_um ? um : nm, 2, use_um ? 40 : 0.04,
                      use_um ? ms : s, use_um ? 2 : 1);
                snprintf(path, sizeof path, "%s/t%d_%s.dm%d", dir, dtypes[t], little ? "le" : "be", v4 ? 4 : 3);
                write_bytes(path, d.b.p, d.b.n);
                free(d.b.p);
                char tag[64];
                snprintf(tag, sizeof tag, "DM%d DataType %d %s", v4 ? 4 : 3, dtypes[t], little ? "LE" : "BE");
                sm_error err = {0};
                sm_video *v;
                int rc = sm_video_open(&v, path, &err);
                snprintf(name, sizeof name, "%s opens", tag);
                SM_CHECKF(name, rc == 0, "%s", err.msg);
                if (rc) continue;
                const sm_video_info *in = sm_video_get_info(v);
                snprintf(name, sizeof name, "%s: the stack, not the thumbnail (%dx%d, %d frames, %d bits)", tag, W, H,
                         N, bits[t]);
                SM_CHECKF(name, in->width == W && in->height == H && in->frames == N && in->bit_depth == bits[t] &&
                          in->is_float == (dtypes[t] == 2) && in->is_signed == (dtypes[t] == 1 || dtypes[t] == 7) &&
                          !strcmp(in->format, v4 ? "dm4" : "dm3"),
                          "%s %dx%d %lld frames %d bits", in->format, in->width, in->height, (long long)in->frames,
                          in->bit_depth);
                snprintf(name, sizeof name, "%s: pixel size %s nm and frame interval 0.04 s within 1e-6 relative",
                         tag, use_um ? "2 (0.002 um)" : "0.25");
                SM_CHECKF(name, fabs(in->pixel_size_nm / (use_um ? 2 : 0.25) - 1) < 1e-6 &&
                          fabs(in->frame_interval_s / 0.04 - 1) < 1e-6, "%g nm %g s", in->pixel_size_nm,
                          in->frame_interval_s);
                int bad = 0;
                const int order[N] = {2, 0, 3, 1};
                for (int k = 0; k < N && bad >= 0; k++) {
                    int z = order[k];
                    if (sm_video_read_frame(v, z, plane, &err) < 0) { bad = -1; break; }
                    for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++) bad += plane[y * W + x] != (float)sample(dtypes[t], x, y, z);
                }
                snprintf(name, sizeof name, "%s: every sample of every frame exact, in random order", tag);
                SM_CHECKF(name, bad == 0, "%d wrong %s", bad, err.msg);
                sm_video_close(v);
            }
    free(plane);

    /* Hostile files, built from a valid DM4 and DM3. */
    for (int v4 = 0; v4 < 2; v4++) {
        cli_checks = v4;   /* the CLI path is the same for both versions: run it on DM4 only */
        dmw d;
        build(&d, v4, 1, 10, 0.25, nm, 2, 0.04, s, 1);
        const char *ext = v4 ? "dm4" : "dm3";
        char src[2200];
        snprintf(src, sizeof src, "%s/good.%s", dir, ext);
        write_bytes(src, d.b.p, d.b.n);
        check_convert(ext, src);
        snprintf(path, sizeof path, "%s/cut_data.%s", dir, ext);
        truncated_copy(src, path, (long)d.b.n - 300);
        snprintf(name, sizeof name, "%s truncated inside the image data", ext);
        check_bad_file(name, path);
        snprintf(path, sizeof path, "%s/cut_tree.%s", dir, ext);
        truncated_copy(src, path, 150);
        snprintf(name, sizeof name, "%s truncated inside the tag tree", ext);
        check_bad_file(name, path);
        /* Root tag count far beyond the file. */
        bytes c = {0};
        b_put(&c, d.b.p, d.b.n);
        size_t root = v4 ? 16 : 12;
        b_set_uint(&c, root + 2, v4 ? 0x7fffffffffffffffull : 0x7fffffffull, v4 ? 8 : 4, 0);
        snprintf(path, sizeof path, "%s/ntags.%s", dir, ext);
        write_bytes(path, c.p, c.n);
        snprintf(name, sizeof name, "%s absurd tag count", ext);
        check_bad_file(name, path);
        free(c.p);
        /* Each stack DataType replaced by complex (3) or an unknown code (99); the Data array's element type
         * by an unknown code. Found by searching for the tag names in the bytes. */
        const char *needle = "DataType";
        for (size_t k = 0; k + 8 < d.b.n; k++) {
            if (memcmp(d.b.p + k, needle, 8) != 0) continue;
            size_t val = k + 8 + (v4 ? 8 : 0) + 4 + (v4 ? 16 : 8);   /* name, size, %%%%, ninfo, info[0] */
            uint8_t save = d.b.p[val];   /* little-endian long: first byte */
            if (save != 10) continue;    /* the stack's, not the thumbnail's */
            d.b.p[val] = 3;
            snprintf(path, sizeof path, "%s/complex.%s", dir, ext);
            write_bytes(path, d.b.p, d.b.n);
            snprintf(name, sizeof name, "%s complex DataType", ext);
            check_bad_file(name, path);
            d.b.p[val] = 99;
            snprintf(path, sizeof path, "%s/dtype99.%s", dir, ext);
            write_bytes(path, d.b.p, d.b.n);
            snprintf(name, sizeof name, "%s unknown DataType 99", ext);
            check_bad_file(name, path);
            d.b.p[val] = save;
        }
        for (size_t k = 0; k + 4 < d.b.n; k++) {
            if (memcmp(d.b.p + k, "Data%%%%", 8) != 0 && !(v4 && memcmp(d.b.p + k, "Data", 4) == 0 &&
                                                        k + 16 < d.b.n && memcmp(d.b.p + k + 12, "%%%%", 4) == 0))
                continue;
            size_t info0 = k + 4 + (v4 ? 8 : 0) + 4 + (v4 ? 8 : 4);
            uint8_t *last = d.b.p + info0 + (v4 ? 7 : 3);
            if (*last != 20) continue;
            *last = 77;
            snprintf(path, sizeof path, "%s/infotype.%s", dir, ext);
            write_bytes(path, d.b.p, d.b.n);
            snprintf(name, sizeof name, "%s unknown tag data type 77 (Data tag at byte %zu)", ext, k);
            check_bad_file(name, path);
            *last = 20;
            /* Dimensions that do not match the data: element count + 1. */
            uint8_t *cnt = d.b.p + info0 + 2 * (v4 ? 8 : 4) + (v4 ? 7 : 3);
            (*cnt)++;
            snprintf(path, sizeof path, "%s/count.%s", dir, ext);
            write_bytes(path, d.b.p, d.b.n);
            snprintf(name, sizeof name, "%s data count disagrees with the dimensions (Data tag at byte %zu)", ext, k);
            check_bad_file(name, path);
            (*cnt)--;
        }
        free(d.b.p);
        /* 100,000 nested groups: refused at the depth cap, no stack overflow. */
        dmw n = {{0}, v4, 1};
        b_uint(&n.b, v4 ? 4 : 3, 4, 0);
        b_uint(&n.b, 0, v4 ? 8 : 4, 0);
        b_uint(&n.b, 1, 4, 0);
        for (int k = 0; k < 100000; k++) {
            group_begin(&n, 1);
            entry(&n, 20, "g");
        }
        group_begin(&n, 0);
        snprintf(path, sizeof path, "%s/deep.%s", dir, ext);
        write_bytes(path, n.b.p, n.b.n);
        snprintf(name, sizeof name, "%s tag groups nested 100000 deep", ext);
        check_bad_file(name, path);
        free(n.b.p);
        /* A huge info count. */
        dmw h = {{0}, v4, 1};
        b_uint(&h.b, v4 ? 4 : 3, 4, 0);
        b_uint(&h.b, 0, v4 ? 8 : 4, 0);
        b_uint(&h.b, 1, 4, 0);
        group_begin(&h, 1);
        entry(&h, 21, "x");
        b_put(&h.b, "%%%%", 4);
        count(&h, 1ull << 30);
        snprintf(path, sizeof path, "%s/ninfo.%s", dir, ext);
        write_bytes(path, h.b.p, h.b.n);
        snprintf(name, sizeof name, "%s info count of 2^30", ext);
        check_bad_file(name, path);
        free(h.b.p);
    }
    return sm_test_report();
}
