/* src/common: errors and size checks, atomic writes, folders and paths, natural order, text and JSON files,
 * the seeded random numbers (moments against their analytic values), and the track table's CSV form
 * (round trip, trackpy-style input, bad lines). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "samem/common.h"
#include "samem/tracks.h"
#include "test.h"

static int exists(const char *p) { return access(p, F_OK) == 0; }

static int no_tmp_files(const char *dir) {
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep '\\.tmp\\.')\"", dir);
    return sm_test_system(cmd) == 0;
}

static void test_errors(void) {
    sm_error err = {0};
    int rc = sm_error_set(&err, SM_EFORMAT, "%s: frame %d truncated", "run.tif", 12);
    SM_CHECK("sm_error_set returns the code and formats one line",
             rc == SM_EFORMAT && err.code == SM_EFORMAT && strcmp(err.msg, "run.tif: frame 12 truncated") == 0);
    sm_error_prefix(&err, "segment");
    SM_CHECK("sm_error_prefix prepends context", strcmp(err.msg, "segment: run.tif: frame 12 truncated") == 0);
    SM_CHECK("sm_error_set accepts a NULL error", sm_error_set(NULL, SM_EIO, "x") == SM_EIO);
    SM_CHECK("exit codes: 0 ok, 1 usage, 2 input, 3 internal",
             sm_error_exit_code(0) == 0 && sm_error_exit_code(SM_EUSAGE) == 1 && sm_error_exit_code(SM_EINVAL) == 2 &&
                 sm_error_exit_code(SM_EIO) == 2 && sm_error_exit_code(SM_EFORMAT) == 2 &&
                 sm_error_exit_code(SM_ENOMEM) == 2 && sm_error_exit_code(SM_EINTERNAL) == 3);
    size_t out = 0;
    SM_CHECK("size_mul: 1000 x 1000 x 4", sm_size_mul(&out, 1000, 1000, 4, "x", &err) == 0 && out == 4000000);
    rc = sm_size_mul(&out, SIZE_MAX / 2, 3, 1, "huge.tif: frame", &err);
    SM_CHECK("size_mul: overflow is SM_ENOMEM naming the thing", rc == SM_ENOMEM && strstr(err.msg, "huge.tif: frame"));
    rc = sm_size_mul(&out, (size_t)1 << 20, (size_t)1 << 20, 16, "big", &err);
    SM_CHECK("size_mul: 16 TiB is over the default limit", rc == SM_ENOMEM && strstr(err.msg, "SAMEM_MAX_ALLOC"));
    setenv("SAMEM_MAX_ALLOC", "1000", 1);
    SM_CHECK("SAMEM_MAX_ALLOC lowers the limit", sm_max_alloc() == 1000 && sm_size_mul(&out, 10, 10, 11, "x", &err) < 0);
    unsetenv("SAMEM_MAX_ALLOC");
}

static void test_files(void) {
    char dir[2048], path[2300], tmp[2300];
    sm_test_tmp_path(dir, sizeof dir, "atomic");
    sm_error err = {0};
    SM_CHECK("mkdir_p creates nested folders", sm_mkdir_p(dir, &err) == 0);
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    SM_CHECK("mkdir_p: a/b/c", sm_mkdir_p(path, &err) == 0 && sm_mkdir_p(path, &err) == 0);
    snprintf(path, sizeof path, "%s/out.csv", dir);
    FILE *fp = fopen(path, "w");
    fputs("old\n", fp);
    fclose(fp);
    sm_atomic_file f;
    int rc = sm_atomic_open(&f, path, &err);
    SM_CHECK("atomic_open", rc == 0);
    fputs("new contents\n", f.fp);
    fflush(f.fp);
    char *text = NULL;
    sm_read_text_file(path, 1000, &text, NULL, &err);
    SM_CHECK("before commit the old file is intact", text && strcmp(text, "old\n") == 0);
    free(text);
    SM_CHECK("the temporary file lies in the same folder, hidden",
             strncmp(f.tmp_path, dir, strlen(dir)) == 0 && strstr(f.tmp_path, "/.out.csv.tmp."));
    rc = sm_atomic_commit(&f, &err);
    text = NULL;
    sm_read_text_file(path, 1000, &text, NULL, &err);
    SM_CHECK("after commit the new file is in place", rc == 0 && text && strcmp(text, "new contents\n") == 0);
    free(text);
    SM_CHECK("no temporary file is left", no_tmp_files(dir));
    rc = sm_atomic_open(&f, path, &err);
    fputs("half-written", f.fp);
    sm_atomic_abort(&f);
    text = NULL;
    sm_read_text_file(path, 1000, &text, NULL, &err);
    SM_CHECK("abort keeps the old file and removes the temporary", text && strcmp(text, "new contents\n") == 0 &&
                                                                      no_tmp_files(dir));
    free(text);
    snprintf(path, sizeof path, "%s/missing/x.csv", dir);
    rc = sm_atomic_open(&f, path, &err);
    SM_CHECK("atomic_open into a missing folder: SM_EIO naming the path", rc == SM_EIO && strstr(err.msg, path));
    SM_CHECK("atomic_temp_path", sm_atomic_temp_path(tmp, sizeof tmp, "d/x.tif", &err) == 0 && strncmp(tmp, "d/.x.tif.tmp.", 13) == 0);
    char small[8];
    SM_CHECK("path_join joins with one slash", sm_path_join(path, sizeof path, "a/", "b", &err) == 0 && strcmp(path, "a/b") == 0 &&
                                                   sm_path_join(path, sizeof path, "a", "b", &err) == 0 && strcmp(path, "a/b") == 0);
    SM_CHECK("path_join refuses what does not fit", sm_path_join(small, sizeof small, "abcdef", "ghij", &err) == SM_EINVAL);

    snprintf(path, sizeof path, "%s/big.txt", dir);
    fp = fopen(path, "w");
    for (int i = 0; i < 5000; i++) fputc('x', fp);
    fclose(fp);
    size_t len = 0;
    text = NULL;
    SM_CHECK("read_text_file reads 5000 bytes", sm_read_text_file(path, 10000, &text, &len, &err) == 0 && len == 5000 &&
                                                    strlen(text) == 5000);
    free(text);
    SM_CHECK("read_text_file refuses more than max_bytes", sm_read_text_file(path, 100, &text, &len, &err) == SM_EFORMAT);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "frames", 20);
    cJSON_AddStringToObject(root, "name", "run");
    snprintf(path, sizeof path, "%s/x.json", dir);
    rc = sm_json_write_file(path, root, &err);
    cJSON_Delete(root);
    text = NULL;
    sm_read_text_file(path, 10000, &text, NULL, &err);
    cJSON *back = text ? cJSON_Parse(text) : NULL;
    SM_CHECK("JSON written atomically and parsed back", rc == 0 && back &&
                                                             cJSON_GetObjectItem(back, "frames")->valuedouble == 20 &&
                                                             no_tmp_files(dir));
    cJSON_Delete(back);
    free(text);

    char buf[64] = {0};
    FILE *mem = fmemopen(buf, sizeof buf, "w");
    sm_csv_write_double(mem, 0.1);
    fputc(',', mem);
    sm_csv_write_double(mem, NAN);
    fputc(',', mem);
    sm_csv_write_double(mem, 1e-300);
    fclose(mem);
    SM_CHECK("csv doubles: %.9g, NaN empty", strcmp(buf, "0.100000001,,1e-300") == 0 || strcmp(buf, "0.1,,1e-300") == 0);
}

static int cmp_natural(const void *a, const void *b) {
    return sm_natural_compare(*(const char *const *)a, *(const char *const *)b);
}

static void test_natural(void) {
    const char *names[] = {"frame_10.png", "frame_2.png", "frame_1.png", "frame_002b.png", "frame_100.png",
                           "a.png", "frame_02.png", "Frame_3.png"};
    const char *want[] = {"Frame_3.png", "a.png", "frame_1.png", "frame_2.png", "frame_02.png", "frame_002b.png",
                          "frame_10.png", "frame_100.png"};
    qsort(names, 8, sizeof names[0], cmp_natural);
    int ok = 1;
    for (int i = 0; i < 8; i++) ok &= strcmp(names[i], want[i]) == 0 || (i == 3 || i == 4);
    SM_CHECK("natural order: frame_2 < frame_10 < frame_100, digits compare as numbers", ok);
    SM_CHECK("natural compare basics", sm_natural_compare("x9", "x10") < 0 && sm_natural_compare("x10", "x9") > 0 &&
                                           sm_natural_compare("abc", "abc") == 0 && sm_natural_compare("ab", "abc") < 0 &&
                                           sm_natural_compare("img1b", "img1a") > 0);
}

static void test_rng(void) {
    sm_rng r;
    sm_rng_seed(&r, 42);
    enum { N = 400000 };
    double s = 0, s2 = 0;
    for (int i = 0; i < N; i++) {
        double u = sm_rng_uniform(&r);
        s += u;
        s2 += u * u;
    }
    double m = s / N, var = s2 / N - m * m;
    /* standard errors: mean sqrt(1/12/N) = 4.6e-4, variance ~ 1.5e-4 */
    SM_CHECKF("uniform: mean 1/2, variance 1/12 (5 sigma)", fabs(m - 0.5) < 2.3e-3 && fabs(var - 1.0 / 12) < 7e-4,
              "m=%g v=%g", m, var);
    s = s2 = 0;
    double s3 = 0, s4 = 0;
    for (int i = 0; i < N; i++) {
        double z = sm_rng_normal(&r);
        s += z;
        s2 += z * z;
        s3 += z * z * z;
        s4 += z * z * z * z;
    }
    m = s / N;
    var = s2 / N - m * m;
    SM_CHECKF("normal: mean 0, variance 1, skew 0, kurtosis 3 (5 sigma)",
              fabs(m) < 5 * sqrt(1.0 / N) && fabs(var - 1) < 5 * sqrt(2.0 / N) && fabs(s3 / N) < 5 * sqrt(15.0 / N) &&
                  fabs(s4 / N - 3) < 5 * sqrt(96.0 / N),
              "m=%g v=%g s3=%g s4=%g", m, var, s3 / N, s4 / N);
    static const double means[] = {0.3, 3, 9.5, 10.5, 50, 1e4, 1e8};
    for (size_t k = 0; k < sizeof means / sizeof means[0]; k++) {
        double lam = means[k];
        int n = 200000;
        s = s2 = 0;
        for (int i = 0; i < n; i++) {
            double x = (double)sm_rng_poisson(&r, lam);
            s += x;
            s2 += x * x;
        }
        m = s / n;
        var = s2 / n - m * m;
        /* se(mean) = sqrt(lam/n); se(var) ~ lam*sqrt(2/n) (+ small excess kurtosis term) */
        double se_m = sqrt(lam / n), se_v = sqrt((2 * lam * lam + lam) / n);
        char label[128];
        snprintf(label, sizeof label, "poisson(%g): mean and variance both %g (5 sigma)", lam, lam);
        SM_CHECKF(label, fabs(m - lam) < 5 * se_m && fabs(var - lam) < 5 * se_v, "m=%.6g v=%.6g", m, var);
    }
    SM_CHECK("poisson(0) and poisson(-1) are 0", sm_rng_poisson(&r, 0) == 0 && sm_rng_poisson(&r, -1) == 0);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) counts[sm_rng_below(&r, 7)]++;
    double chi2 = 0;
    for (int i = 0; i < 7; i++) chi2 += (counts[i] - 10000.0) * (counts[i] - 10000.0) / 10000.0;
    SM_CHECKF("below(7): uniform (chi2 with 6 dof < 22.5, p=0.001)", chi2 < 22.5, "chi2=%g", chi2);
    sm_rng a, b, c;
    sm_rng_seed_stream(&a, 5, 1);
    sm_rng_seed_stream(&b, 5, 1);
    sm_rng_seed_stream(&c, 5, 2);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = sm_rng_u64(&a), y = sm_rng_u64(&b), z = sm_rng_u64(&c);
        same &= x == y;
        differ += x != z;
    }
    SM_CHECK("seed_stream: same (seed, stream) same numbers; another stream differs", same && differ == 100);
    /* correlation between two streams */
    sm_rng_seed_stream(&a, 9, 0);
    sm_rng_seed_stream(&b, 9, 1);
    double sxy = 0;
    for (int i = 0; i < N; i++) sxy += (sm_rng_uniform(&a) - 0.5) * (sm_rng_uniform(&b) - 0.5);
    double corr = sxy / N * 12;
    SM_CHECKF("streams 0 and 1 uncorrelated (|r| < 5/sqrt(N))", fabs(corr) < 5 / sqrt((double)N), "r=%g", corr);
}

static void test_tracks_csv(void) {
    char path[2048];
    sm_error err = {0};
    sm_tracks *t = sm_tracks_create();
    for (int k = 0; k < 50; k++) {
        sm_tracks_row r = sm_tracks_row_empty();
        r.frame = k % 10;
        r.particle = 3 - k / 20;
        r.x = k * 1.25 + 0.1;
        r.y = -k / 3.0;
        r.area = 100 + k;
        r.angle = k % 2 ? NAN : 0.5;
        r.major = 12.5;
        r.minor = 6.25;
        r.eccentricity = 0.8;
        r.intensity = 1e5 / (k + 1);
        r.border = k % 3 == 0;
        sm_tracks_append(t, &r, &err);
    }
    sm_test_tmp_path(path, sizeof path, "tracks.csv");
    int rc = sm_tracks_write_csv(t, path, SM_COLS_TRACK, &err);
    sm_tracks *back = NULL;
    if (rc == 0) rc = sm_tracks_read_csv(&back, path, &err);
    SM_CHECKF("tracks CSV written and read back", rc == 0 && back && back->n == 50, "%s", err.msg);
    int bad = 0;
    for (int64_t i = 0; back && i < 50; i++) {
        sm_tracks_row a = sm_tracks_get(t, i), b = sm_tracks_get(back, i);
        bad += a.frame != b.frame || a.particle != b.particle || fabs(a.x - b.x) > 1e-8 * fabs(a.x) ||
               fabs(a.y - b.y) > 1e-8 * fabs(a.y) + 1e-12 || a.area != b.area || a.border != b.border ||
               (isnan(a.angle) != isnan(b.angle)) || fabs(a.intensity - b.intensity) > 1e-8 * a.intensity ||
               !isnan(b.score) || b.visible != -1;
    }
    SM_CHECKF("round trip: every value within 1e-8 relative (9 significant digits), NaN kept, absent columns NaN/-1", bad == 0, "%d", bad);
    char *text = NULL;
    sm_read_text_file(path, 1 << 20, &text, NULL, &err);
    SM_CHECK("header has trackpy's names", text && strncmp(text, "frame,particle,x,y,area,angle,major,minor,eccentricity,"
                                                            "intensity,border\n", 70) == 0);
    free(text);
    rc = sm_tracks_sort(t, &err);
    int sorted = rc == 0;
    for (int64_t i = 1; i < t->n; i++)
        sorted &= t->particle[i - 1] < t->particle[i] ||
                  (t->particle[i - 1] == t->particle[i] && t->frame[i - 1] <= t->frame[i]);
    SM_CHECK("sort by (particle, frame)", sorted);
    sm_tracks_destroy(t);
    sm_tracks_destroy(back);
    sm_tracks_destroy(NULL);

    /* trackpy's own layout: index column, columns in another order, extra columns, CRLF */
    FILE *fp = fopen(path, "w");
    fputs(",y,x,mass,size,ecc,signal,raw_mass,ep,frame,particle\r\n"
          "0,10.5,20.25,100,1.2,0.1,5,200,0.01,0,7\r\n"
          "1,11.5,21.25,100,1.2,0.1,5,200,0.01,1,7\r\n", fp);
    fclose(fp);
    rc = sm_tracks_read_csv(&back, path, &err);
    SM_CHECKF("trackpy CSV (extra columns, any order, CRLF) reads", rc == 0 && back->n == 2 && back->x[1] == 21.25 &&
                                                                       back->y[0] == 10.5 && back->particle[1] == 7 &&
                                                                       back->frame[1] == 1,
              "%s", err.msg);
    sm_tracks_destroy(back);

    static const struct { const char *text, *want; } bad_csv[] = {
        {"frame,particle,x,y\n0,1,2.5,abc\n", "line 2"},
        {"frame,particle,x,y\n0,1,2.5,3\n0,1,2.5\n", "line 3"},
        {"frame,particle,x\n0,1,2\n", "'y'"},
        {"frame,particle,x,y\n0.5,1,2,3\n", "integer"},
        {"", "empty"},
        {"frame,particle,x,y\n0,1,2,3,4\n", "fields"},
    };
    for (size_t k = 0; k < sizeof bad_csv / sizeof bad_csv[0]; k++) {
        fp = fopen(path, "w");
        fputs(bad_csv[k].text, fp);
        fclose(fp);
        back = NULL;
        rc = sm_tracks_read_csv(&back, path, &err);
        char label[128];
        snprintf(label, sizeof label, "bad CSV %zu: SM_EFORMAT naming the file and '%s'", k, bad_csv[k].want);
        SM_CHECKF(label, rc == SM_EFORMAT && !back && strstr(err.msg, path) && strstr(err.msg, bad_csv[k].want), "%s",
                  err.msg);
    }
    rc = sm_tracks_read_csv(&back, "/nonexistent/t.csv", &err);
    SM_CHECK("missing CSV: SM_EIO", rc == SM_EIO);
}

int main(void) {
    test_errors();
    test_files();
    test_natural();
    test_rng();
    test_tracks_csv();
    (void)exists;
    return sm_test_report();
}
