/* common/sanitizer.h - settings for the sanitizer builds (make asan) that a program makes
 * for itself, because agents run units with the action's environment only, where
 * ASAN_OPTIONS and LSAN_OPTIONS cannot reach.
 *
 * UDCS_LSAN_WITHOUT_TLS, at file scope of the main file of a program (or test) that loads
 * an OpenCL driver: PoCL loads LLVM, whose dynamic TLS blocks make LeakSanitizer's scan of
 * thread-local storage crash at exit ("Tracer caught signal 11", GCC 12's libsanitizer).
 * Without that scan a block reachable only from TLS would be reported as a leak (a false
 * alarm, never a missed leak); glibc's own such block is suppressed by LSan's defaults. */
#ifndef UDCS_COMMON_SANITIZER_H
#define UDCS_COMMON_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define UDCS_LSAN_WITHOUT_TLS                                                                  \
    const char *__lsan_default_options(void);                                                 \
    const char *__lsan_default_options(void) { return "use_tls=0:print_suppressions=0"; }
#else
#define UDCS_LSAN_WITHOUT_TLS
#endif

#endif
