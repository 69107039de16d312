/* tests/fuzz/fuzz.h - what every libFuzzer target in tests/fuzz/ shares: the entry point's
 * prototype (the build warns about functions without one) and FUZZ_CHECK, which turns a
 * broken invariant into a crash libFuzzer records, with a line saying which one broke. */
#ifndef UDCS_TESTS_FUZZ_H
#define UDCS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must stay when NDEBUG is set. */
#define FUZZ_CHECK(cond, ...)                                                         \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "invariant broken at %s:%d: ", __FILE__, __LINE__);       \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            abort();                                                                  \
        }                                                                             \
    } while (0)

#endif
