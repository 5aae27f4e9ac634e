/* samem sim: synthetic liquid-phase TEM videos with exact ground truth (masks, tracks, per-particle motion
 * parameters), generated frame by frame in memory or written to disk.
 *
 * Usage (training clips in memory, no disk):
 *     sm_sim_config cfg;
 *     sm_sim_config_preset(&cfg, "medium", &err);      // or sm_sim_config_random(&cfg, seed) for a random one
 *     cfg.width = 256; cfg.height = 256; cfg.n_particles = 4;
 *     float *frames = malloc(sizeof(float) * 8 * 256 * 256);       // (T, H, W) grey levels
 *     uint16_t *labels = malloc(sizeof(uint16_t) * 8 * 256 * 256); // (T, H, W) 0 = background, k = particle k
 *     sm_tracks *truth = sm_tracks_create();
 *     sm_sim_clip(&cfg, seed, 8, frames, labels, truth, &err);
 *
 * Usage (streaming, any length):
 *     sm_sim *s;
 *     sm_sim_create(&s, &cfg, seed, &err);
 *     for (int64_t t = 0; t < n; t++) sm_sim_next_frame(s, frame, labels, truth, &err);
 *     const sm_sim_frame_info *fi = sm_sim_last_frame(s);   // this frame's contrast-to-noise, flicker, drift
 *     sm_sim_destroy(s);
 *
 * Units: positions and sizes in px (x right, y down, centre of the top-left pixel at (0, 0), as sm_tracks);
 * pixel size in nm, frame interval in s, D in nm^2/s (fBm: nm^2/s^alpha), D_r in rad^2/s, dose in electrons
 * per square angstrom per frame, liquid and particle thickness in nm, attenuation mu in 1/nm.
 * Frames are float32 in detector units: grey levels of the chosen bit depth after quantisation, clipping
 * and JPEG compression when enabled, so a frame equals what the written file holds, value for value.
 * The ground-truth mask of a particle is its geometric projection (pixels whose centre lies inside the
 * projected shape at the frame's truth position), never a threshold of the blurred image.
 * Determinism: the same config and seed give bit-identical frames, labels and tracks whatever the thread
 * count (every frame, row and particle draws from its own sm_rng stream).
 * Tracks only (for tracking and statistics tests): pass frame = NULL and labels = NULL to sm_sim_next_frame
 * or sm_sim_clip; no frame buffer is allocated and only the motion runs.
 * Threads: frames use OpenMP inside; an sm_sim is not thread-safe (use one per thread; sm_sim_clip makes its
 * own), and it may be driven from inside the caller's own parallel region.
 * The model, its equations and its limits are in docs/simulator.md.
 */
#ifndef SAMEM_SIM_H
#define SAMEM_SIM_H

#include <stdint.h>
#include "samem/common.h"
#include "samem/tracks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- shapes and motion models */

typedef enum sm_sim_shape {
    SM_SIM_SPHERE = 0,    /* size = diameter; projected thickness 2*sqrt(R^2 - r^2) */
    SM_SIM_ROD = 1,       /* spherocylinder lying flat; size = end-to-end length, width = size / aspect */
    SM_SIM_TRIANGLE = 2,  /* equilateral triangular prism lying flat; size = edge; thickness = size * prism_aspect */
    SM_SIM_HEXAGON = 3,   /* regular hexagonal prism lying flat; size = corner-to-corner; thickness likewise */
    SM_SIM_CUBE = 4,      /* cube face-on; size = edge = thickness */
    SM_SIM_SHAPE_COUNT = 5,
    SM_SIM_SHAPE_MIXED = 6 /* config only: each particle draws one of the five */
} sm_sim_shape;

typedef enum sm_sim_motion {
    SM_SIM_BROWNIAN = 0,     /* free diffusion, MSD = 4 D t */
    SM_SIM_FBM = 1,          /* fractional Brownian motion, MSD = 4 D t^alpha (D in nm^2/s^alpha) */
    SM_SIM_HARMONIC = 2,     /* Ornstein-Uhlenbeck in a harmonic well, stationary std per axis = confinement_nm */
    SM_SIM_REFLECTING = 3,   /* diffusion inside a disc of radius confinement_nm with reflecting wall */
    SM_SIM_DIRECTED = 4,     /* diffusion plus a constant drift velocity (random direction per particle) */
    SM_SIM_CTRW = 5,         /* continuous-time random walk: heavy-tailed waiting times (stick-slip) */
    SM_SIM_MOTION_COUNT = 6,
    SM_SIM_MOTION_MIXED = 7  /* config only: each particle draws one of the six */
} sm_sim_motion;

/* Names as used by the CLI and JSON ("sphere", "rod", "triangle", "hexagon", "cube", "mixed"; "brownian",
 * "fbm", "harmonic", "reflecting", "directed", "ctrw", "mixed"). Parsers return -1 for unknown names. */
const char *sm_sim_shape_name(sm_sim_shape s);
int sm_sim_shape_from_name(const char *name);
const char *sm_sim_motion_name(sm_sim_motion m);
int sm_sim_motion_from_name(const char *name);

/* ---------------------------------------------------------------- configuration */

/* Every parameter of a video. Ranges [min, max] are drawn once per video (optics) or once per particle
 * (size, material, motion), uniformly (log-uniformly for D, size and mu). */
typedef struct sm_sim_config {
    /* field */
    int width, height;              /* px */
    int64_t frames;                 /* frames to make (CLI and writer; the streaming generator is unbounded) */
    double pixel_size_nm;           /* nm per px */
    double frame_interval_s;        /* s between frames */
    double exposure_fraction;       /* shutter open time / frame interval, 0..1 (motion blur) */

    /* particles */
    int n_particles;                /* particles in the simulated domain (field plus margin) */
    sm_sim_shape shape;             /* or SM_SIM_SHAPE_MIXED */
    double size_min_px, size_max_px;     /* particle size (see sm_sim_shape), px */
    double rod_aspect_min, rod_aspect_max; /* rod length / width */
    double prism_aspect;            /* triangle/hexagon prism thickness / size */
    double mu_min_per_nm, mu_max_per_nm; /* particle attenuation: intensity falls as exp(-mu * thickness), 1/nm;
                                      * 0.005 is a weak (organic/oxide) scatterer, 0.5 a strong, saturated one */
    double lattice_amplitude;       /* internal lattice contrast, relative modulation of mu, 0..1 */
    double lattice_period_nm;       /* lattice fringe period, nm */
    double diffraction_variation;   /* per-particle, per-frame relative std of mu (Bragg flicker), 0..1 */
    int margin_px;                  /* the domain extends this far beyond each side of the field (entering and
                                     * leaving); < 0 chooses size_max_px + 8 */

    /* liquid (docs/simulator.md): background counts fall as exp(-t/liquid_mfp_nm), particle contrast
     * is kept by the fraction exp(-t/liquid_fog_nm), blur grows by liquid_blur_nm_per_nm * t (in quadrature) */
    double liquid_thickness_nm;     /* nm */
    double liquid_mfp_nm;           /* inelastic mean free path of the liquid, nm (water at 200 kV: ~300) */
    double liquid_fog_nm;           /* contrast-retention length, nm */
    double liquid_blur_nm_per_nm;   /* chromatic blur, nm of Gaussian sigma per nm of liquid */

    /* optics */
    double psf_sigma_min_px, psf_sigma_max_px; /* Gaussian point-spread sigma drawn per video, px */
    double fringe_min, fringe_max;  /* Fresnel fringe strength drawn per video: > 0 bright halo outside the
                                     * edge (underfocus), < 0 dark halo (overfocus), 0 none */
    double fringe_width_px;         /* extra sigma of the fringe's wide Gaussian, px */
    double astigmatism;             /* 0..0.5: PSF sigma is sigma*(1+a) along x and sigma*(1-a) along y */

    /* beam and detector */
    double dose_e_per_a2;           /* electrons per square angstrom per frame at the specimen */
    double detector_efficiency;     /* fraction of electrons counted, 0..1 */
    double noise_corr_sigma_px;     /* detector transfer: Gaussian sigma correlating the noise, px (0 = white) */
    double gain_noise;              /* relative std of one electron's signal (scintillator/Swank noise): the
                                     * variance becomes counts * (1 + gain_noise^2); smooths the histogram */
    double gain;                    /* grey levels per counted electron; <= 0 chooses background_grey / counts */
    double background_grey;         /* mean background grey level at the field centre when gain is automatic */
    double offset_grey;             /* grey level of zero counts */
    double read_noise_grey;         /* Gaussian read noise std, grey levels */
    double illumination_gradient;   /* linear illumination fall-off across the field, +/- fraction of the mean */
    double illumination_curvature;  /* quadratic vignetting, fraction of the mean at the corners */
    double flicker;                 /* per-frame relative std of the beam intensity */
    double drift_nm_per_s;          /* stage drift speed (random direction per video), nm/s */
    int hot_pixels, dead_pixels;    /* fixed defect specks */
    int bright_rows, dark_rows;     /* full-length defect rows */
    int bits;                       /* 8 or 16 (integer grey levels, clipped) or 32 (float, unclipped) */
    int jpeg_quality;               /* 1..100: JPEG round trip of every frame (bits must be 8); 0 off */

    /* motion */
    sm_sim_motion motion;           /* or SM_SIM_MOTION_MIXED */
    double D_min_nm2_s, D_max_nm2_s;       /* translational diffusion coefficient, nm^2/s (fBm: nm^2/s^alpha) */
    double alpha_min, alpha_max;    /* fBm anomalous exponent, 0 < alpha < 2 */
    double confinement_nm;          /* harmonic: stationary std per axis; reflecting: disc radius, nm */
    double velocity_nm_s;           /* directed: drift speed, nm/s */
    double ctrw_beta;               /* CTRW waiting-time tail exponent, 0 < beta < 1 (heavier below 1) */
    double ctrw_tau_s;              /* CTRW minimum waiting time, s */
    double jump_rate;               /* probability per frame of a sudden long jump */
    double jump_min_nm, jump_max_nm; /* long-jump length, nm */
    double D_r_min, D_r_max;        /* rotational diffusion coefficient, rad^2/s */
    double rotation_rate_rad_s;     /* directed: deterministic spin, rad/s (random sign) */
    int contacts;                   /* 1: particles do not overlap (hard-core push apart) */
    double aggregation_prob;        /* probability that a contact sticks for good (particles then move together) */
    int motion_blur_max_substeps;   /* motion blur: at most this many positions are averaged per exposure */
} sm_sim_config;

/* Fills cfg with a preset: "thin" (about 5 nm of water, contrast-to-noise near 2.5 per pixel), "medium"
 * (50 nm, near 1.2) or "thick" (150 nm, near 0.5). Every field is set. SM_EINVAL for another name. */
int sm_sim_config_preset(sm_sim_config *cfg, const char *name, sm_error *err);

/* Overlays the keys of a JSON object onto cfg (keys are the field names above; "preset" first applies that
 * preset; "shape" and "motion" take names). Unknown keys and bad values are SM_EFORMAT naming the key. */
int sm_sim_config_from_json(sm_sim_config *cfg, const char *path, sm_error *err);

/* Sets one field from text, "key" and "value" as in the JSON ("dose_e_per_a2", "3.5"). */
int sm_sim_config_set(sm_sim_config *cfg, const char *key, const char *value, sm_error *err);

/* Checks ranges and consistency; SM_EINVAL naming the first bad field. */
int sm_sim_config_check(const sm_sim_config *cfg, sm_error *err);

/* A random config spanning the simulator's whole range (thickness, dose, shapes, sizes, motion, optics,
 * noise correlation, compression), for training. width, height and frames are left as they were. */
void sm_sim_config_random(sm_sim_config *cfg, uint64_t seed);

/* ---------------------------------------------------------------- truth */

/* One particle's drawn parameters (constant over the video). */
typedef struct sm_sim_particle {
    int id;                        /* 1..n: the label value in masks and the track's particle number */
    sm_sim_shape shape;
    sm_sim_motion motion;
    double size_px;                /* see sm_sim_shape */
    double width_px;               /* rod diameter; equals size_px for other shapes */
    double thickness_nm;           /* maximum projected thickness, nm */
    double area_px2;               /* analytic projected area, px^2 */
    double mu_per_nm;              /* attenuation, 1/nm */
    double D_nm2_s;                /* nm^2/s (fBm: nm^2/s^alpha) */
    double alpha;                  /* 1 except for fBm */
    double D_r_rad2_s;             /* rad^2/s */
    double velocity_nm_s[2];       /* directed drift (x, y), nm/s; 0 otherwise */
    double confinement_nm;         /* harmonic/reflecting only; 0 otherwise */
} sm_sim_particle;

/* What a video drew once (optics, detector) and derived. */
typedef struct sm_sim_imaging {
    double psf_sigma_px;           /* optics and liquid blur combined, px */
    double psf_sigma_x_px, psf_sigma_y_px; /* with astigmatism, px */
    double fringe;                 /* Fresnel fringe strength */
    double counts_per_px;          /* mean counted electrons per px of background at the field centre */
    double gain;                   /* grey levels per electron */
    double contrast_retention;     /* exp(-t / liquid_fog_nm) */
    double noise_corr_1px;         /* correlation of the noise between horizontal neighbours (transfer function) */
    double illumination_angle;     /* direction of the gradient, rad */
    double drift_px[2];            /* stage drift per frame, px */
} sm_sim_imaging;

/* What the last frame drew. */
typedef struct sm_sim_frame_info {
    int64_t frame;                 /* index of the frame */
    double cnr;                    /* mean contrast-to-noise per pixel over visible particles (NaN if none):
                                    * (local background - particle core) / local noise std, from the noise-free
                                    * image; core = mask pixels within half the equivalent radius of the centre */
    double flicker;                /* beam intensity factor of this frame */
    double drift_px[2];            /* accumulated stage drift, px */
    int visible;                   /* particles with at least one mask pixel in the field */
} sm_sim_frame_info;

/* ---------------------------------------------------------------- generator */

typedef struct sm_sim sm_sim;

/* Draws the video's optics and particles from seed. cfg is copied. */
int sm_sim_create(sm_sim **out, const sm_sim_config *cfg, uint64_t seed, sm_error *err);
void sm_sim_destroy(sm_sim *s);

/* Advances one frame. frame: width*height floats (grey levels), or NULL to skip imaging (motion only, fast);
 * labels: width*height uint16 (0 background, k = particle k; where particles overlap the higher id wins), or
 * NULL; truth: one row per particle appended (frame, particle, x, y in px, angle in rad, area = mask pixels
 * in the field, major/minor = full extents in px, border, visible), or NULL.
 * Returns the frame index (>= 0) or a negative SM_E* code. */
int64_t sm_sim_next_frame(sm_sim *s, float *frame, uint16_t *labels, sm_tracks *truth, sm_error *err);

const sm_sim_config *sm_sim_get_config(const sm_sim *s);
/* Per-particle parameters, n_particles entries (valid while s lives). */
const sm_sim_particle *sm_sim_particles(const sm_sim *s, int *n);
const sm_sim_imaging *sm_sim_get_imaging(const sm_sim *s);
const sm_sim_frame_info *sm_sim_last_frame(const sm_sim *s);
/* Contrast-to-noise of every frame made so far (n frames; valid until the next sm_sim_next_frame). */
const double *sm_sim_cnr_history(const sm_sim *s, int64_t *n);

/* Writes truth.json: the config, the seed, the drawn imaging values, every particle's parameters and the
 * per-frame contrast-to-noise of the frames made so far (the frame's mean, and each particle's). Atomic. */
int sm_sim_write_truth(const sm_sim *s, const char *path, sm_error *err);

/* ---------------------------------------------------------------- whole clips and videos */

/* n_frames frames of cfg->width x cfg->height into frames (n_frames*H*W floats) and labels (same count of
 * uint16; NULL skips), truth rows appended to truth (NULL skips). No file is touched. */
int sm_sim_clip(const sm_sim_config *cfg, uint64_t seed, int64_t n_frames, float *frames, uint16_t *labels,
                sm_tracks *truth, sm_error *err);

typedef enum sm_sim_format { SM_SIM_FORMAT_TIFF = 0, SM_SIM_FORMAT_PNG = 1, SM_SIM_FORMAT_JPEG = 2 } sm_sim_format;

/* Progress callback: return non-zero to stop (the writer then returns SM_ECANCELLED). */
typedef int (*sm_sim_progress_fn)(void *ctx, int64_t done, int64_t total);

/* Writes a video of cfg->frames frames into dir (created if needed): video.tif (or frames/frame_0000.png or
 * .jpg), gt_labels.tif (uint16), gt_tracks.csv (frame, particle, x, y, angle, area, visible; one row per
 * particle and frame), truth.json and preview.png (first frame with outlines). Files appear atomically. */
int sm_sim_write_video(const sm_sim_config *cfg, uint64_t seed, const char *dir, sm_sim_format format,
                       sm_sim_progress_fn progress, void *progress_ctx, sm_error *err);

/* A picture sheet (PNG, atomic): one frame and a 5-frame mean of every shape under the thin, medium and thick
 * presets, with each preset's grey-level histogram, for comparing with real videos (`make gallery`). */
int sm_sim_write_gallery(const char *path, uint64_t seed, sm_error *err);

#ifdef __cplusplus
}
#endif
#endif
