/* From a label stack on disk to a linked track table: the whole of `samem track` behind one library call.
 *
 * Why: the CLI, `samem run` and the metrics all start from a label stack file. How: frames are read one at
 * a time through sm_video (TIFF stacks, PNG folders), checked to be integer labels 0..65535, measured
 * (src/track/measure.c) with the matching video frame for intensities, then linked (src/track/link.c).
 * Left out: labels above 65535 (refused), streaming output (the table is built in memory, ~120 bytes per
 * object and frame).
 */
#include <math.h>
#include <stdlib.h>

#include "samem/io.h"
#include "samem/track.h"

int sm_track_labels_file(sm_tracks **out, const char *labels_path, const char *video_path,
                         const sm_link_params *p, sm_track_events *events, sm_error *err) {
    *out = NULL;
    sm_video *lv = NULL, *vv = NULL;
    float *plane = NULL, *img = NULL;
    uint16_t *lab = NULL;
    sm_tracks *t = NULL;
    int rc = sm_video_open(&lv, labels_path, err);
    if (rc < 0) return rc;
    const sm_video_info *li = sm_video_get_info(lv);
    int w = li->width, h = li->height;
    size_t npx;
    if ((rc = sm_size_mul(&npx, (size_t)w, (size_t)h, sizeof(float), labels_path, err)) < 0) goto done;
    npx /= sizeof(float);
    if (video_path) {
        if ((rc = sm_video_open(&vv, video_path, err)) < 0) goto done;
        const sm_video_info *vi = sm_video_get_info(vv);
        if (vi->width != w || vi->height != h || vi->frames < li->frames) {
            rc = sm_error_set(err, SM_EINVAL, "%s: %dx%d px, %lld frames, does not match labels %s (%dx%d px, %lld frames)",
                              video_path, vi->width, vi->height, (long long)vi->frames, labels_path, w, h,
                              (long long)li->frames);
            goto done;
        }
    }
    plane = malloc(npx * sizeof *plane);
    lab = malloc(npx * sizeof *lab);
    if (vv) img = malloc(npx * sizeof *img);
    t = sm_tracks_create();
    if (!plane || !lab || (vv && !img) || !t) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory", labels_path);
        goto done;
    }
    for (int64_t f = 0; f < li->frames; f++) {
        if ((rc = sm_video_read_frame(lv, f, plane, err)) < 0) goto done;
        for (size_t i = 0; i < npx; i++) {
            float v = plane[i];
            if (!(v >= 0 && v <= 65535) || v != floorf(v)) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: frame %lld pixel (%zu, %zu) = %g is not a label 0..65535",
                                  labels_path, (long long)f, i % (size_t)w, i / (size_t)w, (double)v);
                goto done;
            }
            lab[i] = (uint16_t)v;
        }
        if (vv && (rc = sm_video_read_frame(vv, f, img, err)) < 0) goto done;
        sm_track_object *objs;
        int n;
        if ((rc = sm_track_measure(lab, img, w, h, &objs, &n, err)) < 0) goto done;
        for (int k = 0; k < n && rc == 0; k++) {
            const sm_track_object *o = &objs[k];
            sm_tracks_row r = sm_tracks_row_empty();
            r.frame = f;
            r.particle = o->label;
            r.x = p->weighted_centroid ? o->x : o->x_geom;
            r.y = p->weighted_centroid ? o->y : o->y_geom;
            r.area = o->area; r.angle = o->angle; r.major = o->major; r.minor = o->minor;
            r.eccentricity = o->eccentricity; r.intensity = o->intensity; r.border = o->border;
            rc = sm_tracks_append(t, &r, err);
        }
        free(objs);
        if (rc < 0) goto done;
    }
    if ((rc = sm_track_link(t, p, events, err)) < 0) {
        sm_error_prefix(err, "%s", labels_path);
        goto done;
    }
    if ((rc = sm_tracks_sort(t, err)) < 0) goto done;
    *out = t;
    t = NULL;
done:
    sm_tracks_destroy(t);
    free(plane); free(lab); free(img);
    sm_video_close(lv);
    sm_video_close(vv);
    return rc;
}
