/* Gatan Digital Micrograph DM3 and DM4 files, read from the published description of the tag format
 * (the EMAN/ImageJ "DM3 Image Format" note, https://imagej.net/ij/plugins/DM3Format.gj.html, and Chris
 * Boothroyd's DM3/DM4 notes). No Gatan code or SDK is used.
 *
 * Layout: a big-endian header (version 3 or 4; root length, 4 bytes in DM3, 8 in DM4; data byte order,
 * 1 = little-endian), then one tag group. A group is (sorted u8, open u8, tag count: 4 bytes DM3 / 8 DM4)
 * followed by its entries; an entry is (kind u8: 20 group, 21 data; name length u16; name; DM4 only: entry
 * size u64) then a group or a data tag. A data tag is "%%%%", an info count and info words (4 bytes DM3,
 * 8 DM4, big-endian) describing the value (simple type, struct, string or array), then the value in the
 * header's byte order. Images sit in ImageList.<k>.ImageData: Data (the samples, x fastest), DataType,
 * Dimensions.<d>, Calibrations.Dimension.<d>.{Scale,Units}.
 *
 * The whole tag tree is walked once at open, reading only names, info words and small values; sample
 * arrays are skipped by offset. Of all images the largest is chosen (ImageList.0 is usually the thumbnail).
 * 2-D images are one frame; 3-D images (stacks, in-situ series saved as one file) are dims[2] frames.
 * Pixel size from the x calibration (nm, um, A, pm, mm, m); frame interval from the third dimension's
 * calibration when its unit is a time (s, ms, us, ns). Sample types: DataType 1 (int16), 2 (float32),
 * 6 (uint8), 7 (int32), 9 (int8), 10 (uint16), 11 (uint32), 12 (float64), 14 (bit, as uint8).
 * Left out: complex and RGB images, 4-D (4D-STEM) data, in-situ series saved as folders of one file per
 * frame, DM5 (HDF5). Hostile files: every count and size is checked against the bytes left in the file,
 * nesting is capped at DM_MAX_DEPTH and the number of entries at DM_MAX_TAGS, so parsing ends in time
 * proportional to the file size. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/format.h"
#include "io/mrc_raw.h"

#define DM_MAX_DEPTH 48
#define DM_MAX_TAGS 2000000
#define DM_MAX_IMAGES 64
#define DM_MAX_INFO 1024
#define DM_NAME 64
#define DM_MAX_DIM 1000000

typedef struct dm_image {
    int has_data, has_type;
    uint64_t data_offset, data_bytes;   /* bytes in the file */
    int32_t data_type;                  /* DM DataType code */
    int64_t dims[4];                    /* px, px, frames */
    int ndims;
    double scale[3];                    /* calibration step per dimension, in units[d] */
    char units[3][16];
} dm_image;

typedef struct dm_parser {
    int fd;
    const char *path;
    uint64_t size, pos;     /* file size and read position, bytes */
    int version, little;
    int64_t tags;
    uint8_t buf[65536];
    uint64_t buf_start;
    size_t buf_len;
    char names[DM_MAX_DEPTH + 2][DM_NAME];
    dm_image images[DM_MAX_IMAGES];
    sm_error *err;
} dm_parser;

typedef struct dm_priv {
    int fd;
    char *path;
    uint64_t offset;        /* bytes: first sample of the chosen image */
    size_t frame_bytes;
    sm_raw_type type;
    int little;
    uint8_t *buf;
} dm_priv;

/* ---------------------------------------------------------------- buffered reading */

static int dm_read(dm_parser *p, void *dst, size_t n, const char *what) {
    if (n > p->size || p->pos > p->size - n)
        return sm_error_set(p->err, SM_EFORMAT, "%s: DM tag tree truncated in %s at byte %llu", p->path, what,
                            (unsigned long long)p->pos);
    uint8_t *d = dst;
    while (n > 0) {
        if (p->pos < p->buf_start || p->pos >= p->buf_start + p->buf_len) {
            size_t want = sizeof p->buf;
            if (p->size - p->pos < want) want = (size_t)(p->size - p->pos);
            int rc = sm_raw_pread(p->fd, p->buf, want, p->pos, p->path, "DM tag tree", p->err);
            if (rc < 0) return rc;
            p->buf_start = p->pos;
            p->buf_len = want;
        }
        size_t off = (size_t)(p->pos - p->buf_start), k = p->buf_len - off;
        if (k > n) k = n;
        memcpy(d, p->buf + off, k);
        d += k;
        p->pos += k;
        n -= k;
    }
    return 0;
}

static int dm_skip(dm_parser *p, uint64_t n, const char *what) {
    if (n > p->size || p->pos > p->size - n)
        return sm_error_set(p->err, SM_EFORMAT, "%s: DM %s of %llu bytes runs past the end of the file", p->path,
                            what, (unsigned long long)n);
    p->pos += n;
    return 0;
}

/* A big-endian count: 4 bytes in DM3, 8 in DM4. */
static int dm_read_count(dm_parser *p, uint64_t *out, const char *what) {
    uint8_t b[8];
    size_t n = p->version == 4 ? 8 : 4;
    int rc = dm_read(p, b, n, what);
    if (rc < 0) return rc;
    *out = sm_raw_uint(b, n, 0);
    return 0;
}

/* ---------------------------------------------------------------- tag values */

/* Bytes of a simple DM type, 0 if not simple. */
static uint64_t dm_simple_size(uint64_t t) {
    switch (t) {
    case 2: case 4: return 2;          /* short, ushort */
    case 3: case 5: case 6: return 4;  /* long, ulong, float */
    case 7: case 11: case 12: return 8; /* double, int64, uint64 */
    case 8: case 9: case 10: return 1; /* bool, char, octet */
    default: return 0;
    }
}

static double dm_simple_value(const uint8_t *b, uint64_t t, int little) {
    uint64_t u = sm_raw_uint(b, dm_simple_size(t), little);
    switch (t) {
    case 2: return (int16_t)(uint16_t)u;
    case 3: return (int32_t)(uint32_t)u;
    case 6: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); return f; }
    case 7: { double d; memcpy(&d, &u, 8); return d; }
    case 11: return (double)(int64_t)u;
    case 9: return (int8_t)(uint8_t)u;
    default: return (double)u;
    }
}

static int is_index(const char *s, int *out) {
    if (!*s) return 0;
    long v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9' || v > 100000) return 0;
        v = v * 10 + (*c - '0');
    }
    *out = (int)v;
    return 1;
}

/* Where a data tag at the current path belongs: fills what the image table needs. value/units are read
 * only for tags that matter. Path: names[0..depth-1] are the enclosing groups, names[depth] the tag. */
static int dm_record(dm_parser *p, int depth, uint64_t type, uint64_t elem, uint64_t count, uint64_t bytes) {
    char (*n)[DM_NAME] = p->names;
    int k, d;
    if (depth < 3 || strcmp(n[0], "ImageList") != 0 || !is_index(n[1], &k) || k >= DM_MAX_IMAGES ||
        strcmp(n[2], "ImageData") != 0)
        return dm_skip(p, bytes, "tag value");
    dm_image *im = &p->images[k];
    uint8_t b[64];
    if (depth == 3 && strcmp(n[3], "Data") == 0 && type == 20) {
        im->has_data = 1;
        im->data_offset = p->pos;
        im->data_bytes = bytes;
        return dm_skip(p, bytes, "image data");
    }
    if (dm_simple_size(type) && bytes <= 8) {
        int rc = dm_read(p, b, (size_t)bytes, "tag value");
        if (rc < 0) return rc;
        double v = dm_simple_value(b, type, p->little);
        if (depth == 3 && strcmp(n[3], "DataType") == 0) {
            im->has_type = 1;
            im->data_type = (int32_t)v;
        } else if (depth == 4 && strcmp(n[3], "Dimensions") == 0 && is_index(n[4], &d) && d < 4) {
            im->dims[d] = (int64_t)v;
            if (d + 1 > im->ndims) im->ndims = d + 1;
        } else if (depth == 6 && strcmp(n[3], "Calibrations") == 0 && strcmp(n[4], "Dimension") == 0 &&
                   is_index(n[5], &d) && d < 3 && strcmp(n[6], "Scale") == 0) {
            im->scale[d] = v;
        }
        return 0;
    }
    if (depth == 6 && type == 20 && elem == 4 && count < 16 && strcmp(n[3], "Calibrations") == 0 &&
        strcmp(n[4], "Dimension") == 0 && is_index(n[5], &d) && d < 3 && strcmp(n[6], "Units") == 0) {
        int rc = dm_read(p, b, (size_t)bytes, "units");
        if (rc < 0) return rc;
        for (uint64_t c = 0; c < count; c++) {   /* UTF-16 to ASCII: micro sign -> u, Angstrom sign -> A */
            uint16_t ch = (uint16_t)sm_raw_uint(b + 2 * c, 2, p->little);
            im->units[d][c] = ch == 0xB5 || ch == 0x3BC ? 'u' : ch == 0xC5 || ch == 0x212B ? 'A'
                              : ch < 128 ? (char)ch : '?';
        }
        im->units[d][count] = 0;
        return 0;
    }
    return dm_skip(p, bytes, "tag value");
}

static int dm_parse_data(dm_parser *p, int depth) {
    uint8_t magic[4];
    int rc = dm_read(p, magic, 4, "data tag");
    if (rc < 0) return rc;
    if (memcmp(magic, "%%%%", 4) != 0)
        return sm_error_set(p->err, SM_EFORMAT, "%s: DM data tag without %%%%%%%% marker at byte %llu", p->path,
                            (unsigned long long)(p->pos - 4));
    uint64_t ninfo;
    if ((rc = dm_read_count(p, &ninfo, "info count")) < 0) return rc;
    if (ninfo < 1 || ninfo > DM_MAX_INFO)
        return sm_error_set(p->err, SM_EFORMAT, "%s: DM data tag with %llu info words at byte %llu", p->path,
                            (unsigned long long)ninfo, (unsigned long long)p->pos);
    uint64_t info[DM_MAX_INFO];
    for (uint64_t i = 0; i < ninfo; i++)
        if ((rc = dm_read_count(p, &info[i], "info word")) < 0) return rc;
    uint64_t type = info[0], elem = 0, count = 1, esize = 0;
    if (dm_simple_size(type)) {
        esize = dm_simple_size(type);
    } else if (type == 18 && ninfo >= 2) {   /* string of UTF-16 characters */
        esize = 2;
        count = info[1];
    } else if (type == 15 && ninfo >= 3 && info[2] <= (DM_MAX_INFO - 3) / 2 && ninfo == 3 + 2 * info[2]) {
        for (uint64_t f = 0; f < info[2]; f++) {
            uint64_t s = dm_simple_size(info[4 + 2 * f]);
            if (!s) goto bad;
            esize += s;
        }
    } else if (type == 20 && ninfo >= 3) {
        elem = info[1];
        if (dm_simple_size(elem) && ninfo == 3) {
            esize = dm_simple_size(elem);
            count = info[2];
        } else if (elem == 15 && ninfo >= 5 && info[3] <= (DM_MAX_INFO - 5) / 2 && ninfo == 5 + 2 * info[3]) {
            for (uint64_t f = 0; f < info[3]; f++) {
                uint64_t s = dm_simple_size(info[5 + 2 * f]);
                if (!s) goto bad;
                esize += s;
            }
            count = info[ninfo - 1];
        } else {
            goto bad;
        }
    } else {
        goto bad;
    }
    if (esize == 0 && count > 0) goto bad;
    if (count > 0 && esize > 0 && count > (p->size - p->pos) / esize)
        return sm_error_set(p->err, SM_EFORMAT, "%s: DM tag '%s' of %llu values runs past the end of the file",
                            p->path, p->names[depth], (unsigned long long)count);
    return dm_record(p, depth, type, elem, count, count * esize);
bad:
    return sm_error_set(p->err, SM_EFORMAT, "%s: DM tag '%s' has unknown data type %llu", p->path,
                        p->names[depth], (unsigned long long)type);
}

static int dm_parse_group(dm_parser *p, int depth) {
    if (depth > DM_MAX_DEPTH)
        return sm_error_set(p->err, SM_EFORMAT, "%s: DM tag groups nested deeper than %d", p->path, DM_MAX_DEPTH);
    uint8_t flags[2];
    uint64_t ntags;
    int rc = dm_read(p, flags, 2, "tag group");
    if (rc < 0) return rc;
    if ((rc = dm_read_count(p, &ntags, "tag group")) < 0) return rc;
    if (ntags > (p->size - p->pos) / 3)   /* every entry takes at least 3 bytes */
        return sm_error_set(p->err, SM_EFORMAT, "%s: DM tag group claims %llu tags, more than the file holds",
                            p->path, (unsigned long long)ntags);
    for (uint64_t t = 0; t < ntags; t++) {
        if (++p->tags > DM_MAX_TAGS)
            return sm_error_set(p->err, SM_EFORMAT, "%s: more than %d DM tags", p->path, DM_MAX_TAGS);
        uint8_t head[3];
        if ((rc = dm_read(p, head, 3, "tag entry")) < 0) return rc;
        unsigned kind = head[0], len = (unsigned)head[1] << 8 | head[2];
        char *name = p->names[depth];
        if (len == 0) {
            snprintf(name, DM_NAME, "%llu", (unsigned long long)t);
        } else {
            size_t keep = len < DM_NAME - 1 ? len : DM_NAME - 1;
            if ((rc = dm_read(p, name, keep, "tag name")) < 0) return rc;
            name[keep] = 0;
            if ((rc = dm_skip(p, len - keep, "tag name")) < 0) return rc;
        }
        /* DM4's entry size is not needed: every part of the entry says its own length. */
        uint64_t entry_size = 0;
        if (p->version == 4 && (rc = dm_read_count(p, &entry_size, "tag size")) < 0) return rc;
        if (kind == 20) rc = dm_parse_group(p, depth + 1);
        else if (kind == 21) rc = dm_parse_data(p, depth);
        else
            return sm_error_set(p->err, SM_EFORMAT, "%s: DM tag entry of unknown kind %u at byte %llu", p->path, kind,
                                (unsigned long long)(p->pos - 3 - len));
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- the reader */

static int dm_probe(const uint8_t *head, size_t n, const char *path, int is_dir) {
    (void)path;
    if (is_dir || n < 24) return 0;
    uint32_t version = (uint32_t)sm_raw_uint(head, 4, 0);
    if (version != 3 && version != 4) return 0;
    size_t bo = version == 3 ? 8 : 12;
    uint32_t order = (uint32_t)sm_raw_uint(head + bo, 4, 0);
    if (order > 1) return 0;
    const uint8_t *g = head + bo + 4;   /* root group: sorted and open flags are 0 or 1 */
    if (g[0] > 1 || g[1] > 1) return 0;
    return 80;
}

static void dm_close(void *pv) {
    dm_priv *m = pv;
    if (!m) return;
    if (m->fd >= 0) close(m->fd);
    free(m->buf);
    free(m->path);
    free(m);
}

static int dm_type(int32_t code, sm_raw_type *t) {
    switch (code) {
    case 1: *t = SM_RAW_I16; return 1;
    case 2: *t = SM_RAW_F32; return 1;
    case 6: case 14: *t = SM_RAW_U8; return 1;
    case 7: *t = SM_RAW_I32; return 1;
    case 9: *t = SM_RAW_I8; return 1;
    case 10: *t = SM_RAW_U16; return 1;
    case 11: *t = SM_RAW_U32; return 1;
    case 12: *t = SM_RAW_F64; return 1;
    default: return 0;
    }
}

/* Factor from a length unit to nm (0 if not a length); time unit to s. */
static double dm_length_nm(const char *u) {
    if (!strcmp(u, "nm")) return 1;
    if (!strcmp(u, "um") || !strcmp(u, "micron")) return 1e3;
    if (!strcmp(u, "A")) return 0.1;
    if (!strcmp(u, "pm")) return 1e-3;
    if (!strcmp(u, "mm")) return 1e6;
    if (!strcmp(u, "m")) return 1e9;
    return 0;
}

static double dm_time_s(const char *u) {
    if (!strcmp(u, "s") || !strcmp(u, "sec")) return 1;
    if (!strcmp(u, "ms")) return 1e-3;
    if (!strcmp(u, "us")) return 1e-6;
    if (!strcmp(u, "ns")) return 1e-9;
    return 0;
}

static int dm_open(const char *path, sm_video_info *info, void **out, sm_error *err) {
    *out = NULL;
    dm_priv *m = calloc(1, sizeof *m);
    dm_parser *p = calloc(1, sizeof *p);
    int rc;
    if (!m || !p || !(m->path = strdup(path))) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    m->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (m->fd < 0) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(m->fd, &st) != 0) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    p->fd = m->fd;
    p->path = path;
    p->size = (uint64_t)st.st_size;
    p->err = err;
    uint8_t h[16];
    if ((rc = dm_read(p, h, 4, "header")) < 0) goto fail;
    p->version = (int)sm_raw_uint(h, 4, 0);
    if (p->version != 3 && p->version != 4) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: DM version %d not supported (3 and 4 are)", path, p->version);
        goto fail;
    }
    if ((rc = dm_read(p, h, p->version == 4 ? 12 : 8, "header")) < 0) goto fail;
    uint32_t order = (uint32_t)sm_raw_uint(h + (p->version == 4 ? 8 : 4), 4, 0);
    if (order > 1) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: DM byte order %u is neither 0 nor 1", path, order);
        goto fail;
    }
    p->little = (int)order;
    if ((rc = dm_parse_group(p, 0)) < 0) goto fail;

    /* The largest image (ImageList.0 is usually a small thumbnail); it must be readable, we never fall back
     * to the thumbnail. */
    int best = -1;
    for (int k = 0; k < DM_MAX_IMAGES; k++)
        if (p->images[k].has_data && (best < 0 || p->images[k].data_bytes > p->images[best].data_bytes)) best = k;
    if (best < 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: DM file holds no image data", path);
        goto fail;
    }
    dm_image *im = &p->images[best];
    if (!im->has_type || !dm_type(im->data_type, &m->type)) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: DM image data type %d not supported (complex, RGB or unknown)", path,
                          im->has_type ? im->data_type : -1);
        goto fail;
    }
    int64_t frames = im->ndims == 3 ? im->dims[2] : 1;
    if ((im->ndims != 2 && im->ndims != 3) || im->dims[0] <= 0 || im->dims[1] <= 0 || frames <= 0 ||
        im->dims[0] > DM_MAX_DIM || im->dims[1] > DM_MAX_DIM ||
        im->data_bytes % ((uint64_t)im->dims[0] * (uint64_t)im->dims[1] * sm_raw_size(m->type)) != 0 ||
        im->data_bytes / ((uint64_t)im->dims[0] * (uint64_t)im->dims[1] * sm_raw_size(m->type)) != (uint64_t)frames) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: DM image dimensions (%d of them: %lld x %lld x %lld) do not match "
                          "its %llu bytes of data", path, im->ndims, (long long)im->dims[0], (long long)im->dims[1],
                          (long long)(im->ndims == 3 ? im->dims[2] : 1), (unsigned long long)im->data_bytes);
        goto fail;
    }
    m->little = p->little;
    m->offset = im->data_offset;
    if ((rc = sm_size_mul(&m->frame_bytes, (size_t)im->dims[0], (size_t)im->dims[1], sm_raw_size(m->type), path,
                          err)) < 0)
        goto fail;
    if (!(m->buf = malloc(m->frame_bytes))) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for a frame", path);
        goto fail;
    }
    info->width = (int)im->dims[0];
    info->height = (int)im->dims[1];
    info->frames = im->ndims == 3 ? im->dims[2] : 1;
    info->bit_depth = (int)sm_raw_size(m->type) * 8;
    info->is_float = sm_raw_is_float(m->type);
    info->is_signed = sm_raw_is_signed(m->type);
    snprintf(info->format, sizeof info->format, "dm%d", p->version);
    double f = dm_length_nm(im->units[0]);
    if (f > 0 && isfinite(im->scale[0]) && im->scale[0] > 0) info->pixel_size_nm = im->scale[0] * f;
    f = dm_time_s(im->units[2]);
    if (im->ndims == 3 && f > 0 && isfinite(im->scale[2]) && im->scale[2] > 0) info->frame_interval_s = im->scale[2] * f;
    free(p);
    *out = m;
    return 0;
fail:
    free(p);
    dm_close(m);
    return rc;
}

static int dm_read_frame(void *pv, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    dm_priv *m = pv;
    return sm_raw_read_stacked_frame(m->fd, m->buf, m->frame_bytes, m->offset, i, (size_t)info->width * (size_t)info->height,
                                     m->type, m->little, m->path, out, err);
}

const sm_io_format sm_io_format_dm = {
    .name = "dm",
    .probe = dm_probe,
    .open = dm_open,
    .read_frame = dm_read_frame,
    .close = dm_close,
};
