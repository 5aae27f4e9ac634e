/* sm_video: the one entry point for reading any video. It probes the file's first bytes against every
 * format in sm_io_formats and opens it with the best-scoring reader; frame reads are bounds-checked here
 * so that readers can trust their index. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/format.h"

struct sm_video {
    const sm_io_format *format;
    void *priv;
    sm_video_info info;
    char *path;
};

int sm_video_open(sm_video **out, const char *path, sm_error *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
    int is_dir = S_ISDIR(st.st_mode);
    uint8_t head[SM_PROBE_HEAD_BYTES];
    size_t n = 0;
    if (!is_dir) {
        FILE *fp = fopen(path, "rb");
        if (!fp) return sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
        n = fread(head, 1, sizeof head, fp);
        int bad = ferror(fp);
        fclose(fp);
        if (bad) return sm_error_set(err, SM_EIO, "%s: read error", path);
        if (n == 0) return sm_error_set(err, SM_EFORMAT, "%s: empty file", path);
    }
    const sm_io_format *best = NULL;
    int best_score = 0;
    for (int i = 0; sm_io_formats[i]; i++) {
        int score = sm_io_formats[i]->probe(head, n, path, is_dir);
        if (score > best_score) {
            best_score = score;
            best = sm_io_formats[i];
        }
    }
    if (!best)
        return sm_error_set(err, SM_EFORMAT, "%s: not a video format samem reads%s", path,
                            is_dir ? " (folder holds no PNG or JPEG frames)" : "");
    sm_video *v = calloc(1, sizeof *v);
    if (!v || !(v->path = strdup(path))) {
        free(v);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    v->format = best;
    snprintf(v->info.format, sizeof v->info.format, "%s", best->name);
    int rc = best->open(path, &v->info, &v->priv, err);
    if (rc < 0) {
        free(v->path);
        free(v);
        return rc;
    }
    if (v->info.width <= 0 || v->info.height <= 0 || v->info.frames <= 0) {
        best->close(v->priv);
        free(v->path);
        free(v);
        return sm_error_set(err, SM_EFORMAT, "%s: no frames", path);
    }
    *out = v;
    return 0;
}

const sm_video_info *sm_video_get_info(const sm_video *v) { return &v->info; }

const char *sm_video_path(const sm_video *v) { return v->path; }

int sm_video_read_frame(sm_video *v, int64_t i, float *out, sm_error *err) {
    if (i < 0 || i >= v->info.frames)
        return sm_error_set(err, SM_EINVAL, "%s: frame %lld out of range (0..%lld)", v->path, (long long)i,
                            (long long)v->info.frames - 1);
    return v->format->read_frame(v->priv, &v->info, i, out, err);
}

void sm_video_close(sm_video *v) {
    if (!v) return;
    v->format->close(v->priv);
    free(v->path);
    free(v);
}
