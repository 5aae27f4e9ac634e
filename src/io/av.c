/* AVI, MP4 and whatever else FFmpeg's libavformat and libavcodec decode (MOV, MKV, MPEG-TS, WebM, GIF, ...),
 * as gray frames. The FFmpeg API is documented at https://ffmpeg.org/doxygen/5.1/ (demuxing and decoding
 * with avformat_open_input / av_read_frame / avcodec_send_packet / avcodec_receive_frame).
 *
 * Gray is the luminance: for YUV and gray pixel formats the Y plane is taken as stored (limited-range video
 * keeps its 16..235 levels; we do not stretch it), anything else (RGB, palette, packed YUV) goes through
 * swscale to GRAY8 or GRAY16. Samples stay on the stored scale: 0..255 for 8-bit video, 0..2^depth-1 above.
 * The frame interval is 1 / the stream's average frame rate (or its real base rate when the average is
 * unknown). Frame i has the timestamp start + i / rate; reading it seeks (av_seek_frame, backward) to the
 * keyframe before it and decodes forward. The last decoded frame and position are cached, so sequential
 * reads decode each frame once and never seek, and a short jump forward decodes on without seeking.
 * Frame count: the container's count (nb_frames) when it states one, else duration * rate rounded. We do
 * not decode the file at open to count frames (a 10,000-frame video would be decoded twice); the price is
 * that a container with a wrong count yields "frame i past the end of the stream" on the last reads.
 * Variable-frame-rate video is indexed by time at the average rate. Decoding uses one thread (the library
 * starts no threads), and FFmpeg's logging is silenced (av_log_set_level is process-wide; nothing in samem
 * wants FFmpeg's log lines). Left out: audio, alpha, choosing among several video streams (the "best" one
 * by FFmpeg's rule is used). */
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "io/format.h"

#define AV_FORWARD_DECODE_MAX 64   /* frames decoded forward instead of seeking */

typedef struct av_priv {
    char *path;
    AVFormatContext *fc;
    AVCodecContext *cc;
    AVPacket *pkt;
    AVFrame *frame;          /* last decoded frame (index cur) */
    struct SwsContext *sws;
    uint8_t *gray;           /* swscale output, width*height*2 bytes, allocated on first use */
    int stream;
    AVRational tb, rate;     /* stream time base (s), frame rate (frames/s; 0/1 when unknown) */
    int64_t start;           /* stream start time, in tb */
    int64_t cur;             /* index of the frame in `frame`, -1 if none */
    int64_t seq;             /* index counter for frames without timestamps */
    int eof;                 /* demuxer and decoder drained since the last seek */
    int calibrated;          /* start has been set from the first decoded frame */
} av_priv;

static int av_probe(const uint8_t *head, size_t n, const char *path, int is_dir) {
    if (is_dir || n == 0) return 0;
    av_log_set_level(AV_LOG_QUIET);
    uint8_t buf[SM_PROBE_HEAD_BYTES + AVPROBE_PADDING_SIZE];
    memset(buf, 0, sizeof buf);
    memcpy(buf, head, n < SM_PROBE_HEAD_BYTES ? n : SM_PROBE_HEAD_BYTES);
    AVProbeData pd = {.filename = path, .buf = buf, .buf_size = (int)(n < SM_PROBE_HEAD_BYTES ? n : SM_PROBE_HEAD_BYTES)};
    int score = 0;
    const AVInputFormat *f = av_probe_input_format3(&pd, 1, &score);
    if (!f || score < 25) return 0;
    /* Below the hand-written readers' strong magic: FFmpeg also claims TIFF, PNG and JPEG files. */
    return 20 + score * 40 / AVPROBE_SCORE_MAX;
}

static void av_close(void *pv) {
    av_priv *a = pv;
    if (!a) return;
    sws_freeContext(a->sws);
    av_frame_free(&a->frame);
    av_packet_free(&a->pkt);
    avcodec_free_context(&a->cc);
    avformat_close_input(&a->fc);
    free(a->gray);
    free(a->path);
    free(a);
}

static int av_fail(sm_error *err, int code, const char *path, const char *what, int averr) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(averr, msg, sizeof msg);
    return sm_error_set(err, code, "%s: %s: %s", path, what, msg);
}

static int av_open(const char *path, sm_video_info *info, void **out, sm_error *err) {
    *out = NULL;
    av_log_set_level(AV_LOG_QUIET);
    av_priv *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path))) {
        free(a);
        return sm_error_set(err, SM_ENOMEM, "%s: out of memory", path);
    }
    a->cur = -1;
    int rc, r;
    if ((r = avformat_open_input(&a->fc, path, NULL, NULL)) < 0) {
        rc = av_fail(err, SM_EFORMAT, path, "FFmpeg cannot open it", r);
        goto fail;
    }
    const AVCodec *codec = NULL;
    a->stream = av_find_best_stream(a->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    AVStream *st = a->stream >= 0 ? a->fc->streams[a->stream] : NULL;
    if (st && (st->codecpar->width <= 0 || st->codecpar->height <= 0)) {
        /* The container header did not say; let FFmpeg read a few packets. */
        avformat_find_stream_info(a->fc, NULL);
        a->stream = av_find_best_stream(a->fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
        st = a->stream >= 0 ? a->fc->streams[a->stream] : NULL;
    }
    if (!st || !codec) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: no video stream FFmpeg can decode", path);
        goto fail;
    }
    AVCodecParameters *par = st->codecpar;
    if (par->width <= 0 || par->height <= 0 || par->width > 32768 || par->height > 32768) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: video stream of invalid size %d x %d", path, par->width, par->height);
        goto fail;
    }
    if (!(a->cc = avcodec_alloc_context3(codec)) || avcodec_parameters_to_context(a->cc, par) < 0) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for the decoder", path);
        goto fail;
    }
    a->cc->thread_count = 1;
    if ((r = avcodec_open2(a->cc, codec, NULL)) < 0) {
        rc = av_fail(err, SM_EFORMAT, path, "cannot open the video decoder", r);
        goto fail;
    }
    if (!(a->pkt = av_packet_alloc()) || !(a->frame = av_frame_alloc())) {
        rc = sm_error_set(err, SM_ENOMEM, "%s: out of memory for a frame", path);
        goto fail;
    }
    a->tb = st->time_base;
    a->start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    a->rate = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate
              : st->r_frame_rate.num > 0 && st->r_frame_rate.den > 0 ? st->r_frame_rate
                                                                     : (AVRational){0, 1};
    int64_t frames = st->nb_frames;
    if (frames <= 0 && a->rate.num > 0) {
        double dur = st->duration != AV_NOPTS_VALUE ? (double)st->duration * av_q2d(a->tb)
                     : a->fc->duration != AV_NOPTS_VALUE ? (double)a->fc->duration / AV_TIME_BASE
                                                         : 0;
        frames = (int64_t)(dur * av_q2d(a->rate) + 0.5);
    }
    if (frames <= 0) {
        rc = sm_error_set(err, SM_EFORMAT, "%s: the container states neither a frame count nor a duration", path);
        goto fail;
    }
    info->width = par->width;
    info->height = par->height;
    info->frames = frames;
    const AVPixFmtDescriptor *d = par->format >= 0 ? av_pix_fmt_desc_get((enum AVPixelFormat)par->format) : NULL;
    info->bit_depth = d ? (d->comp[0].depth > 8 ? 16 : 8) : par->bits_per_raw_sample > 8 ? 16 : 8;
    info->is_float = 0;
    info->frame_interval_s = a->rate.num > 0 ? av_q2d(av_inv_q(a->rate)) : 0;
    snprintf(info->format, sizeof info->format, "%s", a->fc->iformat->name);
    char *comma = strchr(info->format, ',');   /* "mov,mp4,m4a,3gp,3g2,mj2" -> "mov" */
    if (comma) *comma = 0;
    *out = a;
    return 0;
fail:
    av_close(a);
    return rc;
}

/* Index of a decoded frame from its timestamp (or the running counter when it has none). */
static int64_t av_frame_index(av_priv *a, const AVFrame *f) {
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE || a->rate.num <= 0) return ++a->seq;
    a->seq = av_rescale_q(ts - a->start, a->tb, av_inv_q(a->rate));
    return a->seq;
}

/* Decodes the next frame into a->frame and sets a->cur; AVERROR_EOF at the end of the stream. */
static int av_decode_next(av_priv *a) {
    for (;;) {
        int r = avcodec_receive_frame(a->cc, a->frame);
        if (r == 0) {
            a->cur = av_frame_index(a, a->frame);
            return 0;
        }
        if (r != AVERROR(EAGAIN)) return r;
        if (a->eof) return AVERROR_EOF;
        r = av_read_frame(a->fc, a->pkt);
        if (r == AVERROR_EOF) {
            a->eof = 1;
            avcodec_send_packet(a->cc, NULL);   /* drain the decoder's delayed frames */
            continue;
        }
        if (r < 0) return r;
        if (a->pkt->stream_index == a->stream) {
            r = avcodec_send_packet(a->cc, a->pkt);
            if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_INVALIDDATA) {
                av_packet_unref(a->pkt);
                return r;
            }
        }
        av_packet_unref(a->pkt);
    }
}

/* Seeks to the keyframe at or before frame `target` (clamped at 0) and resets the decoder. */
static int av_seek(av_priv *a, int64_t target) {
    if (target < 0) target = 0;
    int64_t ts = a->start + (a->rate.num > 0 ? av_rescale_q(target, av_inv_q(a->rate), a->tb) : 0);
    int r = av_seek_frame(a->fc, a->stream, ts, AVSEEK_FLAG_BACKWARD);
    if (r < 0 && target == 0) r = av_seek_frame(a->fc, a->stream, a->start, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
    if (r < 0) return r;
    avcodec_flush_buffers(a->cc);
    a->eof = 0;
    a->cur = -1;
    a->seq = target == 0 ? -1 : a->seq;
    return 0;
}

/* Luminance of a->frame into out (width*height floats). */
static int av_to_gray(av_priv *a, const sm_video_info *info, float *out, sm_error *err) {
    AVFrame *f = a->frame;
    int w = info->width, h = info->height;
    if (f->width != w || f->height != h)
        return sm_error_set(err, SM_EFORMAT, "%s: frame %lld is %d x %d, the stream said %d x %d", a->path,
                            (long long)a->cur, f->width, f->height, w, h);
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    if (!d) return sm_error_set(err, SM_EFORMAT, "%s: frame of unknown pixel format", a->path);
    int depth = d->comp[0].depth, bytes = depth > 8 ? 2 : 1;
    int direct = !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BE |
                               AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_FLOAT)) &&
                 d->comp[0].plane == 0 && d->comp[0].offset == 0 && d->comp[0].step == bytes &&
                 d->comp[0].shift == 0 && depth <= 16;
    const uint8_t *src = f->data[0];
    int stride = f->linesize[0];
    if (!direct) {
        size_t bytes_needed;
        int rc = sm_size_mul(&bytes_needed, (size_t)w, (size_t)h, 2, a->path, err);
        if (rc < 0) return rc;
        if (!a->gray && !(a->gray = malloc(bytes_needed)))
            return sm_error_set(err, SM_ENOMEM, "%s: out of memory for a gray frame", a->path);
        enum AVPixelFormat dst = depth > 8 ? AV_PIX_FMT_GRAY16LE : AV_PIX_FMT_GRAY8;
        a->sws = sws_getCachedContext(a->sws, w, h, (enum AVPixelFormat)f->format, w, h, dst, SWS_POINT, NULL, NULL,
                                      NULL);
        if (!a->sws) return sm_error_set(err, SM_EFORMAT, "%s: cannot convert pixel format %s to gray", a->path, d->name);
        uint8_t *dst_data[4] = {a->gray, NULL, NULL, NULL};
        int dst_stride[4] = {w * bytes, 0, 0, 0};
        sws_scale(a->sws, (const uint8_t *const *)f->data, f->linesize, 0, h, dst_data, dst_stride);
        src = a->gray;
        stride = w * bytes;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (ptrdiff_t)y * stride;
        float *o = out + (size_t)y * (size_t)w;
        if (bytes == 1)
            for (int x = 0; x < w; x++) o[x] = row[x];
        else
            for (int x = 0; x < w; x++) o[x] = (float)(row[2 * x] | row[2 * x + 1] << 8);
    }
    return 0;
}

static int av_read_frame_i(void *pv, const sm_video_info *info, int64_t i, float *out, sm_error *err) {
    av_priv *a = pv;
    if (!a->calibrated) {
        /* Frame 0 is the first frame the decoder puts out. Its timestamp, not the container's start time,
         * anchors the index: AVI with B-frames, for one, stamps its first frame 1 because of decoder delay. */
        int r = av_seek(a, 0);
        if (r >= 0) r = av_decode_next(a);
        if (r < 0) return av_fail(err, SM_EFORMAT, a->path, "cannot decode the first frame", r);
        if (a->frame->best_effort_timestamp != AV_NOPTS_VALUE) a->start = a->frame->best_effort_timestamp;
        a->cur = a->seq = 0;
        a->calibrated = 1;
    }
    if (a->cur != i) {
        int r;
        if (a->cur < 0 || i < a->cur || i - a->cur > AV_FORWARD_DECODE_MAX) {
            if ((r = av_seek(a, i)) < 0) return av_fail(err, SM_EFORMAT, a->path, "seek failed", r);
        }
        /* Decode forward; when the seek landed after i (timestamps of keyframes are not always exact),
         * step back further and again, down to the start of the stream. */
        int64_t back = 1;
        for (;;) {
            r = av_decode_next(a);
            if (r == 0 && a->cur >= i) {
                if (a->cur == i) break;
                if (i - back < 0 && back > 1) {
                    return sm_error_set(err, SM_EFORMAT, "%s: frame %lld not found (the stream's timestamps skip it)",
                                        a->path, (long long)i);
                }
                back *= 4;
                if ((r = av_seek(a, i - back)) < 0) return av_fail(err, SM_EFORMAT, a->path, "seek failed", r);
                continue;
            }
            if (r == AVERROR_EOF)
                return sm_error_set(err, SM_EFORMAT, "%s: frame %lld past the end of the stream (%lld frames stated)",
                                    a->path, (long long)i, (long long)info->frames);
            if (r < 0) return av_fail(err, SM_EFORMAT, a->path, "decoding failed", r);
        }
    }
    return av_to_gray(a, info, out, err);
}

const sm_io_format sm_io_format_av = {
    .name = "av",
    .probe = av_probe,
    .open = av_open,
    .read_frame = av_read_frame_i,
    .close = av_close,
};
