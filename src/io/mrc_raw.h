/* Raw sample decoding shared by the hand-written microscope readers (mrc.c, dm.c, ser.c): one frame of
 * stored samples, in either byte order, to float32. It exists so that each parser only has to say where a
 * frame lies and what type its samples are. Leaves out complex and RGB samples, which no reader accepts.
 * float16 follows IEEE 754-2008 binary16 (MRC mode 12). */
#ifndef SM_IO_MRC_RAW_H
#define SM_IO_MRC_RAW_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "samem/common.h"

typedef enum sm_raw_type {
    SM_RAW_U8, SM_RAW_I8, SM_RAW_U16, SM_RAW_I16, SM_RAW_U32, SM_RAW_I32,
    SM_RAW_U64, SM_RAW_I64, SM_RAW_F16, SM_RAW_F32, SM_RAW_F64,
} sm_raw_type;

/* Bytes per sample. */
static inline size_t sm_raw_size(sm_raw_type t) {
    static const unsigned char size[] = {1, 1, 2, 2, 4, 4, 8, 8, 2, 4, 8};
    return size[t];
}

static inline int sm_raw_is_float(sm_raw_type t) { return t == SM_RAW_F16 || t == SM_RAW_F32 || t == SM_RAW_F64; }

static inline int sm_raw_is_signed(sm_raw_type t) {
    return t == SM_RAW_I8 || t == SM_RAW_I16 || t == SM_RAW_I32 || t == SM_RAW_I64;
}

static inline int sm_host_is_little(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* IEEE binary16 bits to float (subnormals, infinities and NaN included). */
static inline float sm_half_to_float(uint16_t h) {
    int sign = (h >> 15) & 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 0x400), e - 25);
    return sign ? -v : v;
}

/* Integer of `size` bytes at p in the given byte order (little != 0: little-endian). */
static inline uint64_t sm_raw_uint(const uint8_t *p, size_t size, int little) {
    uint64_t v = 0;
    for (size_t k = 0; k < size; k++) v |= (uint64_t)p[little ? k : size - 1 - k] << (8 * k);
    return v;
}

/* n samples of type t at src (byte order little/big) to out. The common cases (bytes, and 16/32-bit
 * samples in the host's order) have their own loops; the rest go through sm_raw_uint. */
static inline void sm_raw_to_float(float *out, const uint8_t *src, size_t n, sm_raw_type t, int little) {
    int native = little == sm_host_is_little();
    if (t == SM_RAW_U8) {
        for (size_t i = 0; i < n; i++) out[i] = src[i];
        return;
    }
    if (t == SM_RAW_I8) {
        for (size_t i = 0; i < n; i++) out[i] = (int8_t)src[i];
        return;
    }
    if (native && (t == SM_RAW_U16 || t == SM_RAW_I16)) {
        for (size_t i = 0; i < n; i++) {
            uint16_t u;
            memcpy(&u, src + 2 * i, 2);
            out[i] = t == SM_RAW_U16 ? (float)u : (float)(int16_t)u;
        }
        return;
    }
    if (native && t == SM_RAW_F32) {
        memcpy(out, src, n * 4);
        return;
    }
    size_t s = sm_raw_size(t);
    for (size_t i = 0; i < n; i++) {
        uint64_t u = sm_raw_uint(src + i * s, s, little);
        float v;
        switch (t) {
        case SM_RAW_U16: v = (float)(uint16_t)u; break;
        case SM_RAW_I16: v = (float)(int16_t)(uint16_t)u; break;
        case SM_RAW_U32: v = (float)(uint32_t)u; break;
        case SM_RAW_I32: v = (float)(int32_t)(uint32_t)u; break;
        case SM_RAW_U64: v = (float)u; break;
        case SM_RAW_I64: v = (float)(int64_t)u; break;
        case SM_RAW_F16: v = sm_half_to_float((uint16_t)u); break;
        case SM_RAW_F32: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); v = f; } break;
        default: { double d; memcpy(&d, &u, 8); v = (float)d; } break;
        }
        out[i] = v;
    }
}

/* Reads exactly n bytes at offset from fd; SM_EFORMAT naming path when the file ends first. */
static inline int sm_raw_pread(int fd, void *buf, size_t n, uint64_t offset, const char *path, const char *what,
                               sm_error *err) {
    uint8_t *p = buf;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, p + done, n - done, (off_t)(offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return sm_error_set(err, SM_EIO, "%s: read error in %s: %s", path, what, strerror(errno));
        if (r == 0) return sm_error_set(err, SM_EFORMAT, "%s: %s truncated (file ends at byte %llu)", path, what,
                                        (unsigned long long)(offset + done));
        done += (size_t)r;
    }
    return 0;
}

/* Frame i of a stack stored as consecutive frames of frame_bytes each from data_offset (MRC, DM): read
 * into buf and decode n_px samples to out. Errors name the frame. */
static inline int sm_raw_read_stacked_frame(int fd, uint8_t *buf, size_t frame_bytes, uint64_t data_offset, int64_t i,
                                            size_t n_px, sm_raw_type type, int little, const char *path, float *out,
                                            sm_error *err) {
    char what[64];
    snprintf(what, sizeof what, "frame %lld", (long long)i);
    int rc = sm_raw_pread(fd, buf, frame_bytes, data_offset + (uint64_t)i * frame_bytes, path, what, err);
    if (rc < 0) return rc;
    sm_raw_to_float(out, buf, n_px, type, little);
    return 0;
}

#endif
