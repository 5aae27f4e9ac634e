/* The samem network: placeholder until src/nn lands. */
#include <stdlib.h>

#include "model/net_internal.h"

struct sm_model {
    int dummy;
};

struct sm__net_runner {
    int dummy;
};

int sm_model_load(sm_model **out, const char *path, sm_error *err) {
    *out = NULL;
    return sm_error_set(err, SM_EFORMAT, "%s: the network is not built yet", path);
}
void sm_model_destroy(sm_model *m) { free(m); }
int64_t sm_model_param_count(const sm_model *m) { (void)m; return 0; }
const char *sm_model_default_path(const char *exe_path, char *buf, size_t size) {
    (void)exe_path, (void)buf, (void)size;
    return NULL;
}
int sm__net_runner_create(sm__net_runner **out, const sm_model *m, sm_error *err) {
    (void)m;
    *out = NULL;
    return sm_error_set(err, SM_EINVAL, "network: not available");
}
void sm__net_runner_destroy(sm__net_runner *r) { free(r); }
int sm__net_segment(sm__net_runner *r, const float *const *win, const int64_t *win_idx, int n_win, int W, int H,
                    const sm__obj_prior *pr, sm__seg_out *out, sm_error *err) {
    (void)r, (void)win, (void)win_idx, (void)n_win, (void)W, (void)H, (void)pr, (void)out;
    return sm_error_set(err, SM_EINTERNAL, "network: not available");
}
