/* common/units.c - size parsing and formatting; see units.h. */
#include "common/units.h"
#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char unit_letters[] = "KMGTPE";

int udcs_size_parse(const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t whole = 0;
    double frac = 0, scale = 0.1;
    int digits = 0;

    while (isspace((unsigned char)*p))
        p++;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        unsigned d = (unsigned)(*p - '0');
        if (whole > UINT64_MAX / 10 || (whole == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return UDCS_EUSAGE;
        whole = whole * 10 + d;
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, digits++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    if (digits == 0)
        return UDCS_EUSAGE;
    while (isspace((unsigned char)*p))
        p++;

    unsigned shift = 0;
    if (*p) {
        const char *u = strchr(unit_letters, toupper((unsigned char)*p));
        if (u) {
            shift = 10 * (unsigned)(u - unit_letters + 1);
            p++;
            if (*p == 'i' || *p == 'I')
                p++;
        }
        if (*p == 'b' || *p == 'B')
            p++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p)
            return UDCS_EUSAGE;
    }
    if (shift && whole > (UINT64_MAX >> shift))
        return UDCS_EUSAGE;
    uint64_t bytes = whole << shift;
    /* frac < 1 and shift <= 60, so the rounded fraction fits; compare in integers so
     * UINT64_MAX itself is not mistaken for an overflow. */
    uint64_t extra = (uint64_t)(frac * (double)(1ull << shift) + 0.5);
    if (extra > UINT64_MAX - bytes)
        return UDCS_EUSAGE;
    *out = bytes + extra;
    return 0;
}

char *udcs_size_format(uint64_t bytes, char *out, size_t out_len)
{
    if (bytes < 1024) {
        snprintf(out, out_len, "%llu B", (unsigned long long)bytes);
        return out;
    }
    double v = (double)bytes;
    int i = -1;
    /* Move up a unit at 1023.5 already: "%.0f" would print 1023.6 KiB as "1024 KiB". */
    while (v >= 1023.5 && i < (int)strlen(unit_letters) - 1) {
        v /= 1024;
        i++;
    }
    if (i == (int)strlen(unit_letters) - 1) {
        /* In the largest unit, round to the nearest shown digit, except where that would
         * reach 16: 2^64 - 1 bytes must not print as "16.0 EiB", more than a 64-bit size can
         * hold, which would not parse back. Rounding down everywhere would cost up to 1%
         * just below 1 EiB ("0.99 EiB" for 2^60 - 1). */
        v = (double)(bytes >> 40) / (1 << 20);   /* exact, unlike (double)bytes near 2^64 */
        double scale = v < 10 ? 100 : v < 100 ? 10 : 1;
        double nearest = (double)(uint64_t)(v * scale + 0.5) / scale;
        v = nearest < 16 ? nearest : (double)(uint64_t)(v * scale) / scale;
    }
    snprintf(out, out_len, v < 10 ? "%.2f %ciB" : v < 100 ? "%.1f %ciB" : "%.0f %ciB", v,
             unit_letters[i]);
    return out;
}
