/* AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019) over the net's single
 * parameter buffer, with global gradient-norm clipping and a linear warm-up + cosine learning-rate schedule
 * (Loshchilov and Hutter, SGDR, 2017). The update order follows torch.optim.AdamW: decay p *= 1 - lr*wd, then
 * p -= lr * mhat / (sqrt(vhat) + eps).
 * Left out: AMSGrad, per-group learning rates, other optimisers. */
#include <math.h>
#include <string.h>

#include "nn/nn_impl.h"

sm_nn_adamw sm_nn_adamw_default(void) {
    sm_nn_adamw o;
    memset(&o, 0, sizeof o);
    o.lr = 1e-3f;
    o.min_lr = 0;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    o.weight_decay = 0.01f;
    o.clip_norm = 0;
    return o;
}

float sm_nn_adamw_lr(const sm_nn_adamw *o, int s) {
    if (o->warmup_steps > 0 && s < o->warmup_steps) return o->lr * (float)(s + 1) / (float)o->warmup_steps;
    if (o->total_steps <= 0 || o->total_steps <= o->warmup_steps) return o->lr;
    double p = (double)(s - o->warmup_steps) / (double)(o->total_steps - o->warmup_steps);
    if (p < 0) p = 0;
    if (p > 1) p = 1;
    return (float)(o->min_lr + (o->lr - o->min_lr) * 0.5 * (1 + cos(M_PI * p)));
}

int sm_nn_adamw_step(sm_nn_net *net, sm_nn_adamw *o, sm_error *err) {
    if (!net->compiled) return sm_error_set(err, SM_EINVAL, "nn: optimiser step before compile");
    if (!net->adam_m) {
        net->adam_m = net->be->alloc(sizeof(float) * (net->total ? net->total : 1));
        net->adam_v = net->be->alloc(sizeof(float) * (net->total ? net->total : 1));
        if (!net->adam_m || !net->adam_v) return sm_error_set(err, SM_ENOMEM, "nn: no memory for AdamW state");
    }
    double ss = 0;
    for (int i = 0; i < net->n_params; i++) {
        const nn_param *p = &net->ps[i];
        if (!p->trainable) continue;
        const float *g = net->grads + p->off;
        for (size_t j = 0; j < p->n; j++) ss += (double)g[j] * g[j];
    }
    double norm = sqrt(ss);
    if (!isfinite(norm)) return sm_error_set(err, SM_EINVAL, "nn: gradient norm is not finite");
    float clip = 1.0f;
    if (o->clip_norm > 0 && norm > o->clip_norm) clip = (float)(o->clip_norm / (norm + 1e-6));
    float lr = sm_nn_adamw_lr(o, o->step);
    o->step++;
    int t = o->step;
    float bc1 = 1.0f - powf(o->beta1, (float)t), bc2 = 1.0f - powf(o->beta2, (float)t);
    for (int i = 0; i < net->n_params; i++) {
        const nn_param *p = &net->ps[i];
        if (!p->trainable) continue;
        float *w = net->params + p->off, *g = net->grads + p->off, *m = net->adam_m + p->off,
              *v = net->adam_v + p->off;
        float decay = p->decay ? 1.0f - lr * o->weight_decay : 1.0f;
#pragma omp parallel for if (p->n > 65536)
        for (size_t j = 0; j < p->n; j++) {
            float gj = g[j] * clip;
            m[j] = o->beta1 * m[j] + (1 - o->beta1) * gj;
            v[j] = o->beta2 * v[j] + (1 - o->beta2) * gj * gj;
            w[j] = w[j] * decay - lr * (m[j] / bc1) / (sqrtf(v[j] / bc2) + o->eps);
        }
    }
    o->last_lr = lr;
    o->last_grad_norm = (float)norm;
    return 0;
}
