/* The test harness, in the style of redis's testhelp.h: each check prints its name and ok/FAIL, and the
 * program ends with "N passed, N failed" and a non-zero exit status if anything failed.
 *
 *     int main(void) {
 *         SM_CHECK("2-D MSD slope is 4D within 3%", fabs(slope / (4 * D) - 1) < 0.03);
 *         SM_CHECKF("centroid error below 0.1 px", err < 0.1, "err=%.3f", err);
 *         return sm_test_report();
 *     }
 *
 * SAMEM_TMP names a scratch folder (set by ctest); sm_test_tmp_path builds paths inside it. */
#ifndef SM_TEST_H
#define SM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sm_test_passed, sm_test_failed;

#define SM_CHECK(name, cond) SM_CHECKF(name, cond, "%s", "")

#define SM_CHECKF(name, cond, ...)                                                      \
    do {                                                                                \
        if (cond) {                                                                     \
            sm_test_passed++;                                                           \
            printf("ok   %s\n", name);                                                  \
        } else {                                                                        \
            sm_test_failed++;                                                           \
            printf("FAIL %s (%s:%d) ", name, __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                                        \
            printf("\n");                                                               \
        }                                                                               \
        fflush(stdout);                                                                 \
    } while (0)

static inline int sm_test_report(void) {
    printf("%d passed, %d failed\n", sm_test_passed, sm_test_failed);
    return sm_test_failed ? 1 : 0;
}

/* A path in a per-process scratch folder: $SAMEM_TMP/<pid>/<name> (or /tmp/samem-test/<pid>/<name>). */
static inline const char *sm_test_tmp_path(char *buf, size_t size, const char *name) {
    const char *root = getenv("SAMEM_TMP");
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", root && *root ? root : "/tmp/samem-test");
    mkdir(dir, 0777);
    size_t len = strlen(dir);
    snprintf(dir + len, sizeof dir - len, "/%ld", (long)getpid());
    mkdir(dir, 0777);
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

/* Runs a shell command and returns its exit status (-1 if it could not run or was killed). */
static inline int sm_test_system(const char *cmd) {
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

#endif
