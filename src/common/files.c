/* Files: atomic writes (temporary file in the same folder, then rename), mkdir -p, path joins, natural name
 * order, small text files and JSON output. A rename within one folder is atomic on POSIX file systems, so a
 * reader sees the old file or the whole new one, never a half-written one. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "samem/common.h"

int sm_atomic_temp_path(char *tmp, size_t tmp_size, const char *path, sm_error *err) {
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    if (!*base) return sm_error_set(err, SM_EINVAL, "%s: not a file name", path);
    int n = snprintf(tmp, tmp_size, "%.*s.%s.tmp.%ld", (int)dir_len, path, base, (long)getpid());
    if (n < 0 || (size_t)n >= tmp_size) return sm_error_set(err, SM_EINVAL, "%s: path too long", path);
    return 0;
}

int sm_atomic_rename(const char *tmp, const char *path, sm_error *err) {
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sm_error_set(err, SM_EIO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return 0;
}

int sm_atomic_open(sm_atomic_file *f, const char *path, sm_error *err) {
    memset(f, 0, sizeof *f);
    if (strlen(path) >= sizeof f->path) return sm_error_set(err, SM_EINVAL, "%s: path too long", path);
    strcpy(f->path, path);
    int rc = sm_atomic_temp_path(f->tmp_path, sizeof f->tmp_path, path, err);
    if (rc < 0) return rc;
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) return sm_error_set(err, SM_EIO, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

int sm_atomic_commit(sm_atomic_file *f, sm_error *err) {
    if (!f->fp) return sm_error_set(err, SM_EINTERNAL, "%s: not open", f->path);
    int failed = ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
    int e = errno;
    if (fclose(f->fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    f->fp = NULL;
    if (failed) {
        unlink(f->tmp_path);
        return sm_error_set(err, SM_EIO, "%s: write failed: %s", f->path, strerror(e));
    }
    return sm_atomic_rename(f->tmp_path, f->path, err);
}

void sm_atomic_abort(sm_atomic_file *f) {
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp_path[0]) unlink(f->tmp_path);
}

int sm_mkdir_p(const char *path, sm_error *err) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return sm_error_set(err, SM_EINVAL, "%s: path too long", path);
    strcpy(buf, path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return sm_error_set(err, SM_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return sm_error_set(err, SM_EIO, "%s: exists and is not a folder", path);
    return 0;
}

int sm_path_join(char *out, size_t out_size, const char *dir, const char *name, sm_error *err) {
    size_t dl = strlen(dir);
    int n = snprintf(out, out_size, "%s%s%s", dir, (dl && dir[dl - 1] != '/') ? "/" : "", name);
    if (n < 0 || (size_t)n >= out_size) return sm_error_set(err, SM_EINVAL, "%s/%s: path too long", dir, name);
    return 0;
}

int sm_natural_compare(const char *a, const char *b) {
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0') a++;
            while (*b == '0') b++;
            const char *ea = a, *eb = b;
            while (isdigit((unsigned char)*ea)) ea++;
            while (isdigit((unsigned char)*eb)) eb++;
            if (ea - a != eb - b) return (ea - a) < (eb - b) ? -1 : 1;
            for (; a < ea; a++, b++)
                if (*a != *b) return *a < *b ? -1 : 1;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    return *a ? 1 : (*b ? -1 : 0);
}

void sm_csv_write_double(FILE *fp, double v) {
    if (v == v) fprintf(fp, "%.9g", v);
}

int sm_read_text_file(const char *path, size_t max_bytes, char **out, size_t *out_len, sm_error *err) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return sm_error_set(err, SM_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max_bytes) {
                free(buf);
                fclose(fp);
                return sm_error_set(err, SM_EFORMAT, "%s: larger than %zu bytes", path, max_bytes);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(fp);
                return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, fp);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return sm_error_set(err, SM_EIO, "%s: read error", path);
    }
    if (len > max_bytes) {
        free(buf);
        return sm_error_set(err, SM_EFORMAT, "%s: larger than %zu bytes", path, max_bytes);
    }
    buf[len] = 0;
    *out = buf;
    if (out_len) *out_len = len;
    return 0;
}

int sm_json_write_file(const char *path, const void *cjson_root, sm_error *err) {
    char *text = cJSON_Print((const cJSON *)cjson_root);
    if (!text) return sm_error_set(err, SM_ENOMEM, "%s: cannot serialise JSON", path);
    sm_atomic_file f;
    int rc = sm_atomic_open(&f, path, err);
    if (rc == 0) {
        fputs(text, f.fp);
        fputc('\n', f.fp);
        rc = sm_atomic_commit(&f, err);
    }
    cJSON_free(text);
    return rc;
}
