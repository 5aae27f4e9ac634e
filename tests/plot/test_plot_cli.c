/* `samem analyze` end to end: a CSV written here (Brownian tracks, px and frames, with an angle column) gives
 * stats.json, msd.csv, plots and report.html, exit 0; usage errors exit 1, a missing file exits 2. The D it
 * prints into stats.json is checked against the simulated value (within 8%: 40 tracks x 100 steps, CVE se
 * ~2.5%). Needs SAMEM_BIN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/tracks.h"
#include "stats/sim_tracks.h"
#include "test.h"

static int exists(const char *p) {
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

int main(void) {
    const char *bin = getenv("SAMEM_BIN");
    SM_CHECK("SAMEM_BIN is set", bin && *bin);
    if (!bin) return sm_test_report();
    sim_params sp = {0};
    sp.tracks = 40;
    sp.steps = 100;
    sp.D = 500;
    sp.dt = 0.1;
    sp.sigma = 3;
    sp.px_nm = 0.5;
    sp.D_r = 0.2;
    sp.sigma_theta = 0.02;
    sp.seed = 3;
    sm_tracks *t = sim_brownian(&sp);
    char csv[1024], dir[1024], cmd[4096], p[1200];
    sm_test_tmp_path(csv, sizeof csv, "tracks.csv");
    sm_test_tmp_path(dir, sizeof dir, "out");
    sm_error err = {0};
    SM_CHECKF("tracks.csv written", sm_tracks_write_csv(t, csv, SM_COL_ANGLE, &err) == 0, "%s", err.msg);
    sm_tracks_destroy(t);
    snprintf(cmd, sizeof cmd, "%s analyze %s --px 0.5 --dt 0.1 --lags 1,3 --quiet -o %s", bin, csv, dir);
    SM_CHECK("samem analyze exits 0", sm_test_system(cmd) == 0);
    const char *files[] = {"stats.json", "msd.csv", "report.html", "plots/msd.png", "plots/msd.svg", "plots/trajectories.png",
                           "plots/vanhove.png", "plots/vacf.png", "plots/angular_msd.png"};
    for (int i = 0; i < 9; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        char name[256];
        snprintf(name, sizeof name, "writes %s", files[i]);
        SM_CHECK(name, exists(p));
    }
    snprintf(p, sizeof p, "%s/stats.json", dir);
    char *text = NULL;
    size_t len;
    double D = NAN;
    if (sm_read_text_file(p, 1 << 26, &text, &len, NULL) == 0) {
        char *e = strstr(text, "\"ensemble\"");
        char *d = e ? strstr(e, "\"D\":") : NULL;
        if (d) D = strtod(d + 4, NULL);
    }
    SM_CHECKF("stats.json ensemble D in nm^2/s within 8% of the simulated 500", fabs(D / 500 - 1) < 0.08, "D=%.2f", D);
    SM_CHECK("stats.json says nm", text && strstr(text, "\"length\":\t\"nm\""));
    free(text);
    snprintf(cmd, sizeof cmd, "%s analyze %s --drift sideways -o %s 2>/dev/null", bin, csv, dir);
    SM_CHECK("bad --drift value exits 1", sm_test_system(cmd) == 1);
    snprintf(cmd, sizeof cmd, "%s analyze %s 2>/dev/null", bin, csv);
    SM_CHECK("missing -o exits 1", sm_test_system(cmd) == 1);
    snprintf(cmd, sizeof cmd, "%s analyze %s/nope.csv -o %s 2>/dev/null", bin, dir, dir);
    SM_CHECK("missing input exits 2", sm_test_system(cmd) == 2);
    return sm_test_report();
}
