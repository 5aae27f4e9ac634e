/* HDF5-based EMD files, through libhdf5: Berkeley EMD (Ophus et al., "EMD: electron microscopy dataset",
 * https://emdatasets.com/format/) and Thermo Fisher Velox EMD (the layout Velox writes, as described by
 * the openNCEM and RosettaSciIO readers' documentation).
 *
 * Berkeley: any group with the attribute emd_group_type = 1 holds a dataset "data" and one vector
 * "dim<k>" per axis k (1-based, slowest axis first) with attributes "name" and "units". 2-D data is one
 * frame (y, x); 3-D data is a stack whose frame axis is the first, unless the last axis's units or name say
 * time. Pixel size = step of the x dim vector (nm, um, A, m; EMD's "[n_m]" spelling is understood); frame
 * interval = step of the frame dim vector when its unit is a time.
 * Velox: Data/Image/<id>/Data of shape (H, W, frames) and Data/Image/<id>/Metadata, uint8 of shape
 * (length, frames) where column i is frame i's JSON; from frame 0's JSON we take BinaryResult.PixelSize.width
 * (in BinaryResult.PixelUnitX, usually m) and Scan.FrameTime (s).
 * When a file holds several images the largest is chosen. Any integer or float sample type is read, and
 * converted to float32 here (libhdf5 converts the types we do not map). Reading frame i reads one hyperslab,
 * never the whole dataset; when chunks span several frames the chunk cache is raised to 64 MiB so that they
 * are not re-read for every frame.
 * Left out: spectra and spectrum images, 4-D data, the per-frame times of Velox image series, DM5.
 * HDF5's automatic error printing is switched off: every failure becomes one sm_error line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hdf5.h>

#include "io/format.h"
#include "io/mrc_raw.h"

#define EMD_MAX_VISIT 100000
#define EMD_MAX_META (4u << 20)   /* bytes of Velox JSON read per frame */

typedef struct emd_priv {
    hid_t file, dset, fspace, mspace;
    int frame_axis;          /* axis of the dataset that counts frames (-1: a single 2-D image) */
    int rank;
    hid_t mtype;             /* native memory type of the samples, or -1 to let libhdf5 convert to float */
    sm_raw_type raw;         /* the samples' type when mtype >= 0 */
    uint8_t *buf;            /* one frame of native samples */
    char *path;
} emd_priv;

typedef struct emd_best {
    char name[1024];         /* HDF5 path of the chosen dataset */
    unsigned long long px;   /* its number of samples */
    int visits;
} emd_best;

static const uint8_t hdf5_magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static int emd_probe(const uint8_t *head, size_t n, const char *path, int is_dir) {
    (void)path;
    if (is_dir) return 0;
    /* The superblock sits at 0, 512, 1024, 2048, ...; the probe sees the first 4 KiB. */
    for (size_t off = 0; off + 8 <= n; off = off ? off * 2 : 512)
        if (memcmp(head + off, hdf5_magic, 8) == 0) return 90;
    return 0;
}

/* Samples of a dataset of rank 2 or 3 with positive dims, or 0 if it is not an image we read. */
static unsigned long long emd_image_px(hid_t file, const char *name) {
    unsigned long long px = 0;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return 0;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    H5T_class_t cls = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if ((rank == 2 || rank == 3) && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
        hsize_t dims[3];
        H5Sget_simple_extent_dims(s, dims, NULL);
        px = 1;
        for (int k = 0; k < rank; k++) px = dims[k] && px <= ~0ull / dims[k] ? px * dims[k] : 0;
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return px;
}

static void emd_consider(hid_t file, const char *name, emd_best *b) {
    unsigned long long px = emd_image_px(file, name);
    if (px > b->px && strlen(name) < sizeof b->name) {
        b->px = px;
        snprintf(b->name, sizeof b->name, "%s", name);
    }
}

static herr_t velox_image_cb(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    emd_best *b = data;
    if (++b->visits > EMD_MAX_VISIT) return 1;
    char full[1024];
    snprintf(full, sizeof full, "/Data/Image/%s/Data", name);
    emd_consider(group, full, b);
    return 0;
}

/* Reads an integer attribute of an object; returns 1 when present and readable. */
static int emd_attr_int(hid_t obj, const char *attr, long long *out) {
    if (H5Aexists(obj, attr) <= 0) return 0;
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t s = H5Aget_space(a), t = H5Aget_type(a);
    int ok = 0;
    if (s >= 0 && t >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(s) == 1)
        ok = H5Aread(a, H5T_NATIVE_LLONG, out) >= 0;
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Aclose(a);
    return ok;
}

/* Reads a string attribute (fixed or variable length) into out; returns 1 on success. */
static int emd_attr_str(hid_t obj, const char *attr, char *out, size_t size) {
    out[0] = 0;
    if (H5Aexists(obj, attr) <= 0) return 0;
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    int ok = 0;
    if (t >= 0 && s >= 0 && H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(s) == 1) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                snprintf(out, size, "%s", v);
                ok = 1;
            }
            if (v) H5free_memory(v);
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            if (n > 0 && n < 4096) {
                char buf[4096];
                hid_t mt = H5Tcopy(H5T_C_S1);
                H5Tset_size(mt, n + 1);
                if (H5Aread(a, mt, buf) >= 0) {
                    buf[n] = 0;
                    snprintf(out, size, "%s", buf);
                    ok = 1;
                }
                H5Tclose(mt);
            }
        }
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    H5Aclose(a);
    return ok;
}

static herr_t berkeley_cb(hid_t obj, const char *name, const H5O_info_t *info, void *data) {
    emd_best *b = data;
    if (++b->visits > EMD_MAX_VISIT) return 1;
    if (info->type != H5O_TYPE_GROUP) return 0;
    hid_t g = H5Gopen2(obj, name, H5P_DEFAULT);
    if (g < 0) return 0;
    long long kind = 0;
    if (emd_attr_int(g, "emd_group_type", &kind) && kind == 1) {
        char full[1024];
        snprintf(full, sizeof full, "%s%s/data", name[0] == '.' ? "" : "/", name[0] == '.' ? "" : name);
        emd_consider(obj, full, b);
    }
    H5Gclose(g);
    return 0;
}

/* "[n_m]", "nm", "um", "A", "m" -> factor to nm; 0 if not a length. Time units -> factor to s via *time. */
static double emd_unit(const char *u, double *time) {
    char c[32];
    size_t n = 0;
    for (; *u && n + 1 < sizeof c; u++)
        if (*u != '[' && *u != ']' && *u != '_' && *u != ' ') c[n++] = *u;
    c[n] = 0;
    *time = 0;
    if (!strcmp(c, "s")) *time = 1;
    else if (!strcmp(c, "ms")) *time = 1e-3;
    else if (!strcmp(c, "us")) *time = 1e-6;
    else if (!strcmp(c, "ns")) *time = 1e-9;
    if (!strcmp(c, "nm")) return 1;
    if (!strcmp(c, "um") || !strcmp(c, "\xc2\xb5m")) return 1e3;
    if (!strcmp(c, "A") || !strcmp(c, "\xc3\x85")) return 0.1;
    if (!strcmp(c, "pm")) return 1e-3;
    if (!strcmp(c, "m")) return 1e9;
    return 0;
}

/* Step of a Berkeley dim vector (dim[1] - dim[0]) and its units/name; returns 1 if it has two values. */
static int emd_dim_step(hid_t file, const char *group, int k, double *step, char *units, char *name) {
    char path[1100];
    snprintf(path, sizeof path, "%s/dim%d", group, k);
    units[0] = name[0] = 0;
    if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return 0;
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0) return 0;
    emd_attr_str(d, "units", units, 32);
    emd_attr_str(d, "name", name, 32);
    hid_t s = H5Dget_space(d);
    int ok = 0;
    if (s >= 0 && H5Sget_simple_extent_ndims(s) == 1 && H5Sget_simple_extent_npoints(s) >= 2) {
        hsize_t start = 0, count = 2;
        double v[2];
        hid_t ms = H5Screate_simple(1, &count, NULL);
        if (H5Sselect_hyperslab(s, H5S_SELECT_SET, &start, NULL, &count, NULL) >= 0 &&
            H5Dread(d, H5T_NATIVE_DOUBLE, ms, s, H5P_DEFAULT, v) >= 0) {
            *step = v[1] - v[0];
            ok = 1;
        }
        H5Sclose(ms);
    }
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return ok;
}

static double json_number(const cJSON *o) {
    if (cJSON_IsNumber(o)) return o->valuedouble;
    if (cJSON_IsString(o) && o->valuestring) return strtod(o->valuestring, NULL);
    return 0;
}

/* Velox: pixel size and frame time from frame 0's JSON in <image>/Metadata. */
static void velox_metadata(hid_t file, const char *data_path, sm_video_info *info) {
    char path[1100];
    snprintf(path, sizeof path, "%s", data_path);
    char *slash = strrchr(path, '/');
    if (!slash) return;
    snprintf(slash, sizeof path - (size_t)(slash - path), "/Metadata");
    if (H5Lexists(file, path, H5P_DEFAULT) <= 0) return;
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0) return;
    hid_t s = H5Dget_space(d);
    hsize_t dims[2];
    if (s >= 0 && H5Sget_simple_extent_ndims(s) == 2 && H5Sget_simple_extent_dims(s, dims, NULL) == 2 &&
        dims[0] > 0 && dims[1] > 0) {
        hsize_t start[2] = {0, 0}, count[2] = {dims[0] < EMD_MAX_META ? dims[0] : EMD_MAX_META, 1};
        char *buf = calloc(count[0] + 1, 1);
        hid_t ms = H5Screate_simple(2, count, NULL);
        if (buf && H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
            H5Dread(d, H5T_NATIVE_UCHAR, ms, s, H5P_DEFAULT, buf) >= 0) {
            cJSON *root = cJSON_Parse(buf);
            const cJSON *br = cJSON_GetObjectItemCaseSensitive(root, "BinaryResult");
            const cJSON *ps = cJSON_GetObjectItemCaseSensitive(br, "PixelSize");
            double w = json_number(cJSON_GetObjectItemCaseSensitive(ps, "width")), t;
            const cJSON *unit = cJSON_GetObjectItemCaseSensitive(br, "PixelUnitX");
            double f = cJSON_IsString(unit) ? emd_unit(unit->valuestring, &t) : 1e9;   /* Velox default: m */
            if (isfinite(w) && w > 0 && f > 0) info->pixel_size_nm = w * f;
            const cJSON *scan = cJSON_GetObjectItemCaseSensitive(root, "Scan");
            double ft = json_number(cJSON_GetObjectItemCaseSensitive(scan, "FrameTime"));
            if (isfinite(ft) && ft > 0 && info->frames > 1) info->frame_interval_s = ft;
            cJSON_Delete(root);
        }
        H5Sclose(ms);
        free(buf);
    }
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
}

static void emd_close(void *pv) {
    emd_priv *e = pv;
    if (!e) return;
    if (e->mspace >= 0) H5Sclose(e->mspace);
    if (e->fspace >= 0) H5Sclose(e->fspace);
    if (e->dset >= 0) H5Dclose(e->dset);
    if (e->mtype >= 0) H5Tclose(e->mtype);
    free(e->buf);
    if (e->file >= 0) H5Fclose(e->file);
    free(e->path);
    free(e);
}

static int emd_open(const char *path, sm_video_info *info, void **out, sm_error *err) {
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    emd_priv *e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    e->file = e->dset = e->fspace = e->mspace = e->mtype = -1;
    int rc;
    e->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (e->file < 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: not a readable HDF5 file (truncated or corrupt)", path);
        goto fail;
    }
    emd_best best = {{0}, 0, 0};
    int velox = H5Lexists(e->file, "/Data", H5P_DEFAULT) > 0 && H5Lexists(e->file, "/Data/Image", H5P_DEFAULT) > 0;
    if (velox) {
        hid_t g = H5Gopen2(e->file, "/Data/Image", H5P_DEFAULT);
        if (g >= 0) {
            H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, velox_image_cb, &best);
            H5Gclose(g);
        }
    } else {
#if H5_VERSION_GE(1, 12, 0)
        H5Ovisit3(e->file, H5_INDEX_NAME, H5_ITER_INC, (H5O_iterate2_t)berkeley_cb, &best, H5O_INFO_BASIC);
#else
        H5Ovisit2(e->file, H5_INDEX_NAME, H5_ITER_INC, berkeley_cb, &best, H5O_INFO_BASIC);
#endif
    }
    if (!best.px) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: HDF5 file holds no %s image of integer or float samples", path,
                          velox ? "Velox Data/Image" : "EMD (emd_group_type = 1)");
        goto fail;
    }
    e->dset = H5Dopen2(e->file, best.name, H5P_DEFAULT);
    if (e->dset < 0 || (e->fspace = H5Dget_space(e->dset)) < 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: cannot open dataset %s", path, best.name);
        goto fail;
    }
    hsize_t dims[3] = {1, 1, 1};
    e->rank = H5Sget_simple_extent_ndims(e->fspace);
    H5Sget_simple_extent_dims(e->fspace, dims, NULL);
    int ya = 0, xa = 1;
    e->frame_axis = -1;
    char units[32], name[32];
    double step = 0, tfac = 0;
    if (velox) {
        if (e->rank == 3) e->frame_axis = 2;
    } else if (e->rank == 3) {
        char group[1024];
        snprintf(group, sizeof group, "%s", best.name);
        *strrchr(group, '/') = 0;
        e->frame_axis = 0;
        if (emd_dim_step(e->file, group, 3, &step, units, name)) {
            emd_unit(units, &tfac);
            if (tfac > 0 || strstr(name, "time") || strstr(name, "frame")) e->frame_axis = 2;
        }
    }
    if (e->frame_axis == 0) ya = 1, xa = 2;
    if (e->frame_axis >= 0) {
        /* Chunks that span several frames would be read again for every frame: give them a 64 MiB cache.
         * Chunks of one frame or less are read straight into our buffer (libhdf5 bypasses a small cache). */
        hid_t dcpl = H5Dget_create_plist(e->dset);
        hsize_t chunk[3] = {1, 1, 1};
        int spans = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 3, chunk) == 3 &&
                    chunk[e->frame_axis] > 1;
        if (dcpl >= 0) H5Pclose(dcpl);
        if (spans) {
            hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
            H5Pset_chunk_cache(dapl, 12421, 64u << 20, 1.0);
            hid_t d2 = H5Dopen2(e->file, best.name, dapl);
            H5Pclose(dapl);
            if (d2 >= 0) {
                H5Dclose(e->dset);
                e->dset = d2;
            }
        }
    }
    if (dims[ya] > 1000000 || dims[xa] > 1000000) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: dataset %s has absurd dimensions", path, best.name);
        goto fail;
    }
    info->height = (int)dims[ya];
    info->width = (int)dims[xa];
    info->frames = e->frame_axis >= 0 ? (int64_t)dims[e->frame_axis] : 1;
    hid_t t = H5Dget_type(e->dset);
    size_t tsize = H5Tget_size(t);
    H5T_class_t tclass = H5Tget_class(t);
    info->bit_depth = (int)tsize * 8;
    info->is_float = tclass == H5T_FLOAT;
    /* Reading the stored type natively and converting here is several times faster than libhdf5's
     * conversion to float; types we do not map (float16, odd sizes) are left to libhdf5. */
    int sign = tclass == H5T_INTEGER ? H5Tget_sign(t) == H5T_SGN_2 : 0;
    info->is_signed = sign;
    int mapped = 1;
    if (tclass == H5T_INTEGER && tsize == 1) e->raw = sign ? SM_RAW_I8 : SM_RAW_U8;
    else if (tclass == H5T_INTEGER && tsize == 2) e->raw = sign ? SM_RAW_I16 : SM_RAW_U16;
    else if (tclass == H5T_INTEGER && tsize == 4) e->raw = sign ? SM_RAW_I32 : SM_RAW_U32;
    else if (tclass == H5T_INTEGER && tsize == 8) e->raw = sign ? SM_RAW_I64 : SM_RAW_U64;
    else if (tclass == H5T_FLOAT && tsize == 4) e->raw = SM_RAW_F32;
    else if (tclass == H5T_FLOAT && tsize == 8) e->raw = SM_RAW_F64;
    else mapped = 0;
    if (mapped) e->mtype = H5Tget_native_type(t, H5T_DIR_ASCEND);
    H5Tclose(t);
    if (e->mtype >= 0 && H5Tget_size(e->mtype) != tsize) {
        H5Tclose(e->mtype);
        e->mtype = -1;
    }
    snprintf(info->format, sizeof info->format, velox ? "emd-velox" : "emd-berkeley");
    size_t plane;
    if ((rc = sm_size_mul(&plane, (size_t)info->width, (size_t)info->height, sizeof(float), path, err)) < 0) goto fail;
    if (e->mtype >= 0 && !(e->buf = malloc((size_t)info->width * (size_t)info->height * tsize))) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for a frame", path);
        goto fail;
    }
    hsize_t mdims[3] = {dims[0], dims[1], dims[2]};
    if (e->frame_axis >= 0) mdims[e->frame_axis] = 1;
    e->mspace = H5Screate_simple(e->rank, mdims, NULL);
    if (velox) {
        velox_metadata(e->file, best.name, info);
    } else {
        char group[1024];
        snprintf(group, sizeof group, "%s", best.name);
        *strrchr(group, '/') = 0;
        if (emd_dim_step(e->file, group, xa + 1, &step, units, name)) {
            double f = emd_unit(units, &tfac);
            if (f > 0 && isfinite(step) && step > 0) info->pixel_size_nm = step * f;
        }
        if (e->frame_axis >= 0 && emd_dim_step(e->file, group, e->frame_axis + 1, &step, units, name)) {
            emd_unit(units, &tfac);
            if (tfac > 0 && isfinite(step) && step > 0) info->frame_interval_s = step * tfac;
        }
    }
    *out = e;
    return 0;
fail:
    emd_close(e);
    return rc;
}

static int emd_read_frame(void *pv, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    (void)info;
    emd_priv *e = pv;
    hsize_t start[3] = {0, 0, 0}, count[3];
    H5Sget_simple_extent_dims(e->fspace, count, NULL);
    if (e->frame_axis >= 0) {
        start[e->frame_axis] = (hsize_t)i;
        count[e->frame_axis] = 1;
    }
    if (H5Sselect_hyperslab(e->fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(e->dset, e->mtype >= 0 ? e->mtype : H5T_NATIVE_FLOAT, e->mspace, e->fspace, H5P_DEFAULT,
                e->mtype >= 0 ? (void *)e->buf : (void *)out) < 0)
        return sm_error_set(err, SM_EFORMAT, "%s: cannot read frame %lld (truncated or corrupt HDF5 data)", e->path,
                            (long long)i);
    if (e->mtype >= 0)
        sm_raw_to_float(out, e->buf, (size_t)info->width * (size_t)info->height, e->raw, sm_host_is_little());
    return 0;
}

const sm_io_format sm_io_format_emd = {
    .name = "emd",
    .probe = emd_probe,
    .open = emd_open,
    .read_frame = emd_read_frame,
    .close = emd_close,
};
