/* The network inside a session (net.c): builds the samem network for inference from an sm_model, keeps one
 * inference context per thread, and segments one object in one frame from its crop window.
 * Also the crop preparation shared by inference and training (train.c), so that both see the same inputs. */
#ifndef SM_NET_INTERNAL_H
#define SM_NET_INTERNAL_H

#include "model/model_internal.h"

typedef struct sm__net_runner sm__net_runner;

int sm__net_runner_create(sm__net_runner **out, const sm_model *m, sm_error *err);
void sm__net_runner_destroy(sm__net_runner *r);
/* win[k] is the frame win_idx[k] (k = 0 the current frame; -1 = not loaded); prior as for the classic
 * segmenter, plus its history of positions. Thread-safe across calls from different OpenMP threads. */
int sm__net_segment(sm__net_runner *r, const float *const *win, const int64_t *win_idx, int n_win, int W, int H,
                    const sm__obj_prior *pr, sm__seg_out *out, sm_error *err);

#endif
