/* common/units.h - reading and writing quantities people type: sizes like "5G". */
#ifndef UDCS_COMMON_UNITS_H
#define UDCS_COMMON_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parse a byte size: a decimal number with an optional fraction and an optional binary
 * suffix K, M, G, T (also written Ki/KiB/KB, ...; case-insensitive), e.g. "5G", "1.5GiB",
 * "4096". Returns 0, or UDCS_EUSAGE for anything else (including overflow). */
int udcs_size_parse(const char *text, uint64_t *out);

/* Write `bytes` for people ("1.50 GiB", "17.1 MiB", "512 B": three significant digits)
 * into `out`; returns `out`. */
char *udcs_size_format(uint64_t bytes, char *out, size_t out_len);

#endif
