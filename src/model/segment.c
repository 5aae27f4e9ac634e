/* sm_segment_video: a whole video to OUT/masks.tif (uint16 label stack, streamed frame by frame) and
 * OUT/tracks.csv (trackpy columns plus score, x_err, y_err), for `samem segment` and `samem run`.
 * Why here: the CLI and the benchmark share one writer. Memory: the session's window plus one label plane;
 * the TIFF writer streams, so memory does not grow with the video's length (the track table does, by one
 * row per object and frame). Left out: per-object mask files (SAM's PNG folders). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/model.h"

typedef struct seg_ctx {
    sm_tiff_writer *tw;
    sm_tracks *tracks;
    sm_progress prog;
    sm_error *err;
    int failed;
} seg_ctx;

static int on_frame(const sm_frame_result *r, void *user) {
    seg_ctx *c = user;
    if (sm_tiff_writer_write(c->tw, r->labels, c->err) < 0) {
        c->failed = 1;
        return 1;
    }
    for (int i = 0; i < r->n_objects; i++) {
        const sm_object_result *o = &r->objects[i];
        if (!o->visible) continue;
        sm_tracks_row row = sm_tracks_row_empty();
        row.frame = r->frame;
        row.particle = o->id;
        row.x = o->x, row.y = o->y;
        row.area = o->area;
        row.angle = o->angle;
        row.major = o->major, row.minor = o->minor;
        row.eccentricity = o->eccentricity;
        row.intensity = o->intensity;
        row.border = o->border;
        row.score = o->score;
        row.x_err = o->x_err, row.y_err = o->y_err;
        if (sm_tracks_append(c->tracks, &row, c->err) < 0) {
            c->failed = 1;
            return 1;
        }
    }
    sm_progress_update(&c->prog, r->frame + 1);
    return 0;
}

int sm_segment_video(sm_video *v, const sm_prompt *prompts, int n_prompts, const sm_segment_options *opt,
                     const char *out_dir, int quiet, sm_tracks **tracks_out, sm_segment_stats *stats,
                     sm_error *err) {
    double t0 = sm_now();
    if (tracks_out) *tracks_out = NULL;
    const sm_video_info *in = sm_video_get_info(v);
    int rc = sm_mkdir_p(out_dir, err);
    if (rc < 0) return rc;
    char masks_path[4096], tracks_path[4096];
    if ((rc = sm_path_join(masks_path, sizeof masks_path, out_dir, "masks.tif", err)) < 0) return rc;
    if ((rc = sm_path_join(tracks_path, sizeof tracks_path, out_dir, "tracks.csv", err)) < 0) return rc;
    sm_session *s = NULL;
    seg_ctx c = {0};
    sm_error cb_err = {0}; /* the writer's own error: the session's "stopped at frame N" would hide it */
    c.err = &cb_err;
    if ((rc = sm_session_open(&s, v, opt, err)) < 0) return rc;
    for (int i = 0; i < n_prompts; i++)
        if ((rc = sm_session_add_prompt(s, &prompts[i], err)) < 0) goto fail;
    c.tracks = sm_tracks_create();
    if (!c.tracks) {
        rc = sm_error_set(err, SM_ENOMEM, "segment: out of memory");
        goto fail;
    }
    if ((rc = sm_tiff_writer_open(&c.tw, masks_path, in->width, in->height, SM_SAMPLE_U16, in->frames,
                                  in->pixel_size_nm, in->frame_interval_s, err)) < 0)
        goto fail;
    sm_progress_start(&c.prog, "segment", in->frames, quiet);
    rc = sm_session_propagate(s, on_frame, &c, err);
    sm_progress_finish(&c.prog);
    if (rc < 0 && c.failed) {
        if (err) *err = cb_err;
        rc = cb_err.code ? cb_err.code : rc;
    }
    if (rc < 0) goto fail;
    rc = sm_tiff_writer_commit(c.tw, err);
    c.tw = NULL;
    if (rc < 0) goto fail;
    if ((rc = sm_tracks_write_csv(c.tracks, tracks_path, SM_SEGMENT_COLUMNS, err)) < 0) goto fail;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->frames = in->frames;
        int maxid = 0;
        for (int64_t i = 0; i < c.tracks->n; i++)
            if (c.tracks->particle[i] > maxid) maxid = (int)c.tracks->particle[i];
        /* distinct ids */
        int n = 0;
        if (maxid > 0) {
            uint8_t *seen = calloc((size_t)maxid + 1, 1);
            if (seen) {
                for (int64_t i = 0; i < c.tracks->n; i++)
                    if (!seen[c.tracks->particle[i]]) seen[c.tracks->particle[i]] = 1, n++;
                free(seen);
            }
        }
        stats->objects = n;
        stats->seconds = sm_now() - t0;
        stats->frames_per_s = stats->seconds > 0 ? in->frames / stats->seconds : 0;
        stats->peak_rss_bytes = sm_peak_rss_bytes();
    }
    sm_session_close(s);
    if (tracks_out) *tracks_out = c.tracks;
    else sm_tracks_destroy(c.tracks);
    return 0;
fail:
    sm_tiff_writer_abort(c.tw);
    sm_tracks_destroy(c.tracks);
    sm_session_close(s);
    return rc;
}
