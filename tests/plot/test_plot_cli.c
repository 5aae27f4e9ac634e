/* `samem analyze` end to end: a CSV written here (Brownian tracks, px and frames, with an angle column) gives
 * stats.json, msd.csv, plots and report.html, exit 0; usage errors exit 1, a missing file exits 2. The D it
 * prints into stats.json is checked against the simulated value (within 8%: 40 tracks x 100 steps, CVE se
 * ~2.5%). Needs SAMEM_BIN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_helpers.h"
#include "samem/tracks.h"
#include "stats/sim_tracks.h"

int main(void) {
    if (!sm_test_samem_ready()) return sm_test_report();
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
    char csv[1024], dir[1024], p[1200];
    sm_test_tmp_path(csv, sizeof csv, "tracks.csv");
    sm_test_tmp_path(dir, sizeof dir, "out");
    sm_error err = {0};
    SM_CHECKF("tracks.csv written", sm_tracks_write_csv(t, csv, SM_COL_ANGLE, &err) == 0, "%s", err.msg);
    sm_tracks_destroy(t);
    SM_CHECK("samem analyze exits 0",
             sm_test_samem(NULL, NULL, "analyze %s --px 0.5 --dt 0.1 --lags 1,3 --quiet -o %s", csv, dir) == 0);
    const char *files[] = {"stats.json", "msd.csv", "report.html", "plots/msd.png", "plots/msd.svg", "plots/trajectories.png",
                           "plots/vanhove.png", "plots/vacf.png", "plots/angular_msd.png"};
    for (int i = 0; i < 9; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        char name[256];
        snprintf(name, sizeof name, "writes %s", files[i]);
        SM_CHECK(name, sm_test_exists(p));
    }
    snprintf(p, sizeof p, "%s/stats.json", dir);
    const char *stats = sm_test_slurp(p);
    const char *ensemble = strstr(stats, "\"ensemble\"");
    const char *d = ensemble ? strstr(ensemble, "\"D\":") : NULL;
    double D = d ? strtod(d + 4, NULL) : NAN;
    SM_CHECKF("stats.json ensemble D in nm^2/s within 8% of the simulated 500", fabs(D / 500 - 1) < 0.08, "D=%.2f", D);
    SM_CHECK("stats.json says nm", strstr(stats, "\"length\":\t\"nm\""));
    SM_CHECK("bad --drift value exits 1",
             sm_test_samem(NULL, "/dev/null", "analyze %s --drift sideways -o %s", csv, dir) == 1);
    SM_CHECK("missing -o exits 1", sm_test_samem(NULL, "/dev/null", "analyze %s", csv) == 1);
    SM_CHECK("missing input exits 2", sm_test_samem(NULL, "/dev/null", "analyze %s/nope.csv -o %s", dir, dir) == 2);
    return sm_test_report();
}
