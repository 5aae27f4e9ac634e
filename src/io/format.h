/* The reader interface inside src/io: one `const sm_io_format` per file format, in the style of FFmpeg's
 * demuxers. sm_video_open reads the first bytes of the file, asks every format's probe for a score and opens
 * the file with the best one. A format keeps its own state behind `priv`. */
#ifndef SM_IO_FORMAT_H
#define SM_IO_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include "samem/io.h"

#define SM_PROBE_MAX 100       /* certain: a strong magic number matched */
#define SM_PROBE_HEAD_BYTES 4096

typedef struct sm_io_format {
    const char *name;
    /* Score 0..SM_PROBE_MAX from the first bytes (head, n of them; n may be short for small files) and the
     * path (for formats whose magic is weak). is_dir is set for directories, whose head is empty. */
    int (*probe)(const uint8_t *head, size_t n, const char *path, int is_dir);
    /* Reads the header only; fills info and *priv. */
    int (*open)(const char *path, sm_video_info *info, void **priv, sm_error *err);
    /* Frame i (0 <= i < info->frames, checked by the caller) into out: width*height floats. */
    int (*read_frame)(void *priv, const sm_video_info *info, int64_t i, float *out, sm_error *err);
    void (*close)(void *priv);
} sm_io_format;

/* The formats in probing order (strong magic first); a NULL-terminated list in src/io/video.c. */
extern const sm_io_format *const sm_io_formats[];

#endif
