/* samem common: errors, atomic file writes, progress reporting, CSV and JSON output, seeded random numbers.
 *
 * Usage:
 *     sm_error err = {0};
 *     sm_atomic_file f;
 *     if (sm_atomic_open(&f, "out/tracks.csv", &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 2; }
 *     fprintf(f.fp, "frame,particle,x,y\n");
 *     if (sm_atomic_commit(&f, &err) < 0) ...;   // renames out/.tracks.csv.tmp.XXXX onto out/tracks.csv
 *
 * Errors: every fallible function returns 0 (or a count) on success and a negative SM_E* code on failure,
 * after filling the caller's sm_error with one readable line that names the file and the problem.
 * The library never prints and never exits. sm_error may be NULL when the caller does not want the text.
 * Random numbers: sm_rng is explicit state (xoshiro256**), seeded by splitmix64; no globals.
 */
#ifndef SAMEM_COMMON_H
#define SAMEM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

enum {
    SM_OK = 0,
    SM_EINVAL = -1,       /* bad argument or bad input data (CLI exit 2) */
    SM_EIO = -2,          /* file missing, unreadable, unwritable (CLI exit 2) */
    SM_EFORMAT = -3,      /* corrupt, truncated or unsupported file content (CLI exit 2) */
    SM_ENOMEM = -4,       /* allocation failed or a size exceeds the memory limit (CLI exit 2) */
    SM_EUSAGE = -5,       /* bad command-line usage (CLI exit 1) */
    SM_EINTERNAL = -6,    /* a bug or an unexpected library failure (CLI exit 3) */
    SM_ECANCELLED = -7,   /* a callback asked to stop */
};

typedef struct sm_error {
    int code;       /* the SM_E* code of the last failure, 0 if none */
    char msg[512];  /* one line, no trailing newline: "run.tif: frame 12 truncated" */
} sm_error;

/* Fills err (if not NULL) with code and a printf-formatted message; returns code, so that
 * `return sm_error_set(err, SM_EFORMAT, "%s: bad magic", path);` reads naturally. */
int sm_error_set(sm_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes an existing message: "context: old message". Returns err->code (or SM_EINTERNAL if err is NULL). */
int sm_error_prefix(sm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The CLI exit code for an SM_E* code: 0, 1 (usage), 2 (bad input), 3 (internal). */
int sm_error_exit_code(int code);

/* ---------------------------------------------------------------- memory */

/* Largest single buffer samem allocates for data that a file's header sizes (bytes). Hostile headers that
 * ask for more are refused with SM_ENOMEM before anything is allocated. Default 8 GiB; the environment
 * variable SAMEM_MAX_ALLOC (bytes) overrides it. */
size_t sm_max_alloc(void);

/* a*b*c with overflow and sm_max_alloc checks; returns 0 and sets *out, or SM_ENOMEM with a message that
 * names `what` (for example "video.tif: frame of 100000x100000 px"). Pass c = 1 for two factors. */
int sm_size_mul(size_t *out, size_t a, size_t b, size_t c, const char *what, sm_error *err);

/* ---------------------------------------------------------------- atomic files */

/* A file written under a temporary name in the destination's folder and renamed into place on commit, so
 * that a crash or a full disk never leaves a half-written result. */
typedef struct sm_atomic_file {
    FILE *fp;            /* write here (stdio) */
    char path[4096];     /* final path */
    char tmp_path[4096]; /* temporary path beside it */
} sm_atomic_file;

int sm_atomic_open(sm_atomic_file *f, const char *path, sm_error *err);
/* Flushes, fsyncs, closes and renames; on any failure removes the temporary file. */
int sm_atomic_commit(sm_atomic_file *f, sm_error *err);
/* Closes and removes the temporary file; safe to call after a failed commit or on a zeroed struct. */
void sm_atomic_abort(sm_atomic_file *f);

/* A temporary path beside `path` for writers that need a file name rather than a FILE* (libtiff, libhdf5).
 * Rename with sm_atomic_rename. */
int sm_atomic_temp_path(char *tmp, size_t tmp_size, const char *path, sm_error *err);
int sm_atomic_rename(const char *tmp, const char *path, sm_error *err);

/* Creates a directory and its parents (mkdir -p). */
int sm_mkdir_p(const char *path, sm_error *err);

/* Joins dir and name into out ("dir/name"); SM_EINVAL if it does not fit. */
int sm_path_join(char *out, size_t out_size, const char *dir, const char *name, sm_error *err);

/* Natural order of names: "frame_2" < "frame_10" (digit runs compare as numbers). strcmp-like result. */
int sm_natural_compare(const char *a, const char *b);

/* ---------------------------------------------------------------- CSV and JSON */

/* Writes a double compactly and round-trippably ("%.9g"); NaN is written as an empty field. */
void sm_csv_write_double(FILE *fp, double v);

/* Reads a whole small text file (at most max_bytes) into a NUL-terminated buffer the caller frees. */
int sm_read_text_file(const char *path, size_t max_bytes, char **out, size_t *out_len, sm_error *err);

/* Serialises a cJSON tree (struct cJSON *, declared opaque here to keep cJSON out of this header) to path,
 * atomically, pretty-printed. */
int sm_json_write_file(const char *path, const void *cjson_root, sm_error *err);

/* ---------------------------------------------------------------- progress */

/* A progress bar on stderr when it is a terminal and not quiet: "segment  120/500 frames  41.2 fps  ETA 9s". */
typedef struct sm_progress {
    const char *label;
    int64_t total, done;
    double t_start, t_last_draw;
    int enabled;
} sm_progress;

void sm_progress_start(sm_progress *p, const char *label, int64_t total, int quiet);
void sm_progress_update(sm_progress *p, int64_t done);
void sm_progress_finish(sm_progress *p);

/* Monotonic time in seconds. */
double sm_now(void);

/* Peak resident set size of this process in bytes (0 if unknown). */
size_t sm_peak_rss_bytes(void);

/* ---------------------------------------------------------------- random numbers */

typedef struct sm_rng {
    uint64_t s[4];
    int has_spare;   /* Box-Muller keeps its second value */
    double spare;
} sm_rng;

void sm_rng_seed(sm_rng *r, uint64_t seed);
/* An independent stream derived from (seed, stream): the same pair always gives the same stream. */
void sm_rng_seed_stream(sm_rng *r, uint64_t seed, uint64_t stream);
uint64_t sm_rng_u64(sm_rng *r);
double sm_rng_uniform(sm_rng *r);               /* [0, 1) */
double sm_rng_normal(sm_rng *r);                /* mean 0, std 1 */
uint64_t sm_rng_poisson(sm_rng *r, double mean); /* exact for small means, normal approximation above 1e7 */
uint64_t sm_rng_below(sm_rng *r, uint64_t n);   /* uniform integer in [0, n) */

/* ---------------------------------------------------------------- threads */

/* Sets the number of threads OpenMP regions use (n <= 0: all cores). */
void sm_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
