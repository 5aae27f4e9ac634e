/* libFuzzer target for the safetensors reader (src/nn/safetensors.c): any byte string is parsed; when it is
 * accepted, every tensor and metadata entry is walked and its bytes touched, and loading it into a small net
 * must fail cleanly or succeed. Seeds: fuzz/corpus/fuzz_safetensors/ (a saved net and a few edge cases). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "samem/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sm_nn_st *st = NULL;
    sm_error err = {0};
    if (sm_nn_st_parse(data, size, "fuzz", &st, &err) < 0) return 0;
    volatile uint8_t sink = 0;
    for (int i = 0; i < sm_nn_st_count(st); i++) {
        const char *dtype;
        int ndim;
        const int64_t *shape;
        const void *p;
        size_t nb;
        const char *name = sm_nn_st_tensor(st, i, &dtype, &ndim, &shape, &p, &nb);
        sink ^= (uint8_t)strlen(name) ^ (uint8_t)strlen(dtype);
        for (int d = 0; d < ndim; d++) sink ^= (uint8_t)shape[d];
        if (nb) sink ^= ((const uint8_t *)p)[0] ^ ((const uint8_t *)p)[nb - 1];
        if (sm_nn_st_find(st, name) < 0) __builtin_trap();
    }
    for (int i = 0; i < sm_nn_st_meta_count(st); i++) {
        const char *v;
        const char *k = sm_nn_st_meta_at(st, i, &v);
        sink ^= (uint8_t)strlen(k) ^ (uint8_t)strlen(v);
    }
    sm_nn_net *net = sm_nn_create(1);
    sm_nn_linear(net, "fc", sm_nn_input(net, "x", 2, 1, 1), 2, 1);
    if (sm_nn_compile(net, &err) == 0) sm_nn_load_st(net, st, "fuzz", &err);
    sm_nn_destroy(net);
    sm_nn_st_destroy(st);
    (void)sink;
    return 0;
}
