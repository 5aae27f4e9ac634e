/* `samem track` end to end on label stacks written here with libtiff: two squares moving 2 px per frame
 * whose label values swap every frame (linking must follow the squares, not the labels), an intensity video
 * (mean intensity and contrast-weighted centroid), --keep-ids (labels kept as identities), --events, and the
 * exit codes for bad input. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "cli_helpers.h"
#include "samem/tracks.h"

#define W 64
#define H 48
#define NF 6

/* NF pages of W x H: uint16 (bits 16) or float (bits 32) */
static int write_stack(const char *path, int bits, double (*value)(int f, int x, int y)) {
    sm_test_stack s = {.width = W, .height = H, .frames = NF, .bits = bits, .value = value};
    return sm_test_write_stack(path, &s);
}

/* square A: x 10+2f .. 13+2f, y 10..13; square B: x 40-2f .. 43-2f, y 30..33 (4x4 = 16 px each) */
static int which(int f, int x, int y) {
    if (y >= 10 && y <= 13 && x >= 10 + 2 * f && x <= 13 + 2 * f) return 1;
    if (y >= 30 && y <= 33 && x >= 40 - 2 * f && x <= 43 - 2 * f) return 2;
    return 0;
}
static double labels(int f, int x, int y) {
    int w = which(f, x, y);
    if (!w) return 0;
    return (f % 2) ? 3 - w : w;   /* labels swap every frame */
}
static double video(int f, int x, int y) { return which(f, x, y) ? 50 : 100; }
static double halves(int f, int x, int y) { return which(f, x, y) ? 1.5 : 0; }

int main(void) {
    if (!sm_test_samem_ready()) return sm_test_report();
    char lab[2048], vid[2048], out[2048], ev[2048], bad[2048];
    sm_test_tmp_path(lab, sizeof lab, "labels.tif");
    sm_test_tmp_path(vid, sizeof vid, "video.tif");
    sm_test_tmp_path(out, sizeof out, "tracks.csv");
    sm_test_tmp_path(ev, sizeof ev, "events.csv");
    sm_test_tmp_path(bad, sizeof bad, "halves.tif");
    SM_CHECK("label and video TIFFs written with libtiff", write_stack(lab, 16, labels) == 0 &&
             write_stack(vid, 32, video) == 0 && write_stack(bad, 32, halves) == 0);

    SM_CHECK("samem track exits 0",
             sm_test_samem(NULL, NULL, "track %s --video %s --weighted-centroid -o %s --max-disp 5 --events %s --quiet",
                           lab, vid, out, ev) == 0);
    SM_CHECK("header has trackpy's columns in order",
             strncmp(sm_test_slurp(out), "frame,particle,x,y,area,angle,major,minor,eccentricity,intensity,border\n",
                     72) == 0);
    sm_error err = {0};
    sm_tracks *t = NULL;
    int rc = sm_tracks_read_csv(&t, out, &err);
    SM_CHECKF("12 rows read back", rc == 0 && t->n == 12, "rc=%d %s", rc, err.msg);
    int ok = rc == 0 && t->n == 12;
    /* each particle follows one square: x steps of +2 or -2 px, area 16, intensity 50 */
    for (int64_t i = 0; ok && i < t->n; i++) {
        int64_t f = t->frame[i];
        double xa = 11.5 + 2 * f, xb = 41.5 - 2 * f;
        int is_a = fabs(t->y[i] - 11.5) < 1e-9;
        double xe = is_a ? xa : xb;
        if (fabs(t->x[i] - xe) > 1e-9 || t->area[i] != 16 || fabs(t->intensity[i] - 50) > 1e-9 || t->border[i] != 0) ok = 0;
        for (int64_t j = 0; j < t->n; j++)
            if (t->particle[j] == t->particle[i] && fabs(t->y[j] - t->y[i]) > 1e-9) ok = 0;   /* one square per id */
    }
    SM_CHECK("linking follows the squares although labels swap: 2 ids, x steps 2 px, area 16, intensity 50", ok);
    sm_tracks_destroy(t);
    SM_CHECK("events file written with its header", strncmp(sm_test_slurp(ev), "frame,event,particle,other,x,y\n", 31) == 0);

    SM_CHECK("samem track --keep-ids exits 0",
             sm_test_samem(NULL, NULL, "track %s -o %s --keep-ids --quiet", lab, out) == 0);
    rc = sm_tracks_read_csv(&t, out, &err);
    ok = rc == 0 && t->n == 12;
    for (int64_t i = 0; ok && i < t->n; i++) {
        int is_a = fabs(t->y[i] - 11.5) < 1e-9;
        int64_t expect = (t->frame[i] % 2) ? (is_a ? 2 : 1) : (is_a ? 1 : 2);
        if (t->particle[i] != expect) ok = 0;
        if (!isnan(t->intensity[i])) ok = 0;
    }
    SM_CHECK("--keep-ids keeps the label values as particle ids (no intensity without a video)", ok);
    sm_tracks_destroy(t);

    char dir[2048];
    sm_test_tmp_path(dir, sizeof dir, "pngs");
    SM_CHECK("PNG folder written with libpng", sm_test_write_png_folder(dir, "frame_", W, H, 16, NF, labels) == 0);
    SM_CHECK("samem track on a PNG folder exits 0",
             sm_test_samem(NULL, NULL, "track %s -o %s --keep-ids --quiet", dir, out) == 0);
    rc = sm_tracks_read_csv(&t, out, &err);
    ok = rc == 0 && t->n == 12;
    for (int64_t i = 0; ok && i < t->n; i++) {
        int is_a = fabs(t->y[i] - 11.5) < 1e-9;
        int64_t expect = (t->frame[i] % 2) ? (is_a ? 2 : 1) : (is_a ? 1 : 2);
        if (t->particle[i] != expect || t->area[i] != 16) ok = 0;
    }
    SM_CHECK("PNG folder gives the same 12 detections and ids as the TIFF stack", ok);
    sm_tracks_destroy(t);

    SM_CHECK("--weighted-centroid without --video: exit 1",
             sm_test_samem(NULL, "/dev/null", "track %s -o %s --weighted-centroid --quiet", lab, out) == 1);
    SM_CHECK("missing -o: exit 1", sm_test_samem(NULL, "/dev/null", "track %s --quiet", lab) == 1);
    SM_CHECK("missing labels file: exit 2",
             sm_test_samem(NULL, "/dev/null", "track %s.missing -o %s --quiet", lab, out) == 2);
    SM_CHECK("non-integer labels: exit 2", sm_test_samem(NULL, "/dev/null", "track %s -o %s --quiet", bad, out) == 2);
    SM_CHECK("negative --max-disp: exit 1",
             sm_test_samem(NULL, "/dev/null", "track %s -o %s --max-disp -3 --quiet", lab, out) == 1);
    return sm_test_report();
}
