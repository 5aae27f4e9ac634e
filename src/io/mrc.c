/* MRC / MRCS image stacks (cryo-EM and tomography cameras, SerialEM, IMOD, RELION), after the MRC2014
 * specification (Cheng et al. 2015, J. Struct. Biol. 192:146; https://www.ccpem.ac.uk/mrc_format/mrc2014.php).
 *
 * A 1024-byte header, then nsymbt bytes of extended header (skipped, whatever its type: FEI, SERI, ...),
 * then nz sections of nx*ny samples, x fastest. Each section is one frame. Modes read: 0 (int8; unsigned
 * when IMOD's header stamp says so), 1 (int16), 2 (float32), 6 (uint16), 12 (float16). Left out: complex
 * modes 3/4, packed 4-bit mode 101 and the space-group / volume-stack (mz < nz) distinction, which only
 * matters to tomography. Pixel size = cella.x / mx (Angstrom) -> nm. The byte order comes from the machine
 * stamp (0x44 little, 0x11 big); files without one are guessed from which order gives a sane mode and size.
 * MRC holds no frame interval. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/format.h"
#include "io/mrc_raw.h"

#define MRC_HEADER 1024
#define MRC_MAX_DIM 1000000     /* px per side; hostile headers beyond this are refused */

typedef struct mrc_priv {
    int fd;
    char *path;
    uint64_t data_offset;   /* bytes: 1024 + nsymbt */
    size_t frame_bytes;
    sm_raw_type type;
    int little;
    uint8_t *buf;           /* one frame of raw samples, frame_bytes */
} mrc_priv;

static int32_t rd_i32(const uint8_t *h, int off, int little) { return (int32_t)(uint32_t)sm_raw_uint(h + off, 4, little); }

static float rd_f32(const uint8_t *h, int off, int little) {
    uint32_t u = (uint32_t)sm_raw_uint(h + off, 4, little);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int mode_ok(int32_t mode) { return mode == 0 || mode == 1 || mode == 2 || mode == 6 || mode == 12; }

/* The byte order a header is written in: 1 little, 0 big, -1 neither is plausible. */
static int mrc_byte_order(const uint8_t *h) {
    if (h[212] == 0x44 && (h[213] == 0x44 || h[213] == 0x41)) return 1;
    if (h[212] == 0x11 && h[213] == 0x11) return 0;
    for (int little = 1; little >= 0; little--) {
        int32_t nx = rd_i32(h, 0, little), ny = rd_i32(h, 4, little), nz = rd_i32(h, 8, little);
        int32_t mode = rd_i32(h, 12, little);
        if (nx > 0 && ny > 0 && nz > 0 && nx <= MRC_MAX_DIM && ny <= MRC_MAX_DIM && mode >= 0 && mode <= 12)
            return little;
    }
    return -1;
}

static int mrc_probe(const uint8_t *head, size_t n, const char *path, int is_dir) {
    if (is_dir || n < MRC_HEADER) return 0;
    int strong = memcmp(head + 208, "MAP ", 4) == 0;
    int little = mrc_byte_order(head);
    if (little < 0) return 0;
    int32_t nx = rd_i32(head, 0, little), ny = rd_i32(head, 4, little), nz = rd_i32(head, 8, little);
    int32_t mode = rd_i32(head, 12, little);
    if (nx <= 0 || ny <= 0 || nz <= 0 || mode < 0 || mode > 101) return 0;
    if (strong) return 90;
    const char *dot = strrchr(path, '.');
    if (dot && (strcasecmp(dot, ".mrc") == 0 || strcasecmp(dot, ".mrcs") == 0 || strcasecmp(dot, ".st") == 0 ||
                strcasecmp(dot, ".ali") == 0 || strcasecmp(dot, ".map") == 0))
        return 40;
    return 0;
}

static void mrc_close(void *p) {
    mrc_priv *m = p;
    if (!m) return;
    if (m->fd >= 0) close(m->fd);
    free(m->buf);
    free(m->path);
    free(m);
}

static int mrc_open(const char *path, sm_video_info *info, void **out, sm_error *err) {
    *out = NULL;
    mrc_priv *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    m->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;
    if (m->fd < 0) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(m->fd, &st) != 0) {
        rc = sm_error_set(err, SM_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t file_size = (uint64_t)st.st_size;
    uint8_t h[MRC_HEADER];
    if ((rc = sm_raw_pread(m->fd, h, MRC_HEADER, 0, path, "MRC header", err)) < 0) goto fail;
    int little = mrc_byte_order(h);
    if (little < 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: not an MRC file (implausible header)", path);
        goto fail;
    }
    m->little = little;
    int32_t nx = rd_i32(h, 0, little), ny = rd_i32(h, 4, little), nz = rd_i32(h, 8, little);
    int32_t mode = rd_i32(h, 12, little), mx = rd_i32(h, 28, little), nsymbt = rd_i32(h, 92, little);
    if (nx <= 0 || ny <= 0 || nz <= 0 || nx > MRC_MAX_DIM || ny > MRC_MAX_DIM) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: MRC header has absurd dimensions %d x %d x %d", path, nx, ny, nz);
        goto fail;
    }
    if (!mode_ok(mode)) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: MRC mode %d not supported (0, 1, 2, 6 and 12 are)", path, mode);
        goto fail;
    }
    if (nsymbt < 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: MRC extended header size %d is negative", path, nsymbt);
        goto fail;
    }
    switch (mode) {
    case 0: {
        /* MRC2014: signed. IMOD stamps 1146047817 at byte 152 and sets flag bit 0 when bytes are signed. */
        int32_t stamp = rd_i32(h, 152, little), flags = rd_i32(h, 156, little);
        m->type = (stamp == 1146047817 && !(flags & 1)) ? SM_RAW_U8 : SM_RAW_I8;
    } break;
    case 1: m->type = SM_RAW_I16; break;
    case 2: m->type = SM_RAW_F32; break;
    case 6: m->type = SM_RAW_U16; break;
    default: m->type = SM_RAW_F16; break;
    }
    size_t frame_bytes, total;
    if ((rc = sm_size_mul(&frame_bytes, (size_t)nx, (size_t)ny, sm_raw_size(m->type), path, err)) < 0) goto fail;
    m->data_offset = MRC_HEADER + (uint64_t)nsymbt;
    if (frame_bytes > UINT64_MAX / (uint64_t)nz ||
        (total = frame_bytes * (size_t)nz, m->data_offset + total > file_size)) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: MRC file truncated: header says %d frames of %dx%d px (mode %d) "
                          "but the file holds %llu bytes", path, nz, nx, ny, mode, (unsigned long long)file_size);
        goto fail;
    }
    m->frame_bytes = frame_bytes;
    if (!(m->buf = malloc(frame_bytes))) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for a frame", path);
        goto fail;
    }
    info->width = nx;
    info->height = ny;
    info->frames = nz;
    info->bit_depth = (int)sm_raw_size(m->type) * 8;
    info->is_float = sm_raw_is_float(m->type);
    info->is_signed = sm_raw_is_signed(m->type);
    float cella_x = rd_f32(h, 40, little);
    if (mx > 0 && isfinite(cella_x) && cella_x > 0) info->pixel_size_nm = cella_x / mx / 10.0;  /* A -> nm */
    info->frame_interval_s = 0;
    *out = m;
    return 0;
fail:
    mrc_close(m);
    return rc;
}

static int mrc_read_frame(void *p, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    mrc_priv *m = p;
    return sm_raw_read_stacked_frame(m->fd, m->buf, m->frame_bytes, m->data_offset, i,
                                     (size_t)info->width * (size_t)info->height, m->type, m->little, m->path, out, err);
}

const sm_io_format sm_io_format_mrc = {
    .name = "mrc",
    .probe = mrc_probe,
    .open = mrc_open,
    .read_frame = mrc_read_frame,
    .close = mrc_close,
};
