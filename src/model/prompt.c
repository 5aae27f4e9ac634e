/* Prompt parsing: the command line's `--box ID:X0,Y0,X1,Y1` and `--point ID:X,Y[:neg]`, and prompt files in
 * JSON. Why here: sessions, the CLI and the web page share one syntax and one set of checks.
 * Left out: polygon and mask prompts (SAM's mask input); a mask prompt would be a label TIFF. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samem/model.h"

/* Parses "ID:" at the start of text into *id (1..65535); returns the rest or NULL. */
static const char *parse_id(const char *text, int *id) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != ':' || v < 1 || v > 65535) return NULL;
    *id = (int)v;
    return end + 1;
}

/* Parses n comma-separated finite numbers; returns the rest or NULL. */
static const char *parse_numbers(const char *s, double *v, int n) {
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(s, &end);
        if (errno || end == s || !isfinite(v[i])) return NULL;
        s = end;
        if (i + 1 < n) {
            if (*s != ',') return NULL;
            s++;
        }
    }
    return s;
}

int sm_prompt_parse_box(const char *text, int64_t frame, sm_prompt *out, sm_error *err) {
    memset(out, 0, sizeof *out);
    double v[4];
    const char *s = text ? parse_id(text, &out->object_id) : NULL;
    if (s) s = parse_numbers(s, v, 4);
    if (!s || *s)
        return sm_error_set(err, SM_EUSAGE, "bad box '%s': want ID:X0,Y0,X1,Y1 (ID 1..65535, px)", text ? text : "");
    if (v[0] == v[2] || v[1] == v[3]) return sm_error_set(err, SM_EUSAGE, "bad box '%s': it has no area", text);
    out->kind = SM_PROMPT_BOX;
    out->frame = frame;
    out->x0 = fmin(v[0], v[2]);
    out->x1 = fmax(v[0], v[2]);
    out->y0 = fmin(v[1], v[3]);
    out->y1 = fmax(v[1], v[3]);
    return 0;
}

int sm_prompt_parse_point(const char *text, int64_t frame, sm_prompt *out, sm_error *err) {
    memset(out, 0, sizeof *out);
    double v[2];
    const char *s = text ? parse_id(text, &out->object_id) : NULL;
    if (s) s = parse_numbers(s, v, 2);
    int neg = 0;
    if (s && *s) {
        if (strcmp(s, ":neg") == 0 || strcmp(s, ":negative") == 0) neg = 1;
        else if (strcmp(s, ":pos") == 0 || strcmp(s, ":positive") == 0) neg = 0;
        else s = NULL;
    }
    if (!s) return sm_error_set(err, SM_EUSAGE, "bad point '%s': want ID:X,Y or ID:X,Y:neg (ID 1..65535, px)", text ? text : "");
    out->kind = SM_PROMPT_POINT;
    out->frame = frame;
    out->x = v[0];
    out->y = v[1];
    out->negative = neg;
    return 0;
}

static int json_numbers(const cJSON *arr, double *v, int n) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) return 0;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) return 0;
        v[i] = e->valuedouble;
    }
    return 1;
}

static int parse_json_prompt(const cJSON *o, sm_prompt *p, const char *path, int index, sm_error *err) {
    memset(p, 0, sizeof *p);
    if (!cJSON_IsObject(o)) return sm_error_set(err, SM_EFORMAT, "%s: prompt %d is not an object", path, index);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!id) id = cJSON_GetObjectItemCaseSensitive(o, "obj_id");
    if (!cJSON_IsNumber(id) || id->valuedouble != floor(id->valuedouble) || id->valuedouble < 1 || id->valuedouble > 65535)
        return sm_error_set(err, SM_EFORMAT, "%s: prompt %d: \"id\" must be an integer 1..65535", path, index);
    p->object_id = (int)id->valuedouble;
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(o, "frame");
    if (fr) {
        if (!cJSON_IsNumber(fr) || fr->valuedouble < 0 || fr->valuedouble != floor(fr->valuedouble) || fr->valuedouble > 1e15)
            return sm_error_set(err, SM_EFORMAT, "%s: prompt %d: \"frame\" must be an integer >= 0", path, index);
        p->frame = (int64_t)fr->valuedouble;
    }
    const cJSON *box = cJSON_GetObjectItemCaseSensitive(o, "box");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(o, "point");
    if (box && pt) return sm_error_set(err, SM_EFORMAT, "%s: prompt %d has both \"box\" and \"point\"", path, index);
    double v[4];
    if (box) {
        if (!json_numbers(box, v, 4) || v[0] == v[2] || v[1] == v[3])
            return sm_error_set(err, SM_EFORMAT, "%s: prompt %d: \"box\" must be [x0, y0, x1, y1] with an area", path, index);
        p->kind = SM_PROMPT_BOX;
        p->x0 = fmin(v[0], v[2]);
        p->x1 = fmax(v[0], v[2]);
        p->y0 = fmin(v[1], v[3]);
        p->y1 = fmax(v[1], v[3]);
        return 0;
    }
    if (pt) {
        if (!json_numbers(pt, v, 2)) return sm_error_set(err, SM_EFORMAT, "%s: prompt %d: \"point\" must be [x, y]", path, index);
        p->kind = SM_PROMPT_POINT;
        p->x = v[0];
        p->y = v[1];
        const cJSON *neg = cJSON_GetObjectItemCaseSensitive(o, "negative");
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(o, "label");
        if (neg && !cJSON_IsBool(neg)) return sm_error_set(err, SM_EFORMAT, "%s: prompt %d: \"negative\" must be true or false", path, index);
        if (lab && !cJSON_IsNumber(lab)) return sm_error_set(err, SM_EFORMAT, "%s: prompt %d: \"label\" must be 0 or 1", path, index);
        p->negative = (neg && cJSON_IsTrue(neg)) || (lab && lab->valuedouble == 0);
        return 0;
    }
    return sm_error_set(err, SM_EFORMAT, "%s: prompt %d has neither \"box\" nor \"point\"", path, index);
}

int sm_prompts_read_json(const char *path, sm_prompt **out, int *n, sm_error *err) {
    *out = NULL;
    *n = 0;
    char *text;
    size_t len;
    int rc = sm_read_text_file(path, 16u << 20, &text, &len, err);
    if (rc < 0) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return sm_error_set(err, SM_EFORMAT, "%s: not valid JSON", path);
    const cJSON *list = root;
    if (cJSON_IsObject(root)) list = cJSON_GetObjectItemCaseSensitive(root, "prompts");
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(root);
        return sm_error_set(err, SM_EFORMAT, "%s: want a list of prompts or {\"prompts\": [...]}", path);
    }
    int count = cJSON_GetArraySize(list);
    sm_prompt *p = calloc(count > 0 ? (size_t)count : 1, sizeof *p);
    if (!p) {
        cJSON_Delete(root);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < count; i++) {
        rc = parse_json_prompt(cJSON_GetArrayItem(list, i), &p[i], path, i, err);
        if (rc < 0) {
            free(p);
            cJSON_Delete(root);
            return rc;
        }
    }
    cJSON_Delete(root);
    *out = p;
    *n = count;
    return 0;
}
