/* farm/encode_main.c - udcs-encode: encode a video on the farm in segments.
 *
 *   udcs-encode INPUT -o OUTPUT [--codec NAME] [--crf N | --bitrate R] [--preset P]
 *               [--segment-seconds S] [--scale WxH] [--pix-fmt F] [--threads N]
 *
 * Here: the input is read and cut at keyframes by stream copy (toolchains/video_split.c),
 * each segment and the audio sent to the master's store; the master makes a unit per
 * segment and a join unit (toolchains/encode_split.c); the joined file comes back to
 * OUTPUT, written whole or not at all. Segments are cached units: the same command again
 * encodes nothing, and a change of settings re-encodes every segment. */
#include "farm/client.h"
#include "cas/cas.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "toolchains/encode.h"
#include "toolchains/video.h"

#include <dirent.h>
#include <errno.h>
#include <libavutil/log.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#define DEFAULT_SEGMENT_SECONDS 10.0

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-encode INPUT -o OUTPUT [OPTIONS]\n"
            "\n"
            "Encode INPUT on the farm: cut at keyframes, every segment a cached unit on an\n"
            "agent, joined into OUTPUT (.mp4, .mkv, .mov, .webm, .nut or .ts) with the\n"
            "audio copied.\n"
            "\n"
            VIDEO_SETTINGS_HELP
            "  --segment-seconds S  cut at the keyframes nearest every S seconds (default 10)\n"
            "  --priority N       1-10 (default 5)\n"
            "  --json             one JSON event per line instead of the progress bar\n"
            "  --detach           submit, print the job id and return\n"
            "\n"
            "options (also settable by environment and config file):\n");
    udcs_config_print_flags(cfg, out);
}

struct opts {
    const char *input, *output, *format;
    struct video_settings vs;
    double seconds;
    long priority;
    int json, detach;
    json_t *fields;               /* the settings as the job carries them */
};

static int parse_opts(int argc, char **argv, void *opts)
{
    struct opts *o = opts;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char why[512];
        int took = video_settings_take(&o->vs, o->fields, a, v, why, sizeof(why));
        char *end;
        if (took < 0) {
            udcs_log_error("%s", why);
            return -1;
        }
        if (took) {
            i++;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--detach") == 0) {
            o->detach = 1;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && v) {
            o->output = argv[++i];
        } else if (strcmp(a, "--segment-seconds") == 0) {
            o->seconds = v ? strtod(v, &end) : 0;
            if (!v || *end || !(o->seconds >= 0.1 && o->seconds <= 86400)) {
                udcs_log_error("--segment-seconds needs seconds from 0.1 to 86400");
                return -1;
            }
            i++;
        } else if (strcmp(a, "--priority") == 0) {
            o->priority = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || o->priority < 1 || o->priority > 10) {
                udcs_log_error("--priority needs a whole number from 1 to 10");
                return -1;
            }
            i++;
        } else if (a[0] == '-' && a[1]) {
            udcs_log_error("unknown option '%s' (see 'udcs-encode --help')", a);
            return -1;
        } else if (o->input) {
            udcs_log_error("one input per job: '%s' and '%s'", o->input, a);
            return -1;
        } else {
            o->input = a;
        }
    }
    if (!o->input || !o->output) {
        udcs_log_error("udcs-encode needs INPUT and -o OUTPUT (see 'udcs-encode --help')");
        return -1;
    }
    const char *dot = strrchr(o->output, '.');
    o->format = dot && !strchr(dot, '/') ? dot + 1 : "";
    if (!encode_format_known(o->format)) {
        udcs_log_error("-o %s: the output's extension names its container: one of "
                       ENCODE_FORMATS, o->output);
        return -1;
    }
    if (o->vs.crf >= 0 && o->vs.bitrate > 0) {
        udcs_log_error("--crf and --bitrate both given: choose one");
        return -1;
    }
    return 0;
}

/* ---- the split, sent ------------------------------------------------------------------------ */

struct plan {
    struct video_input in;
    struct video_segment *segs;
    size_t n_segs, frames;        /* frames: in every window (what the output will have) */
    char dir[PATH_MAX];           /* where the split's files are, until sent */
};

static void plan_release(struct plan *p)
{
    if (p->dir[0]) {
        for (size_t i = 0; i <= p->n_segs; i++) {
            char path[PATH_MAX + 32];
            if (i < p->n_segs)
                snprintf(path, sizeof(path), "%s/seg_%05zu.nut", p->dir, i);
            else
                snprintf(path, sizeof(path), "%s/audio.nut", p->dir);
            unlink(path);
        }
        rmdir(p->dir);
    }
    free(p->segs);
    video_input_release(&p->in);
}

/* Remove what an udcs-encode that was killed while it split left under tmp/ (directories
 * encode-PID-XXXXXX whose process is gone). */
static void sweep_stale_splits(const char *tmp)
{
    DIR *d = opendir(tmp);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long pid;
        char path[PATH_MAX];
        if (sscanf(e->d_name, "encode-%ld-", &pid) != 1 || pid <= 0 ||
            (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
        DIR *sd = opendir(path);
        struct dirent *f;
        while (sd && (f = readdir(sd))) {
            char file[PATH_MAX + 256];
            snprintf(file, sizeof(file), "%s/%s", path, f->d_name);
            if (f->d_name[0] != '.')
                unlink(file);
        }
        if (sd)
            closedir(sd);
        rmdir(path);
    }
    if (d)
        closedir(d);
}

/* Read, check, plan and split the input into a directory beside the local store. */
static int make_plan(const struct opts *o, const char *cache_dir, struct plan *p)
{
    char why[1024];
    if (video_probe_input(o->input, &p->in, why, sizeof(why)) < 0 ||
        video_check_settings(&o->vs, p->in.width, p->in.height, p->in.fps_num, p->in.fps_den,
                             p->in.tb_num, p->in.tb_den, why, sizeof(why)) < 0) {
        udcs_log_error("%s", why);
        return UDCS_EXIT_FAILED;
    }
    double seconds = o->seconds > 0 ? o->seconds : DEFAULT_SEGMENT_SECONDS;
    int64_t target = (int64_t)(seconds * p->in.tb_den / p->in.tb_num);
    if (video_plan(p->in.pkts, p->in.n_pkts, target > 0 ? target : 1, &p->segs, &p->n_segs,
                   why, sizeof(why)) < 0) {
        udcs_log_error("%s: %s", o->input, why);
        return UDCS_EXIT_FAILED;
    }
    for (size_t i = 0; i < p->n_segs; i++)
        p->frames += p->segs[i].frames;
    snprintf(p->dir, sizeof(p->dir), "%s/tmp", cache_dir);
    udcs_mkdir_p(p->dir, 0700);
    sweep_stale_splits(p->dir);
    snprintf(p->dir, sizeof(p->dir), "%s/tmp/encode-%ld-XXXXXX", cache_dir, (long)getpid());
    if (!mkdtemp(p->dir)) {
        udcs_log_error("cannot make a directory for the segments under %s/tmp: %s", cache_dir,
                       strerror(errno));
        p->dir[0] = '\0';
        return UDCS_EXIT_FAILED;
    }
    if (video_split(o->input, &p->in, p->segs, p->n_segs, p->dir, why, sizeof(why)) < 0) {
        udcs_log_error("%s", why);
        return UDCS_EXIT_FAILED;
    }
    return 0;
}

static json_t *build_job(const struct opts *o, struct plan *p, struct cas *cas)
{
    char digest[CLIENT_DIGEST_TEXT], path[PATH_MAX + 32], text[64];
    json_t *job = json_deep_copy(o->fields), *segs = json_array();
    json_object_set_new(job, "type", json_string("ENCODE"));
    json_object_set_new(job, "format", json_string(o->format));
    snprintf(text, sizeof(text), "%d/%d", p->in.fps_num, p->in.fps_den);
    json_object_set_new(job, "fps", json_string(text));
    snprintf(text, sizeof(text), "%d/%d", p->in.tb_num, p->in.tb_den);
    json_object_set_new(job, "time_base", json_string(text));
    snprintf(text, sizeof(text), "%lld/%d", (long long)p->in.shift * p->in.tb_num,
             p->in.tb_den);
    json_object_set_new(job, "shift", json_string(text));
    if (o->priority)
        json_object_set_new(job, "priority", json_integer(o->priority));
    for (size_t i = 0; i < p->n_segs; i++) {
        snprintf(path, sizeof(path), "%s/seg_%05zu.nut", p->dir, i);
        if (client_send_file(cas, path, digest) < 0) {
            json_decref(segs);
            json_decref(job);
            return NULL;
        }
        unlink(path);
        json_t *s = json_pack("{s:s, s:I, s:I}", "digest", digest, "start_pts",
                              (json_int_t)p->segs[i].start_pts, "frames",
                              (json_int_t)p->segs[i].frames);
        if (p->segs[i].end_pts != VIDEO_PTS_END)
            json_object_set_new(s, "end_pts", json_integer(p->segs[i].end_pts));
        json_array_append_new(segs, s);
    }
    json_object_set_new(job, "segments", segs);
    if (p->in.has_audio) {
        snprintf(path, sizeof(path), "%s/audio.nut", p->dir);
        if (client_send_file(cas, path, digest) < 0) {
            json_decref(job);
            return NULL;
        }
        json_object_set_new(job, "audio", json_string(digest));
    }
    return job;
}

/* ---- following the job ---------------------------------------------------------------------- */

struct run {
    struct client_watch w;
    struct cas *cas;
    const struct opts *o;
    const struct plan *p;
    unsigned char *done;          /* per segment */
    size_t segs_done, frames_done, frames, cached, frames_cached;
    int written, json, tty;
    uint64_t start_ms;
};

static void progress(struct run *r)
{
    if (r->json || !r->tty)
        return;
    char text[160];
    snprintf(text, sizeof(text), "%zu/%zu segments, %zu/%zu frames, %zu cached", r->segs_done,
             r->p->n_segs, r->frames_done, r->frames, r->cached);
    double elapsed = (double)(udcs_mono_ms() - r->start_ms) / 1000;
    client_draw_progress(r->frames_done, r->frames, text, r->start_ms,
                         client_eta_s(elapsed, r->frames_done, r->frames_cached, r->frames));
}

static int take_output(struct run *r, json_t *outputs, int cached)
{
    const char *digest = json_string_value(json_object_get(json_array_get(outputs, 0),
                                                           "digest"));
    struct cas_digest d;
    if (!digest || cas_digest_parse(digest, &d, NULL) < 0) {
        udcs_log_error("the join reported no file");
        return -1;
    }
    int rc = cas_get_to_file(r->cas, &d, r->o->output, 0644);
    if (rc < 0) {
        udcs_log_error("fetching %s failed: %s", r->o->output, udcs_strerror(rc));
        return rc;
    }
    r->written = 1;
    if (r->json)
        client_print_event(json_pack("{s:s, s:s, s:s, s:b}", "event", "output", "path",
                                     r->o->output, "digest", digest, "cached", cached));
    fflush(stdout);
    return 0;
}

/* "segment K" finished: count it; "output": write the file. */
static int on_unit(void *arg, const char *name, json_t *outputs, int cached)
{
    struct run *r = arg;
    size_t k;
    char tail;
    if (name && strcmp(name, "output") == 0)
        return r->written ? 0 : take_output(r, outputs, cached);
    if (!name || sscanf(name, "segment %zu%c", &k, &tail) != 1 || k >= r->p->n_segs ||
        r->done[k])
        return 0;
    r->done[k] = 1;
    r->segs_done++;
    r->frames_done += r->p->segs[k].frames;
    r->cached += cached;
    if (cached)
        r->frames_cached += r->p->segs[k].frames;
    if (r->json)
        printf("{\"event\":\"segment\",\"segment\":%zu,\"frames\":%zu,\"cached\":%s,"
               "\"segments_done\":%zu,\"segments\":%zu,\"frames_done\":%zu,"
               "\"frames_total\":%zu}\n", k, r->p->segs[k].frames, cached ? "true" : "false",
               r->segs_done, r->p->n_segs, r->frames_done, r->frames);
    fflush(stdout);
    return 0;
}

static int on_event(void *arg, const char *event, json_t *d)
{
    struct run *r = arg;
    int rc = 0;
    if (strcmp(event, "unit_finished") == 0)
        rc = on_unit(r, json_string_value(json_object_get(d, "name")),
                     json_object_get(d, "outputs"), json_is_true(json_object_get(d, "cached")));
    else if (strcmp(event, "unit_failed") == 0 || strcmp(event, "unit_retry") == 0)
        client_say_unit_trouble(event, d, r->json, r->tty);
    progress(r);
    return rc;
}

static int encode(struct client *c, void *opts)
{
    struct opts *o = opts;
    char out_real[PATH_MAX], in_real[PATH_MAX], why[512];
    const char *muxer = strcmp(o->format, "mkv") == 0 ? "matroska"
                        : strcmp(o->format, "ts") == 0 ? "mpegts" : o->format;
    if (video_check_container(muxer, o->vs.codec, why, sizeof(why)) < 0) {
        udcs_log_error("-o %s: %s", o->output, why);
        return UDCS_EXIT_USAGE;
    }
    if (realpath(o->input, in_real) && realpath(o->output, out_real) &&
        strcmp(in_real, out_real) == 0) {
        udcs_log_error("-o %s is the input itself; write the encode elsewhere", o->output);
        return UDCS_EXIT_USAGE;
    }
    struct cas *cas;
    struct plan p = { 0 };
    uint64_t start = udcs_mono_ms();
    int status = UDCS_EXIT_FAILED;
    if (client_open_store(c, &cas) < 0)
        return status;
    json_t *job = NULL;
    /* the master answers before the input is read and split for it */
    int planned = client_call_json(c, "GET", "/api/devices", NULL, NULL);
    planned = planned < 0 ? client_status_of(planned) : make_plan(o, udcs_config_str(&c->cfg, "cache_dir"), &p);
    if (planned == 0)
        job = build_job(o, &p, cas);
    status = planned ? planned : UDCS_EXIT_FAILED;
    uint64_t split_ms = udcs_mono_ms() - start;
    char *text = job ? json_dumps(job, JSON_COMPACT) : NULL;
    int tty = !o->json && isatty(STDERR_FILENO);
    struct run r = { .cas = cas, .o = o, .p = &p, .frames = p.frames, .json = o->json,
                     .tty = tty, .start_ms = udcs_mono_ms(),
                     .w = { .c = c, .program = "udcs-encode", .json = o->json, .tty = tty,
                            .cancel_note = "encoded segments are cached: the same command "
                                           "encodes only the rest",
                            .on_event = on_event } };
    r.w.arg = &r;
    if (text && client_submit(c, text, &r.w.id) == 0) {
        if (o->json)
            printf("{\"event\":\"job_submitted\",\"job\":%lld,\"segments\":%zu,\"frames\":%zu,"
                   "\"split_ms\":%llu}\n", r.w.id, p.n_segs, p.frames,
                   (unsigned long long)split_ms);
        else
            fprintf(stderr, "udcs-encode: job %lld: %zu frames of %s in %zu segment%s, "
                    "%s\n", r.w.id, p.frames, o->input, p.n_segs, p.n_segs == 1 ? "" : "s",
                    o->vs.codec);
        fflush(stdout);
        if (o->detach) {
            printf("%lld\n", r.w.id);
            status = UDCS_EXIT_OK;
        } else if ((r.done = calloc(p.n_segs, 1))) {
            int interrupted = client_watch(&r.w);
            if (r.tty)
                fputc('\n', stderr);
            if (!interrupted && !r.w.failed && !r.written)
                client_watch_sweep(&r.w, on_unit);
            if (interrupted) {
                status = interrupted;
            } else if (strcmp(r.w.state, "done") == 0 && r.written) {
                status = UDCS_EXIT_OK;
            } else {
                udcs_log_error("job %lld %s after %zu of %zu segments%s%s; nothing was "
                               "written to %s", r.w.id, r.w.state[0] ? r.w.state : "was lost",
                               r.segs_done, p.n_segs, r.w.error[0] ? ": " : "", r.w.error,
                               o->output);
            }
            if (o->json)
                printf("{\"event\":\"job_finished\",\"job\":%lld,\"state\":\"%s\","
                       "\"segments\":%zu,\"cached\":%zu,\"written\":%s}\n", r.w.id,
                       r.w.state, p.n_segs, r.cached, r.written ? "true" : "false");
            else if (status == UDCS_EXIT_OK)
                fprintf(stderr, "udcs-encode: %s written: %zu frames, %zu segment%s (%zu from "
                        "the cache) in %.1fs\n", o->output, p.frames, p.n_segs,
                        p.n_segs == 1 ? "" : "s", r.cached,
                        (double)(udcs_mono_ms() - start) / 1000);
        }
    }
    free(r.done);
    free(text);
    json_decref(job);
    plan_release(&p);
    cas_close(cas);
    return status;
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR);
    struct opts o = { .vs = VIDEO_SETTINGS_INIT, .fields = json_object() };
    struct client_program p = { .name = "udcs-encode", .usage = usage, .parse = parse_opts,
                                .run = encode, .opts = &o };
    int status = client_program_main(&p, argc, argv);
    json_decref(o.fields);
    return status;
}
