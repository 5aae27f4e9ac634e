/* The track table (struct of arrays) and its CSV form with trackpy's column names. The reader is strict about
 * numbers (a bad field is an error naming the line) and lenient about columns (unknown ones are ignored,
 * missing optional ones read as NaN), so that tables written by trackpy or by hand load too. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/tracks.h"

sm_tracks *sm_tracks_create(void) { return calloc(1, sizeof(sm_tracks)); }

void sm_tracks_destroy(sm_tracks *t) {
    if (!t) return;
    free(t->frame); free(t->particle); free(t->x); free(t->y); free(t->area); free(t->angle);
    free(t->major); free(t->minor); free(t->eccentricity); free(t->intensity); free(t->border);
    free(t->score); free(t->x_err); free(t->y_err); free(t->visible);
    free(t);
}

void sm_tracks_clear(sm_tracks *t) { t->n = 0; }

sm_tracks_row sm_tracks_row_empty(void) {
    sm_tracks_row r;
    r.frame = 0; r.particle = 0;
    r.x = r.y = r.area = r.angle = r.major = r.minor = r.eccentricity = r.intensity = NAN;
    r.score = r.x_err = r.y_err = NAN;
    r.border = -1; r.visible = -1;
    return r;
}

#define GROW(field) do { void *p_ = realloc(t->field, (size_t)cap * sizeof *t->field); if (!p_) goto oom; t->field = p_; } while (0)

static int grow(sm_tracks *t, int64_t need, sm_error *err) {
    if (need <= t->cap) return 0;
    int64_t cap = t->cap ? t->cap : 256;
    while (cap < need) cap *= 2;
    GROW(frame); GROW(particle); GROW(x); GROW(y); GROW(area); GROW(angle); GROW(major); GROW(minor);
    GROW(eccentricity); GROW(intensity); GROW(border); GROW(score); GROW(x_err); GROW(y_err); GROW(visible);
    t->cap = cap;
    return 0;
oom:
    return sm_error_set(err, SM_ENOMEM, "track table: out of memory at %lld rows", (long long)need);
}

int sm_tracks_append(sm_tracks *t, const sm_tracks_row *r, sm_error *err) {
    int rc = grow(t, t->n + 1, err);
    if (rc < 0) return rc;
    int64_t i = t->n++;
    t->frame[i] = r->frame; t->particle[i] = r->particle; t->x[i] = r->x; t->y[i] = r->y;
    t->area[i] = r->area; t->angle[i] = r->angle; t->major[i] = r->major; t->minor[i] = r->minor;
    t->eccentricity[i] = r->eccentricity; t->intensity[i] = r->intensity; t->border[i] = r->border;
    t->score[i] = r->score; t->x_err[i] = r->x_err; t->y_err[i] = r->y_err; t->visible[i] = r->visible;
    return 0;
}

sm_tracks_row sm_tracks_get(const sm_tracks *t, int64_t i) {
    sm_tracks_row r;
    r.frame = t->frame[i]; r.particle = t->particle[i]; r.x = t->x[i]; r.y = t->y[i];
    r.area = t->area[i]; r.angle = t->angle[i]; r.major = t->major[i]; r.minor = t->minor[i];
    r.eccentricity = t->eccentricity[i]; r.intensity = t->intensity[i]; r.border = t->border[i];
    r.score = t->score[i]; r.x_err = t->x_err[i]; r.y_err = t->y_err[i]; r.visible = t->visible[i];
    return r;
}

typedef struct { int64_t particle, frame, index; } sort_key;

static int compare_keys(const void *a, const void *b) {
    const sort_key *ka = a, *kb = b;
    if (ka->particle != kb->particle) return ka->particle < kb->particle ? -1 : 1;
    if (ka->frame != kb->frame) return ka->frame < kb->frame ? -1 : 1;
    return ka->index < kb->index ? -1 : (ka->index > kb->index);
}

int sm_tracks_sort(sm_tracks *t, sm_error *err) {
    if (t->n < 2) return 0;
    sort_key *keys = malloc((size_t)t->n * sizeof *keys);
    sm_tracks *copy = sm_tracks_create();
    if (!keys || !copy) {
        free(keys);
        sm_tracks_destroy(copy);
        return sm_error_set(err, SM_ENOMEM, "track table: out of memory sorting");
    }
    for (int64_t i = 0; i < t->n; i++) keys[i] = (sort_key){t->particle[i], t->frame[i], i};
    qsort(keys, (size_t)t->n, sizeof *keys, compare_keys);
    int rc = 0;
    for (int64_t i = 0; i < t->n && rc == 0; i++) {
        sm_tracks_row r = sm_tracks_get(t, keys[i].index);
        rc = sm_tracks_append(copy, &r, err);
    }
    if (rc == 0) {
        sm_tracks tmp = *t;
        *t = *copy;
        *copy = tmp;
    }
    sm_tracks_destroy(copy);
    free(keys);
    return rc;
}

/* ---------------------------------------------------------------- CSV */

int sm_tracks_write_csv(const sm_tracks *t, const char *path, unsigned columns, sm_error *err) {
    sm_atomic_file f;
    int rc = sm_atomic_open(&f, path, err);
    if (rc < 0) return rc;
    FILE *fp = f.fp;
    fputs("frame,particle,x,y", fp);
    if (columns & SM_COL_AREA) fputs(",area", fp);
    if (columns & SM_COL_ANGLE) fputs(",angle", fp);
    if (columns & SM_COL_MAJOR) fputs(",major", fp);
    if (columns & SM_COL_MINOR) fputs(",minor", fp);
    if (columns & SM_COL_ECCENTRICITY) fputs(",eccentricity", fp);
    if (columns & SM_COL_INTENSITY) fputs(",intensity", fp);
    if (columns & SM_COL_BORDER) fputs(",border", fp);
    if (columns & SM_COL_SCORE) fputs(",score", fp);
    if (columns & SM_COL_ERR) fputs(",x_err,y_err", fp);
    if (columns & SM_COL_VISIBLE) fputs(",visible", fp);
    fputc('\n', fp);
    for (int64_t i = 0; i < t->n; i++) {
        fprintf(fp, "%lld,%lld,", (long long)t->frame[i], (long long)t->particle[i]);
        sm_csv_write_double(fp, t->x[i]);
        fputc(',', fp);
        sm_csv_write_double(fp, t->y[i]);
#define COL(flag, v) if (columns & (flag)) { fputc(',', fp); sm_csv_write_double(fp, v); }
        COL(SM_COL_AREA, t->area[i]);
        COL(SM_COL_ANGLE, t->angle[i]);
        COL(SM_COL_MAJOR, t->major[i]);
        COL(SM_COL_MINOR, t->minor[i]);
        COL(SM_COL_ECCENTRICITY, t->eccentricity[i]);
        COL(SM_COL_INTENSITY, t->intensity[i]);
        if (columns & SM_COL_BORDER) {
            if (t->border[i] >= 0) fprintf(fp, ",%d", t->border[i]);
            else fputc(',', fp);
        }
        COL(SM_COL_SCORE, t->score[i]);
        COL(SM_COL_ERR, t->x_err[i]);
        COL(SM_COL_ERR, t->y_err[i]);
#undef COL
        if (columns & SM_COL_VISIBLE) {
            if (t->visible[i] >= 0) fprintf(fp, ",%d", t->visible[i]);
            else fputc(',', fp);
        }
        fputc('\n', fp);
    }
    rc = sm_atomic_commit(&f, err);
    return rc;
}

enum { C_FRAME, C_PARTICLE, C_X, C_Y, C_AREA, C_ANGLE, C_MAJOR, C_MINOR, C_ECC, C_INTENSITY, C_BORDER,
       C_SCORE, C_XERR, C_YERR, C_VISIBLE, C_COUNT };
static const char *const column_names[C_COUNT] = {"frame", "particle", "x", "y", "area", "angle", "major",
    "minor", "eccentricity", "intensity", "border", "score", "x_err", "y_err", "visible"};

/* Splits line in place at commas; strips quotes and spaces and a trailing CR. */
static int split_fields(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (n < max) fields[n] = p;
        n++;
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) e--;
        *e = 0;
        if (n <= max && fields[n - 1][0] == '"' && e > fields[n - 1] + 1 && e[-1] == '"') {
            e[-1] = 0;
            fields[n - 1]++;
        }
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

int sm_tracks_read_csv(sm_tracks **out, const char *path, sm_error *err) {
    *out = NULL;
    char *text;
    int rc = sm_read_text_file(path, (size_t)4 << 30, &text, NULL, err);
    if (rc < 0) return rc;
    sm_tracks *t = sm_tracks_create();
    if (!t) {
        free(text);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    enum { MAX_FIELDS = 256 };
    char *fields[MAX_FIELDS];
    int map[MAX_FIELDS];
    int n_header = -1;
    long line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s || *s == '#') continue;
        int nf = split_fields(line, fields, MAX_FIELDS);
        if (nf > MAX_FIELDS) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: line %ld: more than %d columns", path, line_no, MAX_FIELDS);
            goto fail;
        }
        if (n_header < 0) {
            int have[C_COUNT] = {0};
            for (int i = 0; i < nf; i++) {
                map[i] = -1;
                const char *name = fields[i];
                if (strcmp(name, "id") == 0 || strcmp(name, "track_id") == 0) name = "particle";
                for (int c = 0; c < C_COUNT; c++)
                    if (strcmp(name, column_names[c]) == 0 && !have[c]) {
                        map[i] = c;
                        have[c] = 1;
                    }
            }
            for (int c = C_FRAME; c <= C_Y; c++)
                if (!have[c]) {
                    rc = sm_error_set(err, SM_EFORMAT, "%s: header has no '%s' column", path, column_names[c]);
                    goto fail;
                }
            n_header = nf;
            continue;
        }
        if (nf != n_header) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: line %ld has %d fields, the header %d", path, line_no, nf, n_header);
            goto fail;
        }
        sm_tracks_row r = sm_tracks_row_empty();
        double v[C_COUNT];
        for (int c = 0; c < C_COUNT; c++) v[c] = NAN;
        for (int i = 0; i < nf; i++) {
            if (map[i] < 0 || !fields[i][0]) continue;
            char *end;
            errno = 0;
            double d = strtod(fields[i], &end);
            if (end == fields[i] || *end) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: line %ld: '%s' is not a number (column %s)", path, line_no,
                                  fields[i], column_names[map[i]]);
                goto fail;
            }
            v[map[i]] = d;
        }
        for (int c = C_FRAME; c <= C_PARTICLE; c++)
            if (!(v[c] == v[c]) || v[c] != floor(v[c]) || fabs(v[c]) > 9e15) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: line %ld: %s must be an integer", path, line_no, column_names[c]);
                goto fail;
            }
        r.frame = (int64_t)v[C_FRAME];
        r.particle = (int64_t)v[C_PARTICLE];
        r.x = v[C_X]; r.y = v[C_Y]; r.area = v[C_AREA]; r.angle = v[C_ANGLE]; r.major = v[C_MAJOR];
        r.minor = v[C_MINOR]; r.eccentricity = v[C_ECC]; r.intensity = v[C_INTENSITY]; r.score = v[C_SCORE];
        r.x_err = v[C_XERR]; r.y_err = v[C_YERR];
        r.border = v[C_BORDER] == v[C_BORDER] ? (v[C_BORDER] != 0) : -1;
        r.visible = v[C_VISIBLE] == v[C_VISIBLE] ? (v[C_VISIBLE] != 0) : -1;
        rc = sm_tracks_append(t, &r, err);
        if (rc < 0) goto fail;
    }
    if (n_header < 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: empty, no header line", path);
        goto fail;
    }
    free(text);
    *out = t;
    return 0;
fail:
    free(text);
    sm_tracks_destroy(t);
    return rc;
}
