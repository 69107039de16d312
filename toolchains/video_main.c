/* toolchains/video_main.c - udcs-video: the encoder adapter as a program. Agents run its
 * encode and join units; people use it to look at a plan, a file, or the PSNR between two.
 *
 *   udcs-video plan INPUT [--segment-seconds S]
 *   udcs-video split INPUT -d DIR [--segment-seconds S]
 *   udcs-video encode SEGMENT -o OUT.nut [--start-pts N] [--end-pts N] [--time-base N/D]
 *                     [--frames N] [--fps N/D] [SETTINGS]
 *   udcs-video encode --images --fps N/D [--first-pts N] -o OUT.nut [SETTINGS] IMAGE...
 *   udcs-video join -o OUTPUT [--format F] [--audio FILE] [--shift N/D] [--time-base N/D]
 *                   SEGMENT...
 *   udcs-video info FILE
 *   udcs-video psnr A B
 *   udcs-video encoders
 * Exit status: 0 done, 1 failed, 2 bad usage. */
#include "toolchains/video_internal.h"

#include "common/cli.h"

#include <jansson.h>
#include <libavutil/log.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
#include <link.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_USAGE 2
#define DEFAULT_SEGMENT_SECONDS 10.0

static void usage(FILE *out)
{
    fprintf(out,
            "usage: udcs-video COMMAND ... | --version\n"
            "\n"
            "  plan INPUT [--segment-seconds S]     where INPUT would be cut (JSON)\n"
            "  split INPUT -d DIR [--segment-seconds S]\n"
            "                                       cut INPUT into DIR/seg_NNNNN.nut by stream\n"
            "                                       copy (and DIR/audio.nut); prints the plan\n"
            "  encode SEGMENT -o OUT.nut [--start-pts N] [--end-pts N] [--time-base N/D]\n"
            "         [--frames N] [--fps N/D] [SETTINGS]\n"
            "                                       encode the frames of a segment's window\n"
            "                                       (pts in the time base, default the file's)\n"
            "  encode --images --fps N/D [--first-pts N] -o OUT.nut [SETTINGS] IMAGE...\n"
            "                                       encode a run of images as frames\n"
            "  join -o OUTPUT [--format F] [--audio FILE] [--shift N/D] [--time-base N/D]\n"
            "       SEGMENT...                      remux encoded segments (and the audio);\n"
            "                                       --shift: the split's, in seconds;\n"
            "                                       --time-base: the video's in OUTPUT\n"
            "  info FILE                            what FILE holds, every frame decoded (JSON)\n"
            "  psnr A B                             mean PSNR of B against A, in dB\n"
            "  encoders                             the video encoders libavcodec has here\n"
            "\n"
            "SETTINGS:\n" VIDEO_SETTINGS_HELP);
}

static int fail(const char *why)
{
    fprintf(stderr, "udcs-video: %s\n", why);
    return EXIT_FAILURE;
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "udcs-video: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'udcs-video --help')\n");
    return EXIT_USAGE;
}

static int parse_i64(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno)
        return -1;
    *out = n;
    return 0;
}

static int parse_seconds(const char *v, double *s)
{
    char *end;
    *s = v ? strtod(v, &end) : 0;
    return v && !*end && *s >= 0.1 && *s <= 86400 ? 0 : -1;
}

/* ---- plan, split ---------------------------------------------------------------------------- */

static json_t *plan_json(const char *path, const struct video_input *in,
                         const struct video_segment *segs, size_t n)
{
    char tb[64], fps[64];
    snprintf(tb, sizeof(tb), "%d/%d", in->tb_num, in->tb_den);
    snprintf(fps, sizeof(fps), "%d/%d", in->fps_num, in->fps_den);
    char shift[64];
    snprintf(shift, sizeof(shift), "%lld/%d", (long long)in->shift * in->tb_num, in->tb_den);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char file[32];
        snprintf(file, sizeof(file), "seg_%05zu.nut", i);
        json_t *s = json_pack("{s:s, s:I, s:I, s:I, s:I}", "file", file, "start_pts",
                              (json_int_t)segs[i].start_pts, "frames",
                              (json_int_t)segs[i].frames, "first_packet",
                              (json_int_t)segs[i].first, "packets",
                              (json_int_t)(segs[i].end - segs[i].first));
        json_object_set_new(s, "end_pts", segs[i].end_pts == VIDEO_PTS_END
                                              ? json_null()
                                              : json_integer(segs[i].end_pts));
        json_array_append_new(list, s);
    }
    return json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:b, s:s, s:I, s:o}", "input", path,
                     "codec", in->codec, "width", in->width, "height", in->height, "time_base",
                     tb, "fps", fps, "audio", in->has_audio, "shift", shift, "frames",
                     (json_int_t)in->n_pkts, "segments", list);
}

static int cmd_plan(int argc, char **argv, int split)
{
    const char *input = NULL, *dir = NULL;
    double seconds = DEFAULT_SEGMENT_SECONDS;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--segment-seconds") == 0) {
            if (parse_seconds(v, &seconds) < 0)
                return usage_error("--segment-seconds needs seconds from 0.1 to 86400%s", "");
            i++;
        } else if (split && strcmp(argv[i], "-d") == 0 && v) {
            dir = v;
            i++;
        } else if (argv[i][0] == '-' || input) {
            return usage_error("unexpected argument '%s'", argv[i]);
        } else {
            input = argv[i];
        }
    }
    if (!input || (split && !dir))
        return usage_error("%s", split ? "split needs INPUT and -d DIR" : "plan needs INPUT");
    char why[1024];
    struct video_input in;
    struct video_segment *segs = NULL;
    size_t n = 0;
    if (video_probe_input(input, &in, why, sizeof(why)) < 0)
        return fail(why);
    int64_t target = av_rescale_q((int64_t)(seconds * 1000), (AVRational){ 1, 1000 },
                                  (AVRational){ in.tb_num, in.tb_den });
    int rc = video_plan(in.pkts, in.n_pkts, target > 0 ? target : 1, &segs, &n, why,
                        sizeof(why));
    if (rc == 0 && split && mkdir(dir, 0755) < 0 && errno != EEXIST)
        rc = udcs_why(why, sizeof(why), "%s: cannot make the directory: %s", dir,
                      strerror(errno));
    if (rc == 0 && split)
        rc = video_split(input, &in, segs, n, dir, why, sizeof(why));
    if (rc == 0) {
        json_t *j = plan_json(input, &in, segs, n);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(j);
    }
    free(segs);
    video_input_release(&in);
    return rc == 0 ? EXIT_SUCCESS : fail(why);
}

/* ---- encode, join ---------------------------------------------------------------------------- */

static int cmd_encode(int argc, char **argv)
{
    struct video_encode_job job = { .settings = VIDEO_SETTINGS_INIT, .start_pts = VIDEO_NO_TS,
                                    .end_pts = VIDEO_PTS_END, .expect_frames = -1 };
    int images = 0;
    const char **files = calloc((size_t)argc + 1, sizeof(*files));
    size_t n_files = 0;
    char why[1024];
    int status = files ? 0 : EXIT_FAILURE;
    for (int i = 0; status == 0 && i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        int took = video_settings_flag(&job.settings, a, v, why, sizeof(why));
        if (took < 0) {
            status = usage_error("%s", why);
        } else if (took) {
            i++;
        } else if (strcmp(a, "--images") == 0) {
            images = 1;
        } else if (strcmp(a, "-o") == 0 && v) {
            job.output = argv[++i];
        } else if (strcmp(a, "--fps") == 0) {
            if (video_parse_rate(v, &job.fps_num, &job.fps_den) < 0)
                status = usage_error("--fps needs a rate N or N/D, such as 24 or 30000/1001%s",
                                     "");
            i++;
        } else if (strcmp(a, "--time-base") == 0) {
            if (video_parse_rate(v, &job.tb_num, &job.tb_den) < 0)
                status = usage_error("--time-base needs N/D, such as 1/12800%s", "");
            i++;
        } else if (strcmp(a, "--start-pts") == 0 || strcmp(a, "--end-pts") == 0 ||
                   strcmp(a, "--first-pts") == 0 || strcmp(a, "--frames") == 0) {
            if (parse_i64(v, &n) < 0)
                status = usage_error("%s needs a whole number", a);
            else if (strcmp(a, "--start-pts") == 0)
                job.start_pts = n;
            else if (strcmp(a, "--end-pts") == 0)
                job.end_pts = n;
            else if (strcmp(a, "--first-pts") == 0)
                job.first_pts = n;
            else
                job.expect_frames = (long)n;
            i++;
        } else if (a[0] == '-' && a[1]) {
            status = usage_error("unknown option '%s'", a);
        } else {
            files[n_files++] = a;
        }
    }
    if (status == 0 && (!job.output || n_files == 0 || (!images && n_files != 1)))
        status = usage_error("%s", images ? "encode --images needs -o OUT and images"
                                          : "encode needs one SEGMENT and -o OUT");
    if (status == 0) {
        if (images) {
            job.images = files;
            job.n_images = n_files;
        } else {
            job.input = files[0];
        }
        long frames;
        if (video_encode(&job, &frames, why, sizeof(why)) < 0)
            status = fail(why);
        else
            printf("{\"frames\": %ld, \"output\": \"%s\"}\n", frames, job.output);
    }
    free(files);
    return status;
}

static int cmd_join(int argc, char **argv)
{
    const char *output = NULL, *format = NULL, *audio = NULL, *shift = NULL, *tb = NULL;
    const char **segs = calloc((size_t)argc + 1, sizeof(*segs));
    size_t n = 0;
    int status = segs ? 0 : EXIT_FAILURE;
    for (int i = 0; status == 0 && i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = strcmp(a, "-o") == 0 ? &output
                            : strcmp(a, "--format") == 0 ? &format
                            : strcmp(a, "--audio") == 0 ? &audio
                            : strcmp(a, "--shift") == 0 ? &shift
                            : strcmp(a, "--time-base") == 0 ? &tb : NULL;
        if (slot && v) {
            *slot = v;
            i++;
        } else if (a[0] == '-' && a[1]) {
            status = usage_error("unknown option or missing value: '%s'", a);
        } else {
            segs[n++] = a;
        }
    }
    char why[1024];
    long long num = 0, den = 1;
    char tail;
    if (status == 0 && (!output || n == 0))
        status = usage_error("join needs -o OUTPUT and segments%s", "");
    if (status == 0 && shift && (sscanf(shift, "%lld/%lld%c", &num, &den, &tail) != 2 ||
                                 num < 0 || den <= 0 || den > INT_MAX))
        status = usage_error("--shift %s: not N/D seconds (as split prints it)", shift);
    struct video_join_job job = { .segments = segs, .n_segments = n, .audio = audio,
                                  .output = output, .format = format };
    if (status == 0 && tb && video_parse_rate(tb, &job.tb_num, &job.tb_den) < 0)
        status = usage_error("--time-base %s: not N/D", tb);
    job.shift_num = num;
    job.shift_den = den;
    if (status == 0 && video_join(&job, why, sizeof(why)) < 0)
        status = fail(why);
    free(segs);
    return status;
}

/* ---- looking at files ---------------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    if (argc != 1)
        return usage_error("info needs one FILE%s", "");
    char why[1024];
    return video_info(argv[0], stdout, why, sizeof(why)) < 0 ? fail(why) : EXIT_SUCCESS;
}

static int cmd_psnr(int argc, char **argv)
{
    if (argc != 2)
        return usage_error("psnr needs two files, A and B%s", "");
    char why[1024];
    double psnr;
    long frames;
    if (video_psnr(argv[0], argv[1], &psnr, &frames, why, sizeof(why)) < 0)
        return fail(why);
    printf("{\"psnr\": %.4f, \"frames\": %ld}\n", psnr, frames);
    return EXIT_SUCCESS;
}

static int cmd_encoders(void)
{
    void *it = NULL;
    const AVCodec *c;
    while ((c = av_codec_iterate(&it)))
        if (av_codec_is_encoder(c) && c->type == AVMEDIA_TYPE_VIDEO)
            printf("%-20s %s\n", c->name, c->long_name ? c->long_name : "");
    return EXIT_SUCCESS;
}

/* The encoder libraries libavcodec loaded, by soname (their build is in it: libx264.so.164);
 * the audio ones too, which the join uses when it must encode the audio. */
static int note_encoder_library(struct dl_phdr_info *info, size_t size, void *arg)
{
    static const char *const encoders[] = { "libx264.", "libx265.", "libSvtAv1Enc.", "libaom.",
                                            "libvpx.", "librav1e.", "libdav1d.", "libopenh264.",
                                            "libtheoraenc.", "libxvidcore.", "libopus.",
                                            "libvorbisenc.", "libmp3lame.", NULL };
    (void)size;
    const char *base = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    base = base ? base + 1 : info->dlpi_name;
    for (int i = 0; base && encoders[i]; i++)
        if (strncmp(base, encoders[i], strlen(encoders[i])) == 0)
            fprintf(arg, ", %s", base);
    return 0;
}

/* One line: what the output of an encode depends on besides this file (the agent's
 * fingerprint of udcs-video takes it in). */
static void version(void)
{
    unsigned v[4] = { avcodec_version(), avformat_version(), swscale_version(),
                      swresample_version() };
    printf("udcs-video %s (libavcodec %u.%u.%u, libavformat %u.%u.%u, libswscale %u.%u.%u, "
           "libswresample %u.%u.%u", UDCS_VERSION, v[0] >> 16, v[0] >> 8 & 255, v[0] & 255,
           v[1] >> 16, v[1] >> 8 & 255, v[1] & 255, v[2] >> 16, v[2] >> 8 & 255, v[2] & 255,
           v[3] >> 16, v[3] >> 8 & 255, v[3] & 255);
    dl_iterate_phdr(note_encoder_library, stdout);
    printf(")\n");
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
    }
    if (strcmp(argv[1], "--version") == 0) {
        version();
        return EXIT_SUCCESS;
    }
    const char *cmd = argv[1];
    int n = argc - 2;
    char **rest = argv + 2;
    if (strcmp(cmd, "plan") == 0)
        return cmd_plan(n, rest, 0);
    if (strcmp(cmd, "split") == 0)
        return cmd_plan(n, rest, 1);
    if (strcmp(cmd, "encode") == 0)
        return cmd_encode(n, rest);
    if (strcmp(cmd, "join") == 0)
        return cmd_join(n, rest);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(n, rest);
    if (strcmp(cmd, "psnr") == 0)
        return cmd_psnr(n, rest);
    if (strcmp(cmd, "encoders") == 0)
        return cmd_encoders();
    return usage_error("unknown command '%s'", cmd);
}
