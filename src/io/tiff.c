/* TIFF stacks: multi-page TIFF and BigTIFF with 8/16/32-bit integer (unsigned or signed) or 32/64-bit float
 * samples, gray or RGB(A) (RGB becomes gray with Rec.601 weights), stripped or tiled, any compression
 * libtiff decodes; ImageJ metadata (pixel size from XResolution and `unit=`, frame interval from
 * `finterval=` or `fps=`), and ImageJ's single-IFD stacks (files over 4 GiB: one IFD whose description says
 * `images=N`, frames stored one after another from the first strip's offset).
 *
 * How: libtiff's TIFFSetDirectory(i) walks i IFDs from the start, so reading frame i of a long stack that way
 * costs O(i). We walk the IFD chain ourselves (only each IFD's entry count and next-IFD offset, with pread)
 * and keep every IFD's offset, then jump with TIFFSetSubDirectory(offset). Opening reads the first IFD's tags
 * and, for non-ImageJ files, the chain of IFD offsets (no tags, no pixels) to count the frames; ImageJ files
 * say their frame count, so their chain is followed lazily, only as far as a read asks.
 * Frames are read through a reused strip/tile buffer, never the whole file; memory mapping is off, so that
 * reading a 4 GB stack frame by frame keeps resident memory at a few frames.
 *
 * Left out: pages of other sizes or sample types than the first (an error naming the frame), planar RGB,
 * 1/2/4/12-bit and half-float samples, palette colour (indices are read as values), MINISWHITE inversion,
 * reduced-resolution pages and SubIFDs (read as frames if chained), OME-XML metadata.
 * Specs: TIFF 6.0 (Adobe 1992); BigTIFF (libtiff.org/bigtiffdesign); ImageJ's TiffEncoder/TiffDecoder
 * conventions as documented in the ImageJ source and by tifffile.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>

#include "io/format.h"

typedef struct tiff_priv {
    TIFF *tif;
    int fd;                 /* our own descriptor for the IFD walk and single-IFD frames */
    char *path;
    char msg[256];          /* first message libtiff reported since the last clear */
    uint64_t file_size;     /* bytes */
    int big;                /* BigTIFF */
    int swapped;            /* file byte order differs from ours */
    /* page layout, equal on every page */
    uint32_t width, height; /* px */
    uint16_t bits, spp, fmt;
    int rgb;                /* samples 3 or 4 and photometric RGB: gray by luminance */
    /* IFD chain: ifd[k] is the offset of page k's IFD; known pages 0..n_known-1 */
    uint64_t *ifd;
    int64_t n_known, cap;
    uint64_t next_off;      /* offset of the IFD after the last known one (0: chain ended) */
    uint64_t *seen;         /* open-addressing set of visited offsets (loop check), size seen_cap */
    size_t seen_cap, seen_n;
    int64_t loaded;         /* page libtiff has loaded now, -1 none */
    /* ImageJ single-IFD stack */
    int contiguous;
    uint64_t data_offset;   /* bytes: frame i starts at data_offset + i * frame_bytes */
    size_t frame_bytes;     /* bytes of one frame's samples */
    uint8_t *buf;           /* strip/tile/frame buffer */
    size_t buf_size;
} tiff_priv;

/* ---------------------------------------------------------------- libtiff messages */

static int on_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    (void)module;
    tiff_priv *p = user;
    if (p && !p->msg[0]) vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    return 1; /* handled: libtiff's global handlers (which print) are not called */
}

static int on_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

static const char *tiff_msg(tiff_priv *p, const char *fallback) { return p->msg[0] ? p->msg : fallback; }

/* ---------------------------------------------------------------- probe */

static int probe(const uint8_t *h, size_t n, const char *path, int is_dir) {
    (void)path;
    if (is_dir || n < 4) return 0;
    if (h[0] == 'I' && h[1] == 'I' && (h[2] == 42 || h[2] == 43) && h[3] == 0) return SM_PROBE_MAX;
    if (h[0] == 'M' && h[1] == 'M' && h[2] == 0 && (h[3] == 42 || h[3] == 43)) return SM_PROBE_MAX;
    return 0;
}

/* ---------------------------------------------------------------- the IFD chain */

static int read_at(tiff_priv *p, void *dst, size_t n, uint64_t off) {
    if (off > p->file_size || n > p->file_size - off) return -1;
    uint8_t *d = dst;
    while (n) {
        ssize_t got = pread(p->fd, d, n, (off_t)off);
        if (got <= 0) {
            if (got < 0 && errno == EINTR) continue;
            return -1;
        }
        d += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

static uint64_t get_uint(tiff_priv *p, const uint8_t *b, int bytes) {
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++) {
        int idx = p->swapped ? k : bytes - 1 - k; /* host is little-endian: swapped means big-endian file */
        v = (v << 8) | b[idx];
    }
    return v;
}

/* Adds off to the visited set; 1 if it was there already (a loop). */
static int seen_add(tiff_priv *p, uint64_t off) {
    if (2 * (p->seen_n + 1) > p->seen_cap) {
        size_t cap = p->seen_cap ? 2 * p->seen_cap : 1024;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s) return -1;
        for (size_t k = 0; k < p->seen_cap; k++) {
            uint64_t v = p->seen[k];
            if (!v) continue;
            size_t h = (size_t)(v * 0x9e3779b97f4a7c15ULL) & (cap - 1);
            while (s[h]) h = (h + 1) & (cap - 1);
            s[h] = v;
        }
        free(p->seen);
        p->seen = s;
        p->seen_cap = cap;
    }
    size_t h = (size_t)(off * 0x9e3779b97f4a7c15ULL) & (p->seen_cap - 1);
    while (p->seen[h]) {
        if (p->seen[h] == off) return 1;
        h = (h + 1) & (p->seen_cap - 1);
    }
    p->seen[h] = off;
    p->seen_n++;
    return 0;
}

/* Follows the chain until `want` pages are known or it ends. Reads 2 (8) + 4 (8) bytes per IFD. */
static int walk_to(tiff_priv *p, int64_t want, sm_error *err) {
    while (p->n_known < want && p->next_off) {
        uint64_t off = p->next_off;
        int loop = seen_add(p, off);
        if (loop < 0) return sm_error_set(err, SM_ENOMEM, "%s: out of memory", p->path);
        if (loop) return sm_error_set(err, SM_EFORMAT, "%s: page %lld: IFD chain loops back to offset %llu", p->path,
                                      (long long)p->n_known, (unsigned long long)off);
        uint8_t b[8];
        int cbytes = p->big ? 8 : 2, ebytes = p->big ? 20 : 12, obytes = p->big ? 8 : 4;
        if (read_at(p, b, (size_t)cbytes, off) < 0)
            return sm_error_set(err, SM_EFORMAT, "%s: page %lld: IFD at offset %llu is past the end of the file (truncated?)",
                                p->path, (long long)p->n_known, (unsigned long long)off);
        uint64_t count = get_uint(p, b, cbytes);
        if (count == 0 || count > 65535 || count * (uint64_t)ebytes > p->file_size)
            return sm_error_set(err, SM_EFORMAT, "%s: page %lld: corrupt IFD (%llu entries)", p->path,
                                (long long)p->n_known, (unsigned long long)count);
        uint64_t next_at = off + (uint64_t)cbytes + count * (uint64_t)ebytes;
        if (read_at(p, b, (size_t)obytes, next_at) < 0)
            return sm_error_set(err, SM_EFORMAT, "%s: page %lld: IFD at offset %llu runs past the end of the file (truncated?)",
                                p->path, (long long)p->n_known, (unsigned long long)off);
        if (p->n_known == p->cap) {
            int64_t cap = p->cap ? 2 * p->cap : 256;
            uint64_t *a = realloc(p->ifd, (size_t)cap * sizeof *a);
            if (!a) return sm_error_set(err, SM_ENOMEM, "%s: out of memory", p->path);
            p->ifd = a;
            p->cap = cap;
        }
        p->ifd[p->n_known++] = off;
        p->next_off = get_uint(p, b, obytes);
    }
    return 0;
}

/* ---------------------------------------------------------------- metadata */

/* nm per unit for an ImageJ unit name; 0 if unknown ("pixel", "inch", ...). */
static double unit_nm(const char *u) {
    static const struct { const char *name; double nm; } units[] = {
        {"nm", 1}, {"nanometer", 1}, {"nanometers", 1}, {"nanometre", 1}, {"nanometres", 1},
        {"um", 1e3}, {"micron", 1e3}, {"microns", 1e3}, {"micrometer", 1e3}, {"micrometers", 1e3},
        {"micrometre", 1e3}, {"\\u00B5m", 1e3}, {"\\u00b5m", 1e3}, {"\xC2\xB5m", 1e3}, {"\xCE\xBCm", 1e3},
        {"\xB5m", 1e3}, {"mm", 1e6}, {"cm", 1e7}, {"m", 1e9}, {"A", 0.1}, {"angstrom", 0.1},
        {"Angstrom", 0.1}, {"\xC3\x85", 0.1}, {"\xE2\x84\xAB", 0.1}, {"\\u00C5", 0.1}, {"pm", 1e-3},
    };
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (strcmp(u, units[k].name) == 0) return units[k].nm;
    return 0;
}

/* Value of "key=" on its own line of an ImageJ description into out (NUL-terminated); 0 if found. */
static int imagej_value(const char *desc, const char *key, char *out, size_t size) {
    size_t kl = strlen(key);
    for (const char *line = desc; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > kl && strncmp(line, key, kl) == 0 && line[kl] == '=') {
            size_t vl = len - kl - 1;
            if (vl >= size) vl = size - 1;
            memcpy(out, line + kl + 1, vl);
            out[vl] = 0;
            while (vl && (out[vl - 1] == '\r' || out[vl - 1] == ' ')) out[--vl] = 0;
            return 0;
        }
        line = end ? end + 1 : NULL;
    }
    return -1;
}

static void read_metadata(tiff_priv *p, const char *desc, int imagej, sm_video_info *info) {
    float xres = 0;
    uint16_t resunit = RESUNIT_INCH;
    int has_res = TIFFGetField(p->tif, TIFFTAG_XRESOLUTION, &xres) && xres > 0 && isfinite(xres);
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_RESOLUTIONUNIT, &resunit);
    char v[128];
    double nm_per_unit = 0;
    if (imagej && imagej_value(desc, "unit", v, sizeof v) == 0) nm_per_unit = unit_nm(v);
    else if (resunit == RESUNIT_CENTIMETER) nm_per_unit = 1e7;
    else if (resunit == 4) nm_per_unit = 1e6; /* tifffile's RESUNIT.MILLIMETER */
    else if (resunit == 5) nm_per_unit = 1e3; /* tifffile's RESUNIT.MICROMETER */
    /* Inch resolutions are print settings (72 dpi), not microscope calibrations: ignored. */
    if (has_res && nm_per_unit > 0) info->pixel_size_nm = nm_per_unit / xres;
    if (imagej) {
        char *end;
        if (imagej_value(desc, "finterval", v, sizeof v) == 0) {
            double dt = strtod(v, &end);
            if (end != v && dt > 0 && isfinite(dt)) info->frame_interval_s = dt;
        }
        if (info->frame_interval_s == 0 && imagej_value(desc, "fps", v, sizeof v) == 0) {
            double fps = strtod(v, &end);
            if (end != v && fps > 0 && isfinite(fps)) info->frame_interval_s = 1.0 / fps;
        }
    }
}

/* Reads the loaded page's layout; on page 0 records it, on later pages checks it matches. */
static int check_page(tiff_priv *p, int64_t page, sm_error *err) {
    uint32_t w = 0, h = 0;
    uint16_t bits = 1, spp = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, photo = PHOTOMETRIC_MINISBLACK;
    uint16_t compression = COMPRESSION_NONE;
    if (!TIFFGetField(p->tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(p->tif, TIFFTAG_IMAGELENGTH, &h))
        return sm_error_set(err, SM_EFORMAT, "%s: page %lld has no image size", p->path, (long long)page);
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_COMPRESSION, &compression);
    if (!TIFFGetField(p->tif, TIFFTAG_PHOTOMETRIC, &photo)) photo = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    if (page == 0) {
        if (w == 0 || h == 0 || w > (1u << 24) || h > (1u << 24))
            return sm_error_set(err, SM_EFORMAT, "%s: bad image size %ux%u px", p->path, w, h);
        if (fmt == SAMPLEFORMAT_IEEEFP) {
            if (bits != 32 && bits != 64)
                return sm_error_set(err, SM_EFORMAT, "%s: unsupported bit depth: %u-bit float samples", p->path, bits);
        } else if (fmt == SAMPLEFORMAT_UINT || fmt == SAMPLEFORMAT_INT || fmt == SAMPLEFORMAT_VOID) {
            if (bits != 8 && bits != 16 && bits != 32)
                return sm_error_set(err, SM_EFORMAT, "%s: unsupported bit depth: %u bits per sample (samem reads 8, 16, 32)",
                                    p->path, bits);
        } else {
            return sm_error_set(err, SM_EFORMAT, "%s: unsupported sample format %u (complex?)", p->path, fmt);
        }
        if (spp < 1 || spp > 4 || (spp > 1 && planar != PLANARCONFIG_CONTIG))
            return sm_error_set(err, SM_EFORMAT, "%s: unsupported layout: %u samples per pixel%s", p->path, spp,
                                planar != PLANARCONFIG_CONTIG ? ", planar" : "");
        if (photo == PHOTOMETRIC_YCBCR || photo == PHOTOMETRIC_SEPARATED || photo == PHOTOMETRIC_CIELAB)
            return sm_error_set(err, SM_EFORMAT, "%s: unsupported colour space (photometric %u)", p->path, photo);
        if (!TIFFIsCODECConfigured(compression))
            return sm_error_set(err, SM_EFORMAT, "%s: unsupported compression %u", p->path, compression);
        size_t frame_floats;
        int rc = sm_size_mul(&frame_floats, w, h, sizeof(float), p->path, err);
        if (rc < 0) return rc;
        rc = sm_size_mul(&p->frame_bytes, (size_t)w * h, spp, bits / 8, p->path, err);
        if (rc < 0) return rc;
        p->width = w;
        p->height = h;
        p->bits = bits;
        p->spp = spp;
        p->fmt = fmt == SAMPLEFORMAT_VOID ? SAMPLEFORMAT_UINT : fmt;
        p->rgb = spp >= 3 && photo == PHOTOMETRIC_RGB;
        return 0;
    }
    if (fmt == SAMPLEFORMAT_VOID) fmt = SAMPLEFORMAT_UINT;
    if (w != p->width || h != p->height)
        return sm_error_set(err, SM_EFORMAT, "%s: frame %lld is %ux%u px, frame 0 is %ux%u px", p->path, (long long)page,
                            w, h, p->width, p->height);
    if (bits != p->bits || spp != p->spp || fmt != p->fmt || (spp > 1 && planar != PLANARCONFIG_CONTIG))
        return sm_error_set(err, SM_EFORMAT, "%s: frame %lld has another sample type than frame 0", p->path, (long long)page);
    if (!TIFFIsCODECConfigured(compression))
        return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: unsupported compression %u", p->path, (long long)page,
                            compression);
    return 0;
}

static int ensure_buf(tiff_priv *p, size_t need, sm_error *err) {
    if (need <= p->buf_size) return 0;
    size_t dummy;
    int rc = sm_size_mul(&dummy, need, 1, 1, p->path, err);
    if (rc < 0) return rc;
    uint8_t *b = realloc(p->buf, need);
    if (!b) return sm_error_set(err, SM_ENOMEM, "%s: out of memory (%zu bytes)", p->path, need);
    p->buf = b;
    p->buf_size = need;
    return 0;
}

/* ImageJ single-IFD stack: one IFD, images=N, uncompressed contiguous strips. */
static int setup_contiguous(tiff_priv *p, int64_t images, sm_error *err) {
    uint16_t compression = COMPRESSION_NONE;
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_COMPRESSION, &compression);
    if (compression != COMPRESSION_NONE || TIFFIsTiled(p->tif))
        return sm_error_set(err, SM_EFORMAT, "%s: ImageJ stack of %lld images in one compressed or tiled page", p->path,
                            (long long)images);
    uint64_t *offsets = NULL, *counts = NULL;
    uint32_t nstrips = TIFFNumberOfStrips(p->tif);
    if (!TIFFGetField(p->tif, TIFFTAG_STRIPOFFSETS, &offsets) || !TIFFGetField(p->tif, TIFFTAG_STRIPBYTECOUNTS, &counts) ||
        !offsets || !counts || nstrips == 0)
        return sm_error_set(err, SM_EFORMAT, "%s: no strip offsets", p->path);
    uint64_t total = 0;
    for (uint32_t s = 0; s < nstrips; s++) {
        if (s && offsets[s] != offsets[s - 1] + counts[s - 1])
            return sm_error_set(err, SM_EFORMAT, "%s: ImageJ stack of %lld images with non-contiguous strips", p->path,
                                (long long)images);
        total += counts[s];
    }
    if (total < p->frame_bytes)
        return sm_error_set(err, SM_EFORMAT, "%s: first frame's strips hold %llu bytes, not %zu", p->path,
                            (unsigned long long)total, p->frame_bytes);
    unsigned __int128 end = (unsigned __int128)offsets[0] + (unsigned __int128)p->frame_bytes * (uint64_t)images;
    if (end > p->file_size)
        return sm_error_set(err, SM_EFORMAT, "%s: truncated: ImageJ says %lld frames, the file holds %llu", p->path,
                            (long long)images,
                            (unsigned long long)((p->file_size > offsets[0] ? p->file_size - offsets[0] : 0) / p->frame_bytes));
    p->contiguous = 1;
    p->data_offset = offsets[0];
    return ensure_buf(p, p->frame_bytes, err);
}

/* ---------------------------------------------------------------- open and close */

static void close_tiff(void *priv) {
    tiff_priv *p = priv;
    if (!p) return;
    if (p->tif) TIFFClose(p->tif);
    if (p->fd >= 0) close(p->fd);
    free(p->ifd);
    free(p->seen);
    free(p->buf);
    free(p->path);
    free(p);
}

static int open_tiff(const char *path, sm_video_info *info, void **out, sm_error *err) {
    *out = NULL;
    tiff_priv *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    p->fd = open(path, O_RDONLY);
    p->loaded = -1;
    int rc = 0;
    struct stat st;
    if (p->fd < 0 || fstat(p->fd, &st) != 0) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    p->file_size = (uint64_t)st.st_size;
    uint8_t head[16];
    if (read_at(p, head, 8, 0) < 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: truncated TIFF header", path);
        goto fail;
    }
    p->swapped = head[0] == 'M';
    p->big = get_uint(p, head + 2, 2) == 43;
    if (p->big) {
        if (read_at(p, head, 16, 0) < 0 || get_uint(p, head + 4, 2) != 8) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: corrupt BigTIFF header", path);
            goto fail;
        }
        p->next_off = get_uint(p, head + 8, 8);
    } else {
        p->next_off = get_uint(p, head + 4, 4);
    }
    if (p->next_off == 0 || p->next_off >= p->file_size) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: first IFD offset %llu outside the file (truncated?)", path,
                          (unsigned long long)p->next_off);
        goto fail;
    }
    /* the first IFD itself must be whole before libtiff parses it */
    rc = walk_to(p, 1, err);
    if (rc < 0) goto fail;

    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_tiff_error, p);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_tiff_warning, p);
    size_t max_alloc = sm_max_alloc();
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)(max_alloc > (size_t)INT64_MAX ? (size_t)INT64_MAX : max_alloc));
    p->tif = TIFFOpenExt(path, "rm", opts); /* m: no memory mapping */
    TIFFOpenOptionsFree(opts);
    if (!p->tif) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: corrupt TIFF: %s", path, tiff_msg(p, "libtiff cannot read it"));
        goto fail;
    }
    p->loaded = 0;
    rc = check_page(p, 0, err);
    if (rc < 0) goto fail;

    char *desc = NULL;
    int imagej = TIFFGetField(p->tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc && strncmp(desc, "ImageJ=", 7) == 0;
    int64_t images = 0;
    char v[64];
    if (imagej && imagej_value(desc, "images", v, sizeof v) == 0) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (end != v && n > 0) images = n;
    }
    info->width = (int)p->width;
    info->height = (int)p->height;
    info->bit_depth = p->bits;
    info->is_float = p->fmt == SAMPLEFORMAT_IEEEFP;
    info->is_signed = p->fmt == SAMPLEFORMAT_INT;
    read_metadata(p, desc, imagej, info);
    if (images > 1 && p->next_off == 0) {
        rc = setup_contiguous(p, images, err);
        if (rc < 0) goto fail;
        info->frames = images;
    } else if (images > 0) {
        /* one IFD per image: trust the count and follow the chain lazily */
        if ((uint64_t)images > p->file_size / 8) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: ImageJ description claims %lld images, more than the file can hold",
                              path, (long long)images);
            goto fail;
        }
        info->frames = images;
    } else {
        rc = walk_to(p, INT64_MAX, err);
        if (rc < 0) goto fail;
        info->frames = p->n_known;
    }
    snprintf(info->format, sizeof info->format, "%s", p->big ? "bigtiff" : "tiff");
    *out = p;
    return 0;
fail:
    close_tiff(p);
    return rc;
}

/* ---------------------------------------------------------------- frames */

/* The sample conversion is the hot loop of reading; GCC vectorises it only at -O3. */
#if defined(__GNUC__) && !defined(__clang__)
#define SM_HOT __attribute__((optimize("O3")))
#else
#define SM_HOT
#endif

/* n pixels of spp samples each from src (native byte order) to gray floats. */
SM_HOT static void to_float(const tiff_priv *p, const uint8_t *src, size_t n, float *dst) {
    size_t spp = p->spp;
#define CONVERT(T)                                                                                  \
    do {                                                                                            \
        const T *s = (const T *)(const void *)src;                                                  \
        if (spp == 1)                                                                               \
            for (size_t k = 0; k < n; k++) dst[k] = (float)s[k]; /* the common case, vectorised */  \
        else if (p->rgb)                                                                            \
            for (size_t k = 0; k < n; k++)                                                          \
                dst[k] = (float)(0.299 * (double)s[k * spp] + 0.587 * (double)s[k * spp + 1] +      \
                                 0.114 * (double)s[k * spp + 2]);                                   \
        else                                                                                        \
            for (size_t k = 0; k < n; k++) dst[k] = (float)s[k * spp];                              \
    } while (0)
    if (p->fmt == SAMPLEFORMAT_IEEEFP) {
        if (p->bits == 32) CONVERT(float);
        else CONVERT(double);
    } else if (p->fmt == SAMPLEFORMAT_INT) {
        if (p->bits == 8) CONVERT(int8_t);
        else if (p->bits == 16) CONVERT(int16_t);
        else CONVERT(int32_t);
    } else {
        if (p->bits == 8) CONVERT(uint8_t);
        else if (p->bits == 16) CONVERT(uint16_t);
        else CONVERT(uint32_t);
    }
#undef CONVERT
}

static void swap_samples(uint8_t *b, size_t bytes, int size) {
    if (size == 2)
        for (size_t k = 0; k + 1 < bytes; k += 2) {
            uint8_t t = b[k]; b[k] = b[k + 1]; b[k + 1] = t;
        }
    else if (size == 4)
        for (size_t k = 0; k + 3 < bytes; k += 4) {
            uint32_t v;
            memcpy(&v, b + k, 4);
            v = __builtin_bswap32(v);
            memcpy(b + k, &v, 4);
        }
    else if (size == 8)
        for (size_t k = 0; k + 7 < bytes; k += 8) {
            uint64_t v;
            memcpy(&v, b + k, 8);
            v = __builtin_bswap64(v);
            memcpy(b + k, &v, 8);
        }
}

static int read_strips(tiff_priv *p, int64_t i, float *out, sm_error *err) {
    uint32_t rps = p->height;
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps == 0 || rps > p->height) rps = p->height;
    size_t row_bytes = (size_t)p->width * p->spp * (p->bits / 8);
    uint32_t nstrips = TIFFNumberOfStrips(p->tif);
    uint32_t need = (p->height + rps - 1) / rps;
    if (nstrips < need)
        return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: %u strips, %u needed", p->path, (long long)i, nstrips, need);
    int rc = ensure_buf(p, row_bytes * rps, err);
    if (rc < 0) return rc;
    uint16_t compression = COMPRESSION_NONE;
    TIFFGetFieldDefaulted(p->tif, TIFFTAG_COMPRESSION, &compression);
    uint64_t *offsets = NULL, *counts = NULL;
    if (compression == COMPRESSION_NONE && TIFFGetField(p->tif, TIFFTAG_STRIPOFFSETS, &offsets) &&
        TIFFGetField(p->tif, TIFFTAG_STRIPBYTECOUNTS, &counts) && offsets && counts) {
        /* uncompressed: read each strip straight into our buffer (libtiff would copy it once more), in
         * chunks of about 512 KiB of rows, so that the samples are still in cache when converted */
        size_t chunk_rows = ((size_t)512 << 10) / row_bytes;
        if (chunk_rows < 1) chunk_rows = 1;
        for (uint32_t s = 0; s < need; s++) {
            uint32_t y0 = s * rps, rows = p->height - y0 < rps ? p->height - y0 : rps;
            if (counts[s] < row_bytes * rows)
                return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: strip %u truncated", p->path, (long long)i, s);
            for (size_t r = 0; r < rows; r += chunk_rows) {
                size_t nr = rows - r < chunk_rows ? rows - r : chunk_rows, want = row_bytes * nr;
                if (read_at(p, p->buf, want, offsets[s] + r * row_bytes) < 0)
                    return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: strip %u truncated", p->path, (long long)i, s);
                if (p->swapped && p->bits > 8) swap_samples(p->buf, want, p->bits / 8);
                to_float(p, p->buf, (size_t)p->width * nr, out + (size_t)(y0 + r) * p->width);
            }
        }
        return 0;
    }
    for (uint32_t s = 0; s < need; s++) {
        uint32_t y0 = s * rps, rows = p->height - y0 < rps ? p->height - y0 : rps;
        tmsize_t want = (tmsize_t)(row_bytes * rows);
        p->msg[0] = 0;
        tmsize_t got = TIFFReadEncodedStrip(p->tif, s, p->buf, want);
        if (got < want)
            return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: strip %u %s: %s", p->path, (long long)i, s,
                                got < 0 ? "unreadable" : "truncated", tiff_msg(p, "short read"));
        to_float(p, p->buf, (size_t)p->width * rows, out + (size_t)y0 * p->width);
    }
    return 0;
}

static int read_tiles(tiff_priv *p, int64_t i, float *out, sm_error *err) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(p->tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(p->tif, TIFFTAG_TILELENGTH, &th);
    if (tw == 0 || th == 0 || tw > (1u << 16) || th > (1u << 16))
        return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: bad tile size %ux%u", p->path, (long long)i, tw, th);
    size_t sample = (size_t)p->spp * (p->bits / 8);
    size_t tile_bytes = (size_t)tw * th * sample;
    size_t aligned = (tile_bytes + 7) & ~(size_t)7;
    int rc = ensure_buf(p, aligned + (size_t)tw * sizeof(float), err);
    if (rc < 0) return rc;
    float *rowf = (float *)(void *)(p->buf + aligned); /* one tile row as floats */
    for (uint32_t ty = 0; ty < p->height; ty += th)
        for (uint32_t tx = 0; tx < p->width; tx += tw) {
            uint32_t t = TIFFComputeTile(p->tif, tx, ty, 0, 0);
            p->msg[0] = 0;
            tmsize_t got = TIFFReadEncodedTile(p->tif, t, p->buf, (tmsize_t)tile_bytes);
            if (got < (tmsize_t)tile_bytes)
                return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: tile %u %s: %s", p->path, (long long)i, t,
                                    got < 0 ? "unreadable" : "truncated", tiff_msg(p, "short read"));
            uint32_t w = p->width - tx < tw ? p->width - tx : tw;
            uint32_t h = p->height - ty < th ? p->height - ty : th;
            for (uint32_t y = 0; y < h; y++) {
                to_float(p, p->buf + (size_t)y * tw * sample, tw, rowf);
                memcpy(out + (size_t)(ty + y) * p->width + tx, rowf, (size_t)w * sizeof(float));
            }
        }
    return 0;
}

static int read_frame_tiff(void *priv, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    (void)info;
    tiff_priv *p = priv;
    if (p->contiguous) {
        uint64_t off = p->data_offset + (uint64_t)i * p->frame_bytes;
        if (read_at(p, p->buf, p->frame_bytes, off) < 0)
            return sm_error_set(err, SM_EFORMAT, "%s: frame %lld truncated", p->path, (long long)i);
        if (p->swapped && p->bits > 8) swap_samples(p->buf, p->frame_bytes, p->bits / 8);
        to_float(p, p->buf, (size_t)p->width * p->height, out);
        return 0;
    }
    if (p->loaded != i) {
        int rc = walk_to(p, i + 1, err);
        if (rc < 0) return rc;
        if (i >= p->n_known)
            return sm_error_set(err, SM_EFORMAT, "%s: frame %lld missing: the file holds %lld pages", p->path,
                                (long long)i, (long long)p->n_known);
        p->msg[0] = 0;
        p->loaded = -1;
        if (!TIFFSetSubDirectory(p->tif, p->ifd[i]))
            return sm_error_set(err, SM_EFORMAT, "%s: frame %lld: corrupt IFD: %s", p->path, (long long)i,
                                tiff_msg(p, "libtiff cannot read it"));
        p->loaded = i;
        rc = check_page(p, i, err);
        if (rc < 0) {
            p->loaded = -1; /* read the page again next time, to report the same error */
            return rc;
        }
    }
    return TIFFIsTiled(p->tif) ? read_tiles(p, i, out, err) : read_strips(p, i, out, err);
}

const sm_io_format sm_io_format_tiff = {
    .name = "tiff",
    .probe = probe,
    .open = open_tiff,
    .read_frame = read_frame_tiff,
    .close = close_tiff,
};
