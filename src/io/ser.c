/* FEI/Thermo Fisher TIA series files (.ser), read from the published layout (FEI "Series File Format" note
 * and its description in the TIA online help; see also the EMAN2/ncempy format notes). No FEI code is used.
 *
 * Little-endian. Header: byte order 0x4949, series id 0x0197, version 0x0210 (32-bit offsets) or 0x0220
 * (64-bit), data type id (0x4120 1-D spectra, 0x4122 2-D images), tag type id (0x4152 time, 0x4142 time
 * and stage position), total and valid element counts, the offset of the offset arrays, the number of
 * series dimensions, then one descriptor per dimension (size, calibration offset, delta, element,
 * description and units strings). At the offset-array offset: `total` data-element offsets, then `total`
 * tag offsets. A 2-D element is: calibration offset/delta/element for x, the same for y, data type (int16),
 * array size x and y (int32), then the samples (x fastest).
 * Data types: 1 uint8, 2 uint16, 3 uint32, 4 int8, 5 int16, 6 int32, 7 float32, 8 float64.
 *
 * Frames are the valid elements, in order; every element must have the first one's size and type.
 * Pixel size = x calibration delta (m -> nm). Frame interval: the first series dimension's calibration
 * delta when its unit is a time (s), otherwise the mean step of the tag times (which TIA stores in whole
 * seconds, so only series slower than ~1 frame/s get one). Left out: 1-D spectra and complex samples.
 * Open reads the header, the offset arrays and the first element's header; each frame read checks its own
 * element header. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/format.h"
#include "io/mrc_raw.h"

#define SER_ELEM_HEADER 50     /* bytes before the samples of a 2-D element */
#define SER_MAX_DIM 1000000

typedef struct ser_priv {
    int fd;
    char *path;
    uint64_t *offsets;       /* byte offset of each valid element, frames of them */
    uint64_t size;           /* file size, bytes */
    sm_raw_type type;
    int16_t type_code;
    size_t frame_bytes;
    uint8_t *buf;
} ser_priv;

static uint64_t le(const uint8_t *b, size_t n) { return sm_raw_uint(b, n, 1); }

static double le_f64(const uint8_t *b) {
    uint64_t u = le(b, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static int ser_type(int code, sm_raw_type *t) {
    static const sm_raw_type map[] = {SM_RAW_U8, SM_RAW_U16, SM_RAW_U32, SM_RAW_I8, SM_RAW_I16, SM_RAW_I32,
                                      SM_RAW_F32, SM_RAW_F64};
    if (code < 1 || code > 8) return 0;
    *t = map[code - 1];
    return 1;
}

static int ser_probe(const uint8_t *head, size_t n, const char *path, int is_dir) {
    (void)path;
    if (is_dir || n < 30) return 0;
    if (le(head, 2) != 0x4949 || le(head + 2, 2) != 0x0197) return 0;
    uint64_t version = le(head + 4, 2);
    return version == 0x0210 || version == 0x0220 ? 95 : 60;
}

static void ser_close(void *pv) {
    ser_priv *s = pv;
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    free(s->offsets);
    free(s->buf);
    free(s->path);
    free(s);
}

static int ser_open(const char *path, sm_video_info *info, void **out, sm_error *err) {
    *out = NULL;
    ser_priv *s = calloc(1, sizeof *s);
    uint8_t *tmp = NULL;
    int rc;
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    s->size = (uint64_t)st.st_size;
    uint8_t h[34];
    if ((rc = sm_raw_pread(s->fd, h, 30, 0, path, "SER header", err)) < 0) goto fail;
    if (le(h, 2) != 0x4949 || le(h + 2, 2) != 0x0197) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: not a TIA SER file", path);
        goto fail;
    }
    uint64_t version = le(h + 4, 2);
    if (version != 0x0210 && version != 0x0220) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: SER version 0x%04llx not supported", path, (unsigned long long)version);
        goto fail;
    }
    int wide = version == 0x0220;   /* 64-bit offsets */
    if ((rc = sm_raw_pread(s->fd, h, wide ? 34 : 30, 0, path, "SER header", err)) < 0) goto fail;
    uint64_t data_type = le(h + 6, 4), tag_type = le(h + 10, 4), total = le(h + 14, 4), valid = le(h + 18, 4);
    uint64_t array_offset = le(h + 22, wide ? 8 : 4), ndims = le(h + (wide ? 30 : 26), 4);
    if (data_type != 0x4122) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: SER series of %s, not 2-D images", path,
                          data_type == 0x4120 ? "1-D spectra" : "unknown elements");
        goto fail;
    }
    size_t osize = wide ? 8 : 4;
    if (valid == 0 || valid > total || ndims > 16 || array_offset > s->size ||
        total > (s->size - array_offset) / (2 * osize)) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: SER header inconsistent (%llu of %llu elements, offset array at "
                          "byte %llu, file of %llu bytes)", path, (unsigned long long)valid, (unsigned long long)total,
                          (unsigned long long)array_offset, (unsigned long long)s->size);
        goto fail;
    }
    /* Series dimensions: the first one's calibration may give the frame interval. */
    double dim_delta = 0;
    int dim_is_time = 0;
    uint64_t pos = wide ? 34 : 30;
    for (uint64_t d = 0; d < ndims; d++) {
        uint8_t dh[28], lenb[4], unit[16];
        if ((rc = sm_raw_pread(s->fd, dh, 28, pos, path, "SER dimension", err)) < 0) goto fail;
        uint64_t desc_len = le(dh + 24, 4);
        if (desc_len > s->size) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: SER dimension description runs past the end", path);
            goto fail;
        }
        pos += 28 + desc_len;
        if ((rc = sm_raw_pread(s->fd, lenb, 4, pos, path, "SER dimension", err)) < 0) goto fail;
        uint64_t unit_len = le(lenb, 4);
        if (unit_len > s->size - pos) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: SER dimension units run past the end", path);
            goto fail;
        }
        if (d == 0 && unit_len > 0 && unit_len < sizeof unit) {
            if ((rc = sm_raw_pread(s->fd, unit, (size_t)unit_len, pos + 4, path, "SER units", err)) < 0) goto fail;
            unit[unit_len] = 0;
            dim_is_time = strcmp((char *)unit, "s") == 0;
            dim_delta = le_f64(dh + 12);
        }
        pos += 4 + unit_len;
    }
    /* Offset arrays: data offsets, then tag offsets; total entries each. */
    size_t arr_bytes;
    if ((rc = sm_size_mul(&arr_bytes, (size_t)total, 2 * osize, 1, path, err)) < 0) goto fail;
    if (!(tmp = malloc(arr_bytes)) || !(s->offsets = malloc(sizeof(uint64_t) * valid))) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for the SER offset array", path);
        goto fail;
    }
    if ((rc = sm_raw_pread(s->fd, tmp, arr_bytes, array_offset, path, "SER offset array", err)) < 0) goto fail;
    for (uint64_t i = 0; i < valid; i++) {
        s->offsets[i] = le(tmp + i * osize, osize);
        if (s->offsets[i] > s->size - SER_ELEM_HEADER || s->size < SER_ELEM_HEADER) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: SER element %llu offset %llu past the end of the file", path,
                              (unsigned long long)i, (unsigned long long)s->offsets[i]);
            goto fail;
        }
    }
    /* First element header: size, type, pixel calibration. */
    uint8_t e[SER_ELEM_HEADER];
    if ((rc = sm_raw_pread(s->fd, e, SER_ELEM_HEADER, s->offsets[0], path, "SER element header", err)) < 0) goto fail;
    double dx = le_f64(e + 8);
    s->type_code = (int16_t)le(e + 40, 2);
    int32_t nx = (int32_t)le(e + 42, 4), ny = (int32_t)le(e + 46, 4);
    if (!ser_type(s->type_code, &s->type)) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: SER data type %d not supported (complex or unknown)", path,
                          s->type_code);
        goto fail;
    }
    if (nx <= 0 || ny <= 0 || nx > SER_MAX_DIM || ny > SER_MAX_DIM) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: SER element of absurd size %d x %d", path, nx, ny);
        goto fail;
    }
    if ((rc = sm_size_mul(&s->frame_bytes, (size_t)nx, (size_t)ny, sm_raw_size(s->type), path, err)) < 0) goto fail;
    for (uint64_t i = 0; i < valid; i++)
        if (s->frame_bytes > s->size - SER_ELEM_HEADER - s->offsets[i]) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: SER element %llu truncated: %d x %d px need %zu bytes", path,
                              (unsigned long long)i, nx, ny, s->frame_bytes);
            goto fail;
        }
    if (!(s->buf = malloc(s->frame_bytes))) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for a frame", path);
        goto fail;
    }
    info->width = nx;
    info->height = ny;
    info->frames = (int64_t)valid;
    info->bit_depth = (int)sm_raw_size(s->type) * 8;
    info->is_float = sm_raw_is_float(s->type);
    info->is_signed = sm_raw_is_signed(s->type);
    if (isfinite(dx) && dx > 0 && dx < 1) info->pixel_size_nm = dx * 1e9;   /* m -> nm */
    if (dim_is_time && isfinite(dim_delta) && dim_delta > 0) {
        info->frame_interval_s = dim_delta;
    } else if (valid > 1 && (tag_type == 0x4152 || tag_type == 0x4142)) {
        /* Tag times (whole seconds) of the first and last valid element. */
        uint8_t t0[6], t1[6];
        uint64_t o0 = le(tmp + total * osize, osize), o1 = le(tmp + (total + valid - 1) * osize, osize);
        if (o0 <= s->size - 6 && o1 <= s->size - 6 &&
            sm_raw_pread(s->fd, t0, 6, o0, path, "SER tag", NULL) == 0 &&
            sm_raw_pread(s->fd, t1, 6, o1, path, "SER tag", NULL) == 0 && le(t0, 2) == tag_type &&
            le(t1, 2) == tag_type) {
            double span = (double)le(t1 + 2, 4) - (double)le(t0 + 2, 4);
            if (span > 0) info->frame_interval_s = span / (double)(valid - 1);
        }
    }
    free(tmp);
    *out = s;
    return 0;
fail:
    free(tmp);
    ser_close(s);
    return rc;
}

static int ser_read_frame(void *pv, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    ser_priv *s = pv;
    uint8_t e[SER_ELEM_HEADER];
    char what[64];
    snprintf(what, sizeof what, "element %lld", (long long)i);
    int rc = sm_raw_pread(s->fd, e, SER_ELEM_HEADER, s->offsets[i], s->path, what, err);
    if (rc < 0) return rc;
    if ((int16_t)le(e + 40, 2) != s->type_code || (int32_t)le(e + 42, 4) != info->width ||
        (int32_t)le(e + 46, 4) != info->height)
        return sm_error_set(err, SM_EFORMAT, "%s: SER element %lld differs in size or type from the first", s->path,
                            (long long)i);
    if ((rc = sm_raw_pread(s->fd, s->buf, s->frame_bytes, s->offsets[i] + SER_ELEM_HEADER, s->path, what, err)) < 0)
        return rc;
    sm_raw_to_float(out, s->buf, (size_t)info->width * (size_t)info->height, s->type, 1);
    return 0;
}

const sm_io_format sm_io_format_ser = {
    .name = "ser",
    .probe = ser_probe,
    .open = ser_open,
    .read_frame = ser_read_frame,
    .close = ser_close,
};
