/* common/err.c - text for the error codes in err.h. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

#include <string.h>

const char *udcs_strerror(int err)
{
    switch (err) {
    case UDCS_OK:        return "success";
    case UDCS_ECORRUPT:  return "data failed its integrity check";
    case UDCS_ETOOBIG:   return "input is over the configured size limit";
    case UDCS_EPROTO:    return "peer sent data that could not be parsed";
    case UDCS_EFOREIGN:  return "a C++ library failed";
    case UDCS_EUSAGE:    return "invalid usage";
    case UDCS_EAUTH:     return "not authorized";
    case UDCS_ENOTFOUND: return "not found";
    case UDCS_EREMOTE:   return "the remote server reported an error";
    case UDCS_ENET:      return "the remote could not be reached";
    case UDCS_EFORMAT:   return "unsupported format version";
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

int udcs_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -1;
}

int udcs_fail(int rc, char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return rc;
}
