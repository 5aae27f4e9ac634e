/* Tracking scores against an independent reference: tests/metrics/mot_reference.py computes CLEAR, Identity
 * and HOTA on 40 random small cases with dense numpy matrices, step by step as TrackEval's clear.py,
 * identity.py and hota.py, solving the assignments by brute force; its output is
 * tests/metrics/data/mot_reference.txt. Every score must agree to 1e-9. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/metrics.h"
#include "test.h"

static int read_ints(char *line, const char *tag, int64_t *v, int max) {
    if (strncmp(line, tag, strlen(tag)) != 0) return -1;
    int n = 0;
    char *p = line + strlen(tag);
    for (;;) {
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end == p || n >= max) break;
        v[n++] = x;
        p = end;
    }
    return n;
}

int main(void) {
    FILE *fp = fopen("tests/metrics/data/mot_reference.txt", "r");
    SM_CHECK("reference file opens (run from the repository root)", fp != NULL);
    if (!fp) return sm_test_report();
    char line[8192];
    int cases = 0, bad = 0;
    sm_error err = {0};
    while (fgets(line, sizeof line, fp)) {
        int nf;
        if (sscanf(line, "case %d", &nf) != 1) break;
        sm_mot *m = sm_mot_create();
        for (int f = 0; f < nf; f++) {
            int ng, np;
            int64_t gt[16], pr[16];
            double sim[256];
            if (!fgets(line, sizeof line, fp) || sscanf(line, "frame %d %d", &ng, &np) != 2) goto broken;
            if (!fgets(line, sizeof line, fp) || read_ints(line, "gt", gt, 16) != ng) goto broken;
            if (!fgets(line, sizeof line, fp) || read_ints(line, "pred", pr, 16) != np) goto broken;
            if (!fgets(line, sizeof line, fp) || strncmp(line, "sim", 3) != 0) goto broken;
            char *p = line + 3;
            for (int k = 0; k < ng * np; k++) sim[k] = strtod(p, &p);
            int pg[256], pp[256], n = 0;
            double ps[256];
            for (int a = 0; a < ng; a++)
                for (int b = 0; b < np; b++)
                    if (sim[a * np + b] > 0) {
                        pg[n] = a; pp[n] = b; ps[n] = sim[a * np + b];
                        n++;
                    }
            if (sm_mot_add_frame(m, ng, gt, np, pr, n, pg, pp, ps, &err) < 0) goto broken;
        }
        double mota, idf1, hota, deta, assa, loca, motp;
        int idsw, frag;
        if (!fgets(line, sizeof line, fp) || sscanf(line, "expect %lf %d %d %lf %lf %lf %lf %lf %lf", &mota, &idsw, &frag,
                                                   &idf1, &hota, &deta, &assa, &loca, &motp) != 9)
            goto broken;
        sm_mot_scores s;
        if (sm_mot_compute(m, 0.5, &s, &err) < 0) goto broken;
        double tol = 1e-9;
        int ok = fabs(s.mota - mota) < tol && s.id_switches == idsw && s.fragmentations == frag &&
                 fabs(s.idf1 - idf1) < tol && fabs(s.hota - hota) < tol && fabs(s.deta - deta) < tol &&
                 fabs(s.assa - assa) < tol && fabs(s.loca - loca) < tol && fabs(s.motp - motp) < tol;
        if (!ok) {
            bad++;
            printf("case %d: mota %g/%g idsw %lld/%d frag %lld/%d idf1 %g/%g hota %g/%g deta %g/%g assa %g/%g loca %g/%g motp %g/%g\n",
                   cases, s.mota, mota, (long long)s.id_switches, idsw, (long long)s.fragmentations, frag, s.idf1, idf1,
                   s.hota, hota, s.deta, deta, s.assa, assa, s.loca, loca, s.motp, motp);
        }
        cases++;
        sm_mot_destroy(m);
        continue;
    broken:
        sm_mot_destroy(m);
        printf("malformed reference file at case %d: %s\n", cases, err.msg);
        bad++;
        break;
    }
    fclose(fp);
    SM_CHECKF("40 random cases: MOTA, IDSW, Frag, IDF1, HOTA, DetA, AssA, LocA, MOTP equal the numpy reference (1e-9)",
              cases == 40 && bad == 0, "cases=%d wrong=%d", cases, bad);
    return sm_test_report();
}
