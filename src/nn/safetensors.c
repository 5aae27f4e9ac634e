/* Safetensors weight files: reading (checked, whole file in memory), writing the net's parameters, and loading
 * a net from a file by parameter name.
 *
 * Format (https://github.com/huggingface/safetensors, "Format" section): an unsigned 64-bit little-endian
 * header size n, n bytes of UTF-8 JSON (an object: tensor name -> {"dtype", "shape", "data_offsets":[begin,
 * end]} relative to the byte after the header, plus an optional "__metadata__" object of string values), then
 * the data. The writer pads the header with spaces to a multiple of 8 bytes, as the reference implementation.
 * The reader checks everything a hostile file could get wrong before it trusts it: header size within the file
 * and below 100 MB, JSON that parses, known dtypes, shapes of at most 8 non-negative integer dims whose byte
 * size (overflow-checked) equals end - begin, offsets inside the data, no overlap, no duplicate names, string
 * metadata. Left out: memory mapping, big-endian hosts, writing dtypes other than F32. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_impl.h"

#define ST_MAX_HEADER (100u << 20)
#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    char dtype[8];
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t begin, end;
} st_tensor;

struct sm_nn_st {
    uint8_t *buf;   /* whole file */
    size_t len;
    const uint8_t *data;   /* after the header */
    size_t data_len;
    st_tensor *t;
    int n;
    char **meta_k, **meta_v;
    int n_meta;
};

static int dtype_size(const char *d) {
    static const struct {
        const char *name;
        int size;
    } table[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
                 {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1},
                 {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, d) == 0) return table[i].size;
    return 0;
}

void sm_nn_st_destroy(sm_nn_st *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->t[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_k[i]);
        free(st->meta_v[i]);
    }
    free(st->t);
    free(st->meta_k);
    free(st->meta_v);
    free(st->buf);
    free(st);
}

/* a JSON number that is a non-negative integer below 2^53 */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || v != (double)(uint64_t)v) return 0;
    *out = (uint64_t)v;
    return 1;
}

static int cmp_begin(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int parse_owned(sm_nn_st *st, const char *what, sm_error *err) {
    if (st->len < 8) return sm_error_set(err, SM_EFORMAT, "%s: %zu bytes, too short for a safetensors file", what, st->len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | st->buf[i];
    if (hl < 2 || hl > ST_MAX_HEADER || hl > st->len - 8)
        return sm_error_set(err, SM_EFORMAT, "%s: header size %llu does not fit the %zu-byte file (truncated?)",
                            what, (unsigned long long)hl, st->len);
    st->data = st->buf + 8 + hl;
    st->data_len = st->len - 8 - (size_t)hl;
    cJSON *root = cJSON_ParseWithLength((const char *)st->buf + 8, (size_t)hl);
    if (!root) return sm_error_set(err, SM_EFORMAT, "%s: header is not valid JSON", what);
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: header is not a JSON object", what);
        goto done;
    }
    int count = cJSON_GetArraySize(root);
    st->t = calloc((size_t)count + 1, sizeof *st->t);
    st->meta_k = calloc((size_t)count + 1, sizeof(char *));
    st->meta_v = calloc((size_t)count + 1, sizeof(char *));
    if (!st->t || !st->meta_k || !st->meta_v) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: no memory for the header", what);
        goto done;
    }
    int seen_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!e->string) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: header entry without a name", what);
            goto done;
        }
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++ || !cJSON_IsObject(e)) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: __metadata__ is not a single object", what);
                goto done;
            }
            int nm = cJSON_GetArraySize(e);
            free(st->meta_k);
            free(st->meta_v);
            st->meta_k = calloc((size_t)nm + 1, sizeof(char *));
            st->meta_v = calloc((size_t)nm + 1, sizeof(char *));
            if (!st->meta_k || !st->meta_v) {
                rc = sm_error_set(err, SM_ENOMEM, "%s: no memory for metadata", what);
                goto done;
            }
            for (const cJSON *m = e->child; m; m = m->next) {
                if (!m->string || !cJSON_IsString(m)) {
                    rc = sm_error_set(err, SM_EFORMAT, "%s: metadata value of \"%s\" is not a string", what,
                                      m->string ? m->string : "?");
                    goto done;
                }
                st->meta_k[st->n_meta] = strdup(m->string);
                st->meta_v[st->n_meta] = strdup(m->valuestring);
                if (!st->meta_k[st->n_meta] || !st->meta_v[st->n_meta]) {
                    st->n_meta++;
                    rc = sm_error_set(err, SM_ENOMEM, "%s: no memory for metadata", what);
                    goto done;
                }
                st->n_meta++;
            }
            continue;
        }
        const char *nm = e->string;
        if (!cJSON_IsObject(e)) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" is not an object", what, nm);
            goto done;
        }
        for (int i = 0; i < st->n; i++)
            if (strcmp(st->t[i].name, nm) == 0) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" appears twice", what, nm);
                goto done;
            }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt) || !dtype_size(dt->valuestring)) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" has a missing or unknown dtype", what, nm);
            goto done;
        }
        if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > ST_MAX_DIMS) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" has a missing shape or more than %d dims", what, nm,
                              ST_MAX_DIMS);
            goto done;
        }
        if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" needs data_offsets [begin, end]", what, nm);
            goto done;
        }
        st_tensor *t = &st->t[st->n];
        snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
        uint64_t bytes = (uint64_t)dtype_size(t->dtype);
        for (const cJSON *d = sh->child; d; d = d->next) {
            uint64_t v;
            if (!json_uint(d, &v) || v > (1ULL << 40)) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" has a bad dimension", what, nm);
                goto done;
            }
            t->shape[t->ndim++] = (int64_t)v;
            if (v && bytes > UINT64_MAX / v) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" is too large", what, nm);
                goto done;
            }
            bytes *= v;
        }
        uint64_t b, en;
        if (!json_uint(of->child, &b) || !json_uint(of->child->next, &en) || b > en || en > st->data_len) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\" data_offsets outside the %zu data bytes (truncated?)",
                              what, nm, st->data_len);
            goto done;
        }
        if (en - b != bytes) {
            rc = sm_error_set(err, SM_EFORMAT, "%s: tensor \"%s\": %llu bytes for a %s shape needing %llu", what, nm,
                              (unsigned long long)(en - b), t->dtype, (unsigned long long)bytes);
            goto done;
        }
        t->begin = (size_t)b;
        t->end = (size_t)en;
        t->name = strdup(nm);
        if (!t->name) {
            rc = sm_error_set(err, SM_ENOMEM, "%s: no memory", what);
            goto done;
        }
        st->n++;
    }
    if (st->n > 1) {
        st_tensor **order = malloc(sizeof *order * (size_t)st->n);
        if (!order) {
            rc = sm_error_set(err, SM_ENOMEM, "%s: no memory", what);
            goto done;
        }
        for (int i = 0; i < st->n; i++) order[i] = &st->t[i];
        qsort(order, (size_t)st->n, sizeof *order, cmp_begin);
        for (int i = 1; i < st->n; i++)
            if (order[i]->begin < order[i - 1]->end) {
                rc = sm_error_set(err, SM_EFORMAT, "%s: tensors \"%s\" and \"%s\" overlap", what, order[i - 1]->name,
                                  order[i]->name);
                break;
            }
        free(order);
    }
done:
    cJSON_Delete(root);
    return rc;
}

int sm_nn_st_parse(const void *data, size_t len, const char *what, sm_nn_st **out, sm_error *err) {
    *out = NULL;
    if (!what) what = "safetensors";
    sm_nn_st *st = calloc(1, sizeof *st);
    if (!st) return sm_error_set(err, SM_ENOMEM, "%s: no memory", what);
    st->buf = malloc(len ? len : 1);
    if (!st->buf) {
        free(st);
        return sm_error_set(err, SM_ENOMEM, "%s: no memory for %zu bytes", what, len);
    }
    if (len) memcpy(st->buf, data, len);
    st->len = len;
    int rc = parse_owned(st, what, err);
    if (rc < 0) {
        sm_nn_st_destroy(st);
        return rc;
    }
    *out = st;
    return 0;
}

int sm_nn_st_read(const char *path, sm_nn_st **out, sm_error *err) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return sm_error_set(err, SM_EIO, "%s: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return sm_error_set(err, SM_EIO, "%s: cannot seek", path);
    }
    long sz = ftell(fp);
    rewind(fp);
    if (sz < 0 || (uint64_t)sz > sm_max_alloc()) {
        fclose(fp);
        return sm_error_set(err, SM_ENOMEM, "%s: file size %ld not readable or too large", path, sz);
    }
    sm_nn_st *st = calloc(1, sizeof *st);
    if (st) st->buf = malloc(sz ? (size_t)sz : 1);
    if (!st || !st->buf) {
        fclose(fp);
        sm_nn_st_destroy(st);
        return sm_error_set(err, SM_ENOMEM, "%s: no memory for %ld bytes", path, sz);
    }
    st->len = fread(st->buf, 1, (size_t)sz, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || st->len != (size_t)sz) {
        sm_nn_st_destroy(st);
        return sm_error_set(err, SM_EIO, "%s: read error", path);
    }
    int rc = parse_owned(st, path, err);
    if (rc < 0) {
        sm_nn_st_destroy(st);
        return rc;
    }
    *out = st;
    return 0;
}

int sm_nn_st_count(const sm_nn_st *st) { return st->n; }

const char *sm_nn_st_tensor(const sm_nn_st *st, int i, const char **dtype, int *ndim, const int64_t **shape,
                            const void **data, size_t *nbytes) {
    if (i < 0 || i >= st->n) return NULL;
    const st_tensor *t = &st->t[i];
    if (dtype) *dtype = t->dtype;
    if (ndim) *ndim = t->ndim;
    if (shape) *shape = t->shape;
    if (data) *data = st->data + t->begin;
    if (nbytes) *nbytes = t->end - t->begin;
    return t->name;
}

int sm_nn_st_find(const sm_nn_st *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return i;
    return -1;
}

const char *sm_nn_st_meta(const sm_nn_st *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_k[i], key) == 0) return st->meta_v[i];
    return NULL;
}

int sm_nn_st_meta_count(const sm_nn_st *st) { return st->n_meta; }

const char *sm_nn_st_meta_at(const sm_nn_st *st, int i, const char **value) {
    if (i < 0 || i >= st->n_meta) return NULL;
    if (value) *value = st->meta_v[i];
    return st->meta_k[i];
}

/* ---------------------------------------------------------------- nets */

int sm_nn_load_st(sm_nn_net *net, const sm_nn_st *st, const char *what, sm_error *err) {
    if (!net->compiled) return sm_error_set(err, SM_EINVAL, "%s: load into a net that is not compiled", what);
    for (int i = 0; i < net->n_params; i++) {
        const nn_param *p = &net->ps[i];
        int j = sm_nn_st_find(st, p->name);
        if (j < 0) return sm_error_set(err, SM_EFORMAT, "%s: tensor %s missing", what, p->name);
        const st_tensor *t = &st->t[j];
        if (strcmp(t->dtype, "F32") != 0)
            return sm_error_set(err, SM_EFORMAT, "%s: tensor %s is %s, expected F32", what, p->name, t->dtype);
        int same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            char a[96] = "", b[96] = "";
            for (int d = 0; d < t->ndim; d++)
                snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? "," : "", (long long)t->shape[d]);
            for (int d = 0; d < p->ndim; d++)
                snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? "," : "", (long long)p->shape[d]);
            return sm_error_set(err, SM_EFORMAT, "%s: tensor %s has shape (%s), the net expects (%s)", what, p->name,
                                a, b);
        }
    }
    for (int i = 0; i < net->n_params; i++) {
        const nn_param *p = &net->ps[i];
        const st_tensor *t = &st->t[sm_nn_st_find(st, p->name)];
        memcpy(net->params + p->off, st->data + t->begin, sizeof(float) * p->n);   /* little-endian host */
    }
    return 0;
}

int sm_nn_load(sm_nn_net *net, const char *path, sm_error *err) {
    sm_nn_st *st;
    int rc = sm_nn_st_read(path, &st, err);
    if (rc < 0) return rc;
    rc = sm_nn_load_st(net, st, path, err);
    sm_nn_st_destroy(st);
    return rc;
}

int sm_nn_save(const sm_nn_net *net, const char *path, const char *const *meta, sm_error *err) {
    return sm_nn_save_checkpoint(net, path, meta, 0, err);
}

/* The AdamW moments ride along as "adamw.m.NAME" and "adamw.v.NAME", shaped like their parameter. */
static const char *const opt_prefix[2] = {"adamw.m.", "adamw.v."};

int sm_nn_load_optimizer_st(sm_nn_net *net, const sm_nn_st *st, const char *what, sm_error *err) {
    if (!net->compiled) return sm_error_set(err, SM_EINVAL, "%s: load into a net that is not compiled", what);
    char name[160];
    int found = 0;
    for (int i = 0; i < net->n_params; i++) {
        const nn_param *p = &net->ps[i];
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%s%s", opt_prefix[k], p->name);
            int j = sm_nn_st_find(st, name);
            if (j < 0) {
                if (found) return sm_error_set(err, SM_EFORMAT, "%s: optimizer tensor %s missing", what, name);
                continue;
            }
            const st_tensor *t = &st->t[j];
            size_t bytes = sizeof(float) * p->n;
            if (strcmp(t->dtype, "F32") != 0 || t->end - t->begin != bytes)
                return sm_error_set(err, SM_EFORMAT, "%s: optimizer tensor %s is not F32 of %zu values", what, name, p->n);
            found++;
        }
    }
    if (!found) return 0;
    if (found != 2 * net->n_params) return sm_error_set(err, SM_EFORMAT, "%s: optimizer state incomplete", what);
    if (!net->adam_m) {
        net->adam_m = net->be->alloc(sizeof(float) * (net->total ? net->total : 1));
        net->adam_v = net->be->alloc(sizeof(float) * (net->total ? net->total : 1));
        if (!net->adam_m || !net->adam_v) return sm_error_set(err, SM_ENOMEM, "%s: no memory for AdamW state", what);
    }
    for (int i = 0; i < net->n_params; i++) {
        const nn_param *p = &net->ps[i];
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%s%s", opt_prefix[k], p->name);
            const st_tensor *t = &st->t[sm_nn_st_find(st, name)];
            memcpy((k ? net->adam_v : net->adam_m) + p->off, st->data + t->begin, sizeof(float) * p->n);
        }
    }
    return 1;
}

int sm_nn_save_checkpoint(const sm_nn_net *net, const char *path, const char *const *meta, int with_optimizer,
                          sm_error *err) {
    if (!net->compiled) return sm_error_set(err, SM_EINVAL, "%s: save of a net that is not compiled", path);
    int sets = with_optimizer && net->adam_m && net->adam_v ? 3 : 1;
    cJSON *root = cJSON_CreateObject();
    if (!root) return sm_error_set(err, SM_ENOMEM, "%s: no memory", path);
    int rc = 0;
    char *text = NULL;
    if (meta && meta[0]) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && meta[i] && meta[i + 1]; i += 2) cJSON_AddStringToObject(m, meta[i], meta[i + 1]);
    }
    size_t off = 0;
    char name[160];
    for (int i = 0; i < sets * net->n_params; i++) {
        const nn_param *p = &net->ps[i % net->n_params];
        int set = i / net->n_params;
        snprintf(name, sizeof name, "%s%s", set ? opt_prefix[set - 1] : "", p->name);
        cJSON *t = cJSON_AddObjectToObject(root, name);
        if (!t) {
            rc = sm_error_set(err, SM_ENOMEM, "%s: no memory", path);
            goto done;
        }
        cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; sh && d < p->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)p->shape[d]));
        cJSON *of = cJSON_AddArrayToObject(t, "data_offsets");
        if (of) {
            cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
            cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + 4 * p->n)));
        }
        off += 4 * p->n;
    }
    text = cJSON_PrintUnformatted(root);
    if (!text) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: no memory for the header", path);
        goto done;
    }
    size_t hl = strlen(text), padded = (hl + 7) / 8 * 8;
    sm_atomic_file f;
    if ((rc = sm_atomic_open(&f, path, err)) < 0) goto done;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(len8, 1, 8, f.fp);
    fwrite(text, 1, hl, f.fp);
    for (size_t i = hl; i < padded; i++) fputc(' ', f.fp);
    for (int i = 0; i < sets * net->n_params; i++) {
        const float *base = i < net->n_params ? net->params : i < 2 * net->n_params ? net->adam_m : net->adam_v;
        const nn_param *p = &net->ps[i % net->n_params];
        fwrite(base + p->off, sizeof(float), p->n, f.fp);
    }
    rc = sm_atomic_commit(&f, err);
done:
    cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}
