/* samem track LABELS [--video VIDEO] -o tracks.csv: measure every labelled object in every frame and link the
 * objects into trajectories (src/track; the rules are in include/samem/track.h). Writes the track table with
 * trackpy's columns and, with --events, the merge/split events. */
#include <stdio.h>

#include "cli/cli.h"
#include "samem/track.h"

static int run_track(const sm_args *a) {
    sm_error err = {0};
    sm_link_params p;
    sm_link_params_default(&p);
    const char *out = sm_args_get(a, "o");
    if (!out) return sm_cli_usage_error("track", "-o FILE is required");
    long long gap = p.gap;
    if (sm_args_double(a, "max-disp", 1e-6, 1e6, &p.max_disp) || sm_args_int(a, "gap", 0, 1000, &gap) ||
        sm_args_double(a, "w-area", 0, 1e6, &p.w_area) || sm_args_double(a, "w-shape", 0, 1e6, &p.w_shape) ||
        sm_args_double(a, "birth-cost", 1e-9, 1e9, &p.birth_death))
        return 1;
    p.gap = (int)gap;
    p.kalman = sm_args_flag(a, "kalman");
    p.keep_ids = sm_args_flag(a, "keep-ids");
    p.weighted_centroid = sm_args_flag(a, "weighted-centroid");
    if (p.weighted_centroid && !sm_args_get(a, "video"))
        return sm_cli_usage_error("track", "--weighted-centroid needs --video");
    const char *events_path = sm_args_get(a, "events");
    sm_track_events *ev = sm_track_events_create();
    sm_tracks *t = NULL;
    if (!ev) {
        sm_error_set(&err, SM_ENOMEM, "out of memory");
        return sm_cli_fail(&err);
    }
    int rc = sm_track_labels_file(&t, a->positional[0], sm_args_get(a, "video"), &p, ev, &err);
    if (rc == 0) rc = sm_tracks_write_csv(t, out, SM_COLS_TRACK, &err);
    if (rc == 0 && events_path) rc = sm_track_events_write_csv(ev, events_path, &err);
    if (rc == 0 && !a->quiet) {
        int64_t ntracks = 0;
        for (int64_t i = 0; i < t->n; i++)
            if (i == 0 || t->particle[i] != t->particle[i - 1]) ntracks++;
        fprintf(stderr, "track: %lld detections in %lld tracks, %lld merge/split events -> %s\n", (long long)t->n,
                (long long)ntracks, (long long)ev->n, out);
    }
    sm_tracks_destroy(t);
    sm_track_events_destroy(ev);
    return rc < 0 ? sm_cli_fail(&err) : 0;
}

const sm_command sm_cmd_track = {
    .name = "track",
    .summary = "measure labelled particles in every frame and link them into tracks (CSV, trackpy columns)",
    .usage = "samem track LABELS [--video VIDEO] -o tracks.csv [--max-disp PX] [--gap G] [--kalman] [--keep-ids]",
    .description =
        "LABELS is a uint16 label stack (TIFF or a folder of PNGs; 0 background, k object k). Each object in each\n"
        "frame is measured (area, centroid, orientation, axes, eccentricity, border contact; with --video the mean\n"
        "intensity, and with --weighted-centroid x, y weighted by each pixel's contrast to the background ring)\n"
        "and linked by an exact assignment\n"
        "with costs from distance, area and shape, closing gaps of up to G frames. With --keep-ids the labels are\n"
        "identities (for example from a prompted model): they are kept, and a new label is only stitched onto a\n"
        "track that vanished within the last G+1 frames. Columns: frame,particle,x,y,area,angle,major,minor,\n"
        "eccentricity,intensity,border (px, rad counter-clockwise with y up).\n"
        "example: samem track masks.tif --video run.tif -o tracks.csv --max-disp 15 --gap 3 --events events.csv",
    .min_positional = 1,
    .max_positional = 1,
    .options = (const sm_option_spec[]){
        {"o", "FILE", "output track table (CSV)"},
        {"video", "VIDEO", "intensity video of the same size (contrast-weighted centroids, mean intensity)"},
        {"max-disp", "PX", "largest step between consecutive frames (default 10)"},
        {"gap", "G", "frames a particle may be missing and still be rejoined (default 2)"},
        {"kalman", NULL, "predict positions with a constant-velocity Kalman filter"},
        {"weighted-centroid", NULL, "x, y weighted by contrast to the background ring (needs --video)"},
        {"keep-ids", NULL, "label values are identities: keep them, only stitch new labels onto lost tracks"},
        {"w-area", "W", "weight of the squared log area ratio in the cost (default 0.5)"},
        {"w-shape", "W", "weight of the squared eccentricity difference (default 0.5)"},
        {"birth-cost", "C", "cost of leaving a track or detection unlinked (default 0.75)"},
        {"events", "FILE", "write merge/split events (frame,event,particle,other,x,y) to this CSV"},
        {NULL, NULL, NULL}},
    .run = run_track,
};
