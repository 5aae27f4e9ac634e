/* Private state of the simulator, shared by the files of src/sim: the generator (sim.c), particle motion
 * (motion.c), particle rendering and blur (render.c), the detector model (detector.c), configuration
 * (config.c) and the writers (output.c). Nothing here is part of the public API (include/samem/sim.h). */
#ifndef SM_SIM_INTERNAL_H
#define SM_SIM_INTERNAL_H

#include <stdint.h>

#include "samem/sim.h"

/* RNG stream tags: every random decision draws from sm_rng_seed_stream(seed ^ tag, index). */
#define SIM_TAG_VIDEO 0x1000000000000001ULL     /* optics, defects, particle draws: one stream */
#define SIM_TAG_PARTICLE 0x2000000000000003ULL  /* motion: one stream per particle */
#define SIM_TAG_FRAME 0x3000000000000005ULL     /* flicker: one stream per frame */
#define SIM_TAG_NOISE 0x4000000000000007ULL     /* shot noise: one stream per (frame, row) */

#define SIM_FBM_MAX_MEMORY 4096  /* fBm: increments remembered (the AR order is capped here) */
#define SIM_MAX_KERNEL 64        /* largest blur/correlation kernel radius, px */

/* ------------------------------------------------------------------ motion state of one particle */
typedef struct sim_particle {
    sm_sim_particle pub;    /* drawn parameters (truth) */
    sm_rng rng;             /* motion stream */
    double qx, qy;          /* position in the sample frame (before stage drift), px */
    double angle;           /* orientation, rad, unwrapped */
    double spin;            /* deterministic rotation, rad/s */
    double cx, cy;          /* confinement centre in the sample frame, px */
    double step_x, step_y, step_angle; /* continuous displacement during the last frame (no jumps), px, rad */
    double jump_x, jump_y;  /* long jump during the last frame, px */
    double ctrw_wait;       /* CTRW: time left until the next jump, s */
    double diffraction;     /* Bragg flicker factor on mu (AR(1) around 1) */
    double lattice_phase;   /* rad */
    int leader;             /* aggregation: index of the particle it moves with, or -1 */
    /* fBm (Hosking / Durbin-Levinson), shared by x and y */
    int64_t fbm_n;          /* increments made */
    double *fbm_phi;        /* (SIM_FBM_MAX_MEMORY) current prediction coefficients phi_{n,1..n} */
    double *fbm_tmp;        /* (SIM_FBM_MAX_MEMORY) */
    double *fbm_hx, *fbm_hy; /* (SIM_FBM_MAX_MEMORY) ring of past standardised increments */
    double fbm_v;           /* current innovation variance */
    /* rendering */
    float *patch;           /* (ph, pw) deficit before blur, then after */
    float *patch_tmp;       /* (ph, pw) */
    float *patch_wide;      /* (ph, pw) fringe's wide blur */
    size_t patch_cap;       /* floats allocated in each */
    int px0, py0, pw, ph;   /* patch placement in the field, px (may extend past the field) */
    double tx, ty, tangle;  /* truth pose of the frame (mid-exposure, with drift), px, rad */
    double core_contrast;   /* mean deficit over the core after blur (for CNR); NaN when no core pixel */
    double core_bg;         /* expected background counts at the centre (for CNR) */
    int64_t mask_area;      /* mask pixels in the field */
    int touches_border;
    int had_patch;          /* the patch rectangle was deposited into trans this frame */
} sim_particle;

struct sm_sim {
    sm_sim_config cfg;
    uint64_t seed;
    sm_sim_imaging img;
    sm_sim_frame_info last;
    sim_particle *parts;    /* (n_particles) */
    sm_sim_particle *pub_view; /* (n_particles) copies of parts[i].pub for sm_sim_particles */
    int n;
    int64_t frame;          /* next frame index */
    double drift_x, drift_y; /* accumulated stage drift, px */
    double margin;          /* domain margin, px */
    double counts0;         /* mean counts per background px at the centre before flicker */
    /* illumination L(u,v) = 1 + g1*(u cos a + v sin a) - c*(u^2+v^2)/2, u,v in [-1,1] */
    double illum_gx, illum_gy, illum_c;
    /* blur kernels (separable, normalised to sum 1): optics in x and y, fringe's wide one in x and y */
    int kr_x, kr_y, kw_x, kw_y;
    float kx[2 * SIM_MAX_KERNEL + 1], ky[2 * SIM_MAX_KERNEL + 1];
    float wx[2 * SIM_MAX_KERNEL + 1], wy[2 * SIM_MAX_KERNEL + 1];
    /* detector noise kernel (normalised to sum of squares 1) */
    int nr;
    float nk[2 * SIM_MAX_KERNEL + 1];
    /* buffers */
    float *trans;           /* (H, W) transmitted fraction after blur (1 = background) */
    float *illum_x;         /* (W) illumination terms that depend on x only */
    float *scratch;         /* per thread: (2nr + 1, W) ring of noise rows after the horizontal pass, then
                             * (W + 2nr) one row of white shot noise, counts */
    int scratch_threads;    /* threads the scratch has room for */
    uint8_t *u8;            /* (H, W) JPEG scratch */
    uint8_t *row_kind;      /* (H) 0 normal, 1 bright row, 2 dark row */
    int n_defects;
    int64_t *defect_index;  /* (n_defects) pixel index */
    uint8_t *defect_hot;    /* (n_defects) 1 hot, 0 dead */
    double *cnr_hist;       /* per-frame CNR */
    double *cnr_part_hist;  /* (frames, n) each particle's CNR per frame, NaN where it is not in the field */
    int64_t cnr_cap;
    /* Poisson sampler tables */
    struct sim_poisson *poisson;
    float normal_q[1025];   /* inverse normal CDF at i/1024 (ends are tails) */
    float normal_tab[4096]; /* normal bin means, 4096 equal-probability bins, unit variance */
};

/* config.c: adds every config field to a cJSON object */
void sim_config_to_json(const sm_sim_config *c, void *cjson_object);

/* motion.c */
int sim_motion_init(sm_sim *s, sm_rng *video_rng, sm_error *err);
void sim_motion_step(sm_sim *s);

/* render.c */
void sim_make_gauss(float *k, int *radius, double sigma, int normalise_squares);
void sim_particle_geometry(const sm_sim_particle *p, double *bound_r, double *major, double *minor);
/* Signed distance (px, < 0 inside) and projected thickness (px of material) at (X, Y) in the particle frame. */
double sim_shape_eval(const sm_sim_particle *p, double flat_px, double X, double Y, double *thick_px);
int sim_render_particle(sm_sim *s, sim_particle *sp, sm_error *err);
void sim_particle_mask(sm_sim *s, sim_particle *sp, uint16_t *labels);

/* detector.c */
int sim_detector_init(sm_sim *s, sm_rng *video_rng, sm_error *err);
void sim_detector_free(sm_sim *s);
int sim_detector_buffers(sm_sim *s, sm_error *err);
/* Fills frame (H, W) with grey levels from the transmitted-fraction field s->trans. */
int sim_detector_image(sm_sim *s, float *frame, double flicker, sm_error *err);
double sim_illumination(const sm_sim *s, double x, double y);

#endif
