/* common/err.h - error codes shared by every UDCS module.
 *
 * Functions return int: 0 on success, a negative value on failure. System failures pass
 * through as -errno; UDCS's own conditions are the codes below, chosen outside errno's
 * range so the two never collide. udcs_strerror() names both kinds. */
#ifndef UDCS_COMMON_ERR_H
#define UDCS_COMMON_ERR_H

enum udcs_err {
    UDCS_OK        = 0,
    UDCS_ECORRUPT  = -1001, /* digest, size or frame check failed */
    UDCS_ETOOBIG   = -1002, /* input over a configured limit */
    UDCS_EPROTO    = -1003, /* peer sent something we cannot parse */
    UDCS_EFOREIGN  = -1004, /* a C++ library threw; the shim logged what */
    UDCS_EUSAGE    = -1005, /* bad flag, argument or setting value */
    UDCS_EAUTH     = -1006, /* the peer refused our credentials, or sent none */
    UDCS_ENOTFOUND = -1007, /* the named object does not exist (remote 404) */
    UDCS_EREMOTE   = -1008, /* the remote answered with a server-side error */
    UDCS_ENET      = -1009, /* the remote could not be reached */
    UDCS_EFORMAT   = -1010, /* a record or file is well-formed but of an unknown version */
};

/* Text for `err`: strerror(-err) for -errno values, a fixed sentence for UDCS codes.
 * Never returns NULL; the string is static. */
const char *udcs_strerror(int err);

#include <stddef.h>

/* The error return of functions that explain themselves in a caller's buffer: writes the
 * formatted reason to why (why_len bytes, cut short if need be) and returns -1. */
int udcs_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same, returning `rc` (an error code of the kind above) instead of -1. */
int udcs_fail(int rc, char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
