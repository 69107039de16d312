/* tests/fuzz/fuzz_digest_parse.c - texts people and peers type: digests ("HEX",
 * "HEX/SIZE": cas_digest_parse) and sizes ("1.5G": udcs_size_parse). What is accepted must
 * match an independent reading of the grammar in the headers; digests must print back to the
 * same digest, and sizes must survive udcs_size_format. */
#include "cas/cas.h"
#include "common/err.h"
#include "common/units.h"
#include "tests/fuzz/fuzz.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

/* Inputs longer than this are cut: both grammars are short, and the cut keeps the
 * upper-case and padded copies below on the stack. */
#define FUZZ_TEXT_MAX 512
/* udcs_size_format writes 3 significant digits ("1.50 GiB", "15.2 MiB", "152 MiB"),
 * rounded (cut only near 16 EiB so that 2^64 - 1 does not print as "16.0 EiB"); read
 * back, that is off by at most one unit in the last place: 1%. */
#define FORMAT_RELATIVE_ERROR 0.01

/* ---- digests ---- */

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The grammar from cas.h: 32 lower-case hex digits, then nothing or "/" and decimal
 * digits without leading zeros. Fills `want` and returns 1 when `text` follows it and its size fits in 64 bits. */
static int digest_grammar(const char *text, struct cas_digest *want, int *sized)
{
    memset(want, 0, sizeof(*want));
    for (int i = 0; i < CAS_HEX_LEN; i++)
        if (hex_digit(text[i]) < 0)
            return 0;
    for (int i = 0; i < CAS_HASH_BYTES; i++)
        want->hash[i] = (uint8_t)(hex_digit(text[2 * i]) << 4 | hex_digit(text[2 * i + 1]));
    const char *p = text + CAS_HEX_LEN;
    *sized = 0;
    if (*p == '\0')
        return 1;
    if (*p++ != '/' || !isdigit((unsigned char)*p))
        return 0;
    if (p[0] == '0' && p[1] != '\0')
        return 0;   /* one size, one spelling: "/0" but never "/07" */
    *sized = 1;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (want->size > (UINT64_MAX - d) / 10)
            return 0;   /* does not fit: may be refused */
        want->size = want->size * 10 + d;
    }
    return *p == '\0';
}

static void check_digest(const char *text)
{
    struct cas_digest d, want, back;
    int sized = -1, want_sized = 0, back_sized = -1;
    int rc = cas_digest_parse(text, &d, &sized);
    int ok = digest_grammar(text, &want, &want_sized);
    FUZZ_CHECK(rc == 0 || rc == UDCS_EUSAGE, "cas_digest_parse returned unexpected code %d",
               rc);
    if (rc < 0) {
        /* Sizes within 6 of UINT64_MAX are refused by a conservative overflow test; no
         * blob is that big, so only sizes below them must be accepted. */
        FUZZ_CHECK(!ok || (want_sized && want.size > UINT64_MAX - 6),
                   "cas_digest_parse refused a well-formed digest: '%s'", text);
        return;
    }
    FUZZ_CHECK(ok, "cas_digest_parse accepted text outside the grammar: '%s'", text);
    FUZZ_CHECK(sized == want_sized && cas_digest_equal(&d, &want),
               "cas_digest_parse read '%s' as another digest (size %llu, has_size %d)", text,
               (unsigned long long)d.size, sized);
    FUZZ_CHECK(cas_digest_parse(text, &back, NULL) == 0 && cas_digest_equal(&back, &d),
               "cas_digest_parse gives another answer with has_size NULL: '%s'", text);

    /* hex + "/size" and hex alone both name it again */
    char hex[CAS_HEX_LEN + 1], full[CAS_HEX_LEN + 32];
    cas_digest_hex(&d, hex);
    FUZZ_CHECK(strlen(hex) == CAS_HEX_LEN && strncmp(hex, text, CAS_HEX_LEN) == 0,
               "cas_digest_hex wrote '%s' for '%s'", hex, text);
    snprintf(full, sizeof(full), "%s/%llu", hex, (unsigned long long)d.size);
    FUZZ_CHECK(cas_digest_parse(full, &back, &back_sized) == 0 && back_sized == 1 &&
                   cas_digest_equal(&back, &d),
               "'%s' (from '%s') does not parse back to the same digest", full, text);
    FUZZ_CHECK(cas_digest_parse(hex, &back, &back_sized) == 0 && back_sized == 0 &&
                   back.size == 0 && memcmp(back.hash, d.hash, CAS_HASH_BYTES) == 0,
               "'%s' (from '%s') does not parse back to the same hash", hex, text);
}

/* ---- sizes ---- */

struct size_text {
    uint64_t whole;        /* integer part (saturates; `whole_fits` says if it did) */
    int whole_fits;
    long double frac;      /* fraction part, from its first digits */
    int frac_digits;
    unsigned shift;        /* 10 per unit letter: K 10, M 20, ... E 60 */
};

/* The grammar from units.h, read independently: spaces, digits with an optional
 * fraction (at least one digit in all), spaces, then an optional unit letter K M G T P E
 * (either case, optionally followed by i), an optional b, and trailing spaces. */
static int size_grammar(const char *text, struct size_text *st)
{
    static const char units[] = "kmgtpe";
    const char *p = text;
    long double scale = 0.1L;
    int digits = 0;
    memset(st, 0, sizeof(*st));
    st->whole_fits = 1;
    while (isspace((unsigned char)*p))
        p++;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        unsigned d = (unsigned)(*p - '0');
        if (st->whole > (UINT64_MAX - d) / 10)
            st->whole_fits = 0;
        else
            st->whole = st->whole * 10 + d;
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, digits++, st->frac_digits++) {
            if (st->frac_digits < 40) {
                st->frac += (long double)(*p - '0') * scale;
                scale /= 10;
            }
        }
    }
    if (digits == 0)
        return 0;
    while (isspace((unsigned char)*p))
        p++;
    const char *u = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
    if (u) {
        st->shift = 10 * (unsigned)(u - units + 1);
        p++;
        if (*p == 'i' || *p == 'I')
            p++;
    }
    if (*p == 'b' || *p == 'B')
        p++;
    while (isspace((unsigned char)*p))
        p++;
    return *p == '\0';
}

static void check_size_variant(const char *what, const char *text, int rc, uint64_t v)
{
    uint64_t w = 0;
    int rc2 = udcs_size_parse(text, &w);
    FUZZ_CHECK(rc2 == rc && (rc != 0 || w == v),
               "udcs_size_parse gives '%s' %d/%llu but its %s '%s' %d/%llu", text, rc,
               (unsigned long long)v, what, text, rc2, (unsigned long long)w);
}

static void check_size(const char *text, size_t len)
{
    uint64_t v = 0;
    struct size_text st;
    int rc = udcs_size_parse(text, &v);
    int ok = size_grammar(text, &st);
    FUZZ_CHECK(rc == 0 || rc == UDCS_EUSAGE, "udcs_size_parse returned unexpected code %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(ok && st.whole_fits, "udcs_size_parse accepted '%s' (as %llu), outside "
                   "its grammar or too big", text, (unsigned long long)v);
        long double exact = ldexpl((long double)st.whole + st.frac, (int)st.shift);
        if (st.frac_digits == 0) {
            /* whole numbers are exact: "4096" is 4096, "5G" is 5 << 30 */
            FUZZ_CHECK(v == st.whole << st.shift,
                       "udcs_size_parse read '%s' as %llu, not %llu << %u", text,
                       (unsigned long long)v, (unsigned long long)st.whole, st.shift);
        } else {
            /* fractions are rounded to the nearest byte; allow the error of summing the
             * digits in double precision (about 2^-50 of the unit per digit) */
            long double tolerance = 1.0L + ldexpl(1.0L + st.frac_digits, (int)st.shift - 48);
            FUZZ_CHECK(fabsl((long double)v - exact) <= tolerance,
                       "udcs_size_parse read '%s' as %llu, about %.1Lf expected", text,
                       (unsigned long long)v, exact);
        }
        /* what udcs_size_format writes, people type back */
        char shown[64];
        uint64_t again = 0;
        udcs_size_format(v, shown, sizeof(shown));
        FUZZ_CHECK(udcs_size_parse(shown, &again) == 0,
                   "udcs_size_parse refuses '%s', which udcs_size_format wrote for %llu", shown,
                   (unsigned long long)v);
        long double diff = fabsl((long double)again - (long double)v);
        FUZZ_CHECK(diff <= 1.0L + (long double)v * FORMAT_RELATIVE_ERROR,
                   "%llu is written '%s', which reads back as %llu", (unsigned long long)v,
                   shown, (unsigned long long)again);
    } else if (ok && st.whole_fits && st.whole < 1000000000000000000ull) {
        /* well inside the range, a well-formed size must be accepted */
        long double exact = ldexpl((long double)st.whole + st.frac + 1, (int)st.shift);
        FUZZ_CHECK(exact >= ldexpl(1.0L, 63),
                   "udcs_size_parse refused the well-formed size '%s'", text);
    }

    /* case and surrounding spaces do not matter */
    if (len + 3 > FUZZ_TEXT_MAX)
        return;
    char upper[FUZZ_TEXT_MAX], padded[FUZZ_TEXT_MAX];
    for (size_t i = 0; i <= len; i++)
        upper[i] = (char)toupper((unsigned char)text[i]);
    check_size_variant("upper-case form", upper, rc, v);
    snprintf(padded, sizeof(padded), " %s\t", text);
    check_size_variant("padded form", padded, rc, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[FUZZ_TEXT_MAX];
    size_t len = size < FUZZ_TEXT_MAX - 1 ? size : FUZZ_TEXT_MAX - 1;
    memcpy(text, data, len);
    text[len] = '\0';
    len = strlen(text);   /* a NUL inside the input ends the text, as in C */

    check_digest(text);
    check_size(text, len);
    return 0;
}
