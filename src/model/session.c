/* Sessions: prompts in, one label plane and one row per object out for every frame, in frame order.
 *
 * Propagation: a backward pass runs from the latest "first prompt" frame down to frame 0 for the objects
 * that start later than frame 0; its results are kept run-length encoded (labels are sparse) until the
 * forward pass, which runs from frame 0 to the end, reaches those frames and merges them. A prompt met
 * during a pass re-initialises its object there (corrections carry on in the pass's direction).
 * Per object and frame, the segmenter (classic.c or the network, net.c) gets a prior: the position predicted
 * from the object's last two positions (velocity damped by half), a search radius that grows while the
 * object is lost, its expected size and polarity, and the other objects' predictions. Its mask is then
 * refined (refine.c) for the centre and shape, unless refinement is off. Objects are processed in parallel
 * (OpenMP) since each has its own crop; the label plane is composed serially in id order (a pixel claimed
 * twice goes to the object with the higher score).
 * Automatic mode: detect.c proposes particles on the mean of the first five frames (SM__DETECT_FRAMES);
 * each becomes an object with a box prompt on frame 0; every redetect_every frames new detections far from
 * every known object give a lost object back its position (when the sizes agree) or start a new object.
 * Memory: the current frame, a window of the network's past + 1 frames (SM__WINDOW without it), one label
 * plane, the objects' crop masks, and the RLE store of the backward pass.
 * Left out: merging and splitting of objects, occlusion reasoning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "model/net_internal.h"

#define SM__WINDOW 5 /* frames kept without the network */
/* Automatic mode detects on the mean of 5 frames: "hard to see in one frame and plain in a 3- to 9-frame
 * average" (REAL_DATA.md). Measured against 3 frames on 24 simulated videos: mean IoU thin 0.751 -> 0.797 and
 * 0.813 -> 0.838, thick 0.274 -> 0.364 and 0.348 -> 0.412, medium 0.621 -> 0.659 and 0.583 -> 0.543 (one
 * noise blob followed as a particle). */
#define SM__DETECT_FRAMES 5
/* Faint particles (contrast-to-noise ~0.4 per pixel) show on the mean of 9 frames and not of 5: a second pass
 * detects on that mean at half resolution, keeping particles of 3 x min_area and more (long_mean_detections). */
#define SM__DETECT_LONG_FRAMES 9
#define SM__DETECT_LONG_AREA 3.0
#define SM__WINDOW_MAX (SM__NET_PAST_MAX + 1)

typedef struct obj {
    int id;
    sm_prompt *prompts;
    int n_prompts, cap_prompts;
    int64_t first_frame;   /* earliest prompt frame */
    /* tracking state within a pass */
    int live;
    double x, y, vx, vy;   /* px, px/frame */
    double prev_x, prev_y; /* x, y before the last frame's update (automatic detection compares with both) */
    double area, major, minor, angle;
    int pol;
    int lost;              /* frames since the object was last seen */
    int have_v;
    int64_t hist_t[8];     /* the last frames the object was seen on (ring), and its positions there, px */
    double hist_x[8], hist_y[8];
    int hist_n;
    int use_net;           /* this frame goes through the network */
    double evidence;       /* running mean of the image's evidence under the network's masks (mask_evidence) */
    double frame_ev;       /* this frame's evidence (INFINITY: a trusted start) */
    double anchor_x, anchor_y; /* where the image last clearly showed the object (evidence >= 5, and the
                                * network's objectness >= 0.9), px */
    int have_anchor;
    double ref_area;       /* the object's area where it was seen clearly inside the field (running mean), px^2;
                            * 0: none yet */
    int lost_at_border;    /* lost with its last mask on the frame's border (it may have left the field), and not
                            * seen clearly inside the field since */
    sm_refine_result fit_hint; /* the last frame's shape fit (its model is reused for 10 frames) */
    int fit_age;
    float *tmpl;           /* (tmpl_n, tmpl_n) running mean of the object's masks, centred on it (1 px grid) */
    int tmpl_n, tmpl_frames;
    sm__edge_profile edge; /* radial profile around the fitted boundary (edge.c) */
    double edge_offset;    /* px: its last estimate of the true boundary's offset (NaN: none) */
    double size_a, size_b; /* running means of the fitted model's sizes (0: none) */
    int size_shape;
    double fit_cnr;        /* running mean of the fitted contrast-to-noise per pixel (0: no fit yet) */
    sm__crop_mask mask;    /* last mask */
    sm__seg_out seg;       /* this frame's result */
    sm_object_result res;
    /* workspace for this frame's prior */
    sm__obj_prior prior;
    int prompted_now;
    int last_border;       /* its mask reached the border on the last frame */
    double last_area;      /* and its area there, px^2 */
    int detected;          /* created by automatic detection, not by a person's prompt */
    int boxed;             /* it has had a box prompt */
    const sm_prompt *now_prompts;
    int n_now;
    double *others;        /* (n_objs, 2) */
    const sm__crop_mask **nb; /* (n_objs) the other objects' previous masks */
} obj;

typedef struct rle_frame {
    uint32_t *runs;        /* (n_runs, 3): start index, length, label */
    int n_runs;
    sm_object_result *res;
    int n_res;
} rle_frame;

struct sm_session {
    int W, H;
    int64_t F;
    sm_frame_reader read;
    void *user;
    sm_segment_options opt;
    obj *objs;
    int n_objs, cap_objs;
    int n_win;                   /* frames in the window: SM__WINDOW, or the network's past + 1 */
    float *win[SM__WINDOW_MAX];  /* the last frames read in the current pass (win[0] = current) */
    int64_t win_idx[SM__WINDOW_MAX];
    int n_ahead;                 /* frames the network reads ahead of the current one (its cfg.future) */
    float *ahead[SM__NET_AHEAD_MAX];   /* frames t+dir, t+2 dir, .. of the current pass */
    int64_t ahead_idx[SM__NET_AHEAD_MAX];
    uint16_t *labels;            /* (H, W) */
    float *mean3;                /* (H, W) mean of the last 3 frames, for lost objects (NULL until needed) */
    int64_t mean3_t;             /* the frame mean3 was made for (-1: none) */
    float *around;               /* (H, W) mean of frames t-1, t, t+1, for the evidence of tracked masks */
    int64_t around_t;            /* the frame it was made for (-1: none) */
    float *ahead_mean;           /* (H, W) mean of the frames read ahead: evidence at the border, re-found objects */
    int64_t ahead_mean_t;        /* the frame it was made for (-1: none) */
    int polarity;                /* session-wide polarity decided by the detector (0 until then) */
    sm__line_defects lines;      /* the sensor's bright and dark rows and columns, found on frame lines_t */
    int64_t lines_t;             /* -1: not looked for yet */
    double ev_scale;             /* sure_evidence's factor for correlated noise (0: not measured yet) */
    sm__net_runner *net;         /* SM_METHOD_NET */
};

static int video_reader(void *user, int64_t i, float *out, sm_error *err) {
    return sm_video_read_frame((sm_video *)user, i, out, err);
}

void sm_segment_options_default(sm_segment_options *o) {
    memset(o, 0, sizeof *o);
    o->method = SM_METHOD_CLASSIC;
    o->refine = SM_SHAPE_AUTO;
    o->min_area = 20;
    o->max_area = 0;
    o->min_contrast = 5;
    o->max_objects = 64;
    o->redetect_every = 10;
    o->min_score = 0.5;
    o->faint_views = 4;
}

int sm_session_open_reader(sm_session **out, int width, int height, int64_t frames, sm_frame_reader read,
                           void *user, const sm_segment_options *opt, sm_error *err) {
    *out = NULL;
    if (width < 4 || height < 4 || frames < 1 || !read)
        return sm_error_set(err, SM_EINVAL, "session: bad video (%dx%d px, %lld frames)", width, height, (long long)frames);
    if (opt && opt->method == SM_METHOD_NET && !opt->model)
        return sm_error_set(err, SM_EINVAL, "session: the network method needs weights (--weights FILE)");
    sm_session *s = calloc(1, sizeof *s);
    if (!s) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    s->W = width, s->H = height, s->F = frames, s->read = read, s->user = user;
    if (opt) s->opt = *opt;
    else sm_segment_options_default(&s->opt);
    if (s->opt.faint_views < 1) s->opt.faint_views = 1;
    if (s->opt.faint_views > 4) s->opt.faint_views = 4;
    size_t n;
    int rc = sm_size_mul(&n, (size_t)width, (size_t)height, sizeof(float), "session: frame", err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->n_win = s->opt.method == SM_METHOD_NET && s->opt.model ? s->opt.model->cfg.past + 1 : SM__WINDOW;
    if (s->n_win < SM__WINDOW) s->n_win = SM__WINDOW;
    for (int k = 0; k < s->n_win; k++) {
        s->win[k] = malloc(n);
        s->win_idx[k] = -1;
        if (!s->win[k]) rc = SM_ENOMEM;
    }
    s->labels = malloc((size_t)width * height * sizeof(uint16_t));
    s->mean3_t = -1;
    s->around_t = -1;
    s->ahead_mean_t = -1;
    s->lines_t = -1;
    if (!s->labels) rc = SM_ENOMEM;
    for (int k = 0; k < SM__NET_AHEAD_MAX; k++) s->ahead_idx[k] = -1;
    if (rc == 0 && s->opt.method == SM_METHOD_NET) {
        rc = sm__net_runner_create(&s->net, s->opt.model, err);
        if (rc < 0) {
            sm_session_close(s);
            return rc;
        }
        s->n_ahead = s->opt.model->cfg.future;
        for (int k = 0; k < s->n_ahead; k++)
            if (!(s->ahead[k] = malloc(n))) rc = SM_ENOMEM;
    }
    if (rc < 0) {
        sm_session_close(s);
        return sm_error_set(err, SM_ENOMEM, "session: out of memory for %dx%d px frames", width, height);
    }
    *out = s;
    return 0;
}

int sm_session_open(sm_session **out, sm_video *v, const sm_segment_options *opt, sm_error *err) {
    const sm_video_info *in = sm_video_get_info(v);
    return sm_session_open_reader(out, in->width, in->height, in->frames, video_reader, v, opt, err);
}

static void obj_free(obj *o) {
    free(o->prompts);
    free(o->mask.m);
    free(o->seg.mask.m);
    free(o->others);
    free(o->nb);
    free(o->tmpl);
}

void sm_session_close(sm_session *s) {
    if (!s) return;
    for (int i = 0; i < s->n_objs; i++) obj_free(&s->objs[i]);
    free(s->objs);
    for (int k = 0; k < s->n_win; k++) free(s->win[k]);
    for (int k = 0; k < SM__NET_AHEAD_MAX; k++) free(s->ahead[k]);
    free(s->labels);
    free(s->mean3);
    free(s->around);
    free(s->ahead_mean);
    sm__net_runner_destroy(s->net);
    free(s);
}

static obj *find_obj(sm_session *s, int id, int create, sm_error *err) {
    for (int i = 0; i < s->n_objs; i++)
        if (s->objs[i].id == id) return &s->objs[i];
    if (!create) return NULL;
    if (s->n_objs == s->cap_objs) {
        int cap = s->cap_objs ? 2 * s->cap_objs : 8;
        obj *o = realloc(s->objs, sizeof *o * (size_t)cap);
        if (!o) {
            sm_error_set(err, SM_ENOMEM, "session: out of memory");
            return NULL;
        }
        s->objs = o;
        s->cap_objs = cap;
    }
    obj *o = &s->objs[s->n_objs++];
    memset(o, 0, sizeof *o);
    o->id = id;
    o->first_frame = INT64_MAX;
    return o;
}

int sm_session_add_prompt(sm_session *s, const sm_prompt *p, sm_error *err) {
    if (p->object_id < 1 || p->object_id > 65535)
        return sm_error_set(err, SM_EINVAL, "prompt: object id %d is outside 1..65535", p->object_id);
    if (p->frame < 0 || p->frame >= s->F)
        return sm_error_set(err, SM_EINVAL, "prompt for object %d: frame %lld is outside the video (0..%lld)",
                            p->object_id, (long long)p->frame, (long long)s->F - 1);
    if (p->kind == SM_PROMPT_BOX) {
        if (p->x1 < 0 || p->y1 < 0 || p->x0 > s->W - 1 || p->y0 > s->H - 1 || p->x1 - p->x0 < 1 || p->y1 - p->y0 < 1)
            return sm_error_set(err, SM_EINVAL, "prompt for object %d: box %g,%g,%g,%g lies outside the %dx%d px frame",
                                p->object_id, p->x0, p->y0, p->x1, p->y1, s->W, s->H);
    } else if (p->x < 0 || p->y < 0 || p->x > s->W - 1 || p->y > s->H - 1) {
        return sm_error_set(err, SM_EINVAL, "prompt for object %d: point %g,%g lies outside the %dx%d px frame",
                            p->object_id, p->x, p->y, s->W, s->H);
    }
    obj *o = find_obj(s, p->object_id, 1, err);
    if (!o) return SM_ENOMEM;
    if (o->n_prompts == o->cap_prompts) {
        int cap = o->cap_prompts ? 2 * o->cap_prompts : 4;
        sm_prompt *q = realloc(o->prompts, sizeof *q * (size_t)cap);
        if (!q) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        o->prompts = q;
        o->cap_prompts = cap;
    }
    o->prompts[o->n_prompts++] = *p;
    if (p->kind == SM_PROMPT_BOX) o->boxed = 1;
    /* an object starts on its earliest frame with a box or a positive point */
    if ((p->kind == SM_PROMPT_BOX || !p->negative) && p->frame < o->first_frame) o->first_frame = p->frame;
    return 0;
}

/* ---------------------------------------------------------------- frames */

/* Evidence (mask_evidence) sums noise over a mask's pixels as if independent; correlated noise sums to more,
 * and its blobs then pass the thresholds tuned on the benchmark's videos (noise area 1.6-1.75, 0.17 correlation
 * between neighbours; another group's simulator has 0.67, noise area ~6). The decisions that an object has
 * left, is found again or is new take the evidence scaled down by the square root of the ratio where the noise
 * area is larger than 2 (sure_evidence); the running evidence that keeps a faint particle tracked does not
 * (scaled, a particle at contrast-to-noise 0.35 was dropped on its second frame). */
#define SM__NOISE_AREA_REF 2.0

/* sure_evidence's factor from frame f: its noise area measured on at most the central 1024 x 1024 px (a 4k
 * frame would need 64 MiB of scratch for no better estimate); 0 without memory (measured on the next frame). */
static double evidence_scale(const sm_session *s, const float *f) {
    int w = s->W < 1024 ? s->W : 1024, h = s->H < 1024 ? s->H : 1024, x0 = (s->W - w) / 2, y0 = (s->H - h) / 2;
    float *c = malloc(sizeof(float) * (size_t)w * h);
    if (!c) return 0;
    for (int y = 0; y < h; y++) memcpy(c + (size_t)y * w, f + (size_t)(y0 + y) * s->W + x0, sizeof(float) * (size_t)w);
    double area = sm__noise_area(c, w, h);
    free(c);
    return sqrt(fmin(1.0, SM__NOISE_AREA_REF / area));
}

/* Reads frame t into buf; non-finite samples would poison every sum: they become the frame's mean. */
static int read_frame(sm_session *s, int64_t t, float *buf, sm_error *err) {
    int rc = s->read(s->user, t, buf, err);
    if (rc < 0) return rc;
    size_t n = (size_t)s->W * s->H;
    double sum = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(buf[i])) sum += buf[i];
        else bad++;
    }
    if (bad) {
        float mean = bad < n ? (float)(sum / (double)(n - bad)) : 0.0f;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(buf[i])) buf[i] = mean;
    }
    /* the sensor's defect lines are found on the first frame read and every 16th after (they are fixed, and
     * a full search costs ~8 ms per 1024 x 1024 frame), and taken out of every frame */
    if (s->lines_t < 0 || llabs(t - s->lines_t) >= 16) {
        if (sm__line_defects_find(buf, s->W, s->H, &s->lines) < 0) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        s->lines_t = t;
    }
    if (sm__line_defects_fix(buf, s->W, s->H, &s->lines) < 0) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    /* measured once: the detector's transfer function does not change */
    if (s->ev_scale <= 0) s->ev_scale = evidence_scale(s, buf);
    return 0;
}

/* Reads frame t into the window (win[0]), shifting older frames back; a frame already read ahead is taken
 * from there (each frame is read once per pass). */
static int load_frame(sm_session *s, int64_t t, sm_error *err) {
    float *last = s->win[s->n_win - 1];
    for (int k = s->n_win - 1; k > 0; k--) s->win[k] = s->win[k - 1], s->win_idx[k] = s->win_idx[k - 1];
    s->win[0] = last;
    s->win_idx[0] = t;
    for (int k = 0; k < s->n_ahead; k++)
        if (s->ahead_idx[k] == t) {
            s->win[0] = s->ahead[k], s->ahead[k] = last, s->ahead_idx[k] = -1;
            return 0;
        }
    int rc = read_frame(s, t, s->win[0], err);
    if (rc < 0) s->win_idx[0] = -1;
    return rc;
}

/* Makes ahead[k] hold frame t + (k+1) dir (index -1 past the video's end). */
static int load_ahead(sm_session *s, int64_t t, int dir, sm_error *err) {
    for (int k = 0; k < s->n_ahead; k++) {
        int64_t want = t + (int64_t)(k + 1) * dir;
        if (want < 0 || want >= s->F) {
            for (int j = k; j < s->n_ahead; j++) s->ahead_idx[j] = -1;
            return 0;
        }
        if (s->ahead_idx[k] == want) continue;
        int found = -1;
        for (int j = k + 1; j < s->n_ahead; j++)
            if (s->ahead_idx[j] == want) found = j;
        if (found >= 0) {
            float *b = s->ahead[k];
            int64_t bi = s->ahead_idx[k];
            s->ahead[k] = s->ahead[found], s->ahead_idx[k] = want;
            s->ahead[found] = b, s->ahead_idx[found] = bi;
            continue;
        }
        s->ahead_idx[k] = want;
        int rc = read_frame(s, want, s->ahead[k], err);
        if (rc < 0) {
            s->ahead_idx[k] = -1;
            return rc;
        }
    }
    return 0;
}

/* The frames of the window available now (consecutive from the current one). */
static int window_count(const sm_session *s) {
    int n = 0;
    while (n < s->n_win && s->win_idx[n] >= 0) n++;
    return n;
}

/* The frames ahead available now (consecutive from t + dir). */
static int ahead_count(const sm_session *s) {
    int n = 0;
    while (n < s->n_ahead && s->ahead_idx[n] >= 0) n++;
    return n;
}

static void reset_window(sm_session *s) {
    for (int k = 0; k < s->n_win; k++) s->win_idx[k] = -1;
    for (int k = 0; k < SM__NET_AHEAD_MAX; k++) s->ahead_idx[k] = -1;
    s->mean3_t = -1;
    s->around_t = -1;
    s->ahead_mean_t = -1;
}

/* ---------------------------------------------------------------- one frame */

static void obj_reset_state(obj *o) {
    o->live = 0;
    o->lost = 0;
    o->have_v = 0;
    o->vx = o->vy = 0;
    o->hist_n = 0;
    o->have_anchor = 0;
    o->ref_area = 0;
    o->fit_age = 0;
    o->fit_hint.ok = 0;
    o->tmpl_frames = 0;
    o->frame_ev = INFINITY;
    o->mask.w = o->mask.h = 0;
    sm__edge_profile_reset(&o->edge);
    o->edge_offset = NAN;
    o->size_a = o->size_b = 0;
}

/* Replaces the object's mask by a candidate drawn over the box (x0, y0, w, h) when the two agree (IoU >= 0.6):
 * a particle that changes (touching, leaving) keeps its own mask. Returns 1 when it was taken. */
static int adopt_if_agrees(sm__crop_mask *m, int x0, int y0, int w, int h, const uint8_t *cand, sm_object_result *r) {
    int64_t n_cand = 0, inter = 0, n_mask = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) n_cand += cand[i];
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
            if (m->m[(size_t)y * m->w + x]) {
                n_mask++;
                int cx = m->x0 + x - x0, cy = m->y0 + y - y0;
                inter += cx >= 0 && cy >= 0 && cx < w && cy < h && cand[(size_t)cy * w + cx];
            }
    int64_t uni = n_cand + n_mask - inter;
    if (n_cand == 0 || uni <= 0 || (double)inter / (double)uni < 0.6) return 0;
    if (sm__crop_mask_resize(m, x0, y0, w, h) < 0) return 0;
    memcpy(m->m, cand, (size_t)w * h);
    r->area = (double)n_cand;
    return 1;
}

/* The fitted shape drawn at full resolution with its boundary moved by `off` px (edge.c's estimate of the
 * true boundary against the half-contrast line), kept when it agrees with the network's mask (adopt_if_agrees).
 * Also a faceted particle's polygon (off 0) when the polygon model fitted clearly better than the smooth
 * ones: straight edges and sharp corners that a network's mask rounds off (the benchmark's triangles).
 * Not where the drawn shape covers more than 2% of its pixels on other objects' last masks. */
static void edge_mask(const sm_session *s, obj *o, const sm_refine_result *rr, sm_object_result *r, double off) {
    sm__crop_mask *m = &o->seg.mask;
    int pad = (int)ceil(fmax(off, 0)) + 3;
    int x0 = m->x0 - pad, y0 = m->y0 - pad, x1 = m->x0 + m->w - 1 + pad, y1 = m->y0 + m->h - 1 + pad;
    sm__clip_box(&x0, &y0, &x1, &y1, s->W, s->H);
    int w = x1 - x0 + 1, h = y1 - y0 + 1;
    uint8_t *cand = malloc((size_t)w * h);
    if (!cand) return;
    sm__shape_geom g;
    sm__shape_prepare(rr, &g);
    int64_t n_in = 0, taken = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int in = sm__shape_distance(&g, x0 + x, y0 + y) <= off;
            cand[(size_t)y * w + x] = (uint8_t)in;
            n_in += in;
            for (int k = 0; in && k < o->prior.n_nb; k++) {
                const sm__crop_mask *q = o->prior.nb_masks[k];
                int qx = x0 + x - q->x0, qy = y0 + y - q->y0;
                if (qx >= 0 && qy >= 0 && qx < q->w && qy < q->h && q->m[(size_t)qy * q->w + qx]) {
                    taken++;
                    break;
                }
            }
        }
    /* a shape fitted next to another particle can reach into it: then the network's mask stays */
    if (taken <= n_in / 50) adopt_if_agrees(m, x0, y0, w, h, cand, r);
    free(cand);
}

/* The mask as the running mean of the object's masks, each centred on the object's position on its frame
 * (weight 0.35 for the newest): a rigid particle keeps its shape, while a single frame's mask at low
 * contrast-to-noise is ragged. Restarted on prompts, after gaps and when the size changes; used only when
 * it agrees with this frame's mask (adopt_if_agrees). */
static void template_mask(const sm_session *s, obj *o, sm_object_result *r) {
    sm__crop_mask *m = &o->seg.mask;
    int need = 2 * (int)ceil(0.5 * hypot(m->w, m->h) + 4) + 1;
    if (need > 257) return;
    int restart = o->prompted_now || o->tmpl_frames == 0 || need > o->tmpl_n || need < o->tmpl_n / 2;
    if (restart && need != o->tmpl_n) {
        float *t = realloc(o->tmpl, sizeof(float) * (size_t)need * need);
        if (!t) return;
        o->tmpl = t, o->tmpl_n = need;
    }
    int n = o->tmpl_n, c = n / 2;
    double alpha = restart ? 1.0 : 0.35;
    /* this frame's mask sampled on the template grid around (r->x, r->y) */
    for (int v = 0; v < n; v++)
        for (int u = 0; u < n; u++) {
            double x = r->x + (u - c) - m->x0, y = r->y + (v - c) - m->y0;
            /* bilinear on the binary mask */
            int xi = (int)floor(x), yi = (int)floor(y);
            double fx = x - xi, fy = y - yi, val = 0;
            for (int q = 0; q < 4; q++) {
                int xx = xi + (q & 1), yy = yi + (q >> 1);
                double wgt = ((q & 1) ? fx : 1 - fx) * ((q >> 1) ? fy : 1 - fy);
                if (xx >= 0 && yy >= 0 && xx < m->w && yy < m->h && m->m[(size_t)yy * m->w + xx]) val += wgt;
            }
            float *t = &o->tmpl[(size_t)v * n + u];
            *t = (float)((1 - alpha) * (restart ? 0 : *t) + alpha * val);
        }
    o->tmpl_frames = restart ? 1 : o->tmpl_frames + 1;
    if (o->tmpl_frames < 3) return;
    /* the mean drawn at this frame's position */
    int x0 = (int)floor(r->x - c), y0 = (int)floor(r->y - c), x1 = x0 + n, y1 = y0 + n;
    sm__clip_box(&x0, &y0, &x1, &y1, s->W, s->H);
    int w = x1 - x0 + 1, h = y1 - y0 + 1;
    if (w < 1 || h < 1) return;
    uint8_t *mm = calloc((size_t)w * h, 1);
    if (!mm) return;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = x0 + x - r->x + c, v = y0 + y - r->y + c;
            int ui = (int)floor(u), vi = (int)floor(v);
            double fx = u - ui, fy = v - vi, val = 0;
            for (int q = 0; q < 4; q++) {
                int uu = ui + (q & 1), vv = vi + (q >> 1);
                double wgt = ((q & 1) ? fx : 1 - fx) * ((q >> 1) ? fy : 1 - fy);
                if (uu >= 0 && vv >= 0 && uu < n && vv < n) val += wgt * o->tmpl[(size_t)vv * n + uu];
            }
            mm[(size_t)y * w + x] = (uint8_t)(val >= 0.5);
        }
    adopt_if_agrees(m, x0, y0, w, h, mm, r);
    free(mm);
}

/* When the fitted shape is drawn as the mask (edge_mask): a fitted length of at least 40 px (crops of 104 px
 * and more, area-averaged to 64: the network's edge is off by 15% in area for weak and sharp rods of 50-106 px),
 * or a contrast-to-noise per pixel of at least 1.5 (below it the network's masks scored higher on 24 simulated
 * videos; above it the drawn shapes gained +0.018 thin). */
#define SM__EDGE_MIN_MAJOR 40.0
#define SM__EDGE_MIN_CNR 1.5

/* The edge profile a boundary offset is estimated from holds SM__EDGE_MIN_FRAMES frames, or one for a large
 * particle (fitted length SM__EDGE_MIN_MAJOR or more): its boundary has hundreds of pixels, and its network
 * masks were 26-45% too large in area until the third frame (this alone: the benchmark's large rods 0.866 /
 * 0.854 -> 0.885 / 0.864 mean IoU; from one frame for every particle, thin and medium -0.003 on the benchmark). */
#define SM__EDGE_MIN_FRAMES 3

/* Frames between an object's searches over shape models (measure; its model is refitted alone in between),
 * and after a search that changed its model. */
#define SM__FIT_SEARCH_EVERY 20
#define SM__FIT_RECHECK 3

/* The evidence (mask_evidence) a re-found object's mask needs on the mean of the frames read ahead: the
 * threshold automatic detections pass there (confirm_refound). */
#define SM__REFOUND_MIN_AHEAD_EVIDENCE 2.0

/* Objects whose fitted contrast-to-noise per pixel (running mean) is below this go through the network as the
 * mean over opt.faint_views mirror images of the crop (net.c, flipped_views). Measured with 4 views: below 1.0,
 * on two other 12-video sets medium +0.013 and thick +0.009 mean IoU (sums), thin unchanged; on the benchmark
 * thick +0.008, the rows within a real video's contrast range 0.757 -> 0.762, 1024^2 with 5 particles 39.8 ->
 * 31.6 frames/s. Below 1.5: about the same gains, 23.2 frames/s; for every object: thin -0.007 on the benchmark. */
#define SM__FAINT_CNR 1.0

/* A tracked object at the border has left the field when its running evidence was at least
 * SM__LEFT_MIN_RUNNING_EVIDENCE (a particle seen clearly: a faint one's evidence drops low on single frames while
 * it is there), its mask's evidence on frame t is below SM__LEFT_MAX_FRAME_EVIDENCE (biased upwards: the network
 * draws its mask on the darkest noise) and on the frames ahead below SM__LEFT_MAX_AHEAD_EVIDENCE. */
#define SM__LEFT_MIN_RUNNING_EVIDENCE 8.0
#define SM__LEFT_MAX_FRAME_EVIDENCE 4.0
#define SM__LEFT_MAX_AHEAD_EVIDENCE 2.0

/* A tracked object's mask more than half its length from the prediction (at least 5 px) needs at least this
 * share of the object's running evidence on its frame, or objectness SM__JUMP_MAX_SCORE: the benchmark's
 * hopping particles had 0.98-1.00 on their hop (one at contrast-to-noise 0.67 on that frame, with little
 * evidence), masks that slid onto noise after their particle faded 0.61-0.91 (at 0.85, a run of the fading
 * disk test had its track led to the border at 0.87 and 0.91, and lost its particle). */
#define SM__JUMP_MAX_EVIDENCE_SHARE 0.35
#define SM__JUMP_MAX_SCORE 0.95

/* Objects lost inside the field for this many frames are re-found only when the frames ahead show them too
 * (confirm_refound). */
#define SM__CONFIRM_LOST_FRAMES 2

/* A re-found object's mask has from 1/2.5 to 2.5 times its known area (size_agrees; the ratio automatic
 * detection allows when it gives a lost object its position). */
#define SM__REFIND_AREA_RATIO 2.5

/* Whether mask m reaches the frame's border. */
static int touches_border(const sm_session *s, const sm__crop_mask *m) {
    return m->w > 0 && (m->x0 == 0 || m->y0 == 0 || m->x0 + m->w == s->W || m->y0 + m->h == s->H);
}

/* Fills the object's result from its mask (moments, intensity, border) and the refinement. */
static void measure(sm_session *s, obj *o, const float *frame) {
    sm_object_result *r = &o->res;
    const sm__crop_mask *m = &o->seg.mask;
    r->id = o->id;
    r->score = o->seg.score;
    r->iou_pred = o->seg.iou_pred;
    r->x_err = r->y_err = r->angle_err = NAN;
    if (!r->visible) return;
    sm__moments mo;
    sm__mask_moments(m->m, m->w, m->h, &mo);
    r->area = mo.area;
    r->x = m->x0 + mo.x, r->y = m->y0 + mo.y;
    r->angle = mo.angle, r->major = mo.major, r->minor = mo.minor, r->eccentricity = mo.eccentricity;
    double sum = 0;
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++)
            if (m->m[(size_t)y * m->w + x]) sum += frame[(size_t)(m->y0 + y) * s->W + m->x0 + x];
    r->intensity = mo.area > 0 ? sum / mo.area : NAN;
    r->border = touches_border(s, m);
    /* a clear particle cut by the border is fitted too (the visible part places the fitted shape, drawn at the
     * profile's boundary like an interior one): the network's masks of clear weakly scattering spheres there
     * were 5-11% too small (benchmark thin border rows 0.877 mean IoU against 0.94 inside). Faint ones are
     * not: their fits on a cut particle went astray (thick -0.003). The track keeps the mask's centre there. */
    int fit_here = !r->border || o->fit_cnr == 0 || o->fit_cnr >= SM__EDGE_MIN_CNR;
    if (s->opt.refine != SM_SHAPE_NONE && mo.area >= 6 && fit_here) {
        sm_refine_result rr;
        sm_error e = {0};
        /* the model chosen on an earlier frame is refitted alone; the search over models (~8 fits) runs
         * every 20 frames, whenever the last fit failed, and 3 frames after a search that changed the model */
        const sm_refine_result *hint = o->fit_age > 0 && o->fit_age < SM__FIT_SEARCH_EVERY && o->fit_hint.ok ? &o->fit_hint : NULL;
        int fitted = sm__refine_mask(frame, s->W, s->H, m, NULL, s->opt.refine, hint, &rr, &e) == 0 && rr.ok &&
                     hypot(rr.x - r->x, rr.y - r->y) < fmax(2.0, 0.3 * mo.minor);
        o->fit_hint = rr;
        o->fit_hint.ok = fitted;
        o->fit_age = fitted && hint ? o->fit_age + 1 : fitted ? 1 : 0;
        /* a search that changed the model (a rigid particle's shape does not change) is checked again after
         * SM__FIT_RECHECK frames instead of 20: a search on a bad frame (mid-hop, a failed fit) had turned a
         * triangle into a hexagon, then an ellipse, for 20 frames each (mean IoU 0.815 -> 0.845 on it) */
        if (fitted && !hint && o->size_a > 0 && o->size_shape != (int)rr.shape) o->fit_age = SM__FIT_SEARCH_EVERY - SM__FIT_RECHECK;
        if (fitted && hypot(rr.x_err, rr.y_err) < 0.5 && !r->border) {
            r->x = rr.x, r->y = rr.y, r->x_err = rr.x_err, r->y_err = rr.y_err;
            if (mo.major > 1.15 * mo.minor) r->angle = rr.angle, r->angle_err = rr.angle_err;
            r->major = rr.major, r->minor = rr.minor;
            r->eccentricity = rr.major > 0 ? sqrt(fmax(0, 1 - rr.minor * rr.minor / (rr.major * rr.major))) : 0;
        }
        if (fitted) {
            /* a rigid particle: the fitted sizes as a running mean (a single frame's scatter by a pixel or two
             * at contrast-to-noise near 1), restarted when the model or the size changes */
            int restart = o->size_a <= 0 || o->size_shape != (int)rr.shape || fabs(rr.size_b - o->size_b) > 0.2 * o->size_b ||
                          fabs(rr.size_a - o->size_a) > 0.2 * fmax(o->size_a, o->size_b);
            double keep = restart ? 0.0 : 0.8;
            o->size_a = keep * o->size_a + (1 - keep) * rr.size_a, o->size_b = keep * o->size_b + (1 - keep) * rr.size_b;
            o->size_shape = (int)rr.shape;
            double cnr = rr.noise > 0 ? fabs(rr.amplitude) / rr.noise : 0;
            o->fit_cnr = o->fit_cnr > 0 ? 0.7 * o->fit_cnr + 0.3 * cnr : cnr;
            sm__edge_profile_add(&o->edge, frame, s->W, s->H, &rr, 0.9);
        }
        /* large particles (the network sees them area-averaged) and clear ones (the frame itself places their
         * edge better than the network) are drawn from the fitted shape at the profile's true boundary */
        int draw_fit = fitted && (rr.major >= SM__EDGE_MIN_MAJOR || fabs(rr.amplitude) >= SM__EDGE_MIN_CNR * rr.noise);
        if (draw_fit && (o->edge.frames % 5 == 1 || !isfinite(o->edge_offset))) {
            double off;
            int min_frames = rr.major >= SM__EDGE_MIN_MAJOR ? 1 : SM__EDGE_MIN_FRAMES;
            o->edge_offset = o->edge.frames >= min_frames && sm__edge_offset(&o->edge, &off) == 0 ? off : NAN;
        }
        if (draw_fit && isfinite(o->edge_offset)) {
            sm_refine_result mean_fit = rr;
            mean_fit.size_a = o->size_a, mean_fit.size_b = o->size_b;
            edge_mask(s, o, &mean_fit, r, o->edge_offset);
        } else if (fitted && rr.shape >= SM_SHAPE_TRIANGLE && !r->border)
            edge_mask(s, o, &rr, r, 0.0);
    }
    if (!r->border) template_mask(s, o, r);
    else o->tmpl_frames = 0;
    if (!isfinite(r->x_err)) {
        /* without a fit: the standard error of the mask centroid under one pixel of boundary jitter */
        double per = 2 * M_PI * sqrt(fmax(mo.area, 1) / M_PI);
        r->x_err = r->y_err = sqrt(per) / fmax(mo.area, 1) * 0.5 * sqrt(mo.area / M_PI);
    }
}

/* The image's own evidence for a mask: mean contrast inside against the ring around it, in units of the
 * pixel noise, times sqrt(area) (the integrated contrast-to-noise of the masked pixels). A mask that has
 * drifted onto background scores near 0; a particle at contrast-to-noise 0.5 and 200 px about 7. Where the
 * frame's border cuts the ring, the background is a plane fitted to the ring, taken at the mask: the ring
 * lies on one side only there, and its median put an illumination gradient of 0.02 noise sigma per px into
 * the evidence (2.5 for a 250 px mask of noise, which then passed for a particle that had left the field). */
static double mask_evidence(const float *frame, int W, int H, const sm__crop_mask *m, int pol) {
    if (m->w <= 0) return 0;
    int pad = 6;
    int x0 = m->x0 - pad, y0 = m->y0 - pad, x1 = m->x0 + m->w - 1 + pad, y1 = m->y0 + m->h - 1 + pad;
    int cut = x0 < 0 || y0 < 0 || x1 > W - 1 || y1 > H - 1;
    sm__clip_box(&x0, &y0, &x1, &y1, W, H);
    int w = x1 - x0 + 1, h = y1 - y0 + 1;
    if (w < 3 || h < 3) return 0;
    float *win = calloc((size_t)w * h, sizeof(float)), *ring = malloc(sizeof(float) * (size_t)w * h);
    float *tmp = malloc(sizeof(float) * (size_t)w * h);
    uint8_t *use = cut ? calloc((size_t)w * h, 1) : NULL;
    if (!win || !ring || !tmp || (cut && !use)) {
        free(win), free(ring), free(tmp), free(use);
        return INFINITY; /* no verdict without memory */
    }
    size_t nr = 0;
    double in_sum = 0, in_x = 0, in_y = 0;
    int in_n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            size_t i = (size_t)(y - y0) * w + (x - x0);
            float v = frame[(size_t)y * W + x];
            win[i] = v;
            int u = x - m->x0, q = y - m->y0;
            int inside = u >= 0 && q >= 0 && u < m->w && q < m->h && m->m[(size_t)q * m->w + u];
            if (inside) in_sum += v, in_x += x - x0, in_y += y - y0, in_n++;
            else if (u < -1 || q < -1 || u > m->w || q > m->h) { /* off the mask's box by 2+ px */
                ring[nr++] = v;
                if (use) use[i] = 1;
            }
        }
    double noise = sm__noise_std(win, w, h, 2, tmp);
    double bg = NAN, c[3];
    if (use && nr > 8 && in_n > 0 && sm__plane_fit(win, use, w, h, c) >= 3)
        bg = c[0] + c[1] * in_x / in_n + c[2] * in_y / in_n;
    else if (nr > 8)
        bg = sm__quantile(ring, nr, 0.5);
    free(win), free(ring), free(tmp), free(use);
    if (!(noise > 0) || !isfinite(bg) || in_n == 0) return INFINITY;
    return pol * (in_sum / in_n - bg) / noise * sqrt((double)in_n);
}

/* Evidence as significant as it would be in the benchmark's noise (SM__NOISE_AREA_REF). */
static double sure_evidence(const sm_session *s, double ev) { return s->ev_scale > 0 ? s->ev_scale * ev : ev; }

/* The polarity for point prompts on the current frame (o->now_prompts, o->n_now; no box among them) when none
 * is known yet: the detector's decision on the mean of up to 5 frames around it (dark unless bright outliers outnumber
 * dark ones), not the few pixels around the point. Why: at contrast-to-noise 0.3-0.5 per pixel the pixels
 * around a point often took a dark particle for a bright one, the network was shown it inverted and drew a
 * small disk (35-73 px for particles of 245-450 px) that was then dropped; on the benchmark, point prompts
 * went from 0.837 / 0.728 / 0.335 to 0.860 / 0.793 / 0.537 mean IoU (thin / medium / thick). Turning the
 * detection under the point into a box prompt as well gained nothing more on 24 other videos and lost 0.036
 * on the benchmark's thin particles. Returns 0 or < 0 on error; *polarity stays when it is set. */
static int point_polarity(sm_session *s, const obj *o, int *polarity, sm_error *err) {
    if (*polarity) return 0;
    int npos = 0;
    for (int i = 0; i < o->n_now; i++) {
        if (o->now_prompts[i].kind == SM_PROMPT_BOX) return 0;
        npos += !o->now_prompts[i].negative;
    }
    if (!npos) return 0;
    const float *fr[5];
    int nf = 0;
    for (int k = 0; k < 3 && k < s->n_win && s->win_idx[k] >= 0; k++) fr[nf++] = s->win[k];
    for (int k = 0; k < 2 && k < ahead_count(s); k++) fr[nf++] = s->ahead[k];
    sm__detection *d = NULL;
    int nd, pol;
    int rc = sm__detect(fr, nf, s->W, s->H, &s->opt, 0, &d, &nd, &pol, err);
    free(d);
    if (rc < 0) return rc;
    *polarity = s->polarity = pol;
    return 0;
}

/* How far from where it was a lost object is looked for: far searches at low contrast find noise or a
 * neighbour. Also the farthest detection that may give it its position back (auto_detect): on a thick
 * benchmark video a faint detection 250 px away took a lost object's id, and its particle, found again 10
 * frames later 30 px from where it was lost, became a new object. */
static double lost_reach(const sm_session *s, const obj *o) {
    return fmin(fmax(s->W, s->H) / 3.0, fmax(40.0, 2.0 * fmax(o->major, 4.0)));
}

/* Whether object o's size comes from a person's box (sm__obj_prior.size_from_prompt). */
static int size_from_person(const obj *o) { return o->boxed && !o->detected; }

/* Builds the prior of object o before frame t. */
static int make_prior(sm_session *s, obj *o, int64_t t, const float *frame, sm_error *err) {
    o->prompted_now = 0;
    o->n_now = 0;
    o->now_prompts = NULL;
    /* prompts on this frame: box or positive points make a fresh start */
    int first = -1, cnt = 0;
    for (int i = 0; i < o->n_prompts; i++)
        if (o->prompts[i].frame == t) {
            if (first < 0) first = i;
            cnt++;
        }
    if (cnt) {
        /* gather this frame's prompts contiguously (they may be interleaved with others) */
        sm_prompt *tmp = malloc(sizeof *tmp * (size_t)cnt);
        if (!tmp) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        int k = 0;
        for (int i = 0; i < o->n_prompts; i++)
            if (o->prompts[i].frame == t) tmp[k++] = o->prompts[i];
        /* move them to the front of a stable order so that now_prompts can point into o->prompts */
        int j = 0;
        sm_prompt *rest = malloc(sizeof *rest * (size_t)o->n_prompts);
        if (!rest) {
            free(tmp);
            return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        }
        for (int i = 0; i < o->n_prompts; i++)
            if (o->prompts[i].frame != t) rest[j++] = o->prompts[i];
        memcpy(o->prompts, tmp, sizeof *tmp * (size_t)cnt);
        memcpy(o->prompts + cnt, rest, sizeof *rest * (size_t)j);
        free(tmp);
        free(rest);
        o->now_prompts = o->prompts;
        o->n_now = cnt;
        sm__obj_prior pr;
        int pol = s->opt.polarity ? s->opt.polarity : (o->live ? o->pol : s->polarity);
        int rc = point_polarity(s, o, &pol, err);
        if (rc < 0) return rc;
        if (sm__prior_from_prompts(frame, s->W, s->H, o->now_prompts, o->n_now, pol, &pr, err) == 0) {
            o->prompted_now = 1;
            o->prior = pr;
            o->prior.size_from_prompt = size_from_person(o);
            o->pol = pr.polarity;
            return 0;
        }
        /* only negative points: keep tracking, with them as constraints */
    }
    if (!o->live) return 1; /* nothing to go on */
    sm__obj_prior *pr = &o->prior;
    memset(pr, 0, sizeof *pr);
    double damp = 0.5;
    pr->x = o->x + (o->lost ? 0 : damp * o->vx);
    pr->y = o->y + (o->lost ? 0 : damp * o->vy);
    double half = fmax(o->major, 4.0) / 2;
    double base = fmax(0.6 * half + 6.0, 1.5 * hypot(o->vx, o->vy) + 4.0);
    base = fmax(base, 12.0);
    double grow = o->lost ? 6.0 * o->lost + 2 * half : 0;
    pr->search = fmin(base + grow, fmax(lost_reach(s, o), base));
    pr->area = o->area, pr->major = o->major, pr->minor = o->minor, pr->angle = o->angle;
    pr->size_from_prompt = size_from_person(o);
    pr->polarity = o->pol;
    pr->prev = o->lost ? NULL : &o->mask;
    pr->prefer_strong = o->lost > 0;
    pr->prompts = o->now_prompts;
    pr->n_prompts = o->n_now;
    return 0;
}

/* The number of pixels in mask m. */
static int64_t mask_pixels(const sm__crop_mask *m) {
    int64_t n = 0;
    for (size_t i = 0; i < (size_t)m->w * m->h; i++) n += m->m[i] != 0;
    return n;
}

/* Whether a candidate mask for lost object o has the object's size: its area within SM__REFIND_AREA_RATIO of
 * the area where the object was last seen clearly (o->ref_area), unless the mask reaches the border (a
 * particle coming back into the field shows a part of itself). Why: a particle that faded for 15 frames was
 * re-found as a noise blob of a tenth of its area, which the track then followed; when the particle came
 * back 58 px away, it was never found again. */
static int size_agrees(const sm_session *s, const obj *o, const sm__crop_mask *m) {
    if (!(o->ref_area > 0) || m->w <= 0 || touches_border(s, m)) return 1;
    double ratio = (double)mask_pixels(m) / o->ref_area;
    return ratio >= 1.0 / SM__REFIND_AREA_RATIO && ratio <= SM__REFIND_AREA_RATIO;
}

/* The distance from (x, y) to the frame's nearest border, px. */
static double border_gap(const sm_session *s, double x, double y) {
    return fmin(fmin(x, y), fmin(s->W - 1 - x, s->H - 1 - y));
}

/* How far inside the border an object that left through it can be seen again: twice its length, at least
 * 20 px. */
static double border_reach(const obj *o) { return 2 * fmax(o->major, 10.0); }

/* Whether object o may be found again in the box x0..x1, y0..y1 (px): an object lost at the border comes back
 * through the border, so a find farther inside than twice its length (at least 20 px) is another particle.
 * Measured: a faint particle lost at the border was re-found on a lost neighbour's particle 90 px inside (an ID
 * switch on a thick benchmark video). */
static int may_reenter_at(const sm_session *s, const obj *o, double x0, double y0, double x1, double y1) {
    if (!o->lost_at_border) return 1;
    return fmin(border_gap(s, x0, y0), border_gap(s, x1, y1)) <= border_reach(o);
}

/* Updates the tracking state of o from this frame's result (frame t). */
static int update_state(const sm_session *s, obj *o, int64_t t) {
    sm_object_result *r = &o->res;
    if (r->visible) {
        int slot = o->hist_n % 8;
        o->hist_t[slot] = t, o->hist_x[slot] = r->x, o->hist_y[slot] = r->y;
        o->hist_n++;
        if (o->live && !o->lost) {
            double vx = r->x - o->x, vy = r->y - o->y;
            o->vx = o->have_v ? 0.5 * o->vx + 0.5 * vx : vx;
            o->vy = o->have_v ? 0.5 * o->vy + 0.5 * vy : vy;
            o->have_v = 1;
        } else {
            o->vx = o->vy = 0;
            o->have_v = 0;
        }
        o->prev_x = o->x, o->prev_y = o->y;
        if (!o->live) o->prev_x = r->x, o->prev_y = r->y;
        o->x = r->x, o->y = r->y;
        /* a clear sighting: the image's evidence and the network's confidence (a mask that slid 30 px onto
         * noise when its particle faded had evidence 5-6 on its frame, biased upwards by the choice of the
         * darkest noise, at objectness 0.6-0.7); the classic segmenter's score is not an objectness */
        int clear = o->frame_ev >= 5.0 && (!o->use_net || o->prompted_now || r->score >= 0.9);
        if (clear) o->anchor_x = r->x, o->anchor_y = r->y, o->have_anchor = 1;
        if (o->prompted_now) o->ref_area = 0;
        if (clear && !o->lost && !touches_border(s, &o->seg.mask))
            o->ref_area = o->ref_area > 0 ? 0.8 * o->ref_area + 0.2 * r->area : r->area;
        /* seen clearly inside while tracked (not on the frame that found it: a search picks the darkest blob,
         * whose evidence on that frame is biased upwards) */
        if (!o->lost && o->frame_ev >= 5.0 && !touches_border(s, &o->seg.mask)) o->lost_at_border = 0;
        if (o->prompted_now) o->lost_at_border = 0; /* a person placed it */
        /* sizes move slowly: a running mean resists one bad frame */
        double a = o->live && !o->prompted_now ? 0.6 : 0.0;
        o->area = a * o->area + (1 - a) * r->area;
        o->major = a * o->major + (1 - a) * r->major;
        o->minor = a * o->minor + (1 - a) * r->minor;
        o->angle = r->angle;
        o->lost = 0;
        o->live = 1;
        sm__crop_mask *m = &o->seg.mask;
        if (sm__crop_mask_resize(&o->mask, m->x0, m->y0, m->w, m->h) < 0) return SM_ENOMEM;
        memcpy(o->mask.m, m->m, (size_t)m->w * m->h);
    } else if (o->prompted_now && !o->live) {
        /* nothing found on the start frame (a faint particle, a loose box): keep looking near the prompt */
        o->x = o->prior.x, o->y = o->prior.y;
        o->area = o->prior.area, o->major = o->prior.major, o->minor = o->prior.minor, o->angle = o->prior.angle;
        o->vx = o->vy = 0;
        o->have_v = 0;
        o->live = 1;
        o->lost = 1;
    } else if (o->live) {
        o->tmpl_frames = 0;
        /* the masks between the last clear sighting and the loss were on noise that led the track away (a
         * particle that hopped): search from the sighting */
        if (!o->lost && o->have_anchor) o->x = o->anchor_x, o->y = o->anchor_y;
        /* kept until the object is seen clearly inside the field: the faint finds in between may be noise.
         * Not when its last clear sighting was far inside: the masks since then were on noise that had
         * wandered to the border (a disk that faded for 10 frames was never found again where it came back) */
        if (!o->lost && touches_border(s, &o->mask) &&
            (!o->have_anchor || border_gap(s, o->anchor_x, o->anchor_y) <= border_reach(o)))
            o->lost_at_border = 1;
        o->lost++;
        o->vx = o->vy = 0;
        o->have_v = 0;
    }
    return 0;
}

/* A mask that lies on another object's particle: its centre is nearer to that object's predicted position
 * than 0.7 x its distance from this object's prediction (the classic segmenter's rule for candidates), or
 * within half its own size of it. Measured: the mask of a particle leaving the field through the border
 * slid onto its neighbour 25 px away and followed it from then on (8 ID switches in one benchmark video). */
static int claimed_by_other(const obj *o, const sm__crop_mask *m) {
    if (m->w <= 0) return 0;
    sm__moments mo;
    sm__mask_moments(m->m, m->w, m->h, &mo);
    double cx = m->x0 + mo.x, cy = m->y0 + mo.y;
    double d = hypot(cx - o->prior.x, cy - o->prior.y);
    for (int q = 0; q < o->prior.n_others; q++) {
        double d_other = hypot(cx - o->prior.others_xy[2 * q], cy - o->prior.others_xy[2 * q + 1]);
        /* the size rule only where the other prediction is also the nearer one: two overlapping particles
         * each keep the mask on their own (it took both away on alternate frames) */
        if (d_other < 0.7 * d || (d_other < 0.5 * sqrt(fmax(mo.area, 1)) && d_other < d)) return 1;
    }
    return 0;
}

/* Lost objects that the classic search located but could not confirm (at low contrast-to-noise its blob is
 * a fragment with a weak score): the network looks again, centred on the candidate, with the window
 * registered as if the object stood there; it is re-found when the network is sure and the image agrees. */
static int second_look(sm_session *s, int64_t t, const int *which, int n, sm_error *err) {
    const float *frame = s->win[0];
    if (n <= 0) return 0;
    const sm__obj_prior **pri = malloc(sizeof *pri * (size_t)n);
    sm__seg_out **outs = malloc(sizeof *outs * (size_t)n);
    obj **objs = malloc(sizeof *objs * (size_t)n);
    double *hx = malloc(sizeof(double) * SM__NET_HIST * (size_t)n), *hy = malloc(sizeof(double) * SM__NET_HIST * (size_t)n);
    if (!pri || !outs || !objs || !hx || !hy) {
        free(pri), free(outs), free(objs), free(hx), free(hy);
        return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    }
    int m = 0;
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        if (!(o->res.id >= 0 && o->lost && !o->prompted_now && !o->res.visible && o->seg.mask.w > 0)) continue;
        sm__moments mo;
        sm__mask_moments(o->seg.mask.m, o->seg.mask.w, o->seg.mask.h, &mo);
        o->prior.x = o->seg.mask.x0 + mo.x, o->prior.y = o->seg.mask.y0 + mo.y;
        o->prior.prev = NULL;
        for (int h = 0; h < SM__NET_HIST; h++) {
            int have = h + 1 < s->n_win && s->win_idx[h + 1] >= 0;
            hx[m * SM__NET_HIST + h] = have ? o->prior.x : NAN, hy[m * SM__NET_HIST + h] = have ? o->prior.y : NAN;
        }
        pri[m] = &o->prior, outs[m] = &o->seg, objs[m] = o;
        m++;
    }
    int rc = m ? sm__net_segment_batch(s->net, (const float *const *)s->win, window_count(s), (const float *const *)s->ahead,
                                       ahead_count(s), s->W, s->H, m, pri, hx, hy, outs, err)
               : 0;
    for (int q = 0; rc == 0 && q < m; q++) {
        obj *o = objs[q];
        /* judged on the mean of the last three frames when there is one (the object at rest: x 1.7) */
        const float *judge = s->mean3 && s->mean3_t == t ? s->mean3 : frame;
        double ev = o->seg.mask.w > 0 ? mask_evidence(judge, s->W, s->H, &o->seg.mask, o->pol) : 0;
        o->res.visible = o->seg.mask.w > 0 && o->seg.score >= 0.9 &&
                         sure_evidence(s, ev) >= (judge == frame ? 4.0 : 3.5) && !claimed_by_other(o, &o->seg.mask) &&
                         size_agrees(s, o, &o->seg.mask);
        if (o->res.visible) {
            o->evidence = fmin(ev, 20.0);
            o->frame_ev = ev;
            measure(s, o, frame);
        }
    }
    free(pri), free(outs), free(objs), free(hx), free(hy);
    return rc;
}

/* The mean of frames a, b, c in *buf (allocated on first use), made once for frame t (*buf_t); NULL without
 * memory. */
/* dst (np values) = the mean of frames fr[0..nf). */
static void mean_into(float *dst, const float *const *fr, int nf, size_t np) {
    float inv = 1.0f / (float)nf;
    for (size_t i = 0; i < np; i++) {
        float acc = 0;
        for (int k = 0; k < nf; k++) acc += fr[k][i];
        dst[i] = acc * inv;
    }
}

static const float *mean_of_three(const sm_session *s, float **buf, int64_t *buf_t, int64_t t, const float *a,
                                  const float *b, const float *c) {
    size_t np = (size_t)s->W * s->H;
    if (!*buf && !(*buf = malloc(np * sizeof(float)))) return NULL;
    if (*buf_t != t) {
        const float *three[3] = {a, b, c};
        mean_into(*buf, three, 3, np);
        *buf_t = t;
    }
    return *buf;
}

/* s->ahead_mean: the mean of the frames read ahead of t (t+1, t+2: noise independent of frame t and of the
 * window), made once per frame; nothing on the video's last frame (s->ahead_mean_t stays). SM_ENOMEM without
 * memory. */
static int make_ahead_mean(sm_session *s, int64_t t) {
    int na = ahead_count(s);
    if (na <= 0 || s->ahead_mean_t == t) return 0;
    size_t np = (size_t)s->W * s->H;
    if (!s->ahead_mean && !(s->ahead_mean = malloc(np * sizeof(float)))) return SM_ENOMEM;
    mean_into(s->ahead_mean, (const float *const *)s->ahead, na, np);
    s->ahead_mean_t = t;
    return 0;
}

/* The evidence of mask m on the frames read ahead of t (make_ahead_mean first); NAN where there are none. */
static double ahead_evidence(const sm_session *s, int64_t t, const sm__crop_mask *m, int pol) {
    if (!s->ahead_mean || s->ahead_mean_t != t) return NAN;
    return sure_evidence(s, mask_evidence(s->ahead_mean, s->W, s->H, m, pol));
}

/* An object lost at the frame's border (it may have left the field), or lost inside it for
 * SM__CONFIRM_LOST_FRAMES frames or more, and found again (by the classic search, the network's look at its
 * last sighting or the second look) must also show on the frames read ahead (t+1, t+2), whose noise is
 * independent of the frames that found it, as automatic detections must. Why: after a particle left the
 * field, the searches kept finding noise blobs by the border where it left and followed them (one thin
 * benchmark video: 17 frames of masks with no particle); while a particle had faded, they found noise of its
 * size (masks on 4 and 8 of 13 faded frames in two of three videos, none with this rule). Objects lost inside
 * the field for one frame are not checked: there the rule rejected real re-findings of small faint rods (24
 * other videos: medium and thick -0.007). Returns 0 or < 0 without memory. */
static int confirm_refound(sm_session *s, int64_t t, const int *which, int n, sm_error *err) {
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        int checked = o->lost_at_border || o->lost >= SM__CONFIRM_LOST_FRAMES;
        if (!o->lost || !checked || o->res.id < 0 || o->prompted_now || !o->res.visible || o->seg.mask.w <= 0) continue;
        const sm__crop_mask *m = &o->seg.mask;
        int keep = !o->lost_at_border || may_reenter_at(s, o, m->x0, m->y0, m->x0 + m->w - 1, m->y0 + m->h - 1);
        if (keep && make_ahead_mean(s, t) < 0) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        /* NAN on the last frame: nothing independent to check on */
        if (keep && ahead_evidence(s, t, m, o->pol) < SM__REFOUND_MIN_AHEAD_EVIDENCE) keep = 0;
        if (!keep) {
            o->res.visible = 0;
            o->res.score *= s->opt.min_score; /* an unconfirmed find reports an objectness below the threshold */
        }
    }
    return 0;
}

/* Two objects whose masks share pixels (touching or overlapping particles, where the network may draw one
 * blob for both): each shared pixel goes to the object whose centre is nearer, in units of its size. Run on
 * the network's masks with the predicted centres (measured = 0), and on the final masks with this frame's
 * measured centres (measured = 1), so that the masks a session reports and feeds back are disjoint. Without
 * it, each of two overlapping particles' masks lay on the other's predicted position, claimed_by_other took
 * both away on alternate frames, and the overlap went to whichever scored higher. */
static void split_shared_masks(sm_session *s, const int *which, int n, int measured) {
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            obj *A = &s->objs[which[a]], *B = &s->objs[which[b]];
            if (A->res.id < 0 || B->res.id < 0 || A->seg.mask.w <= 0 || B->seg.mask.w <= 0) continue;
            if (measured ? !(A->res.visible && B->res.visible)
                         : !(A->use_net && B->use_net && (A->prompted_now || (!A->lost && A->live)) &&
                             (B->prompted_now || (!B->lost && B->live))))
                continue;
            sm__crop_mask *ma = &A->seg.mask, *mb = &B->seg.mask;
            int x0 = ma->x0 > mb->x0 ? ma->x0 : mb->x0, y0 = ma->y0 > mb->y0 ? ma->y0 : mb->y0;
            int x1 = ma->x0 + ma->w < mb->x0 + mb->w ? ma->x0 + ma->w : mb->x0 + mb->w;
            int y1 = ma->y0 + ma->h < mb->y0 + mb->h ? ma->y0 + ma->h : mb->y0 + mb->h;
            if (x1 <= x0 || y1 <= y0) continue;
            double ax = measured ? A->res.x : A->prior.x, ay = measured ? A->res.y : A->prior.y;
            double bx = measured ? B->res.x : B->prior.x, by = measured ? B->res.y : B->prior.y;
            double area_a = measured ? A->res.area : A->area, area_b = measured ? B->res.area : B->area;
            double ra = sqrt(fmax(area_a, 4.0)), rb = sqrt(fmax(area_b, 4.0));
            if (!isfinite(ax + ay + bx + by + ra + rb)) continue;
            int64_t gone_a = 0, gone_b = 0;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) {
                    uint8_t *pa = &ma->m[(size_t)(y - ma->y0) * ma->w + (x - ma->x0)];
                    uint8_t *pb = &mb->m[(size_t)(y - mb->y0) * mb->w + (x - mb->x0)];
                    if (!*pa || !*pb) continue;
                    if (hypot(x - ax, y - ay) / ra <= hypot(x - bx, y - by) / rb) *pb = 0, gone_b++;
                    else *pa = 0, gone_a++;
                }
            if (measured) A->res.area -= (double)gone_a, B->res.area -= (double)gone_b;
        }
}

/* Segments the objects in `which` (indices into s->objs) on the current frame (s->win[0], index t). */
static int process_frame(sm_session *s, int64_t t, const int *which, int n, sm_error *err) {
    const float *frame = s->win[0];
    int rc = 0;
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        int pr = make_prior(s, o, t, frame, err);
        if (pr < 0) return pr;
        o->last_border = o->res.visible && o->res.border;
        o->last_area = o->res.area;
        o->res.visible = 0;
        o->seg.score = 0;
        o->seg.iou_pred = NAN;
        o->seg.mask.w = o->seg.mask.h = 0;
        o->res.id = o->id;
        if (pr == 1) o->res.id = -o->id; /* marks "no prior": skip */
    }
    /* others' predictions */
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        o->prior.n_nb = 0; /* no neighbour pointers kept from an earlier frame (objs may have moved since) */
        o->prior.views = o->fit_cnr > 0 && o->fit_cnr < SM__FAINT_CNR ? s->opt.faint_views : 1;
        if (o->res.id < 0) continue;
        double *ob = realloc(o->others, sizeof(double) * 2 * (size_t)(n > 0 ? n : 1));
        if (!ob) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        o->others = ob;
        int m = 0;
        for (int j = 0; j < n; j++) {
            obj *q = &s->objs[which[j]];
            if (q == o || q->res.id < 0 || (q->lost && !q->prompted_now)) continue;
            o->others[2 * m] = q->prior.x, o->others[2 * m + 1] = q->prior.y;
            m++;
        }
        o->prior.others_xy = o->others;
        o->prior.n_others = m;
        const sm__crop_mask **nb = realloc(o->nb, sizeof *nb * (size_t)(n > 0 ? n : 1));
        if (!nb) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        o->nb = nb;
        int q_n = 0;
        for (int j = 0; j < n; j++) {
            obj *q = &s->objs[which[j]];
            if (q != o && q->live && !q->lost && q->mask.w > 0) nb[q_n++] = &q->mask;
        }
        o->prior.nb_masks = nb;
        o->prior.n_nb = q_n;
    }
    /* the network takes the objects it can follow (tracked or prompted now) in one batch */
    int fail = 0;
    sm_error ferr = {0};
    if (s->net) {
        int nb = 0;
        const sm__obj_prior **pri = malloc(sizeof *pri * (size_t)(n ? n : 1));
        sm__seg_out **outs = malloc(sizeof *outs * (size_t)(n ? n : 1));
        double *hx = malloc(sizeof(double) * SM__NET_HIST * (size_t)(n ? n : 1));
        double *hy = malloc(sizeof(double) * SM__NET_HIST * (size_t)(n ? n : 1));
        if (!pri || !outs || !hx || !hy) {
            free(pri), free(outs), free(hx), free(hy);
            return sm_error_set(err, SM_ENOMEM, "session: out of memory");
        }
        for (int k = 0; k < n; k++) {
            obj *o = &s->objs[which[k]];
            o->use_net = o->res.id >= 0 && (o->prompted_now || o->live);
            if (!o->use_net) continue;
            for (int h = 0; h < SM__NET_HIST; h++) {
                hx[nb * SM__NET_HIST + h] = NAN, hy[nb * SM__NET_HIST + h] = NAN;
                int64_t want = h + 1 < s->n_win ? s->win_idx[h + 1] : -1;
                if (o->prompted_now || want < 0) continue;
                if (o->lost) {
                    /* searched for where it was last seen, as if it had stayed there */
                    hx[nb * SM__NET_HIST + h] = o->x, hy[nb * SM__NET_HIST + h] = o->y;
                    continue;
                }
                for (int q = 0; q < 8 && q < o->hist_n; q++)
                    if (o->hist_t[q] == want) hx[nb * SM__NET_HIST + h] = o->hist_x[q], hy[nb * SM__NET_HIST + h] = o->hist_y[q];
            }
            pri[nb] = &o->prior;
            outs[nb] = &o->seg;
            nb++;
        }
        rc = sm__net_segment_batch(s->net, (const float *const *)s->win, window_count(s), (const float *const *)s->ahead,
                                   ahead_count(s), s->W, s->H, nb, pri, hx, hy, outs, err);
        free(pri), free(outs), free(hx), free(hy);
        if (rc < 0) return rc;
        split_shared_masks(s, which, n, 0);
    } else {
        for (int k = 0; k < n; k++) s->objs[which[k]].use_net = 0;
    }
    /* an object lost for a few frames is searched for in the mean of the last three (it has usually come to
     * rest after a hop, and the noise is independent between frames: contrast-to-noise x 1.7) */
    const float *search_frame = frame;
    int want_mean = 0;
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        if (o->res.id >= 0 && o->lost >= 3 && !o->prompted_now) want_mean = 1;
    }
    if (want_mean && s->win_idx[1] >= 0 && s->win_idx[2] >= 0 &&
        !(search_frame = mean_of_three(s, &s->mean3, &s->mean3_t, t, s->win[0], s->win[1], s->win[2])))
        return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    /* a tracked mask's evidence is judged on the mean of frames t-1, t, t+1 (contrast-to-noise x 1.7; the
     * particles move about a pixel per frame): on single frames one faint frame of a faint particle dropped
     * its evidence below the threshold and the track was dropped (12 other videos: thick mean IoU 0.547 ->
     * 0.576, medium 0.700 -> 0.711, thin unchanged). A mask at the border is judged on frame t alone, or a
     * particle leaving the field would keep a mask one frame too long. */
    const float *ev_frame = frame;
    if (s->win_idx[1] >= 0 && ahead_count(s) > 0 &&
        !(ev_frame = mean_of_three(s, &s->around, &s->around_t, t, s->win[0], s->win[1], s->ahead[0])))
        return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    /* the frames ahead, for objects at the border (made here: the loop below only reads it); the leaving rule
     * tests this frame's mask, so a mask that reaches the border for the first time needs it too */
    for (int k = 0; k < n; k++) {
        const obj *o = &s->objs[which[k]];
        if (o->res.id >= 0 && o->live && !o->lost &&
            (touches_border(s, &o->mask) || (o->use_net && touches_border(s, &o->seg.mask)))) {
            if (make_ahead_mean(s, t) < 0) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
            break;
        }
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        if (o->res.id < 0 || fail) continue;
        sm_error e = {0};
        int r = 0;
        /* lost objects are searched for by the classic segmenter in a growing window; a prompt the network
         * cannot resolve falls back to it too */
        int net_refound = o->use_net && o->lost && !o->prompted_now && o->seg.mask.w > 0 && o->seg.score >= 0.9 &&
                          !claimed_by_other(o, &o->seg.mask);
        if (!o->use_net || (o->prompted_now && o->seg.mask.w == 0) || (o->lost && !o->prompted_now && !net_refound))
            r = sm__classic_segment(o->lost >= 3 && !o->prompted_now ? search_frame : frame, s->W, s->H, &o->prior,
                                    &o->seg, &e);
        if (r < 0) {
#pragma omp critical
            {
                fail = 1;
                ferr = e;
            }
            continue;
        }
        /* the network's objectness, checked against the image: a mask with no contrast under it has
         * drifted off its particle */
        o->frame_ev = INFINITY;
        if (net_refound) {
            /* the network's own guess near where a lost object was: only with the image's clear support */
            double ev = mask_evidence(frame, s->W, s->H, &o->seg.mask, o->pol);
            o->evidence = fmin(ev, 20.0);
            o->frame_ev = ev;
            if (sure_evidence(s, ev) < 4.0) o->seg.score = fmin(o->seg.score, 0.2);
        } else if (!o->use_net || o->prompted_now || !o->live || o->lost) o->evidence = 10; /* a fresh start is trusted */
        if (o->use_net && !o->prompted_now && !o->lost && o->seg.mask.w > 0 && claimed_by_other(o, &o->seg.mask))
            o->seg.score = fmin(o->seg.score, 0.2); /* it slid onto a neighbour (a particle leaving the field) */
        if (o->use_net && !o->prompted_now && !o->lost && o->seg.mask.w > 0) {
            const sm__crop_mask *mk = &o->seg.mask;
            int at_border = touches_border(s, mk);
            double ev = mask_evidence(at_border ? frame : ev_frame, s->W, s->H, mk, o->pol);
            /* a clearly visible particle at the border whose mask shows nothing on this frame nor on the frames
             * ahead has left the field: the network kept drawing masks on the noise there for up to 9 frames */
            if (at_border && o->evidence >= SM__LEFT_MIN_RUNNING_EVIDENCE &&
                sure_evidence(s, ev) < SM__LEFT_MAX_FRAME_EVIDENCE &&
                ahead_evidence(s, t, mk, o->pol) < SM__LEFT_MAX_AHEAD_EVIDENCE)
                o->seg.score = fmin(o->seg.score, 0.2);
            /* a mask far from the prediction with little of the evidence the object had: it slid onto noise
             * (a particle that faded: the network's masks ran 30 px per frame to the darker side of an
             * illumination gradient, and the track with them); a particle that hopped shows at its new place */
            if (sure_evidence(s, ev) < SM__JUMP_MAX_EVIDENCE_SHARE * o->evidence && o->seg.score < SM__JUMP_MAX_SCORE) {
                sm__moments jm;
                sm__mask_moments(mk->m, mk->w, mk->h, &jm);
                if (hypot(mk->x0 + jm.x - o->prior.x, mk->y0 + jm.y - o->prior.y) > fmax(0.5 * o->major, 5.0))
                    o->seg.score = fmin(o->seg.score, 0.2);
            }
            /* its mask reached the border on the last frame and now lies inside the field with under 1/2.5 of
             * that area: the particle left, and the network drew a blob of correlated noise next to where it had
             * been (then followed the noise for 9 frames). A particle entering grows instead. */
            if (!at_border && o->last_border && mask_pixels(mk) < o->last_area / SM__REFIND_AREA_RATIO)
                o->seg.score = fmin(o->seg.score, 0.2);
            /* one faint frame is noise; a run of them is a mask that has left its particle */
            o->evidence = 0.7 * o->evidence + 0.3 * fmin(ev, 20.0);
            o->frame_ev = ev;
            if (o->evidence < 2.0) o->seg.score = fmin(o->seg.score, 0.2);
        }
        /* a lost object's search result counts at the usual threshold: the classic search's score is its blob's
         * summed contrast-to-noise (6 sigma at 0.5). A floor of 0.9 was set while that score was measured
         * against a background plane offset by the crop's corner (with it, a faint particle that hopped back in
         * from the border was found 8 frames late); with the plane right, the floor lost thick particles (0.9 and 0.7
         * against none: benchmark thick -0.011 / -0.010, 24 other videos thick -0.006 / -0.005) */
        double min_score = o->prompted_now ? 0.05 : s->opt.min_score;
        o->res.visible = o->seg.mask.w > 0 && o->seg.score >= min_score;
        if (o->res.visible && !o->prompted_now && o->lost && !size_agrees(s, o, &o->seg.mask)) o->res.visible = 0;
        /* a rejected find reports an objectness below the threshold */
        if (!o->prompted_now && o->lost && !o->res.visible) o->seg.score *= min_score;
        measure(s, o, frame);
    }
    if (fail) {
        if (err) *err = ferr;
        return ferr.code ? ferr.code : SM_EINTERNAL;
    }
    if (s->net && (rc = second_look(s, t, which, n, err)) < 0) return rc;
    if ((rc = confirm_refound(s, t, which, n, err)) < 0) return rc;
    split_shared_masks(s, which, n, 1);
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        if (o->res.id < 0) {
            o->res.id = o->id;
            o->res.visible = 0;
            continue;
        }
        if ((rc = update_state(s, o, t)) < 0) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    }
    return 0;
}

/* Where a mask comes within SM__BORDER_FILL px of the frame's border, the strip between them is painted as
 * the object's too (unless another object holds it). Why: the network's crop repeats the border pixels outside
 * the frame, so it cannot tell the field's last rows from the padding, and its masks stopped a pixel or two
 * short of the border (masks of particles cut by the border were 15-20% too small). Only the reported labels
 * change: filling the network's masks themselves, which are fed back as the next frame's previous mask, lost
 * 0.009 on the medium and thick videos of one of two other 12-video sets. */
#define SM__BORDER_FILL 2

static void paint_free(sm_session *s, int y, int x, int id) {
    uint16_t *p = &s->labels[(size_t)y * s->W + x];
    if (!*p) *p = (uint16_t)id;
}

static void paint_to_frame_border(sm_session *s, const obj *o, const sm__crop_mask *m) {
    int d = SM__BORDER_FILL, W = s->W, H = s->H;
    if (m->x0 > d && m->y0 > d && m->x0 + m->w < W - d && m->y0 + m->h < H - d) return;
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) {
            if (!m->m[(size_t)y * m->w + x]) continue;
            int fx = m->x0 + x, fy = m->y0 + y;
            /* towards each border it is within d px of */
            if (fy <= d) for (int q = 0; q < fy; q++) paint_free(s, q, fx, o->id);
            if (fy >= H - 1 - d) for (int q = fy + 1; q < H; q++) paint_free(s, q, fx, o->id);
            if (fx <= d) for (int q = 0; q < fx; q++) paint_free(s, fy, q, o->id);
            if (fx >= W - 1 - d) for (int q = fx + 1; q < W; q++) paint_free(s, fy, q, o->id);
        }
}

/* Paints the visible objects of `which` into labels (0 first); a pixel claimed twice goes to the higher score. */
static void compose(sm_session *s, const int *which, int n, int clear) {
    if (clear) memset(s->labels, 0, sizeof(uint16_t) * (size_t)s->W * s->H);
    for (int k = 0; k < n; k++) {
        obj *o = &s->objs[which[k]];
        if (!o->res.visible) continue;
        const sm__crop_mask *m = &o->seg.mask;
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++) {
                if (!m->m[(size_t)y * m->w + x]) continue;
                uint16_t *p = &s->labels[(size_t)(m->y0 + y) * s->W + m->x0 + x];
                if (*p) {
                    obj *q = find_obj(s, *p, 0, NULL);
                    if (q && q->res.score >= o->res.score) continue;
                }
                *p = (uint16_t)o->id;
            }
        paint_to_frame_border(s, o, m);
    }
}

static int rle_encode(const uint16_t *lab, size_t n, rle_frame *f) {
    int runs = 0, cap = 0;
    uint32_t *r = NULL;
    for (size_t i = 0; i < n;) {
        if (!lab[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && lab[j] == lab[i]) j++;
        if (runs == cap) {
            cap = cap ? 2 * cap : 64;
            uint32_t *q = realloc(r, sizeof *r * 3 * (size_t)cap);
            if (!q) {
                free(r);
                return SM_ENOMEM;
            }
            r = q;
        }
        r[3 * runs] = (uint32_t)i, r[3 * runs + 1] = (uint32_t)(j - i), r[3 * runs + 2] = lab[i];
        runs++;
        i = j;
    }
    f->runs = r;
    f->n_runs = runs;
    return 0;
}

/* ---------------------------------------------------------------- automatic mode */

/* Whether (x, y) lies on mask m or within r px of one of its pixels. */
static int near_mask(const sm__crop_mask *m, double x, double y, double r) {
    int x0 = (int)floor(x - r) - m->x0, x1 = (int)ceil(x + r) - m->x0;
    int y0 = (int)floor(y - r) - m->y0, y1 = (int)ceil(y + r) - m->y0;
    for (int yy = y0 < 0 ? 0 : y0; yy <= y1 && yy < m->h; yy++)
        for (int xx = x0 < 0 ? 0 : x0; xx <= x1 && xx < m->w; xx++)
            if (m->m[(size_t)yy * m->w + xx] && hypot(m->x0 + xx - x, m->y0 + yy - y) <= r) return 1;
    return 0;
}

/* Whether one of o's box prompts holds (x, y). */
static int box_prompted(const obj *o, double x, double y) {
    for (int k = 0; k < o->n_prompts; k++) {
        const sm_prompt *p = &o->prompts[k];
        if (p->kind == SM_PROMPT_BOX && x >= p->x0 && x <= p->x1 && y >= p->y0 && y <= p->y1) return 1;
    }
    return 0;
}

/* The image's evidence (mask_evidence) for a detection on frame: the ellipse inscribed in the detector's box. */
static double box_evidence(const sm_session *s, const sm__detection *d, int pol, const float *frame) {
    sm__crop_mask m = {0};
    int x0 = (int)floor(d->x0), y0 = (int)floor(d->y0), x1 = (int)ceil(d->x1), y1 = (int)ceil(d->y1);
    sm__clip_box(&x0, &y0, &x1, &y1, s->W, s->H);
    if (x1 < x0 || y1 < y0 || sm__crop_mask_resize(&m, x0, y0, x1 - x0 + 1, y1 - y0 + 1) < 0) return INFINITY;
    double cx = 0.5 * (d->x0 + d->x1), cy = 0.5 * (d->y0 + d->y1);
    double ax = fmax(0.5 * (d->x1 - d->x0), 1.0), ay = fmax(0.5 * (d->y1 - d->y0), 1.0);
    for (int y = 0; y < m.h; y++)
        for (int x = 0; x < m.w; x++) {
            double u = (x0 + x - cx) / ax, v = (y0 + y - cy) / ay;
            m.m[(size_t)y * m.w + x] = u * u + v * v <= 1.0;
        }
    double ev = sure_evidence(s, mask_evidence(frame, s->W, s->H, &m, pol));
    free(m.m);
    return ev;
}

/* Appends to *d (n_d of them) the particles found on the mean of the nl frames fr at half resolution (2 x 2
 * blocks), with SM__DETECT_LONG_AREA times the smallest area, that lie away from every detection in *d.
 * Measured (the benchmark's 20 videos and 24 others, --auto): see docs/model.md, "Automatic mode". The half
 * resolution is what finds them: the same pass at full resolution gained half as much on the medium videos. */
static int long_mean_detections(const sm_session *s, const float *const *fr, int nl, sm__detection **d, int *n_d,
                                sm_error *err) {
    int hw = s->W / 2, hh = s->H / 2;
    if (hw < 16 || hh < 16) return 0;
    float *half = calloc((size_t)hw * hh, sizeof(float));
    if (!half) return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    for (int k = 0; k < nl; k++)
        for (int y = 0; y < hh; y++) {
            const float *r0 = fr[k] + (size_t)(2 * y) * s->W, *r1 = r0 + s->W;
            float *o = half + (size_t)y * hw;
            for (int x = 0; x < hw; x++) o[x] += r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1];
        }
    sm_segment_options lo = s->opt;
    lo.min_area *= SM__DETECT_LONG_AREA / 4, lo.max_area /= 4; /* in half-resolution px^2 */
    sm__detection *dl = NULL;
    int nld = 0, pol;
    const float *hp = half;
    int rc = sm__detect(&hp, 1, hw, hh, &lo, s->polarity, &dl, &nld, &pol, err);
    free(half);
    if (rc < 0) return rc;
    sm__detection *dd = nld ? realloc(*d, sizeof *dd * (size_t)(*n_d + nld)) : *d;
    if (nld && !dd) {
        free(dl);
        return sm_error_set(err, SM_ENOMEM, "session: out of memory");
    }
    *d = dd;
    int n5 = *n_d;
    for (int i = 0; i < nld; i++) {
        sm__detection q = dl[i];
        q.x = 2 * q.x + 0.5, q.y = 2 * q.y + 0.5, q.area *= 4;
        q.x0 = 2 * q.x0, q.y0 = 2 * q.y0, q.x1 = 2 * q.x1 + 1, q.y1 = 2 * q.y1 + 1;
        double r = sqrt(q.area / M_PI);
        int near = 0;
        for (int j = 0; j < n5 && !near; j++)
            near = hypot(q.x - dd[j].x, q.y - dd[j].y) < r + sqrt(dd[j].area / M_PI) + 4;
        if (!near) dd[(*n_d)++] = q;
    }
    free(dl);
    return 0;
}

static int auto_detect(sm_session *s, int64_t t, int initial, sm_error *err) {
    const float *fr[SM__WINDOW_MAX], *fr_long[SM__WINDOW_MAX];
    int nf = 0, nl = 0, want = SM__DETECT_FRAMES;
    int want_long = s->n_win < SM__DETECT_LONG_FRAMES ? s->n_win : SM__DETECT_LONG_FRAMES;
    if (initial) {
        /* frames 0..8: the first five for the usual detection, all nine for the long mean */
        for (int64_t i = 0; i < want_long && i < s->F; i++) {
            int rc = load_frame(s, i, err);
            if (rc < 0) return rc;
        }
    }
    for (int k = 0; k < s->n_win; k++) {
        if (s->win_idx[k] < 0) continue;
        if (nl < want_long) fr_long[nl++] = s->win[k];
        if (nf < want && (!initial || s->win_idx[k] < want)) fr[nf++] = s->win[k];
    }
    sm__detection *d;
    int nd, pol;
    int rc = sm__detect(fr, nf, s->W, s->H, &s->opt, s->opt.polarity ? s->opt.polarity : s->polarity, &d, &nd, &pol, err);
    if (rc < 0) return rc;
    if (!s->polarity) s->polarity = pol;
    if (nl >= SM__DETECT_LONG_FRAMES && (rc = long_mean_detections(s, fr_long, nl, &d, &nd, err)) < 0) {
        free(d);
        return rc;
    }
    float *ahead_mean = NULL; /* made on first use */
    int next_id = 1;
    for (int i = 0; i < s->n_objs; i++)
        if (s->objs[i].id >= next_id) next_id = s->objs[i].id + 1;
    for (int i = 0; i < nd; i++) {
        /* far from every object alive now? */
        double r_d = sqrt(d[i].area / M_PI);
        obj *lost_match = NULL;
        double best = INFINITY;
        int near = 0;
        for (int j = 0; j < s->n_objs; j++) {
            obj *o = &s->objs[j];
            if (o->first_frame > t && !initial) continue;
            double r_o = o->live ? sqrt(fmax(o->area, 1) / M_PI) : 0;
            double ox = o->live ? o->x : 0, oy = o->live ? o->y : 0;
            if (!o->live) {
                /* an object prompted on this frame or not started: compare with its first prompt */
                for (int k = 0; k < o->n_prompts; k++)
                    if (o->prompts[k].kind == SM_PROMPT_BOX) {
                        ox = (o->prompts[k].x0 + o->prompts[k].x1) / 2, oy = (o->prompts[k].y0 + o->prompts[k].y1) / 2;
                        r_o = 0.5 * fmax(o->prompts[k].x1 - o->prompts[k].x0, o->prompts[k].y1 - o->prompts[k].y0);
                        break;
                    } else if (!o->prompts[k].negative) {
                        ox = o->prompts[k].x, oy = o->prompts[k].y;
                        r_o = r_d;
                        break;
                    }
            }
            double dist = hypot(d[i].x - ox, d[i].y - oy);
            if (o->live && o->lost) {
                /* an object lost at the border was seen cut by it: it may come back showing more of itself (a
                 * sliver of 65 px came back as 161 px and became a new object, an ID switch) */
                double ratio = d[i].area / fmax(o->area, 1);
                int size_ok = ratio > 1.0 / SM__REFIND_AREA_RATIO && (ratio < SM__REFIND_AREA_RATIO || o->lost_at_border);
                if (size_ok && dist < best &&
                    dist <= lost_reach(s, o) && may_reenter_at(s, o, d[i].x0, d[i].y0, d[i].x1, d[i].y1))
                    best = dist, lost_match = o;
                else if (dist < 1.5 * (r_o + r_d) + 4) near = 1; /* a piece of it, or a neighbour: not new */
                continue;
            }
            if (o->live && o->mask.w > 0) {
                /* a particle that hopped on frame t: the detection (on the mean of frames t-4..t) may find it
                 * where it was as well as where the track has it now */
                dist = fmin(dist, hypot(d[i].x - o->prev_x, d[i].y - o->prev_y));
                /* a tracked object: a detection split from a shared blob (a particle touching another) is it,
                 * or a piece of it, only when its centre lies on the object's mask or within 3 px of it, or
                 * closer than the larger radius (a faint particle's partial mask); before, anything within
                 * 1.5 x the sum of the radii was taken for the object, and a particle touching a tracked one
                 * was never added. Other detections keep that wider rule: at low contrast a blob next to a
                 * tracked particle is mostly noise around it. */
                if (d[i].touching ? near_mask(&o->mask, d[i].x, d[i].y, 3.0) || dist < fmax(r_o, r_d) + 3
                                  : dist < 1.5 * (r_o + r_d) + 4)
                    near = 1;
                continue;
            }
            if (!o->live && d[i].touching && o->n_prompts > 0) {
                /* an object prompted in this run, from the other half of the same blob: the same particle only
                 * when its box holds the centre */
                if (box_prompted(o, d[i].x, d[i].y)) near = 1;
                continue;
            }
            if (dist < 1.5 * (r_o + r_d) + 4) near = 1;
        }
        if (near) continue;
        if (lost_match && !initial) {
            lost_match->x = d[i].x, lost_match->y = d[i].y;
            lost_match->lost = 1; /* searched on the next frame around the new position */
            continue;
        }
        if (s->n_objs >= s->opt.max_objects || next_id > 65535) break;
        sm_prompt p = {0};
        p.kind = SM_PROMPT_BOX;
        p.object_id = next_id++;
        p.frame = initial ? 0 : t + 1 < s->F ? t + 1 : t;
        /* the detector's box at 2.5 sigma of the smoothed frame is about the particle's; a little margin
         * makes it a box as a person would draw it */
        double mx = 0.06 * (d[i].x1 - d[i].x0) + 1, my = 0.06 * (d[i].y1 - d[i].y0) + 1;
        p.x0 = fmax(0, d[i].x0 - mx), p.y0 = fmax(0, d[i].y0 - my);
        p.x1 = fmin(s->W - 1, d[i].x1 + mx), p.y1 = fmin(s->H - 1, d[i].y1 + my);
        if (p.x1 - p.x0 < 1 || p.y1 - p.y0 < 1) continue;
        if (p.frame == t && !initial) continue;
        if (!initial && ahead_count(s) > 0) {
            /* the detection is on the mean of the last five frames; it must show on the frames read ahead
             * (t+1, t+2: noise independent of the detection's) as well. Before, noise blobs of the 5-frame
             * mean and the ghosts of particles that hopped away during it became objects that followed
             * noise for 20-30 frames; they scored -1.4 to 1.7 there, the particles found later 5 to 52
             * (benchmark --auto 0.803 / 0.698 / 0.513 -> 0.830 / 0.724 / 0.511; on 24 other videos thin
             * +0.006 / +0.014, thick -0.007 / 0.000; at 3 instead of 2, thick lost 0.024 on one set) */
            if (!ahead_mean) {
                size_t np = (size_t)s->W * s->H;
                if (!(ahead_mean = malloc(np * sizeof(float)))) {
                    free(d);
                    return sm_error_set(err, SM_ENOMEM, "session: out of memory");
                }
                mean_into(ahead_mean, (const float *const *)s->ahead, ahead_count(s), np);
            }
            if (box_evidence(s, &d[i], pol, ahead_mean) < 2.0) continue;
        }
        rc = sm_session_add_prompt(s, &p, err);
        if (rc < 0) {
            free(d), free(ahead_mean);
            return rc;
        }
        obj *found = find_obj(s, p.object_id, 0, NULL);
        if (found) found->detected = 1;
    }
    free(d), free(ahead_mean);
    return 0;
}

/* ---------------------------------------------------------------- propagation */

int sm_session_propagate(sm_session *s, sm_frame_callback cb, void *user, sm_error *err) {
    int rc = 0;
    rle_frame *store = NULL;
    int64_t Fb = 0;
    int *which = NULL;
    sm_object_result *results = NULL;
    for (int i = 0; i < s->n_objs; i++) obj_reset_state(&s->objs[i]);
    reset_window(s);
    if (s->opt.auto_detect) {
        rc = auto_detect(s, 0, 1, err);
        if (rc < 0) return rc;
        reset_window(s);
    }
    int cap_which = s->n_objs + s->opt.max_objects + 16;
    which = malloc(sizeof(int) * (size_t)cap_which);
    results = malloc(sizeof *results * (size_t)cap_which);
    if (!which || !results) {
        rc = sm_error_set(err, SM_ENOMEM, "session: out of memory");
        goto done;
    }
    /* backward pass */
    for (int i = 0; i < s->n_objs; i++)
        if (s->objs[i].first_frame != INT64_MAX && s->objs[i].first_frame > Fb) Fb = s->objs[i].first_frame;
    if (Fb > 0) {
        store = calloc((size_t)Fb, sizeof *store);
        if (!store) {
            rc = sm_error_set(err, SM_ENOMEM, "session: out of memory");
            goto done;
        }
        for (int64_t t = Fb; t >= 0; t--) {
            if ((rc = load_frame(s, t, err)) < 0 || (rc = load_ahead(s, t, -1, err)) < 0) goto done;
            int n = 0;
            for (int i = 0; i < s->n_objs; i++)
                if (s->objs[i].first_frame != INT64_MAX && s->objs[i].first_frame >= t) which[n++] = i;
            if ((rc = process_frame(s, t, which, n, err)) < 0) goto done;
            if (t == Fb) continue;
            /* keep the objects that start later than t */
            int m = 0;
            for (int k = 0; k < n; k++)
                if (s->objs[which[k]].first_frame > t) which[m++] = which[k];
            compose(s, which, m, 1);
            if (rle_encode(s->labels, (size_t)s->W * s->H, &store[t]) < 0) {
                rc = sm_error_set(err, SM_ENOMEM, "session: out of memory");
                goto done;
            }
            store[t].res = malloc(sizeof(sm_object_result) * (size_t)(m ? m : 1));
            if (!store[t].res) {
                rc = sm_error_set(err, SM_ENOMEM, "session: out of memory");
                goto done;
            }
            for (int k = 0; k < m; k++) store[t].res[k] = s->objs[which[k]].res;
            store[t].n_res = m;
        }
        for (int i = 0; i < s->n_objs; i++) obj_reset_state(&s->objs[i]);
        reset_window(s);
    }
    /* forward pass */
    for (int64_t t = 0; t < s->F; t++) {
        if ((rc = load_frame(s, t, err)) < 0 || (rc = load_ahead(s, t, 1, err)) < 0) goto done;
        int n = 0;
        for (int i = 0; i < s->n_objs; i++)
            if (s->objs[i].first_frame <= t) which[n++] = i;
        if ((rc = process_frame(s, t, which, n, err)) < 0) goto done;
        /* new particles, every redetect_every frames: after frame t, so that the track of a particle that hopped
         * on frame t has followed it (before, this ran before frame t: the detection found a thin rod after its
         * 35 px hop, its track not yet there, and became a new object that took the rod over, an ID switch; the
         * detection also compares with the positions before frame t, auto_detect) */
        if (s->opt.auto_detect && s->opt.redetect_every > 0 && t > 0 && t % s->opt.redetect_every == 0) {
            if ((rc = auto_detect(s, t, 0, err)) < 0) goto done;
            if (s->n_objs + 1 > cap_which) {
                cap_which = s->n_objs + 16;
                int *w2 = realloc(which, sizeof(int) * (size_t)cap_which);
                if (w2) which = w2;
                sm_object_result *r2 = realloc(results, sizeof *results * (size_t)cap_which);
                if (r2) results = r2;
                if (!w2 || !r2) {
                    rc = sm_error_set(err, SM_ENOMEM, "session: out of memory");
                    goto done;
                }
            }
        }
        compose(s, which, n, 1);
        int nr = 0;
        for (int k = 0; k < n; k++) results[nr++] = s->objs[which[k]].res;
        if (store && t < Fb) {
            rle_frame *f = &store[t];
            for (int r = 0; r < f->n_runs; r++) {
                uint16_t *p = s->labels + f->runs[3 * r];
                for (uint32_t j = 0; j < f->runs[3 * r + 1]; j++)
                    if (!p[j]) p[j] = (uint16_t)f->runs[3 * r + 2];
            }
            for (int k = 0; k < f->n_res && nr < cap_which; k++) results[nr++] = f->res[k];
            free(f->runs), free(f->res);
            f->runs = NULL, f->res = NULL;
        }
        /* results in id order */
        for (int a = 1; a < nr; a++) {
            sm_object_result r = results[a];
            int b = a - 1;
            while (b >= 0 && results[b].id > r.id) results[b + 1] = results[b], b--;
            results[b + 1] = r;
        }
        sm_frame_result fr = {.frame = t, .width = s->W, .height = s->H, .labels = s->labels,
                              .n_objects = nr, .objects = results};
        if (cb && cb(&fr, user)) {
            rc = sm_error_set(err, SM_ECANCELLED, "segment: stopped at frame %lld", (long long)t);
            goto done;
        }
    }
done:
    if (store) {
        for (int64_t t = 0; t < Fb; t++) free(store[t].runs), free(store[t].res);
        free(store);
    }
    free(which);
    free(results);
    return rc;
}
