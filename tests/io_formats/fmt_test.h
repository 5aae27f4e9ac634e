/* Helpers shared by the microscope-format tests: byte buffers for building files from published layouts,
 * truncated and corrupted copies, and the CLI check that a bad file gives exit 2 and one line naming it. */
#ifndef SM_FMT_TEST_H
#define SM_FMT_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samem/io.h"
#include "test.h"

/* A growable byte buffer. */
typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static inline void b_put(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* Unsigned integer of `size` bytes, big- or little-endian. */
static inline void b_uint(bytes *b, uint64_t v, int size, int little) {
    uint8_t t[8];
    for (int k = 0; k < size; k++) t[little ? k : size - 1 - k] = (uint8_t)(v >> (8 * k));
    b_put(b, t, (size_t)size);
}

static inline void b_f64(bytes *b, double v, int little) {
    uint64_t u;
    memcpy(&u, &v, 8);
    b_uint(b, u, 8, little);
}

static inline void b_f32(bytes *b, float v, int little) {
    uint32_t u;
    memcpy(&u, &v, 4);
    b_uint(b, u, 4, little);
}

/* Overwrites `size` bytes at offset. */
static inline void b_set_uint(bytes *b, size_t off, uint64_t v, int size, int little) {
    for (int k = 0; k < size; k++) b->p[off + (size_t)(little ? k : size - 1 - k)] = (uint8_t)(v >> (8 * k));
}

static inline int write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t w = fwrite(p, 1, n, fp);
    return fclose(fp) == 0 && w == n ? 0 : -1;
}

static inline long file_size(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

/* Copies the first `keep` bytes of src to dst. */
static inline int truncated_copy(const char *src, const char *dst, long keep) {
    FILE *fp = fopen(src, "rb");
    if (!fp) return -1;
    uint8_t *buf = malloc((size_t)keep + 1);
    size_t n = fread(buf, 1, (size_t)keep, fp);
    fclose(fp);
    int rc = write_bytes(dst, buf, n);
    free(buf);
    return rc;
}

/* Opens path and reads every frame; returns the first error code (0 if all went well). */
static inline int open_and_read_all(const char *path, sm_error *err) {
    sm_video *v;
    int rc = sm_video_open(&v, path, err);
    if (rc < 0) return rc;
    const sm_video_info *in = sm_video_get_info(v);
    float *plane = malloc(sizeof(float) * (size_t)in->width * (size_t)in->height);
    for (int64_t i = 0; i < in->frames && rc == 0; i++) rc = sm_video_read_frame(v, i, plane, err);
    free(plane);
    sm_video_close(v);
    return rc;
}

/* Whether check_bad_file also runs the CLI (a test may switch it off for repetitive cases to save time), and
 * how many more CLI runs it may make: the CLI path is the same for every bad file, and each run of an
 * AddressSanitizer build of samem costs about a second. */
static int cli_checks = 1;
static int cli_budget = 6;

/* A bad file must fail through the library with a message naming the file, and (when the CLI is built)
 * `samem info` must exit 2 with exactly one line on stderr that names the file. */
static inline void check_bad_file(const char *label, const char *path) {
    sm_error err = {0};
    int rc = open_and_read_all(path, &err);
    char name[256];
    snprintf(name, sizeof name, "%s: library refuses it with a message naming the file", label);
    SM_CHECKF(name, rc < 0 && strstr(err.msg, path) != NULL, "rc=%d msg=%s", rc, err.msg);
    const char *bin = getenv("SAMEM_BIN");
    if (!cli_checks || cli_budget <= 0 || !bin || access(bin, X_OK) != 0) return;
    cli_budget--;
    char cmd[4096], errpath[2100];
    snprintf(errpath, sizeof errpath, "%s.stderr", path);
    snprintf(cmd, sizeof cmd, "'%s' info '%s' >/dev/null 2>'%s'", bin, path, errpath);
    int st = sm_test_system(cmd);
    /* info only reads the header: a file whose header is fine but whose frames are cut may still pass info,
     * so the exit code is checked only when the library already fails at open. */
    sm_video *v;
    sm_error e2 = {0};
    int open_fails = sm_video_open(&v, path, &e2) < 0;
    if (!open_fails) sm_video_close(v);
    char *text = NULL;
    size_t len = 0;
    sm_read_text_file(errpath, 1 << 16, &text, &len, NULL);
    int lines = 0;
    for (size_t k = 0; text && k < len; k++) lines += text[k] == '\n';
    snprintf(name, sizeof name, "%s: samem info exits 2 with one line naming the file", label);
    if (open_fails)
        SM_CHECKF(name, st == 2 && lines == 1 && strstr(text, path) != NULL, "exit=%d lines=%d stderr=%s", st, lines,
                  text ? text : "");
    free(text);
    remove(errpath);
}

/* `samem convert FILE OUT.tif` (when the CLI is built) must give a TIFF stack with the same frames (exactly,
 * as float32), the same size, pixel size and frame interval (within 1e-6 relative). */
static inline void check_convert(const char *label, const char *path) {
    const char *bin = getenv("SAMEM_BIN");
    if (!bin || access(bin, X_OK) != 0) return;
    char out[2200], cmd[4600], name[256];
    snprintf(out, sizeof out, "%s.converted.tif", path);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' '%s' --quiet >/dev/null 2>&1", bin, path, out);
    int st = sm_test_system(cmd);
    snprintf(name, sizeof name, "%s: samem convert exits 0", label);
    SM_CHECKF(name, st == 0, "exit %d", st);
    if (st != 0) return;
    sm_error err = {0};
    sm_video *a = NULL, *b = NULL;
    int ok = sm_video_open(&a, path, &err) == 0 && sm_video_open(&b, out, &err) == 0;
    int bad = -1;
    if (ok) {
        const sm_video_info *ia = sm_video_get_info(a), *ib = sm_video_get_info(b);
        ok = ia->width == ib->width && ia->height == ib->height && ia->frames == ib->frames &&
             fabs(ia->pixel_size_nm - ib->pixel_size_nm) <= 1e-6 * ia->pixel_size_nm &&
             fabs(ia->frame_interval_s - ib->frame_interval_s) <= 1e-6 * ia->frame_interval_s;
        size_t n = (size_t)ia->width * (size_t)ia->height;
        float *pa = malloc(sizeof(float) * n), *pb = malloc(sizeof(float) * n);
        bad = 0;
        for (int64_t i = 0; ok && i < ia->frames; i++) {
            if (sm_video_read_frame(a, i, pa, &err) < 0 || sm_video_read_frame(b, i, pb, &err) < 0) {
                bad = -1;
                break;
            }
            for (size_t k = 0; k < n; k++) bad += pa[k] != pb[k];
        }
        free(pa);
        free(pb);
    }
    snprintf(name, sizeof name, "%s: the TIFF from samem convert has the same frames, size, pixel size and interval",
             label);
    SM_CHECKF(name, ok && bad == 0, "ok=%d bad=%d %s", ok, bad, err.msg);
    sm_video_close(a);
    sm_video_close(b);
    remove(out);
}

#endif
