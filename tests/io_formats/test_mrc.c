/* MRC reader against files written by an independent writer (Debian's python3-mrcfile): modes 0, 1, 2, 6
 * and 12, little- and big-endian, with an extended header to skip; pixel size from voxel_size (A -> nm);
 * and corrupted copies (truncated data, absurd dimensions, unknown mode, negative extended header). */
#include "fmt_test.h"

enum { NX = 37, NY = 23, NZ = 5 };

/* The pattern the Python script writes, per mode (exact in every type). */
static double pattern(int mode, int x, int y, int z) {
    int v = (x * 3 + y * 5 + z * 7) % 100;
    switch (mode) {
    case 0: return v - 50;
    case 1: return (v - 50) * 300;
    case 2: return v * 0.25 - 3;
    case 6: return v * 600 + z;
    default: return v * 0.5 - 20;
    }
}

static const char *script =
    "import sys, mrcfile, numpy as np\n"
    "out = sys.argv[1]\n"
    "z, y, x = np.meshgrid(np.arange(%d), np.arange(%d), np.arange(%d), indexing='ij')\n"
    "v = (x * 3 + y * 5 + z * 7) %% 100\n"
    "cases = {0: (v - 50).astype(np.int8), 1: ((v - 50) * 300).astype(np.int16),\n"
    "         2: (v * 0.25 - 3).astype(np.float32), 6: (v * 600 + z).astype(np.uint16),\n"
    "         12: (v * 0.5 - 20).astype(np.float16)}\n"
    "for mode, a in cases.items():\n"
    "    for order in ('<', '>'):\n"
    "        with mrcfile.new('%%s/m%%d%%s.mrcs' %% (out, mode, 'le' if order == '<' else 'be'), overwrite=True) as m:\n"
    "            m.set_data(a.astype(a.dtype.newbyteorder(order)))\n"
    "            m.voxel_size = 1.5\n"
    "            m.set_extended_header(np.arange(256, dtype=np.uint8))\n";

int main(void) {
    char dir[2048], py[2100], cmd[4400];
    sm_test_tmp_path(dir, sizeof dir, "mrc");
    mkdir(dir, 0777);
    snprintf(py, sizeof py, "%s/write.py", dir);
    FILE *fp = fopen(py, "w");
    fprintf(fp, script, NZ, NY, NX);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", py, dir);
    int st = sm_test_system(cmd);
    SM_CHECKF("python3-mrcfile wrote the fixtures", st == 0, "exit %d", st);
    if (st != 0) return sm_test_report();

    const int modes[] = {0, 1, 2, 6, 12};
    const int bits[] = {8, 16, 32, 16, 16};
    float *plane = malloc(sizeof(float) * NX * NY);
    for (int m = 0; m < 5; m++)
        for (int be = 0; be < 2; be++) {
            char path[2200], name[128];
            snprintf(path, sizeof path, "%s/m%d%s.mrcs", dir, modes[m], be ? "be" : "le");
            sm_error err = {0};
            sm_video *v;
            int rc = sm_video_open(&v, path, &err);
            snprintf(name, sizeof name, "mode %d %s opens", modes[m], be ? "big-endian" : "little-endian");
            SM_CHECKF(name, rc == 0, "%s", err.msg);
            if (rc) continue;
            const sm_video_info *in = sm_video_get_info(v);
            snprintf(name, sizeof name, "mode %d %s: format, size, frames, bit depth, signedness", modes[m], be ? "be" : "le");
            SM_CHECKF(name, !strcmp(in->format, "mrc") && in->width == NX && in->height == NY && in->frames == NZ &&
                      in->bit_depth == bits[m] && in->is_float == (modes[m] == 2 || modes[m] == 12) &&
                      in->is_signed == (modes[m] == 0 || modes[m] == 1),
                      "%s %dx%dx%lld bits %d", in->format, in->width, in->height, (long long)in->frames, in->bit_depth);
            snprintf(name, sizeof name, "mode %d %s: pixel size 0.15 nm (1.5 A) within 1e-6", modes[m], be ? "be" : "le");
            SM_CHECKF(name, fabs(in->pixel_size_nm - 0.15) < 1e-6 && in->frame_interval_s == 0, "%g", in->pixel_size_nm);
            /* Frames in reverse order: random access. */
            int bad = 0;
            for (int z = NZ - 1; z >= 0; z--) {
                if (sm_video_read_frame(v, z, plane, &err) < 0) { bad = -1; break; }
                for (int y = 0; y < NY; y++)
                    for (int x = 0; x < NX; x++) bad += plane[y * NX + x] != (float)pattern(modes[m], x, y, z);
            }
            snprintf(name, sizeof name, "mode %d %s: every sample equals mrcfile's (exact)", modes[m], be ? "be" : "le");
            SM_CHECKF(name, bad == 0, "%d wrong, %s", bad, err.msg);
            sm_video_close(v);
        }
    free(plane);

    /* Corrupted copies of the mode-1 file. */
    char src[2200], path[2200];
    snprintf(src, sizeof src, "%s/m1le.mrcs", dir);
    check_convert("mrc mode 1", src);
    snprintf(path, sizeof path, "%s/m12be.mrcs", dir);
    check_convert("mrc mode 12 big-endian", path);
    long size = file_size(src);
    snprintf(path, sizeof path, "%s/cut.mrc", dir);
    truncated_copy(src, path, size - 100);
    check_bad_file("mrc truncated data", path);
    snprintf(path, sizeof path, "%s/cut_header.mrc", dir);
    truncated_copy(src, path, 1100);
    check_bad_file("mrc cut after the header", path);

    FILE *in = fopen(src, "rb");
    bytes b = {0};
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, in)) > 0) b_put(&b, tmp, n);
    fclose(in);
    struct { const char *label, *name; size_t off; uint32_t value; } cases[] = {
        {"mrc absurd dimensions", "huge.mrc", 0, 2000000000u},
        {"mrc frame count past the file", "nz.mrc", 8, 1000000u},
        {"mrc unknown mode 4 (complex)", "mode4.mrc", 12, 4},
        {"mrc unknown mode 77", "mode77.mrc", 12, 77},
        {"mrc negative extended header", "nsymbt.mrc", 92, 0xfffffff0u},
        {"mrc extended header past the end", "nsymbt2.mrc", 92, 0x7ffffff0u},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t save[4];
        memcpy(save, b.p + cases[k].off, 4);
        b_set_uint(&b, cases[k].off, cases[k].value, 4, 1);
        snprintf(path, sizeof path, "%s/%s", dir, cases[k].name);
        write_bytes(path, b.p, b.n);
        check_bad_file(cases[k].label, path);
        memcpy(b.p + cases[k].off, save, 4);
    }
    free(b.p);
    return sm_test_report();
}
