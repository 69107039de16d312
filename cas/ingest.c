/* cas/ingest.c - receiving a blob in stored form, as it arrives over the network. The
 * bytes go to an unnamed file in the store and through a verifying decoder at once; only
 * a blob that matches its name is linked into place. */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/fs.h"

#include <errno.h>
#include <stdlib.h>

struct cas_ingest {
    struct cas_store *cs;
    struct udcs_afile af;
    int af_open;
    struct cas_decoder *dec;
    uint64_t stored;
    const char *why;
};

int cas_ingest_begin(struct cas_store *cs, const struct cas_digest *expect, uint64_t max_raw,
                     cas_sink_fn sink, void *sink_arg, struct cas_ingest **out)
{
    if (cs->readonly)
        return -EROFS;
    struct cas_ingest *ing = calloc(1, sizeof(*ing));
    if (!ing)
        return -ENOMEM;
    ing->cs = cs;
    int rc = cas_decoder_new(expect, max_raw, sink, sink_arg, &ing->dec);
    if (rc == 0)
        rc = udcs_afile_open_unnamed(&ing->af, cs->root_fd, UDCS_AFILE_NOREPLACE, 0444);
    if (rc < 0) {
        cas_decoder_free(ing->dec);
        free(ing);
        return rc;
    }
    ing->af_open = 1;
    *out = ing;
    return 0;
}

int cas_ingest_feed(struct cas_ingest *ing, const void *data, size_t len)
{
    if (!ing->af_open)
        return -EINVAL;
    int rc = cas_decoder_feed(ing->dec, data, len);
    if (rc < 0) {
        ing->why = cas_decoder_error(ing->dec);
        return rc;
    }
    rc = udcs_write_full(ing->af.fd, data, len);
    if (rc == 0)
        ing->stored += len;
    return rc;
}

int cas_ingest_commit(struct cas_ingest *ing, struct cas_digest *out)
{
    if (!ing->af_open)
        return -EINVAL;
    struct cas_blob_header h;
    int rc = cas_decoder_finish(ing->dec, &h);
    if (rc < 0) {
        ing->why = cas_decoder_error(ing->dec);
        return rc;
    }
    ing->af_open = 0;
    if (cas_digest_is_empty(&h.digest)) {
        udcs_afile_abort(&ing->af);   /* every store has the empty blob */
    } else {
        char rel[CAS_REL_PATH_MAX];
        cas_rel_path(CAS_AREA_BLOB, &h.digest, rel);
        rc = cas_store_commit(ing->cs, &ing->af, rel);
        if (rc == 0 || rc == -EEXIST) {
            cas_store_count_put(ing->cs, rc == 0, h.digest.size, ing->stored, rel);
            rc = 0;
        }
    }
    if (rc == 0 && out)
        *out = h.digest;
    return rc;
}

const char *cas_ingest_error(const struct cas_ingest *ing)
{
    return ing->why ? ing->why : "";
}

void cas_ingest_free(struct cas_ingest *ing)
{
    if (!ing)
        return;
    if (ing->af_open)
        udcs_afile_abort(&ing->af);
    cas_decoder_free(ing->dec);
    free(ing);
}
