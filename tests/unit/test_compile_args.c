/* tests/unit/test_compile_args.c - udcs-compile's reading of a compiler call: whether it
 * can be cached (and why not), the source, the output and dependency file gcc would write,
 * the argument lists for the key and the preprocessor, which calls may compile on an agent,
 * response files; and the two parsers of what a compiler wrote: make-style dependency
 * files and the line markers of preprocessed output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "toolchains/compile.h"
#include "common/err.h"
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing helpers ------------------------------------------------------------------ */

/* One parsed call. The arguments are copied to the heap one by one, as a real argv would
 * be separate strings, so that a read past the end of one is a sanitizer report. */
struct parsed {
    struct cc_args a;
    char **argv;
    int argc;
};

static void parse_argv(struct parsed *p, const char *const *args, const char *cwd,
                       const char *basedir)
{
    int n = 0;
    while (args[n])
        n++;
    p->argv = calloc((size_t)n + 1, sizeof(*p->argv));
    assert_non_null(p->argv);
    for (int i = 0; i < n; i++) {
        p->argv[i] = strdup(args[i]);
        assert_non_null(p->argv[i]);
    }
    p->argc = n;
    assert_int_equal(cc_args_parse(n, p->argv, cwd, basedir, &p->a), 0);
}

/* Split `line` at spaces (no quoting: the table below needs none). */
static void parse_line(struct parsed *p, const char *line, const char *cwd, const char *basedir)
{
    const char *args[64];
    char *copy = strdup(line), *save = NULL;
    int n = 0;
    assert_non_null(copy);
    for (char *w = strtok_r(copy, " ", &save); w && n < 63; w = strtok_r(NULL, " ", &save))
        args[n++] = w;
    args[n] = NULL;
    parse_argv(p, args, cwd, basedir);
    free(copy);
}

static void release(struct parsed *p)
{
    cc_args_release(&p->a);
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    memset(p, 0, sizeof(*p));
}

static int in_vec(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

static void complain(const char *line, const char *what, const char *got, const char *want)
{
    fprintf(stderr, "# %s: %s is '%s', wanted '%s'\n", line, what, got ? got : "(null)",
            want ? want : "(null)");
    fail();
}

static void expect_str(const char *line, const char *what, const char *got, const char *want)
{
    if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
        complain(line, what, got, want);
}

/* ---- the table ------------------------------------------------------------------------ */

#define ANY ((const char *)1)   /* not checked */

struct args_case {
    const char *line;
    enum cc_uncacheable reason;
    const char *source, *output, *dep_file;
};

static const struct args_case args_cases[] = {
    /* cacheable; default and explicit outputs */
    { "gcc -c a.c", CC_OK, "a.c", "a.o", NULL },
    { "gcc -c src/a.c", CC_OK, "src/a.c", "a.o", NULL },
    { "gcc -S src/a.c", CC_OK, "src/a.c", "a.s", NULL },
    { "gcc -c a.b.c", CC_OK, "a.b.c", "a.b.o", NULL },
    { "gcc -c a.c -o out/x.o", CC_OK, "a.c", "out/x.o", NULL },
    { "gcc -c a.c -oout/x.o", CC_OK, "a.c", "out/x.o", NULL },
    { "g++ -O2 -c lib/v.cpp -o v.o", CC_OK, "lib/v.cpp", "v.o", NULL },
    { "clang++ -c a.cc", CC_OK, "a.cc", "a.o", NULL },
    { "gcc -c a.S", CC_OK, "a.S", "a.o", NULL },
    { "gcc -x c -c a.txt", CC_OK, "a.txt", "a.o", NULL },
    { "gcc -xc++ -c a.txt", CC_OK, "a.txt", "a.o", NULL },
    { "gcc -c -I inc -D X=1 a.c", CC_OK, "a.c", "a.o", NULL },
    /* dependency files where gcc puts them */
    { "gcc -MD -c a.c -o dir/x.o", CC_OK, "a.c", "dir/x.o", "dir/x.d" },
    { "gcc -MD -c src/a.c", CC_OK, "src/a.c", "a.o", "a.d" },
    { "gcc -MMD -c a.c -o x", CC_OK, "a.c", "x", "x.d" },
    { "gcc -MD -c a.c -o dir.v/x", CC_OK, "a.c", "dir.v/x", "dir.v/x.d" },
    { "gcc -MD -S src/a.c -o dir/y.s", CC_OK, "src/a.c", "dir/y.s", "dir/y.d" },
    { "gcc -MD -S src/a.c", CC_OK, "src/a.c", "a.s", "a.d" },
    { "gcc -MD -c a.c -o x.obj.o", CC_OK, "a.c", "x.obj.o", "x.obj.d" },
    { "gcc -MD -c a.c -o .x.o", CC_OK, "a.c", ".x.o", ".x.d" },
    { "gcc -MD -c a.c -o dir/.o", CC_OK, "a.c", "dir/.o", "dir/.d" },   /* as gcc 12 does */
    { "gcc -MD -MF dep.d -c a.c -o x.o", CC_OK, "a.c", "x.o", "dep.d" },
    { "gcc -MMD -MFdep.d -c a.c", CC_OK, "a.c", "a.o", "dep.d" },
    { "gcc -MD -MF a.d -MF b.d -c a.c", CC_OK, "a.c", "a.o", "b.d" },
    { "gcc -MD -MP -MT t -MQ q -c a.c", CC_OK, "a.c", "a.o", "a.d" },
    { "gcc -Wp,-MD,w.d -c a.c -o o/x.o", CC_OK, "a.c", "o/x.o", "w.d" },
    { "gcc -Wp,-MMD,w.d -c a.c", CC_OK, "a.c", "a.o", "w.d" },
    /* not cacheable */
    { "gcc a.c -o prog", CC_UNC_LINK, ANY, ANY, ANY },
    { "gcc -c a.o", CC_UNC_LINK, ANY, ANY, ANY },
    { "gcc -E a.c", CC_UNC_PREPROCESS, ANY, ANY, ANY },
    { "gcc -E -c a.c", CC_UNC_PREPROCESS, ANY, ANY, ANY },
    { "gcc -M a.c", CC_UNC_PREPROCESS, ANY, ANY, ANY },
    { "gcc -MM -MF x.d a.c", CC_UNC_PREPROCESS, ANY, ANY, ANY },
    { "gcc -c", CC_UNC_NO_SOURCE, ANY, ANY, ANY },
    { "gcc -c -O2 -o x.o", CC_UNC_NO_SOURCE, ANY, ANY, ANY },
    { "gcc -c a.c b.c", CC_UNC_MULTIPLE_SOURCES, ANY, ANY, ANY },
    { "gcc -c f.f", CC_UNC_LANGUAGE, ANY, ANY, ANY },
    { "gcc -c a.s", CC_UNC_LANGUAGE, ANY, ANY, ANY },
    { "gcc -c m.m", CC_UNC_LANGUAGE, ANY, ANY, ANY },
    { "gcc -c x.h", CC_UNC_LANGUAGE, ANY, ANY, ANY },
    { "gcc -x ada -c a.c", CC_UNC_LANGUAGE, ANY, ANY, ANY },
    { "gcc -x c -c -", CC_UNC_STDIN, ANY, ANY, ANY },
    { "gcc -c a.c -o -", CC_UNC_STDIN, ANY, ANY, ANY },
    { "gcc -fprofile-generate -c a.c", CC_UNC_PROFILE, ANY, ANY, ANY },
    { "gcc --coverage -c a.c", CC_UNC_PROFILE, ANY, ANY, ANY },
    { "gcc -fprofile-use=x.gcda -c a.c", CC_UNC_PROFILE, ANY, ANY, ANY },
    { "gcc -save-temps -c a.c", CC_UNC_EXTRA_OUTPUT, ANY, ANY, ANY },
    { "gcc -save-temps=obj -c a.c", CC_UNC_EXTRA_OUTPUT, ANY, ANY, ANY },
    { "gcc -fsyntax-only -c a.c", CC_UNC_EXTRA_OUTPUT, ANY, ANY, ANY },
    { "gcc -gsplit-dwarf -c a.c", CC_UNC_EXTRA_OUTPUT, ANY, ANY, ANY },
    { "gcc -fplugin=x.so -c a.c", CC_UNC_PLUGIN, ANY, ANY, ANY },
    { "clang -Xclang -load -Xclang x.so -c a.c", CC_UNC_PLUGIN, ANY, ANY, ANY },
    { "gcc -MF x.d -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -MD -MG -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -c a.c -I", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -c a.c -o", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -M -MD -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -specs=x.specs -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc @/nonexistent/udcs-test.rsp -c a.c", CC_UNC_RESPONSE_FILE, ANY, ANY, ANY },
    /* informational: the driver reports on itself; what it prints is not the source's */
    { "gcc -v -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc --verbose -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -### -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -c a.c --version", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc --version", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc --help -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc --help=optimizers -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -print-search-dirs -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -print-file-name=libc.a -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "clang --print-resource-dir -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -dumpmachine -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    { "gcc -dumpversion -c a.c", CC_UNC_UNSUPPORTED, ANY, ANY, ANY },
    /* ... but -dumpbase and -dumpdir name outputs and stay cacheable */
    { "gcc -dumpbase x -c a.c", CC_OK, "a.c", "a.o", NULL },
};

static void the_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(args_cases) / sizeof(args_cases[0]); i++) {
        const struct args_case *c = &args_cases[i];
        struct parsed p;
        parse_line(&p, c->line, "/work", NULL);
        if (p.a.reason != c->reason) {
            fprintf(stderr, "# %s: reason %s, wanted %s\n", c->line,
                    cc_uncacheable_name(p.a.reason), cc_uncacheable_name(c->reason));
            bad++;
        }
        const struct { const char *what, *got, *want; } fields[] = {
            { "source", p.a.source, c->source },
            { "output", p.a.output, c->output },
            { "dep_file", p.a.dep_file, c->dep_file },
        };
        for (size_t k = 0; k < 3; k++) {
            if (fields[k].want == ANY)
                continue;
            const char *got = fields[k].got, *want = fields[k].want;
            if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0)) {
                fprintf(stderr, "# %s: %s is '%s', wanted '%s'\n", c->line, fields[k].what,
                        got ? got : "(null)", want ? want : "(null)");
                bad++;
            }
        }
        release(&p);
    }
    assert_int_equal(bad, 0);
}

static void dependency_kinds(void **state)
{
    (void)state;
    struct parsed p;
    parse_line(&p, "gcc -MMD -MP -MQ $(OBJ) -c a.c", "/work", NULL);
    assert_int_equal(p.a.dep, CC_DEP_MMD);
    assert_true(p.a.dep_phony);
    assert_true(p.a.dep_targets_given);
    assert_false(p.a.dep_via_wp);
    release(&p);
    parse_line(&p, "gcc -Wp,-MD,w.d -c a.c", "/work", NULL);
    assert_int_equal(p.a.dep, CC_DEP_MD);
    assert_true(p.a.dep_via_wp);
    assert_false(p.a.dep_targets_given);
    release(&p);
    parse_line(&p, "gcc -c a.c", "/work", NULL);
    assert_int_equal(p.a.dep, CC_DEP_NONE);
    assert_null(p.a.dep_file);
    release(&p);
    /* -Wp,-MD,FILE with another comma cannot be told apart: not cached */
    parse_line(&p, "gcc -Wp,-MD,a.d,-MP -c a.c", "/work", NULL);
    assert_int_equal(p.a.reason, CC_UNC_UNSUPPORTED);
    release(&p);
}

/* ---- key and preprocessor arguments ----------------------------------------------------- */

static void key_args_leave_out_where_things_go(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "/usr/bin/gcc -O2 -c a.c -o out/a.o -MD -MF dep/a.d -Iinc",
        "/usr/bin/gcc -O2 -c a.c -oout/a.o -MD -MFdep/a.d -Iinc",
    };
    for (size_t i = 0; i < 2; i++) {
        struct parsed p;
        parse_line(&p, lines[i], "/work", NULL);
        assert_int_equal(p.a.reason, CC_OK);
        assert_non_null(p.a.key_args);
        assert_string_equal(p.a.key_args[0], "gcc");   /* the name, not where it lives */
        assert_null(p.a.key_args[p.a.n_key_args]);
        for (size_t k = 0; k < p.a.n_key_args; k++) {
            const char *s = p.a.key_args[k];
            if (strcmp(s, "-o") == 0 || strstr(s, "out/a.o") || strcmp(s, "-MF") == 0 ||
                strstr(s, "dep/a.d"))
                complain(lines[i], "a key argument", s, "no -o or -MF or their paths");
        }
        assert_true(in_vec(p.a.key_args, p.a.n_key_args, "-O2"));
        assert_true(in_vec(p.a.key_args, p.a.n_key_args, "a.c"));
        assert_true(in_vec(p.a.key_args, p.a.n_key_args, "-MD"));
        assert_true(in_vec(p.a.key_args, p.a.n_key_args, "-Iinc"));
        release(&p);
    }
    /* the same call with other output names has the same key arguments */
    struct parsed a, b;
    parse_line(&a, "gcc -O2 -c a.c -o x/a.o -MMD -MF x/a.d", "/work", NULL);
    parse_line(&b, "gcc -O2 -c a.c -o y/b.o -MMD -MF y/b.d", "/work", NULL);
    assert_int_equal(a.a.n_key_args, b.a.n_key_args);
    for (size_t k = 0; k < a.a.n_key_args; k++)
        assert_string_equal(a.a.key_args[k], b.a.key_args[k]);
    release(&a);
    release(&b);
    /* what changes the object is in the key */
    parse_line(&a, "gcc -O2 -c a.c", "/work", NULL);
    parse_line(&b, "gcc -O3 -c a.c", "/work", NULL);
    assert_true(in_vec(a.a.key_args, a.a.n_key_args, "-O2"));
    assert_false(in_vec(b.a.key_args, b.a.n_key_args, "-O2"));
    release(&a);
    release(&b);
}

static void cpp_args_preprocess_to_stdout(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "gcc -O2 -Iinc -DX=1 -c a.c -o out/a.o -MD -MF d.d -MP -MT t",
        "gcc -O2 -I inc -D X=1 -S a.c -oout/a.s -MMD",
        "gcc -Wp,-MD,w.d -O2 -c a.c -o a.o",
    };
    for (size_t i = 0; i < 3; i++) {
        struct parsed p;
        parse_line(&p, lines[i], "/work", NULL);
        assert_int_equal(p.a.reason, CC_OK);
        size_t n = p.a.n_cpp_args;
        assert_true(n >= 3);
        assert_null(p.a.cpp_args[n]);
        assert_string_equal(p.a.cpp_args[0], p.argv[0]);
        assert_string_equal(p.a.cpp_args[n - 1], "-E");
        for (size_t k = 1; k < n; k++) {
            const char *s = p.a.cpp_args[k];
            if (strcmp(s, "-o") == 0 || strncmp(s, "-o", 2) == 0 || strcmp(s, "-c") == 0 ||
                strcmp(s, "-S") == 0 || strncmp(s, "-M", 2) == 0 || strncmp(s, "-Wp,-M", 6) == 0 ||
                strstr(s, "out/a."))
                complain(lines[i], "a preprocessor argument", s, "no -o, -c, -S or -M*");
        }
        assert_true(in_vec(p.a.cpp_args, n, "a.c"));
        assert_true(in_vec(p.a.cpp_args, n, "-O2"));
        release(&p);
    }
    struct parsed p;
    parse_line(&p, "gcc -O2 -Iinc -DX=1 -c a.c", "/work", NULL);
    assert_true(in_vec(p.a.cpp_args, p.a.n_cpp_args, "-Iinc"));
    assert_true(in_vec(p.a.cpp_args, p.a.n_cpp_args, "-DX=1"));
    /* the remote compile reads preprocessed text: no preprocessor options, no -c */
    assert_false(in_vec(p.a.remote_args, p.a.n_remote_args, "-Iinc"));
    assert_false(in_vec(p.a.remote_args, p.a.n_remote_args, "-DX=1"));
    assert_false(in_vec(p.a.remote_args, p.a.n_remote_args, "-c"));
    assert_true(in_vec(p.a.remote_args, p.a.n_remote_args, "-O2"));
    release(&p);
}

/* ---- which calls may compile on an agent -------------------------------------------------- */

static void remote_ok_rules(void **state)
{
    (void)state;
    static const struct { const char *line; int want; } rules[] = {
        { "gcc -O2 -c a.c", 1 },
        { "g++ -O2 -c a.cpp", 1 },
        { "x86_64-linux-gnu-gcc-12 -c a.c", 1 },
        { "gcc -g -c a.c", 0 },
        { "gcc -ggdb -c a.c", 0 },
        { "gcc -g -gno-column-info -c a.c", 1 },
        { "gcc -gno-column-info -g -c a.c", 1 },
        { "gcc -g -gno-column-info -gcolumn-info -c a.c", 0 },
        { "gcc -g3 -c a.c", 0 },
        { "gcc -g3 -gno-column-info -c a.c", 0 },
        { "gcc -ggdb3 -gno-column-info -c a.c", 0 },
        { "gcc -g -g0 -c a.c", 1 },
        { "gcc -march=native -c a.c", 0 },
        { "gcc -c a.S", 0 },
        { "clang -c a.c", 0 },
        { "clang -g -gno-column-info -c a.c", 0 },
        { "/usr/bin/clang-14 -O2 -c a.c", 0 },
        { "gcc a.c -o prog", 0 },
        { "gcc -E a.c", 0 },
        /* DWARF version 3 records no macros: it is -g with another format, like -gdwarf-4 */
        { "gcc -gdwarf-4 -gno-column-info -c a.c", 1 },
        { "gcc -gdwarf-3 -gno-column-info -c a.c", 1 },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        struct parsed p;
        parse_line(&p, rules[i].line, "/work", NULL);
        if (!!p.a.remote_ok != rules[i].want) {
            fprintf(stderr, "# %s: remote_ok %d, wanted %d\n", rules[i].line, p.a.remote_ok,
                    rules[i].want);
            bad++;
        }
        release(&p);
    }
    assert_int_equal(bad, 0);
}

static void family_and_debug(void **state)
{
    (void)state;
    struct parsed p;
    parse_line(&p, "/usr/lib/llvm-14/bin/clang++ -g -c a.cpp", "/work", NULL);
    assert_int_equal(p.a.family, CC_FAMILY_CLANG);
    assert_int_equal(p.a.lang, CC_LANG_CXX);
    assert_true(p.a.debug);
    release(&p);
    parse_line(&p, "gcc -g -g0 -c a.c", "/work", NULL);
    assert_int_equal(p.a.family, CC_FAMILY_GCC);
    assert_false(p.a.debug);
    release(&p);
    parse_line(&p, "gcc -mtune=native -c a.c", "/work", NULL);
    assert_true(p.a.native_cpu);
    release(&p);
    parse_line(&p, "gcc -fdiagnostics-color=never -c a.c", "/work", NULL);
    assert_true(p.a.color_set);
    release(&p);
    parse_line(&p, "gcc -fdebug-prefix-map=/a=/b -ffile-prefix-map=/c=. -c a.c", "/work", NULL);
    assert_int_equal(p.a.n_prefix_maps, 2);
    assert_string_equal(p.a.prefix_maps[0], "/a=/b");
    assert_string_equal(p.a.prefix_maps[1], "/c=.");
    release(&p);
    assert_int_equal(cc_lang_of_path("x/a.c"), CC_LANG_C);
    assert_int_equal(cc_lang_of_path("a.C"), CC_LANG_CXX);
    assert_int_equal(cc_lang_of_path("a.cxx"), CC_LANG_CXX);
    assert_int_equal(cc_lang_of_path("a.c++"), CC_LANG_CXX);
    assert_int_equal(cc_lang_of_path("a.i"), CC_LANG_C_I);
    assert_int_equal(cc_lang_of_path("a.ii"), CC_LANG_CXX_I);
    assert_int_equal(cc_lang_of_path("a.sx"), CC_LANG_ASM_CPP);
    assert_int_equal(cc_lang_of_path("a.f90"), CC_LANG_OTHER);
    assert_int_equal(cc_lang_of_path("a.o"), CC_LANG_NONE);
    assert_int_equal(cc_lang_of_path("libx.a"), CC_LANG_NONE);
    assert_int_equal(cc_lang_of_path("dir.c/noext"), CC_LANG_NONE);
}

/* ---- UDCS_BASEDIR ---------------------------------------------------------------------------- */

static const char *key_arg_after(const struct cc_args *a, const char *prefix)
{
    for (size_t i = 0; i < a->n_key_args; i++)
        if (strncmp(a->key_args[i], prefix, strlen(prefix)) == 0)
            return a->key_args[i];
    return NULL;
}

static void basedir_makes_paths_relative(void **state)
{
    (void)state;
    static const char *const args[] = {
        "gcc", "-c", "-I/home/u/p2/include", "-I", "/home/u/p1/include", "-I/usr/include",
        "-I/home/user2/x", "--sysroot=/home/u/sys", "-isystem/home/u/p2/sys",
        "/home/u/p2/src/a.c", "-o", "/home/u/p2/a.o", NULL
    };
    const char *basedirs[] = { "/home/u", "/home/u/" };
    for (size_t b = 0; b < 2; b++) {
        struct parsed p;
        parse_argv(&p, args, "/home/u/p2", basedirs[b]);
        assert_int_equal(p.a.reason, CC_OK);
        const struct cc_args *a = &p.a;
        assert_true(in_vec(a->key_args, a->n_key_args, "-Iinclude"));
        assert_true(in_vec(a->key_args, a->n_key_args, "../p1/include"));
        assert_true(in_vec(a->key_args, a->n_key_args, "-I/usr/include"));
        assert_true(in_vec(a->key_args, a->n_key_args, "-I/home/user2/x"));
        assert_true(in_vec(a->key_args, a->n_key_args, "--sysroot=../sys"));
        assert_true(in_vec(a->key_args, a->n_key_args, "-isystemsys"));
        assert_true(in_vec(a->key_args, a->n_key_args, "src/a.c"));
        /* the compiler itself still gets the paths as given */
        assert_true(in_vec(a->cpp_args, a->n_cpp_args, "-I/home/u/p2/include"));
        assert_string_equal(a->source, "/home/u/p2/src/a.c");
        release(&p);
    }
    /* without a base directory nothing is rewritten */
    struct parsed p;
    parse_argv(&p, args, "/home/u/p2", NULL);
    assert_true(in_vec(p.a.key_args, p.a.n_key_args, "-I/home/u/p2/include"));
    assert_true(in_vec(p.a.key_args, p.a.n_key_args, "/home/u/p2/src/a.c"));
    release(&p);
}

/* Two copies of a project: the key arguments are the same. */
static void basedir_two_copies_share_keys(void **state)
{
    (void)state;
    static const char *const one[] = { "gcc", "-c", "-I/b/one/include", "-I/b/one", "src/a.c", NULL };
    static const char *const two[] = { "gcc", "-c", "-I/b/two/include", "-I/b/two", "src/a.c", NULL };
    struct parsed a, b;
    parse_argv(&a, one, "/b/one", "/b");
    parse_argv(&b, two, "/b/two", "/b");
    assert_int_equal(a.a.n_key_args, b.a.n_key_args);
    for (size_t k = 0; k < a.a.n_key_args; k++)
        expect_str("-I$PWD in two copies", "a key argument", b.a.key_args[k], a.a.key_args[k]);
    /* the working directory itself is "." */
    if (!in_vec(a.a.key_args, a.a.n_key_args, "-I.")) {
        for (size_t k = 0; k < a.a.n_key_args; k++)
            fprintf(stderr, "# key argument [%s]\n", a.a.key_args[k]);
        complain("-I/b/one from /b/one", "its key form", "(see above)", "-I.");
    }
    release(&a);
    release(&b);
}

/* -fdebug-prefix-map=$PWD=. in two copies: the OLD part is keyed relative to the working
 * directory, the NEW part as given, so -g objects of two checkouts can share keys. */
static void basedir_prefix_maps_are_keyed_relative(void **state)
{
    (void)state;
    static const char *const one[] = { "gcc", "-g", "-c", "-fdebug-prefix-map=/b/one=.",
                                       "-ffile-prefix-map=/b/one/src=s",
                                       "-fmacro-prefix-map=/b/one/=", "src/a.c", NULL };
    static const char *const two[] = { "gcc", "-g", "-c", "-fdebug-prefix-map=/b/two=.",
                                       "-ffile-prefix-map=/b/two/src=s",
                                       "-fmacro-prefix-map=/b/two/=", "src/a.c", NULL };
    struct parsed a, b;
    parse_argv(&a, one, "/b/one", "/b");
    parse_argv(&b, two, "/b/two", "/b");
    assert_int_equal(a.a.n_key_args, b.a.n_key_args);
    for (size_t k = 0; k < a.a.n_key_args; k++)
        expect_str("prefix maps in two copies", "a key argument", b.a.key_args[k],
                   a.a.key_args[k]);
    expect_str("-fdebug-prefix-map=/b/one=.", "its key form",
               key_arg_after(&a.a, "-fdebug-prefix-map="), "-fdebug-prefix-map=.=.");
    expect_str("-ffile-prefix-map=/b/one/src=s", "its key form",
               key_arg_after(&a.a, "-ffile-prefix-map="), "-ffile-prefix-map=src=s");
    /* gcc matches OLD as a string: the trailing slash changes what it maps */
    expect_str("-fmacro-prefix-map=/b/one/=", "its key form",
               key_arg_after(&a.a, "-fmacro-prefix-map="), "-fmacro-prefix-map=./=");
    /* the compiler still gets the maps as given */
    assert_true(in_vec(a.a.cpp_args, a.a.n_cpp_args, "-fdebug-prefix-map=/b/one=."));
    release(&a);
    release(&b);
    /* outside the base directory, or without one, a map is keyed as given */
    static const char *const outside[] = { "gcc", "-g", "-c", "-fdebug-prefix-map=/elsewhere=.",
                                           "-fdebug-prefix-map=rel=x", "src/a.c", NULL };
    parse_argv(&a, outside, "/b/one", "/b");
    assert_true(in_vec(a.a.key_args, a.a.n_key_args, "-fdebug-prefix-map=/elsewhere=."));
    assert_true(in_vec(a.a.key_args, a.a.n_key_args, "-fdebug-prefix-map=rel=x"));
    release(&a);
    parse_argv(&a, one, "/b/one", NULL);
    assert_true(in_vec(a.a.key_args, a.a.n_key_args, "-fdebug-prefix-map=/b/one=."));
    release(&a);
}

/* A macro's value is text that ends up in the object, not a path of the build. */
static void basedir_leaves_macro_values_alone(void **state)
{
    (void)state;
    static const char *const args[] = { "gcc", "-c", "-DDATA=\"/b/one/data\"", "a.c", NULL };
    struct parsed p;
    parse_argv(&p, args, "/b/one", "/b");
    expect_str("-DDATA=\"/b/one/data\"", "its key form", key_arg_after(&p.a, "-DDATA"),
               "-DDATA=\"/b/one/data\"");
    release(&p);
}

/* A path shorter than the working directory: nothing read past its end (ASan). */
static void basedir_short_paths(void **state)
{
    (void)state;
    static const char *const args[] = { "gcc", "-c", "-I/h/x", "-I/h", "a.c", NULL };
    struct parsed p;
    parse_argv(&p, args, "/h/user/project/build/a/much/deeper/directory", "/h");
    assert_int_equal(p.a.reason, CC_OK);
    assert_true(in_vec(p.a.key_args, p.a.n_key_args, "-I../../../../../../../x"));
    release(&p);
}

/* ---- response files ------------------------------------------------------------------------- */

static void response_files_are_expanded(void **state)
{
    (void)state;
    char *dir = test_tmpdir("compile-args");
    char rsp[4096], nested[4096], self[4096], at[4200], at_self[4200];
    snprintf(rsp, sizeof(rsp), "%s/args.rsp", dir);
    snprintf(nested, sizeof(nested), "%s/more.rsp", dir);
    snprintf(self, sizeof(self), "%s/self.rsp", dir);
    char text[8192];
    int n = snprintf(text, sizeof(text),
                     "-c 'my file.c'\n-o \"out dir/x.o\"\t-DQ=\\\"q\\\" a\\ b\n@%s\n", nested);
    test_write_file(rsp, text, (size_t)n);
    test_write_file(nested, "-O2 -MD\n", 8);
    n = snprintf(text, sizeof(text), "-O1 @%s\n", self);
    test_write_file(self, text, (size_t)n);

    snprintf(at, sizeof(at), "@%s", rsp);
    const char *args[] = { "gcc", at, NULL };
    struct parsed p;
    parse_argv(&p, args, "/work", NULL);
    /* gcc -c "my file.c" -o "out dir/x.o" -DQ="q" "a b" -O2 -MD */
    assert_int_equal(p.a.argc, 9);
    assert_string_equal(p.a.argv[0], "gcc");
    assert_string_equal(p.a.argv[1], "-c");
    assert_string_equal(p.a.argv[2], "my file.c");
    assert_string_equal(p.a.argv[3], "-o");
    assert_string_equal(p.a.argv[4], "out dir/x.o");
    assert_string_equal(p.a.argv[5], "-DQ=\"q\"");
    assert_string_equal(p.a.argv[6], "a b");
    assert_string_equal(p.a.argv[7], "-O2");
    assert_string_equal(p.a.argv[8], "-MD");
    /* "a b" has no suffix: an input to link, so two inputs; without it, cacheable */
    release(&p);
    n = snprintf(text, sizeof(text), "-c 'my file.c'\n-o \"out dir/x.o\" -DQ=\\\"q\\\"\n@%s\n", nested);
    test_write_file(rsp, text, (size_t)n);
    parse_argv(&p, args, "/work", NULL);
    assert_int_equal(p.a.reason, CC_OK);
    assert_string_equal(p.a.source, "my file.c");
    assert_string_equal(p.a.output, "out dir/x.o");
    assert_string_equal(p.a.dep_file, "out dir/x.d");
    assert_true(in_vec(p.a.key_args, p.a.n_key_args, "-O2"));
    assert_false(in_vec(p.a.key_args, p.a.n_key_args, at));   /* expanded, not hashed as a name */
    release(&p);

    /* a response file naming itself: refused after a bounded depth, not a hang */
    snprintf(at_self, sizeof(at_self), "@%s", self);
    const char *args2[] = { "gcc", "-c", "a.c", at_self, NULL };
    parse_argv(&p, args2, "/work", NULL);
    assert_int_equal(p.a.reason, CC_UNC_RESPONSE_FILE);
    release(&p);

    /* a missing one: left as it is for the compiler, not cached */
    const char *args3[] = { "gcc", "-c", "a.c", "@/nonexistent/x.rsp", NULL };
    parse_argv(&p, args3, "/work", NULL);
    assert_int_equal(p.a.reason, CC_UNC_RESPONSE_FILE);
    assert_true(in_vec(p.a.argv, (size_t)p.a.argc, "@/nonexistent/x.rsp"));
    release(&p);
    test_rmtree(dir);
}

/* ---- dependency files ------------------------------------------------------------------------- */

static void expect_list(const char *what, char **got, size_t n, const char *const *want)
{
    size_t w = 0;
    while (want[w])
        w++;
    int same = n == w;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(got[i], want[i]) == 0;
    if (!same) {
        fprintf(stderr, "# %s: got", what);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " [%s]", got[i]);
        fprintf(stderr, ", wanted");
        for (size_t i = 0; i < w; i++)
            fprintf(stderr, " [%s]", want[i]);
        fprintf(stderr, "\n");
        fail();
    }
}

static void depfiles(void **state)
{
    (void)state;
    static const struct { const char *text; const char *want[6]; } cases[] = {
        { "a.o: a.c b.h \\\n c.h\n", { "a.c", "b.h", "c.h" } },
        { "a.o: \\\n  a.c \\\n  inc/b.h\n", { "a.c", "inc/b.h" } },
        { "a.o: my\\ file.h other.h\n", { "my file.h", "other.h" } },
        { "a$$b: x$$y.h a.c\n", { "a.c", "x$y.h" } },
        { "a.o: x\\#y.h\n", { "x#y.h" } },
        { "out/a.o: a.c inc/h.h /usr/include/stdio.h\n\ninc/h.h:\n\n/usr/include/stdio.h:\n",
          { "/usr/include/stdio.h", "a.c", "inc/h.h" } },
        { "a.o: a.c \\\r\n b.h\r\n\r\nb.h:\r\n", { "a.c", "b.h" } },
        { "a.o: a.c b.h", { "a.c", "b.h" } },
        { "t1 t\\ 2: a.c\n", { "a.c" } },
        { "a.o: z.h a.c z.h\n", { "a.c", "z.h" } },
        { "a.o: dir:x/h.h\n", { "dir:x/h.h" } },
        { "\na.o: a.c\n", { "a.c" } },
        { "a.o:\n", { NULL } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char **deps = NULL;
        size_t n = 0;
        int rc = cc_depfile_parse(cases[i].text, strlen(cases[i].text), &deps, &n);
        if (rc != 0) {
            fprintf(stderr, "# depfile %zu: rc %d\n", i, rc);
            fail();
        }
        char what[32];
        snprintf(what, sizeof(what), "depfile %zu", i);
        expect_list(what, deps, n, cases[i].want);
        cc_strv_free(deps, n);
    }
    static const char *const not_rules[] = { "", "hello world\n", "\n\n" };
    for (size_t i = 0; i < 3; i++) {
        char **deps = NULL;
        size_t n = 0;
        assert_int_equal(cc_depfile_parse(not_rules[i], strlen(not_rules[i]), &deps, &n), UDCS_EPROTO);
        assert_null(deps);
    }
}

static void linemarkers(void **state)
{
    (void)state;
    static const char text[] =
        "# 0 \"src/a.c\"\n"
        "# 0 \"/home/u/p//\"\n"
        "# 0 \"<built-in>\"\n"
        "# 0 \"<command-line>\"\n"
        "# 1 \"/usr/include/stdc-predef.h\" 1 3 4\n"
        "# 0 \"<command-line>\" 2\n"
        "# 1 \"src/a.c\"\n"
        "#pragma once\n"
        "#define X 1\n"
        "# 1 \"inc/h.h\" 1\n"
        "int h;\n"
        "# 1 \"inc/h.h\" 1\n"
        "#line 7 \"x.h\"\n"
        "# 3 \"we\\\"ird.h\" 1\n"
        "# 4 \"dir\\\\sub.h\" 2\r\n"
        "# 5 \"crlf.h\"\r\n"
        "  # 1 \"indented.h\"\n"
        "# 12\n"
        "# 1 \"unterminated.h\n"
        "# 2 \"src/a.c\" 2\n"
        "int main(void) { return 0; }\n";
    char **files = NULL;
    size_t n = 0;
    assert_int_equal(cc_linemarker_files(text, sizeof(text) - 1, &files, &n), 0);
    static const char *const want[] = { "/usr/include/stdc-predef.h", "crlf.h", "dir\\sub.h",
                                        "inc/h.h", "src/a.c", "we\"ird.h", "x.h", NULL };
    expect_list("line markers", files, n, want);
    cc_strv_free(files, n);
    assert_int_equal(cc_linemarker_files("", 0, &files, &n), 0);
    assert_int_equal(n, 0);
    cc_strv_free(files, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_table),
        cmocka_unit_test(dependency_kinds),
        cmocka_unit_test(key_args_leave_out_where_things_go),
        cmocka_unit_test(cpp_args_preprocess_to_stdout),
        cmocka_unit_test(remote_ok_rules),
        cmocka_unit_test(family_and_debug),
        cmocka_unit_test(basedir_makes_paths_relative),
        cmocka_unit_test(basedir_two_copies_share_keys),
        cmocka_unit_test(basedir_prefix_maps_are_keyed_relative),
        cmocka_unit_test(basedir_leaves_macro_values_alone),
        cmocka_unit_test(basedir_short_paths),
        cmocka_unit_test(response_files_are_expanded),
        cmocka_unit_test(depfiles),
        cmocka_unit_test(linemarkers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
