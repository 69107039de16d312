/* cas/layered.c - struct cas, the store other modules use: the local store first, then
 * a remote one. Reads that miss locally are fetched from the remote and kept locally on
 * the way (read-through); writes go to both. A remote that fails is reported once (WARN)
 * and then left alone for the rest of the process: work goes on with the local store. */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cas {
    struct cas_store *local;
    struct cas_remote *remote;
    int remote_down;            /* a transport failure happened: stop trying */
    int remote_rc;              /* the last remote error's code, 0 when none */
    char remote_error[600];
};

int cas_open(const struct cas_options *opt, struct cas **out)
{
    struct cas *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int rc = cas_store_open(&opt->local, &c->local);
    if (rc == 0 && opt->remote_url && *opt->remote_url)
        rc = cas_remote_open(opt->remote_url, opt->remote_token, &c->remote);
    if (rc < 0) {
        cas_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void cas_close(struct cas *c)
{
    if (!c)
        return;
    cas_remote_free(c->remote);
    cas_store_close(c->local);
    free(c);
}

struct cas_store *cas_local(struct cas *c)
{
    return c->local;
}

struct cas_remote *cas_remote(struct cas *c)
{
    return c->remote;
}

const char *cas_last_remote_error(struct cas *c)
{
    return c->remote_error;
}

int cas_last_remote_rc(struct cas *c)
{
    return c->remote_rc;
}

void cas_remote_retry(struct cas *c)
{
    c->remote_down = 0;
    c->remote_rc = 0;
    c->remote_error[0] = '\0';
}

static int remote_usable(struct cas *c)
{
    return c->remote && !c->remote_down;
}

/* Note a remote failure: kept for the caller, logged once, and a dead remote is not
 * asked again by this process. */
static int remote_failed(struct cas *c, int rc, const char *what)
{
    c->remote_rc = rc;
    snprintf(c->remote_error, sizeof(c->remote_error), "%s: %s", what,
             cas_remote_error(c->remote)[0] ? cas_remote_error(c->remote) : udcs_strerror(rc));
    if (rc == UDCS_ENET || rc == UDCS_EAUTH) {
        udcs_log_warn("cas: remote %s is unusable (%s); going on with the local store only",
                      cas_remote_url(c->remote), c->remote_error);
        c->remote_down = 1;
    } else {
        udcs_log_warn("cas: remote %s: %s", cas_remote_url(c->remote), c->remote_error);
    }
    return rc;
}

/* Make sure the remote has blob `d`, uploading the local copy when it lacks it. */
static int upload_if_missing(struct cas *c, const struct cas_digest *d)
{
    if (!remote_usable(c) || cas_digest_is_empty(d))
        return 0;
    char hex[CAS_HEX_LEN + 1], what[80];
    snprintf(what, sizeof(what), "uploading %s", cas_digest_hex(d, hex));
    int rc = cas_remote_has(c->remote, d);
    if (rc < 0)
        return remote_failed(c, rc, what);
    if (rc == 1)
        return 0;
    int fd;
    struct cas_blob_header h;
    rc = cas_store_open_stored(c->local, d, &fd, &h);
    if (rc < 0)
        return rc;
    uint64_t stored = CAS_BLOB_HEADER_BYTES + h.payload_size;
    rc = cas_remote_put_stored(c->remote, d, fd, stored);
    close(fd);
    if (rc < 0)
        return remote_failed(c, rc, what);
    cas_store_count_remote(c->local, -1, 0, stored);
    return 0;
}

int cas_put_bytes(struct cas *c, const void *data, size_t len, struct cas_digest *out)
{
    struct cas_digest d;
    int rc = cas_store_put_bytes(c->local, data, len, &d);
    if (rc < 0)
        return rc;
    if (out)
        *out = d;
    upload_if_missing(c, &d);
    return 0;
}

int cas_put_file(struct cas *c, const char *path, struct cas_digest *out)
{
    struct cas_digest d;
    int rc = cas_store_put_file(c->local, path, &d);
    if (rc < 0)
        return rc;
    if (out)
        *out = d;
    upload_if_missing(c, &d);
    return 0;
}

int cas_has(struct cas *c, const struct cas_digest *d)
{
    if (cas_store_has(c->local, d))
        return 1;
    if (!remote_usable(c))
        return 0;
    int rc = cas_remote_has(c->remote, d);
    if (rc < 0) {
        remote_failed(c, rc, "asking for a blob");
        return 0;
    }
    return rc;
}

/* Read-through: the remote's stored bytes go into a local ingest, whose decoder passes
 * the raw bytes on to the caller's destination. */
struct fetch {
    struct cas_ingest *ing;
    uint64_t received;
};

static int feed_ingest(void *arg, const void *data, size_t len)
{
    struct fetch *f = arg;
    f->received += len;
    return cas_ingest_feed(f->ing, data, len);
}

static int fetch_remote(struct cas *c, const struct cas_digest *d, cas_sink_fn sink, void *arg)
{
    struct fetch f = { 0 };
    int rc = cas_ingest_begin(c->local, d, 0, sink, arg, &f.ing);
    if (rc < 0)
        return rc;
    rc = cas_remote_get_stored(c->remote, d, feed_ingest, &f);
    if (rc == 0)
        rc = cas_ingest_commit(f.ing, NULL);

    char hex[CAS_HEX_LEN + 1];
    cas_digest_hex(d, hex);
    if (rc == 0) {
        cas_store_count_remote(c->local, 1, f.received, 0);
    } else if (rc == UDCS_ENOTFOUND) {
        cas_store_count_remote(c->local, 0, 0, 0);
        rc = -ENOENT;
    } else if (rc == UDCS_ECORRUPT) {
        c->remote_rc = rc;
        snprintf(c->remote_error, sizeof(c->remote_error), "fetching %s: the remote sent "
                 "damaged bytes (%s)", hex, cas_ingest_error(f.ing));
        udcs_log_error("cas: %s", c->remote_error);
    } else {
        char what[64];
        snprintf(what, sizeof(what), "fetching %s", hex);
        remote_failed(c, rc, what);
    }
    cas_ingest_free(f.ing);
    return rc;
}

static int sink_buf(void *arg, const void *data, size_t len)
{
    return udcs_buf_append(arg, data, len);
}

/* Local first; on a miss (or a damaged local copy, now removed), the remote. `rewind`
 * undoes what a damaged local copy already gave the sink. */
static int read_layered(struct cas *c, const struct cas_digest *d, struct udcs_buf *mem,
                        cas_sink_fn sink, void *arg, int (*rewind)(void *arg))
{
    int rc = cas_store_read(c->local, d, mem, sink, arg);
    if ((rc != -ENOENT && rc != UDCS_ECORRUPT) || !remote_usable(c))
        return rc;
    if (rc == UDCS_ECORRUPT && !mem && (!rewind || rewind(arg) < 0))
        return rc;
    if (!mem)
        return fetch_remote(c, d, sink, arg);
    size_t mem_len = mem->len;
    rc = fetch_remote(c, d, sink_buf, mem);
    if (rc < 0) {
        mem->len = mem_len;   /* nothing of a failed fetch stays visible */
        if (mem->data)
            mem->data[mem_len] = '\0';
    }
    return rc;
}

int cas_get_bytes(struct cas *c, const struct cas_digest *d, struct udcs_buf *out)
{
    return read_layered(c, d, out, NULL, NULL, NULL);
}

static int sink_fd(void *arg, const void *data, size_t len)
{
    return udcs_write_full(*(int *)arg, data, len);
}

static int rewind_fd(void *arg)
{
    int fd = *(int *)arg;
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    return 0;
}

int cas_get_to_fd(struct cas *c, const struct cas_digest *d, int fd)
{
    return read_layered(c, d, NULL, sink_fd, &fd, NULL);
}

int cas_get_to_afile(struct cas *c, const struct cas_digest *d, struct udcs_afile *af)
{
    return read_layered(c, d, NULL, sink_fd, &af->fd, rewind_fd);
}

int cas_get_to_file(struct cas *c, const struct cas_digest *d, const char *path, mode_t mode)
{
    struct udcs_afile af;
    int rc = udcs_afile_open(&af, path, 0, mode);
    if (rc < 0)
        return rc;
    rc = cas_get_to_afile(c, d, &af);
    if (rc < 0) {
        udcs_afile_abort(&af);
        return rc;
    }
    return udcs_afile_commit(&af);
}

/* Whether every blob a result names can still be had, here or from the remote. */
static int outputs_available(struct cas *c, const struct cas_action_result *r)
{
    if (!cas_has(c, &r->stdout_digest) || !cas_has(c, &r->stderr_digest))
        return 0;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (!cas_has(c, &r->outputs[i].digest))
            return 0;
    return 1;
}

int cas_ac_get(struct cas *c, const struct cas_digest *action, struct cas_action_result *out)
{
    int rc = cas_store_ac_get(c->local, action, out);
    if (rc == -ENOENT && remote_usable(c)) {
        rc = cas_remote_ac_get(c->remote, action, out);
        if (rc == UDCS_ENOTFOUND) {
            rc = -ENOENT;
        } else if (rc < 0) {
            remote_failed(c, rc, "reading the action cache");
            rc = -ENOENT;
        } else {
            cas_store_ac_put(c->local, action, out);   /* keep it locally for next time */
        }
    }
    if (rc < 0)
        return rc;
    if (!outputs_available(c, out)) {
        /* Evicted outputs make the record useless: the action must run again. */
        cas_action_result_release(out);
        return -ENOENT;
    }
    return 0;
}

int cas_result_upload(struct cas *c, const struct cas_action_result *r)
{
    int rc = upload_if_missing(c, &r->stdout_digest);
    if (rc == 0)
        rc = upload_if_missing(c, &r->stderr_digest);
    for (size_t i = 0; rc == 0 && i < r->n_outputs; i++)
        rc = upload_if_missing(c, &r->outputs[i].digest);
    return rc;
}

int cas_ac_put(struct cas *c, const struct cas_digest *action,
               const struct cas_action_result *r)
{
    int rc = cas_store_ac_put(c->local, action, r);
    if (rc < 0 || !remote_usable(c))
        return rc;
    /* The server takes a result only once it has every blob the result names. */
    if (cas_result_upload(c, r) == 0 && remote_usable(c)) {
        int r2 = cas_remote_ac_put(c->remote, action, r);
        if (r2 < 0)
            remote_failed(c, r2, "storing an action result");
    }
    return 0;
}
