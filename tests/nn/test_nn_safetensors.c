/* Safetensors: a net saved and loaded gives back the same bits and metadata; files written by Python (the
 * fixtures of make_fixtures.py) are read by test_nn_torch.c; here malformed headers, wrong shapes, wrong dtypes
 * and truncated files are each refused with SM_EFORMAT and a message that names the problem. */
#include <string.h>

#include "samem/nn.h"
#include "test.h"

static size_t make(uint8_t *buf, const char *header, size_t data_len) {
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, 0, data_len);
    return 8 + hl + data_len;
}

static void refused(const char *name, const void *buf, size_t len, const char *needle) {
    sm_nn_st *st = NULL;
    sm_error err = {0};
    int rc = sm_nn_st_parse(buf, len, "t.safetensors", &st, &err);
    char label[200];
    snprintf(label, sizeof label, "refused: %s", name);
    SM_CHECKF(label, rc == SM_EFORMAT && st == NULL && strstr(err.msg, needle), "rc %d, msg \"%s\"", rc, err.msg);
    sm_nn_st_destroy(st);
}

static sm_nn_net *small_net(uint64_t seed, int out) {
    sm_nn_net *net = sm_nn_create(seed);
    sm_nn_t x = sm_nn_input(net, "x", 3, 8, 8);
    sm_nn_t y = sm_nn_conv2d(net, "c1", x, out, 3, 1, 1, 1, 1, 1);
    y = sm_nn_batchnorm(net, "bn", y, 0.1f, 1e-5f);
    sm_nn_linear(net, "fc", sm_nn_global_pool(net, y, SM_NN_AVG), 2, 1);
    sm_error err = {0};
    sm_nn_compile(net, &err);
    return net;
}

int main(void) {
    char path[1024], path2[1024];
    sm_test_tmp_path(path, sizeof path, "net.safetensors");
    sm_test_tmp_path(path2, sizeof path2, "bad.safetensors");
    sm_error err = {0};

    sm_nn_net *a = small_net(1, 4), *b = small_net(2, 4);
    sm_nn_param(a, "bn.running_var", NULL)[1] = 3.5f;
    const char *meta[] = {"arch", "test-net", "note", "quote \" and \\ backslash", NULL};
    int rc = sm_nn_save(a, path, meta, &err);
    SM_CHECKF("save writes the file", rc == 0, "%s", err.msg);
    rc = sm_nn_load(b, path, &err);
    SM_CHECKF("load into a net of the same layout", rc == 0, "%s", err.msg);
    int same = 1;
    for (int i = 0; i < sm_nn_param_count(a); i++) {
        float *pa, *pb;
        int64_t sh[4];
        int nd;
        const char *nm = sm_nn_param_info(a, i, &pa, NULL, &nd, sh);
        size_t n;
        pb = sm_nn_param(b, nm, &n);
        same = same && pb && memcmp(pa, pb, 4 * n) == 0;
    }
    SM_CHECK("round trip keeps every parameter bit for bit (running stats too)", same);
    sm_nn_st *st = NULL;
    rc = sm_nn_st_read(path, &st, &err);
    SM_CHECKF("metadata round trip", rc == 0 && sm_nn_st_meta(st, "arch") && !strcmp(sm_nn_st_meta(st, "arch"), "test-net") &&
                                         !strcmp(sm_nn_st_meta(st, "note"), "quote \" and \\ backslash") &&
                                         sm_nn_st_meta_count(st) == 2,
              "%s", err.msg);
    const char *dt;
    int nd;
    const int64_t *sh;
    int ci = st ? sm_nn_st_find(st, "c1.weight") : -1;
    SM_CHECK("tensor listing gives dtype and shape", ci >= 0 && sm_nn_st_tensor(st, ci, &dt, &nd, &sh, NULL, NULL) &&
                                                       !strcmp(dt, "F32") && nd == 4 && sh[0] == 4 && sh[1] == 3 &&
                                                       sh[2] == 3 && sh[3] == 3);
    sm_nn_st_destroy(st);

    /* wrong shape: a net with 5 conv outputs */
    sm_nn_net *c = small_net(3, 5);
    rc = sm_nn_load(c, path, &err);
    SM_CHECKF("wrong shape refused, naming tensor and both shapes",
              rc == SM_EFORMAT && strstr(err.msg, "c1.weight") && strstr(err.msg, "(4,3,3,3)") && strstr(err.msg, "(5,3,3,3)"),
              "%s", err.msg);
    sm_nn_destroy(c);

    /* wrong dtype and missing tensor, by hand-made files */
    uint8_t buf[4096];
    size_t len = make(buf, "{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    FILE *fp = fopen(path2, "wb");
    fwrite(buf, 1, len, fp);
    fclose(fp);
    sm_nn_net *d = sm_nn_create(1);
    sm_nn_linear(d, "x", sm_nn_input(d, "in", 1, 1, 1), 2, 0);
    sm_nn_compile(d, &err);
    rc = sm_nn_load(d, path2, &err);
    SM_CHECKF("missing tensor refused by name", rc == SM_EFORMAT && strstr(err.msg, "x.weight missing"), "%s", err.msg);
    sm_nn_destroy(d);
    d = sm_nn_create(1);
    sm_nn_t in = sm_nn_input(d, "in", 1, 1, 1);
    sm_nn_linear(d, "y", in, 1, 0);
    sm_nn_compile(d, &err);
    len = make(buf, "{\"y.weight\":{\"dtype\":\"F16\",\"shape\":[1,1],\"data_offsets\":[0,2]}}", 2);
    fp = fopen(path2, "wb");
    fwrite(buf, 1, len, fp);
    fclose(fp);
    rc = sm_nn_load(d, path2, &err);
    SM_CHECKF("wrong dtype refused", rc == SM_EFORMAT && strstr(err.msg, "is F16, expected F32"), "%s", err.msg);
    sm_nn_destroy(d);

    /* truncated: the saved file cut short */
    char *whole;
    size_t whole_len;
    sm_read_text_file(path, 1 << 20, &whole, &whole_len, &err);
    refused("file cut in the data", whole, whole_len - 5, "data_offsets outside");
    refused("file cut in the header", whole, 40, "does not fit");
    refused("file of 5 bytes", whole, 5, "too short");
    free(whole);

    const char *data8 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    len = make(buf, data8, 8);
    sm_nn_st *ok = NULL;
    SM_CHECKF("a minimal valid file parses", sm_nn_st_parse(buf, len, "t", &ok, &err) == 0 && sm_nn_st_count(ok) == 1,
              "%s", err.msg);
    sm_nn_st_destroy(ok);
    buf[0] = 0xff;
    buf[5] = 0x01;
    refused("header length beyond the file", buf, len, "does not fit");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8);
    refused("header not valid JSON", buf, len, "not valid JSON");
    len = make(buf, "[1,2,3]", 0);
    refused("header not an object", buf, len, "not a JSON object");
    len = make(buf, "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    refused("unknown dtype", buf, len, "unknown dtype");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    refused("shape disagrees with data_offsets", buf, len, "needing 12");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8);
    refused("negative dimension", buf, len, "bad dimension");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8);
    refused("fractional dimension", buf, len, "bad dimension");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
    refused("overlapping tensors", buf, len, "overlap");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16);
    refused("duplicate tensor name", buf, len, "appears twice");
    len = make(buf, "{\"__metadata__\":{\"k\":5},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    refused("metadata value not a string", buf, len, "not a string");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8);
    refused("missing data_offsets", buf, len, "data_offsets");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8);
    refused("shape whose size overflows", buf, len, "too large");
    len = make(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8);
    refused("begin after end", buf, len, "data_offsets outside");

    rc = sm_nn_st_read("/nonexistent/x.safetensors", &st, &err);
    SM_CHECKF("missing file is SM_EIO naming the path", rc == SM_EIO && strstr(err.msg, "/nonexistent/x.safetensors"),
              "%s", err.msg);
    sm_nn_destroy(a);
    sm_nn_destroy(b);
    sm_nn_st_destroy(NULL);
    return sm_test_report();
}
