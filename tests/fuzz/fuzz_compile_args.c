/* tests/fuzz/fuzz_compile_args.c - the compiler command lines udcs-compile reads
 * (cc_args_parse): whatever a build system passes, the parse ends, and what it says about
 * a cacheable call holds together. The input is the argument vector, one argument per
 * line; the first byte chooses whether a base directory is set. */
#include "toolchains/compile.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

#define FUZZ_MAX_ARGS 256
#define FUZZ_MAX_BYTES 8192

static int in_vector(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* gcc's options that take the next argument as their value (as in compile_args.c, written
 * out again here so that the check does not trust the code it checks). */
static int takes_value(const char *opt)
{
    static const char *const opts[] = {
        "-o", "-x", "-MF", "-MT", "-MQ", "-I", "-D", "-U", "-include", "-imacros", "-isystem",
        "-idirafter", "-iquote", "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-isysroot",
        "-imultilib", "-iwithsysroot", "-L", "-l", "-Xpreprocessor", "-Xassembler", "-Xlinker",
        "-Xclang", "-aux-info", "--param", "-A", "-T", "-u", "-z", "-e", "-B", "--sysroot",
        "-target", "-arch", "-gcc-toolchain", "-MJ", "-specs", "-dumpdir", "-dumpbase",
        "-dumpbase-ext", "-G", "-Xarch_host", "-Xarch_device", "--include", NULL
    };
    return in_vector((char **)opts, sizeof(opts) / sizeof(*opts) - 1, opt);
}

/* Whether `opt` stands in `v` as an option (not as the value of the one before it). */
static int has_option(char **v, size_t n, const char *opt)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i], opt) == 0 && !takes_value(v[i - 1]))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > FUZZ_MAX_BYTES)
        return 0;
    const char *basedir = (data[0] & 1) ? "/w" : NULL;
    char text[FUZZ_MAX_BYTES + 1];
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *argv[FUZZ_MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (data[0] & 2) ? "clang" : "gcc";
    for (char *save = NULL, *a = strtok_r(text, "\n", &save); a && argc < FUZZ_MAX_ARGS;
         a = strtok_r(NULL, "\n", &save)) {
        if (a[0] == '@')
            a = "@/nonexistent/udcs-fuzz.rsp";   /* never read files the input names */
        argv[argc++] = a;
    }
    argv[argc] = NULL;

    struct cc_args a;
    int rc = cc_args_parse(argc, argv, "/w/project/build", basedir, &a);
    FUZZ_CHECK(rc == 0 || rc == -ENOMEM, "cc_args_parse returned %d", rc);
    if (rc < 0)
        return 0;
    FUZZ_CHECK(a.reason < CC_UNC_COUNT, "reason %d out of range", (int)a.reason);
    FUZZ_CHECK(a.n_cpp_args >= 2 && strcmp(a.cpp_args[a.n_cpp_args - 1], "-E") == 0,
               "the preprocessor arguments do not end with -E");
    FUZZ_CHECK(a.key_args[a.n_key_args] == NULL && a.cpp_args[a.n_cpp_args] == NULL &&
                   (!a.remote_args || a.remote_args[a.n_remote_args] == NULL),
               "an argument vector is not NULL-terminated");
    if (a.reason == CC_OK) {
        FUZZ_CHECK(a.source && a.output, "a cacheable call without source or output");
        FUZZ_CHECK(a.source_index > 0 && a.source_index < a.argc &&
                       a.argv[a.source_index] == a.source,
                   "the source is not where the parse says");
        FUZZ_CHECK(strcmp(a.source, "-") != 0 && strcmp(a.output, "-") != 0,
                   "standard input or output judged cacheable");
        FUZZ_CHECK(a.lang != CC_LANG_NONE && a.lang != CC_LANG_OTHER,
                   "a cacheable call in an unsupported language");
        FUZZ_CHECK(a.dep == CC_DEP_NONE || (a.dep_file && *a.dep_file),
                   "a dependency file asked for without a name");
        FUZZ_CHECK(!has_option(a.cpp_args, a.n_cpp_args, "-c") &&
                       !has_option(a.cpp_args, a.n_cpp_args, "-o"),
                   "the preprocessor would compile or write an object");
        FUZZ_CHECK(in_vector(a.key_args, a.n_key_args, a.source) || basedir,
                   "the source's name is not in the key");
    }
    FUZZ_CHECK(!a.remote_ok || (a.reason == CC_OK && a.family == CC_FAMILY_GCC &&
                                !a.native_cpu),
               "remote_ok for a call an agent cannot reproduce");
    cc_args_release(&a);
    return 0;
}
