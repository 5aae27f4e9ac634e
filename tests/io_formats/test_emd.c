/* EMD reader against HDF5 files written here with libhdf5 itself (an independent writer: our reader never
 * writes): Berkeley EMD stacks with the frame axis first or last, dim vectors with "[n_m]"/"[u_m]"/"[s]"
 * units as fixed and variable-length strings, the largest of several groups chosen; a Velox-layout file
 * with Data/Image/<id>/{Data,Metadata} and JSON metadata; then truncated and non-EMD HDF5 files. */
#include <hdf5.h>

#include "fmt_test.h"

enum { W = 21, H = 13, N = 6 };

static double sample(int x, int y, int z) { return (x * 9 + y * 5 + z * 17) % 101 + 3 * z; }

static void attr_int(hid_t obj, const char *name, int v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(s);
}

static void attr_str(hid_t obj, const char *name, const char *v, int variable) {
    hid_t s = H5Screate(H5S_SCALAR), t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, variable ? H5T_VARIABLE : strlen(v));
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (variable) H5Awrite(a, t, &v);
    else H5Awrite(a, t, v);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(s);
}

static void dim_vector(hid_t g, int k, int n, double step, const char *name, const char *units, int variable) {
    char dn[16];
    snprintf(dn, sizeof dn, "dim%d", k);
    hsize_t d = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(g, dn, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) v[i] = 10 + i * step;
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    free(v);
    attr_str(ds, "name", name, variable);
    attr_str(ds, "units", units, variable);
    H5Dclose(ds);
    H5Sclose(s);
}

/* Writes an array of float64 values (converted by libhdf5 to file type ftype). */
static void dataset(hid_t g, const char *name, hid_t ftype, int rank, const hsize_t *dims, const hsize_t *chunk,
                    const double *v) {
    hid_t s = H5Screate_simple(rank, dims, NULL), p = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) H5Pset_chunk(p, rank, chunk);
    hid_t ds = H5Dcreate2(g, name, ftype, s, H5P_DEFAULT, p, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Pclose(p);
    H5Sclose(s);
}

/* Berkeley EMD: frames_last puts the frame axis last (H, W, N), else first (N, H, W). */
static void write_berkeley(const char *path, int frames_last, hid_t ftype) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    attr_int(f, "version_major", 0);
    attr_int(f, "version_minor", 2);
    hid_t data = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    /* A small 2-D group first: the reader must pick the larger stack. */
    hid_t small = H5Gcreate2(data, "overview", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    attr_int(small, "emd_group_type", 1);
    hsize_t sd[2] = {4, 4};
    double sv[16] = {0};
    dataset(small, "data", H5T_STD_U8LE, 2, sd, NULL, sv);
    dim_vector(small, 1, 4, 1, "y", "[n_m]", 0);
    dim_vector(small, 2, 4, 1, "x", "[n_m]", 0);
    H5Gclose(small);
    hid_t g = H5Gcreate2(data, "stack", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    attr_int(g, "emd_group_type", 1);
    double *v = malloc(sizeof(double) * W * H * N);
    for (int z = 0; z < N; z++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                v[frames_last ? ((size_t)y * W + x) * N + z : ((size_t)z * H + y) * W + x] = sample(x, y, z);
    if (frames_last) {
        hsize_t d[3] = {H, W, N}, c[3] = {H, W, 2};
        dataset(g, "data", ftype, 3, d, c, v);
        dim_vector(g, 1, H, 0.002, "y", "[u_m]", 1);
        dim_vector(g, 2, W, 0.002, "x", "[u_m]", 1);
        dim_vector(g, 3, N, 0.05, "time", "[s]", 1);
    } else {
        hsize_t d[3] = {N, H, W}, c[3] = {1, H, W};
        dataset(g, "data", ftype, 3, d, c, v);
        dim_vector(g, 1, N, 0.04, "time", "[s]", 0);
        dim_vector(g, 2, H, 0.3, "y", "[n_m]", 0);
        dim_vector(g, 3, W, 0.3, "x", "[n_m]", 0);
    }
    free(v);
    H5Gclose(g);
    H5Gclose(data);
    H5Fclose(f);
}

static void write_velox(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d1 = H5Gcreate2(f, "Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d2 = H5Gcreate2(d1, "Image", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *ids[2] = {"0a1b2c3d4e5f", "f0e1d2c3b4a5"};
    for (int k = 0; k < 2; k++) {
        int w = k ? W : 5, h = k ? H : 5, n = k ? N : 1;
        hid_t g = H5Gcreate2(d2, ids[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        double *v = malloc(sizeof(double) * (size_t)(w * h * n));
        for (int z = 0; z < n; z++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) v[((size_t)y * w + x) * n + z] = sample(x, y, z);
        hsize_t d[3] = {(hsize_t)h, (hsize_t)w, (hsize_t)n}, c[3] = {(hsize_t)h, (hsize_t)w, 1};
        dataset(g, "Data", H5T_STD_U16LE, 3, d, c, v);
        free(v);
        /* Metadata: one JSON per frame, as a column of uint8 padded with zeros. */
        enum { L = 400 };
        uint8_t *m = calloc((size_t)L * (size_t)n, 1);
        for (int z = 0; z < n; z++) {
            char json[L];
            snprintf(json, sizeof json,
                     "{\"BinaryResult\": {\"PixelSize\": {\"width\": \"1.5e-10\", \"height\": \"1.5e-10\"}, "
                     "\"PixelUnitX\": \"m\", \"PixelUnitY\": \"m\"}, \"Scan\": {\"FrameTime\": \"0.25\", "
                     "\"DwellTime\": \"1e-06\"}, \"Core\": {\"MetadataDefinitionVersion\": \"7.9\", \"frame\": %d}}", z);
            for (size_t i = 0; json[i]; i++) m[i * (size_t)n + (size_t)z] = (uint8_t)json[i];
        }
        hsize_t md[2] = {L, (hsize_t)n};
        hid_t s = H5Screate_simple(2, md, NULL);
        hid_t ds = H5Dcreate2(g, "Metadata", H5T_STD_U8LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, m);
        H5Dclose(ds);
        H5Sclose(s);
        free(m);
        H5Gclose(g);
    }
    H5Gclose(d2);
    H5Gclose(d1);
    H5Fclose(f);
}

static void check_file(const char *label, const char *path, const char *format, int bits, int is_float, double px_nm,
                       double dt_s) {
    char name[200];
    sm_error err = {0};
    sm_video *v;
    int rc = sm_video_open(&v, path, &err);
    snprintf(name, sizeof name, "%s opens", label);
    SM_CHECKF(name, rc == 0, "%s", err.msg);
    if (rc) return;
    const sm_video_info *in = sm_video_get_info(v);
    snprintf(name, sizeof name, "%s: %s, the %dx%d stack of %d frames (not the small image), %d bits", label, format,
             W, H, N, bits);
    SM_CHECKF(name, !strcmp(in->format, format) && in->width == W && in->height == H && in->frames == N &&
              in->bit_depth == bits && in->is_float == is_float && !in->is_signed, "%s %dx%d %lld %d", in->format, in->width, in->height,
              (long long)in->frames, in->bit_depth);
    snprintf(name, sizeof name, "%s: pixel %g nm, interval %g s within 1e-6 relative", label, px_nm, dt_s);
    SM_CHECKF(name, fabs(in->pixel_size_nm / px_nm - 1) < 1e-6 && fabs(in->frame_interval_s / dt_s - 1) < 1e-6,
              "%g nm %g s", in->pixel_size_nm, in->frame_interval_s);
    float *plane = malloc(sizeof(float) * W * H);
    int bad = 0;
    const int order[N] = {3, 0, 5, 1, 4, 2};
    for (int k = 0; k < N && bad >= 0; k++) {
        if (sm_video_read_frame(v, order[k], plane, &err) < 0) { bad = -1; break; }
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) bad += plane[y * W + x] != (float)sample(x, y, order[k]);
    }
    snprintf(name, sizeof name, "%s: every sample exact, frames in random order", label);
    SM_CHECKF(name, bad == 0, "%d wrong %s", bad, err.msg);
    free(plane);
    sm_video_close(v);
}

int main(void) {
    char dir[2048], path[2200], src[2200];
    sm_test_tmp_path(dir, sizeof dir, "emd");
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/first.emd", dir);
    write_berkeley(path, 0, H5T_STD_U16LE);
    check_file("Berkeley EMD, frames first, uint16", path, "emd-berkeley", 16, 0, 0.3, 0.04);
    snprintf(path, sizeof path, "%s/last.emd", dir);
    write_berkeley(path, 1, H5T_IEEE_F32BE);
    check_file("Berkeley EMD, frames last, big-endian float32", path, "emd-berkeley", 32, 1, 2.0, 0.05);
    snprintf(src, sizeof src, "%s/velox.emd", dir);
    write_velox(src);
    check_file("Velox EMD", src, "emd-velox", 16, 0, 0.15, 0.25);
    check_convert("Velox EMD", src);
    snprintf(path, sizeof path, "%s/last.emd", dir);
    check_convert("Berkeley EMD float32", path);

    /* Bad input. */
    long size = file_size(src);
    snprintf(path, sizeof path, "%s/cut.emd", dir);
    truncated_copy(src, path, size / 2);
    check_bad_file("EMD truncated to half", path);
    snprintf(path, sizeof path, "%s/cut_head.emd", dir);
    truncated_copy(src, path, 600);
    check_bad_file("EMD truncated to 600 bytes", path);
    snprintf(path, sizeof path, "%s/plain.h5", dir);
    {
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t d[2] = {4, 4};
        double v[16] = {0};
        dataset(f, "not_emd", H5T_STD_U8LE, 2, d, NULL, v);
        hid_t g = H5Gcreate2(f, "strings", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        attr_int(g, "emd_group_type", 1);
        attr_str(g, "data", "a string, not an image", 0);
        H5Gclose(g);
        H5Fclose(f);
    }
    check_bad_file("HDF5 without an EMD image", path);
    return sm_test_report();
}
