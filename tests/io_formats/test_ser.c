/* SER (FEI/TIA) reader against files built byte by byte from the published series layout: versions 0x0210
 * (32-bit offsets) and 0x0220 (64-bit), six sample types, pixel size from the element calibration (m -> nm),
 * frame interval from a time-calibrated series dimension or else from the tag times; then corrupted copies
 * (truncated, offsets past the end, absurd sizes, complex and 1-D data). */
#include "fmt_test.h"

enum { W = 17, H = 9, N = 5 };

static int type_bytes(int t) {
    static const int b[] = {0, 1, 2, 4, 1, 2, 4, 4, 8};
    return b[t];
}

static double sample(int t, int x, int y, int z) {
    int v = (x * 7 + y * 3 + z * 13) % 89;
    switch (t) {
    case 1: return v + 50;
    case 2: return v * 700 + z;
    case 5: return (v - 44) * 300;
    case 6: return (v - 44) * 70000;
    case 7: return v * 0.25 - 7;
    default: return v * 0.125 + 1e6;
    }
}

/* A SER file: N frames of type t; `wide` = version 0x0220; `time_dim` = the series dimension is in s
 * (delta 0.5 s), else the tags carry times 2 s apart. total > valid when `spare` is set. */
static bytes build(int t, int wide, int time_dim, int spare) {
    bytes b = {0};
    int total = N + (spare ? 3 : 0);
    b_uint(&b, 0x4949, 2, 1);
    b_uint(&b, 0x0197, 2, 1);
    b_uint(&b, wide ? 0x0220 : 0x0210, 2, 1);
    b_uint(&b, 0x4122, 4, 1);
    b_uint(&b, time_dim ? 0x4152 : 0x4142, 4, 1);
    b_uint(&b, (uint64_t)total, 4, 1);
    b_uint(&b, N, 4, 1);
    size_t arr_at = b.n;
    b_uint(&b, 0, wide ? 8 : 4, 1);   /* offset array offset, patched */
    b_uint(&b, 1, 4, 1);              /* one series dimension */
    b_uint(&b, (uint64_t)total, 4, 1);
    b_f64(&b, 0, 1);
    b_f64(&b, time_dim ? 0.5 : 1.0, 1);
    b_uint(&b, 0, 4, 1);
    b_uint(&b, 4, 4, 1);
    b_put(&b, time_dim ? "Time" : "Numb", 4);
    b_uint(&b, time_dim ? 1 : 0, 4, 1);
    if (time_dim) b_put(&b, "s", 1);
    uint64_t data_off[N], tag_off[N];
    for (int z = 0; z < N; z++) {
        data_off[z] = b.n;
        b_f64(&b, -1e-9, 1);       /* x: offset, delta (m), element */
        b_f64(&b, 1.2e-10, 1);
        b_uint(&b, 0, 4, 1);
        b_f64(&b, -1e-9, 1);       /* y */
        b_f64(&b, 1.2e-10, 1);
        b_uint(&b, 0, 4, 1);
        b_uint(&b, (uint64_t)t, 2, 1);
        b_uint(&b, W, 4, 1);
        b_uint(&b, H, 4, 1);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double v = sample(t, x, y, z);
                if (t == 7) b_f32(&b, (float)v, 1);
                else if (t == 8) b_f64(&b, v, 1);
                else b_uint(&b, (uint64_t)(int64_t)v, type_bytes(t), 1);
            }
    }
    for (int z = 0; z < N; z++) {
        tag_off[z] = b.n;
        b_uint(&b, time_dim ? 0x4152 : 0x4142, 2, 1);
        b_uint(&b, 1700000000u + 2u * (unsigned)z, 4, 1);
        if (!time_dim) {
            b_f64(&b, 1e-6, 1);
            b_f64(&b, 2e-6, 1);
        }
    }
    b_set_uint(&b, arr_at, b.n, wide ? 8 : 4, 1);
    for (int z = 0; z < total; z++) b_uint(&b, z < N ? data_off[z] : 0, wide ? 8 : 4, 1);
    for (int z = 0; z < total; z++) b_uint(&b, z < N ? tag_off[z] : 0, wide ? 8 : 4, 1);
    return b;
}

static uint32_t sm_raw_test_u32(const uint8_t *p) { return (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24); }

int main(void) {
    char dir[2048], path[2200], name[160];
    sm_test_tmp_path(dir, sizeof dir, "ser");
    mkdir(dir, 0777);
    const int types[] = {1, 2, 5, 6, 7, 8};
    float *plane = malloc(sizeof(float) * W * H);
    for (int k = 0; k < 6; k++)
        for (int wide = 0; wide < 2; wide++) {
            int t = types[k], time_dim = (k + wide) % 2;
            bytes b = build(t, wide, time_dim, wide);
            snprintf(path, sizeof path, "%s/t%d_%d.ser", dir, t, wide);
            write_bytes(path, b.p, b.n);
            free(b.p);
            char tag[64];
            snprintf(tag, sizeof tag, "SER v0x%s type %d", wide ? "0220" : "0210", t);
            sm_error err = {0};
            sm_video *v;
            int rc = sm_video_open(&v, path, &err);
            snprintf(name, sizeof name, "%s opens", tag);
            SM_CHECKF(name, rc == 0, "%s", err.msg);
            if (rc) continue;
            const sm_video_info *in = sm_video_get_info(v);
            snprintf(name, sizeof name, "%s: %dx%d, %d valid frames, %d bits", tag, W, H, N, type_bytes(t) * 8);
            SM_CHECKF(name, in->width == W && in->height == H && in->frames == N && in->bit_depth == type_bytes(t) * 8 &&
                      in->is_float == (t >= 7) && in->is_signed == (t == 5 || t == 6) && !strcmp(in->format, "ser"),
                      "%dx%d %lld %d", in->width, in->height, (long long)in->frames, in->bit_depth);
            snprintf(name, sizeof name, "%s: pixel 0.12 nm, interval %s within 1e-9 relative", tag,
                     time_dim ? "0.5 s (series dimension)" : "2 s (tag times)");
            SM_CHECKF(name, fabs(in->pixel_size_nm / 0.12 - 1) < 1e-9 &&
                      fabs(in->frame_interval_s / (time_dim ? 0.5 : 2.0) - 1) < 1e-9, "%.12g nm %.12g s",
                      in->pixel_size_nm, in->frame_interval_s);
            int bad = 0;
            for (int z = N - 1; z >= 0 && bad >= 0; z -= 2) {
                if (sm_video_read_frame(v, z, plane, &err) < 0) { bad = -1; break; }
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) bad += plane[y * W + x] != (float)sample(t, x, y, z);
            }
            for (int z = 0; z < N && bad >= 0; z += 2) {
                if (sm_video_read_frame(v, z, plane, &err) < 0) { bad = -1; break; }
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) bad += plane[y * W + x] != (float)sample(t, x, y, z);
            }
            snprintf(name, sizeof name, "%s: every sample exact, frames in random order", tag);
            SM_CHECKF(name, bad == 0, "%d wrong %s", bad, err.msg);
            sm_video_close(v);
        }
    free(plane);

    /* Corrupted copies. */
    bytes good = build(2, 0, 1, 0);
    char src[2200];
    snprintf(src, sizeof src, "%s/good.ser", dir);
    write_bytes(src, good.p, good.n);
    check_convert("ser uint16", src);
    snprintf(path, sizeof path, "%s/cut.ser", dir);
    truncated_copy(src, path, (long)good.n - 100);
    check_bad_file("ser truncated (offset array cut)", path);
    snprintf(path, sizeof path, "%s/cut_header.ser", dir);
    truncated_copy(src, path, 20);
    check_bad_file("ser cut inside the header", path);
    size_t first = 26 + 4 + 28 + 4 + 4 + 1;   /* first element: after header and the one dimension */
    struct { const char *label, *file; size_t off; uint64_t value; int size; } cases[] = {
        {"ser offset array past the end", "arr.ser", 22, 0x7fff0000u, 4},
        {"ser element count past the file", "count.ser", 14, 0x40000000u, 4},
        {"ser valid > total", "valid.ser", 18, 99, 4},
        {"ser complex data type 9", "complex.ser", first + 40, 9, 2},
        {"ser unknown data type 42", "dtype.ser", first + 40, 42, 2},
        {"ser absurd image width", "width.ser", first + 42, 0x7fffffffu, 4},
        {"ser 1-D spectra", "spectra.ser", 6, 0x4120, 4},
        {"ser unknown version", "version.ser", 4, 0x0300, 2},
        {"ser dimension description past the end", "desc.ser", 26 + 4 + 24, 0x7ffffff0u, 4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bytes c = {0};
        b_put(&c, good.p, good.n);
        b_set_uint(&c, cases[k].off, cases[k].value, cases[k].size, 1);
        snprintf(path, sizeof path, "%s/%s", dir, cases[k].file);
        write_bytes(path, c.p, c.n);
        check_bad_file(cases[k].label, path);
        free(c.p);
    }
    /* An element offset past the end: the third entry of the data offset array. */
    {
        bytes c = {0};
        b_put(&c, good.p, good.n);
        size_t arr = (size_t)sm_raw_test_u32(c.p + 22);
        b_set_uint(&c, arr + 8, c.n + 1000, 4, 1);
        snprintf(path, sizeof path, "%s/elem.ser", dir);
        write_bytes(path, c.p, c.n);
        check_bad_file("ser element offset past the end", path);
        /* An element whose own header disagrees with the first: caught when that frame is read. */
        b_set_uint(&c, arr + 8, sm_raw_test_u32(c.p + arr + 4), 4, 1);
        size_t second = (size_t)sm_raw_test_u32(c.p + arr + 4);
        b_set_uint(&c, second + 42, W - 1, 4, 1);
        snprintf(path, sizeof path, "%s/mixed.ser", dir);
        write_bytes(path, c.p, c.n);
        check_bad_file("ser element of another size", path);
        free(c.p);
    }
    free(good.p);
    return sm_test_report();
}
