/* cas/ac.c - the action cache in the local store: action digest -> action result.
 *
 * A record is the result's canonical JSON in the same stored form as a blob (header,
 * digest of the JSON, payload), filed under the action's digest in "ac/". The digest in
 * the header guards the record's bytes; the name is the action's. A newer record for the
 * same action replaces the old one atomically. */
#include "cas/cas_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Records are rewritten in place by newer results; readable by all. */
#define AC_FILE_MODE 0644

int cas_store_ac_get(struct cas_store *cs, const struct cas_digest *action,
                     struct cas_action_result *out)
{
    char rel[CAS_REL_PATH_MAX];
    cas_rel_path(CAS_AREA_AC, action, rel);
    int fd = openat(cs->root_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        if (rc == -ENOENT)
            cas_stat_add(cs, CAS_STAT_AC_MISSES, 1);
        return rc;
    }
    struct udcs_buf stored = UDCS_BUF_INIT(CAS_AC_MAX_BYTES + CAS_BLOB_HEADER_BYTES);
    struct udcs_buf json = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
    const char *why = NULL;
    char parse_why[256];
    int rc = udcs_buf_read_fd(&stored, fd);
    if (rc == UDCS_ETOOBIG) {
        rc = UDCS_ECORRUPT;
        why = "the record is larger than any action result";
    } else if (rc == 0) {
        rc = cas_blob_decode_mem(stored.data, stored.len, NULL, &json, &why);
        if (rc == UDCS_ETOOBIG) {
            rc = UDCS_ECORRUPT;
            why = "the record is larger than any action result";
        }
    }
    if (rc == 0 && cas_action_result_from_json(json.data, json.len, out, parse_why,
                                               sizeof(parse_why)) < 0) {
        rc = UDCS_ECORRUPT;
        why = parse_why;
    }
    if (rc == UDCS_ECORRUPT) {
        cas_store_drop_corrupt(cs, CAS_AREA_AC, rel, fd, why);
    } else if (rc == 0) {
        struct stat st;
        cas_stat_add(cs, CAS_STAT_AC_HITS, 1);
        if (fstat(fd, &st) == 0)
            cas_store_touch(cs, fd, &st);
    }
    close(fd);
    udcs_buf_release(&stored);
    udcs_buf_release(&json);
    return rc;
}

int cas_store_ac_put(struct cas_store *cs, const struct cas_digest *action,
                     const struct cas_action_result *r)
{
    if (cs->readonly)
        return -EROFS;
    struct udcs_buf json = UDCS_BUF_INIT(CAS_AC_MAX_BYTES);
    struct udcs_buf stored = UDCS_BUF_INIT(SIZE_MAX);
    struct cas_zctx *z = cas_zctx_get();
    int rc = z ? cas_action_result_to_json(r, &json) : -ENOMEM;
    if (rc == 0)
        rc = cas_blob_encode_with(z, json.data, json.len, cs->enc.level, NULL, &stored, NULL);

    char rel[CAS_REL_PATH_MAX];
    cas_rel_path(CAS_AREA_AC, action, rel);
    struct udcs_afile af;
    if (rc == 0)
        rc = udcs_afile_open_unnamed(&af, cs->root_fd, 0, AC_FILE_MODE);
    if (rc == 0) {
        rc = udcs_write_full(af.fd, stored.data, stored.len);
        if (rc < 0) {
            udcs_afile_abort(&af);
        } else {
            struct stat old;
            int replaced = fstatat(cs->root_fd, rel, &old, AT_SYMLINK_NOFOLLOW) == 0;
            rc = cas_store_commit(cs, &af, rel);
            if (rc == 0) {
                cas_stat_add(cs, CAS_STAT_AC_PUTS, 1);
                if (replaced) {
                    cas_stat_sub(cs, CAS_STAT_AC_BYTES, (uint64_t)old.st_size);
                } else {
                    cas_stat_add(cs, CAS_STAT_AC_COUNT, 1);
                }
                cas_stat_add(cs, CAS_STAT_AC_BYTES, stored.len);
                cas_store_maybe_cleanup(cs, rel);
            }
        }
    }
    udcs_buf_release(&json);
    udcs_buf_release(&stored);
    return rc;
}
