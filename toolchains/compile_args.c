/* toolchains/compile_args.c - reading a gcc or clang command line: what it compiles, to
 * where, with which dependency file, whether the result can be cached (and why not), and
 * the argument lists the key, the preprocessor and a remote compile use.
 *
 * The rule throughout: when in doubt, not cacheable. A call we do not understand runs the
 * real compiler unchanged, which is always right. */
#include "toolchains/compile.h"
#include "toolchains/compile_internal.h"
#include "common/buf.h"
#include "common/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of @file inside @file, as gcc's own limit is generous but finite. */
#define RESPONSE_FILE_MAX_DEPTH 16
#define RESPONSE_FILE_MAX_BYTES (16u * 1024 * 1024)

static const char *const uncacheable_names[CC_UNC_COUNT] = {
    [CC_OK] = "cacheable",
    [CC_UNC_LINK] = "linking",
    [CC_UNC_PREPROCESS] = "preprocessing only",
    [CC_UNC_NO_SOURCE] = "no source file",
    [CC_UNC_MULTIPLE_SOURCES] = "several source files",
    [CC_UNC_LANGUAGE] = "unsupported language",
    [CC_UNC_STDIN] = "stdin, stdout or a device",
    [CC_UNC_RESPONSE_FILE] = "unreadable response file",
    [CC_UNC_PROFILE] = "profiling or coverage",
    [CC_UNC_EXTRA_OUTPUT] = "extra outputs",
    [CC_UNC_PLUGIN] = "compiler plugin",
    [CC_UNC_UNSUPPORTED] = "unsupported option",
    [CC_UNC_SOURCE_MISSING] = "source file missing",
    [CC_UNC_TIME_MACROS] = "__DATE__ or __TIME__ used",
    [CC_UNC_COMPILE_FAILED] = "compile failed",
    [CC_UNC_HEADER_CHANGED] = "input modified during the compile",
};

const char *cc_uncacheable_name(enum cc_uncacheable u)
{
    return (unsigned)u < CC_UNC_COUNT ? uncacheable_names[u] : "?";
}

/* ---- tables ---------------------------------------------------------------------------- */

/* Options whose value may be the next argument ("-I dir" as well as "-Idir"). */
static const char *const takes_value[] = {
    "-o", "-x", "-MF", "-MT", "-MQ", "-I", "-D", "-U", "-include", "-imacros", "-isystem",
    "-idirafter", "-iquote", "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-isysroot",
    "-imultilib", "-iwithsysroot", "-L", "-l", "-Xpreprocessor", "-Xassembler", "-Xlinker",
    "-Xclang", "-aux-info", "--param", "-A", "-T", "-u", "-z", "-e", "-B", "--sysroot",
    "-target", "-arch", "-gcc-toolchain", "-MJ", "-specs", "-dumpdir", "-dumpbase",
    "-dumpbase-ext", "-G", "-Xarch_host", "-Xarch_device", "--include", NULL
};

/* Options that only the preprocessor reads: not needed to compile preprocessed source. */
static const char *const preprocessor_with_value[] = {
    "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-idirafter", "-iquote", "-iprefix",
    "-iwithprefix", "-iwithprefixbefore", "-iwithsysroot", "-Xpreprocessor", "-A",
    "--include", NULL
};
static const char *const preprocessor_flags[] = {
    "-nostdinc", "-nostdinc++", "-undef", "-H", "-C", "-CC", "-P", "-trigraphs", NULL
};

/* Options that leave outputs beside the object (or none at all) */
static const char *const extra_output_prefixes[] = {
    "-save-temps", "-gsplit-dwarf", "-fdump-", "-fstack-usage", "-fcallgraph-info",
    "-ftime-trace", "-fsyntax-only", "-aux-info", "-frecord-gcc-switches", "-fopt-info",
    "-fcompare-debug", "-Xlinker", "-fmodules", "-fmodule-", "-fcxx-modules",
    "-fprebuilt-module-path", "-emit-", NULL
};
/* Options that ask the driver about itself (and may do nothing else): what they print
 * names temporary files and the installation, not the source, so the compiler runs. */
static const char *const informational[] = {
    "-v", "--verbose", "--version", "-###", "-dumpversion", "-dumpfullversion",
    "-dumpmachine", "-dumpspecs", NULL
};
static const char *const informational_prefixes[] = {
    "-print-", "--print-", "--help", "--target-help", NULL
};
static const char *const profile_prefixes[] = {
    "--coverage", "-fprofile-arcs", "-ftest-coverage", "-fprofile-generate", "-fprofile-use",
    "-fprofile-instr-generate", "-fprofile-instr-use", "-fprofile-sample-use",
    "-fauto-profile", "-fbranch-probabilities", "-fcs-profile-generate", "-fprofile-dir",
    "-fprofile-update", "-fprofile-correction", "-fprofile-info-section", NULL
};

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static const char *prefix_in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strncmp(s, list[i], strlen(list[i])) == 0)
            return list[i];
    return NULL;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The joined-value form of a preprocessor option ("-Ifoo", "-DX=1"): its option name. */
static const char *preprocessor_joined(const char *arg)
{
    static const char *const joined[] = { "-I", "-D", "-U", "-isystem", "-idirafter",
                                           "-iquote", "-iwithprefixbefore", "-iwithprefix",
                                           "-iprefix", "-iwithsysroot", "-A", NULL };
    for (size_t i = 0; joined[i]; i++)
        if (starts_with(arg, joined[i]) && arg[strlen(joined[i])] != '\0')
            return joined[i];
    return NULL;
}

enum cc_lang cc_lang_of_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot || dot[1] == '\0')
        return CC_LANG_NONE;
    const char *ext = dot + 1;
    static const char *const cxx[] = { "cc", "cp", "cxx", "cpp", "CPP", "c++", "C", NULL };
    static const char *const other[] = { "m", "mi", "mm", "M", "mii", "s", "f", "for", "f90",
                                         "f95", "f03", "F", "F90", "go", "d", "ads", "adb",
                                         "cu", "cl", "h", "hh", "hpp", "hxx", "H", "tcc",
                                         "ii", "i", NULL };
    if (strcmp(ext, "c") == 0)
        return CC_LANG_C;
    if (in_list(cxx, ext))
        return CC_LANG_CXX;
    if (strcmp(ext, "i") == 0)
        return CC_LANG_C_I;
    if (strcmp(ext, "ii") == 0)
        return CC_LANG_CXX_I;
    if (strcmp(ext, "S") == 0 || strcmp(ext, "sx") == 0)
        return CC_LANG_ASM_CPP;
    if (in_list(other, ext))
        return CC_LANG_OTHER;
    return CC_LANG_NONE;
}

static enum cc_lang lang_of_x(const char *name)
{
    if (strcmp(name, "c") == 0)
        return CC_LANG_C;
    if (strcmp(name, "c++") == 0)
        return CC_LANG_CXX;
    if (strcmp(name, "cpp-output") == 0)
        return CC_LANG_C_I;
    if (strcmp(name, "c++-cpp-output") == 0)
        return CC_LANG_CXX_I;
    if (strcmp(name, "assembler-with-cpp") == 0)
        return CC_LANG_ASM_CPP;
    if (strcmp(name, "none") == 0)
        return CC_LANG_NONE;
    return CC_LANG_OTHER;
}

/* ---- small vectors ----------------------------------------------------------------------- */

struct strv {
    char **v;
    size_t n, cap;
};

static int strv_push(struct strv *s, char *str)
{
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
    return 0;
}

/* Keep `str` (malloc()ed) until cc_args_release; returns it, or NULL (freeing it) when
 * out of memory. */
static char *own(struct cc_args *a, char *str)
{
    if (!str)
        return NULL;
    char **o = realloc(a->owned, (a->n_owned + 1) * sizeof(*o));
    if (!o) {
        free(str);
        return NULL;
    }
    a->owned = o;
    a->owned[a->n_owned++] = str;
    return str;
}

/* ---- response files ------------------------------------------------------------------- */

/* Split response-file text as gcc's buildargv does: white space separates, '...' and
 * "..." quote, a backslash escapes the next character. */
static int split_response(struct cc_args *a, const char *text, struct strv *out)
{
    struct udcs_buf word = UDCS_BUF_INIT(RESPONSE_FILE_MAX_BYTES);
    const char *p = text;
    int rc = 0;
    while (rc == 0 && *p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
            p++;
        if (!*p)
            break;
        udcs_buf_reset(&word);
        char quote = 0;
        for (; *p; p++) {
            if (*p == '\\' && p[1]) {
                p++;
                rc = udcs_buf_append(&word, p, 1);
            } else if (quote) {
                if (*p == quote)
                    quote = 0;
                else
                    rc = udcs_buf_append(&word, p, 1);
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
            } else if (strchr(" \t\n\r\f\v", *p)) {
                break;
            } else {
                rc = udcs_buf_append(&word, p, 1);
            }
            if (rc < 0)
                break;
        }
        if (rc == 0) {
            char *w = own(a, strndup(word.data ? word.data : "", word.len));
            rc = w ? strv_push(out, w) : -ENOMEM;
        }
    }
    udcs_buf_release(&word);
    return rc;
}

/* Append `arg` to `out`, expanding @file recursively. Returns 0, -ENOMEM, or 1 when a
 * response file could not be read (the compiler then takes "@file" as a file name). */
static int expand_arg(struct cc_args *a, char *arg, struct strv *out, int depth)
{
    if (arg[0] != '@' || arg[1] == '\0')
        return strv_push(out, arg);
    struct udcs_buf text = UDCS_BUF_INIT(RESPONSE_FILE_MAX_BYTES);
    if (depth >= RESPONSE_FILE_MAX_DEPTH || udcs_read_file(arg + 1, &text) < 0 ||
        memchr(text.data ? text.data : "", '\0', text.len)) {
        udcs_buf_release(&text);
        if (!a->detail)
            a->detail = strdup(arg);
        return strv_push(out, arg) < 0 ? -ENOMEM : 1;
    }
    struct strv words = { 0 };
    int rc = split_response(a, text.data ? text.data : "", &words);
    udcs_buf_release(&text);
    int unreadable = 0;
    for (size_t i = 0; rc >= 0 && i < words.n; i++) {
        rc = expand_arg(a, words.v[i], out, depth + 1);
        if (rc == 1) {
            unreadable = 1;
            rc = 0;
        }
    }
    free(words.v);
    return rc < 0 ? rc : unreadable;
}

/* ---- base directory ---------------------------------------------------------------------- */

/* `path` relative to `cwd` when both are absolute and `path` lies under `basedir`. NULL
 * when it does not apply (or out of memory: the path is then hashed as it is). */
char *cc_relative_to_cwd(const char *path, const char *cwd, const char *basedir)
{
    size_t blen = basedir ? strlen(basedir) : 0;
    while (blen > 1 && basedir[blen - 1] == '/')
        blen--;
    if (!blen || path[0] != '/' || cwd[0] != '/' || strncmp(path, basedir, blen) != 0 ||
        (path[blen] != '/' && path[blen] != '\0'))
        return NULL;
    /* the longest common prefix of whole directory names */
    size_t common = 0, i = 0;
    for (; path[i] && path[i] == cwd[i]; i++)
        if (path[i] == '/')
            common = i;
    if ((path[i] == '\0' || path[i] == '/') && cwd[i] == '\0')
        common = i;             /* cwd is path itself or one of its parents */
    else if (path[i] == '\0' && cwd[i] == '/')
        common = i;             /* path is a parent of cwd */
    struct udcs_buf b = UDCS_BUF_INIT(8192);
    for (const char *c = cwd + common; *c; c++)
        if (*c == '/' && c[1] != '\0')
            udcs_buf_append_str(&b, b.len ? "/.." : "..");
    const char *rest = path + common;
    while (*rest == '/')
        rest++;
    if (*rest)
        udcs_buf_appendf(&b, "%s%s", b.len ? "/" : "", rest);
    if (b.len == 0)
        udcs_buf_append_str(&b, ".");
    return udcs_buf_detach(&b, NULL);
}

/* Options whose joined value is a path ("-I/x", "--sysroot=/x"). -D values are not paths
 * even when they look like one: they are text in the program. */
static const char *const path_options[] = {
    "-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros", "-isysroot",
    "--sysroot=", "-iprefix", "-iwithprefixbefore", "-iwithprefix", "-B", "-L", NULL
};

/* Options "-f...-prefix-map=OLD=NEW": OLD is a path of the build, NEW what the object
 * says instead. */
static const char *const prefix_map_options[] = {
    "-fdebug-prefix-map=", "-ffile-prefix-map=", "-fmacro-prefix-map=", NULL
};

/* An argument as it goes into the key: an absolute path under the base directory, alone,
 * after a path option ("-I/home/a/src/include"), as the value of one (`prev` is the
 * option before it), or as the OLD part of a prefix map, made relative to the working
 * directory. A map's NEW part is kept: it is what the object holds. */
static char *key_form(struct cc_args *a, char *arg, const char *prev, const char *cwd,
                      const char *basedir)
{
    if (!basedir || !*basedir)
        return arg;
    size_t prefix = 0;
    const char *map = prefix_in_list(prefix_map_options, arg);
    if (map) {
        /* -fdebug-prefix-map=/b/one=. from /b/one and =/b/two=. from /b/two both key as
         * -fdebug-prefix-map=.=. (the working directory is keyed after the map too) */
        const char *old = arg + strlen(map);
        const char *eq = strchr(old, '=');
        char *old_path = eq && old[0] == '/' ? strndup(old, (size_t)(eq - old)) : NULL;
        char *rel = old_path ? cc_relative_to_cwd(old_path, cwd, basedir) : NULL;
        /* gcc matches OLD as a string: "/b/one/" and "/b/one" map differently, so a
         * trailing slash stays */
        int slash = old_path && eq[-1] == '/' && rel && rel[strlen(rel) - 1] != '/';
        char *out = NULL;
        if (rel && asprintf(&out, "%s%s%s%s", map, rel, slash ? "/" : "", eq) < 0)
            out = NULL;
        free(old_path);
        free(rel);
        return out && own(a, out) ? out : arg;
    }
    if (arg[0] == '/') {
        if (prev && prev[0] == '-' && !in_list(path_options, prev) && in_list(takes_value, prev))
            return arg;         /* the value of -D, -MT, ... */
    } else {
        const char *opt = prefix_in_list(path_options, arg);
        if (!opt || arg[strlen(opt)] != '/')
            return arg;
        prefix = strlen(opt);
    }
    char *rel = cc_relative_to_cwd(arg + prefix, cwd, basedir);
    if (!rel)
        return arg;
    char *out = NULL;
    if (asprintf(&out, "%.*s%s", (int)prefix, arg, rel) < 0)
        out = NULL;
    free(rel);
    return own(a, out) ? out : arg;
}

/* ---- the parse ----------------------------------------------------------------------- */

static void set_reason(struct cc_args *a, enum cc_uncacheable r, const char *detail)
{
    if (a->reason != CC_OK)
        return;
    a->reason = r;
    free(a->detail);
    a->detail = detail ? strdup(detail) : NULL;
}

/* The default output name: the source's base name with its suffix replaced. */
static char *default_output(const char *source, const char *suffix)
{
    const char *base = strrchr(source, '/');
    base = base ? base + 1 : source;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *out = NULL;
    return asprintf(&out, "%.*s%s", (int)stem, base, suffix) < 0 ? NULL : out;
}

/* The dependency file gcc writes for -MD without -MF: the output (when -o was given) or
 * the source's base name, suffix replaced by ".d". */
static char *default_depfile(const struct cc_args *a)
{
    if (a->explicit_output) {
        const char *base = strrchr(a->output, '/');
        base = base ? base + 1 : a->output;
        const char *dot = strrchr(base, '.');
        size_t keep = dot ? (size_t)(dot - a->output) : strlen(a->output);
        char *out = NULL;
        return asprintf(&out, "%.*s.d", (int)keep, a->output) < 0 ? NULL : out;
    }
    return default_output(a->source, ".d");
}

static int is_dep_option(const char *arg)
{
    return strcmp(arg, "-MD") == 0 || strcmp(arg, "-MMD") == 0 || strcmp(arg, "-MP") == 0;
}

struct parse_state {
    int no_column_info, debug_macros;
    struct strv key, cpp, remote, dep;
    enum cc_lang x_lang;        /* from -x, for the files after it */
    int n_sources;
    int compile, assemble, preprocess, dep_only, dep_g;
    const char *dep_file_given;
};

/* Handle a -Wp,... argument; returns 1 when it was a dependency request (handled). */
static int take_wp(struct cc_args *a, const char *arg)
{
    const char *rest = arg + 4;
    if (starts_with(rest, "-MD,") || starts_with(rest, "-MMD,")) {
        const char *file = strchr(rest, ',') + 1;
        if (strchr(file, ',') || !*file) {
            set_reason(a, CC_UNC_UNSUPPORTED, arg);
            return 1;
        }
        a->dep = rest[1] == 'M' && rest[2] == 'M' ? CC_DEP_MMD : CC_DEP_MD;
        a->dep_via_wp = 1;
        free(a->dep_file);
        a->dep_file = strdup(file);
        return 1;
    }
    /* other preprocessor options passed through: fine to hash, but -M forms are not */
    if (strstr(rest, "-M"))
        set_reason(a, CC_UNC_UNSUPPORTED, arg);
    return 0;
}

int cc_args_parse(int argc, char **argv, const char *cwd, const char *basedir,
                  struct cc_args *a)
{
    memset(a, 0, sizeof(*a));
    a->source_index = -1;
    struct strv all = { 0 };
    int rc = 0;
    for (int i = 0; rc >= 0 && i < argc; i++) {
        rc = i == 0 ? strv_push(&all, argv[0]) : expand_arg(a, argv[i], &all, 0);
        if (rc == 1) {
            char *d = a->detail;
            a->detail = NULL;
            set_reason(a, CC_UNC_RESPONSE_FILE, d);
            free(d);
            rc = 0;
        }
    }
    if (rc < 0 || all.n == 0) {
        free(all.v);
        return rc < 0 ? rc : -EINVAL;
    }
    a->argv = all.v;
    a->argc = (int)all.n;
    const char *cc_base = strrchr(a->argv[0], '/');
    cc_base = cc_base ? cc_base + 1 : a->argv[0];
    a->family = strstr(cc_base, "clang") ? CC_FAMILY_CLANG : CC_FAMILY_GCC;

    struct parse_state st = { 0 };
    rc = strv_push(&st.key, own(a, strdup(cc_base)));
    rc |= strv_push(&st.cpp, a->argv[0]);
    for (int i = 1; rc == 0 && i < a->argc; i++) {
        char *arg = a->argv[i];
        char *val = NULL;
        int separate = in_list(takes_value, arg) && i + 1 < a->argc;
        if (in_list(takes_value, arg) && i + 1 >= a->argc) {
            set_reason(a, CC_UNC_UNSUPPORTED, arg);   /* the compiler will complain */
            continue;
        }
        if (separate)
            val = a->argv[i + 1];

        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            /* an input file */
            enum cc_lang l = st.x_lang != CC_LANG_NONE ? st.x_lang : cc_lang_of_path(arg);
            if (strcmp(arg, "-") == 0)
                set_reason(a, CC_UNC_STDIN, "-");
            else if (l == CC_LANG_NONE)
                set_reason(a, CC_UNC_LINK, arg);     /* an object or library to link */
            else if (l == CC_LANG_OTHER)
                set_reason(a, CC_UNC_LANGUAGE, arg);
            st.n_sources++;
            a->source_index = i;
            a->source = arg;
            a->lang = l;
            rc |= strv_push(&st.key, key_form(a, arg, NULL, cwd, basedir));
            rc |= strv_push(&st.cpp, arg);
            continue;
        }

        /* options that decide the kind of call */
        if (strcmp(arg, "-c") == 0) {
            st.compile = 1;
        } else if (strcmp(arg, "-S") == 0) {
            st.assemble = 1;
        } else if (strcmp(arg, "-E") == 0) {
            st.preprocess = 1;
        } else if (strcmp(arg, "-M") == 0 || strcmp(arg, "-MM") == 0) {
            st.dep_only = 1;
        } else if (strcmp(arg, "-MG") == 0) {
            set_reason(a, CC_UNC_UNSUPPORTED, arg);
        }
        if (strcmp(arg, "-o") == 0 || (starts_with(arg, "-o") && !separate)) {
            const char *o = separate ? val : arg + 2;
            free(a->output);
            a->output = strdup(o);
            a->explicit_output = 1;
            if (strcmp(o, "-") == 0)
                set_reason(a, CC_UNC_STDIN, "-o -");
            i += separate;
            continue;   /* never in the key, the preprocessor or the remote arguments */
        }
        if (strcmp(arg, "-x") == 0 || (starts_with(arg, "-x") && !separate)) {
            st.x_lang = lang_of_x(separate ? val : arg + 2);
            if (st.x_lang == CC_LANG_OTHER)
                set_reason(a, CC_UNC_LANGUAGE, separate ? val : arg + 2);
            rc |= strv_push(&st.key, arg);
            rc |= strv_push(&st.cpp, arg);
            if (separate) {
                rc |= strv_push(&st.key, val);
                rc |= strv_push(&st.cpp, val);
                i++;
            }
            continue;   /* the remote compile names its own language */
        }
        /* dependency files */
        if (strcmp(arg, "-MF") == 0 || (starts_with(arg, "-MF") && !separate)) {
            st.dep_file_given = separate ? val : arg + 3;
            rc |= strv_push(&st.dep, arg);
            if (separate)
                rc |= strv_push(&st.dep, val);
            i += separate;
            continue;
        }
        if (strcmp(arg, "-MT") == 0 || strcmp(arg, "-MQ") == 0 ||
            ((starts_with(arg, "-MT") || starts_with(arg, "-MQ")) && !separate)) {
            a->dep_targets_given = 1;
            rc |= strv_push(&st.key, arg);
            rc |= strv_push(&st.dep, arg);
            if (separate) {
                rc |= strv_push(&st.key, val);
                rc |= strv_push(&st.dep, val);
            }
            i += separate;
            continue;
        }
        if (is_dep_option(arg)) {
            if (strcmp(arg, "-MP") == 0)
                a->dep_phony = 1;
            else
                a->dep = arg[2] == 'M' ? CC_DEP_MMD : CC_DEP_MD;
            rc |= strv_push(&st.key, arg);
            rc |= strv_push(&st.dep, arg);
            continue;
        }
        if (starts_with(arg, "-Wp,")) {
            if (take_wp(a, arg)) {
                rc |= strv_push(&st.key, a->dep == CC_DEP_MMD ? "-Wp,-MMD" : "-Wp,-MD");
                rc |= strv_push(&st.dep, arg);
                continue;
            }
        }

        /* options that cannot be cached */
        const char *p;
        if ((p = prefix_in_list(profile_prefixes, arg)) != NULL)
            set_reason(a, CC_UNC_PROFILE, arg);
        else if ((p = prefix_in_list(extra_output_prefixes, arg)) != NULL)
            set_reason(a, CC_UNC_EXTRA_OUTPUT, arg);
        else if (starts_with(arg, "-fplugin") ||
                 (strcmp(arg, "-Xclang") == 0 && val &&
                  (strcmp(val, "-load") == 0 || starts_with(val, "-plugin"))))
            set_reason(a, CC_UNC_PLUGIN, separate ? val : arg);
        else if (in_list(informational, arg) || prefix_in_list(informational_prefixes, arg))
            set_reason(a, CC_UNC_UNSUPPORTED, arg);
        else if (strcmp(arg, "-arch") == 0 || starts_with(arg, "-specs") ||
                 starts_with(arg, "--specs") || strcmp(arg, "-wrapper") == 0 ||
                 starts_with(arg, "-fdirectives-only") || strcmp(arg, "-fpch-preprocess") == 0)
            set_reason(a, CC_UNC_UNSUPPORTED, arg);

        /* what changes the key beyond the arguments */
        if (strcmp(arg, "-g0") == 0 || strcmp(arg, "-ggdb0") == 0)
            a->debug = 0;
        else if (starts_with(arg, "-g") && !starts_with(arg, "-gno-") && !starts_with(arg, "-gz") &&
                 strcmp(arg, "-gcolumn-info") != 0 && strcmp(arg, "-grecord-gcc-switches") != 0)
            a->debug = 1;
        if (strcmp(arg, "-gno-column-info") == 0)
            st.no_column_info = 1;
        else if (strcmp(arg, "-gcolumn-info") == 0)
            st.no_column_info = 0;
        if (strcmp(arg, "-g3") == 0 || strcmp(arg, "-ggdb3") == 0)
            st.debug_macros = 1;
        if (strcmp(arg, "-march=native") == 0 || strcmp(arg, "-mcpu=native") == 0 ||
            strcmp(arg, "-mtune=native") == 0)
            a->native_cpu = 1;
        if (starts_with(arg, "-fdiagnostics-color") || starts_with(arg, "-fno-diagnostics-color") ||
            strcmp(arg, "-fcolor-diagnostics") == 0 || strcmp(arg, "-fno-color-diagnostics") == 0)
            a->color_set = 1;
        if (starts_with(arg, "-fdebug-prefix-map=") || starts_with(arg, "-ffile-prefix-map=")) {
            char **m = realloc(a->prefix_maps, (a->n_prefix_maps + 1) * sizeof(*m));
            if (!m) {
                rc = -ENOMEM;
                break;
            }
            a->prefix_maps = m;
            m[a->n_prefix_maps++] = strchr(arg, '=') + 1;
        }

        /* the lists */
        int cpp_only = in_list(preprocessor_flags, arg) || in_list(preprocessor_with_value, arg) ||
                       preprocessor_joined(arg) || starts_with(arg, "-Wp,") ||
                       starts_with(arg, "-fmacro-prefix-map=");
        int mode_flag = strcmp(arg, "-c") == 0 || strcmp(arg, "-S") == 0;
        rc |= strv_push(&st.key, key_form(a, arg, NULL, cwd, basedir));
        if (!mode_flag)
            rc |= strv_push(&st.cpp, arg);
        if (!cpp_only && !mode_flag)
            rc |= strv_push(&st.remote, arg);
        if (separate) {
            rc |= strv_push(&st.key, key_form(a, val, arg, cwd, basedir));
            rc |= strv_push(&st.cpp, val);
            if (!cpp_only)
                rc |= strv_push(&st.remote, val);
            i++;
        }
    }
    if (rc == 0)
        rc = strv_push(&st.cpp, "-E");
    a->key_args = st.key.v;
    a->n_key_args = st.key.n;
    a->cpp_args = st.cpp.v;
    a->n_cpp_args = st.cpp.n;
    a->remote_args = st.remote.v;
    a->n_remote_args = st.remote.n;
    a->dep_args = st.dep.v;
    a->n_dep_args = st.dep.n;
    if (rc < 0)
        return -ENOMEM;

    /* what kind of call it is */
    if (st.preprocess)
        set_reason(a, CC_UNC_PREPROCESS, "-E");
    else if (st.dep_only && a->dep == CC_DEP_NONE)
        set_reason(a, CC_UNC_PREPROCESS, "-M");
    else if (st.dep_only)
        set_reason(a, CC_UNC_UNSUPPORTED, "-M with -MD");
    if (!st.compile && !st.assemble)
        set_reason(a, st.n_sources ? CC_UNC_LINK : CC_UNC_NO_SOURCE, NULL);
    if (st.n_sources == 0)
        set_reason(a, CC_UNC_NO_SOURCE, NULL);
    else if (st.n_sources > 1)
        set_reason(a, CC_UNC_MULTIPLE_SOURCES, NULL);
    if (a->lang == CC_LANG_NONE && st.n_sources == 1)
        set_reason(a, CC_UNC_LANGUAGE, a->source);
    if (getenv("DEPENDENCIES_OUTPUT") || getenv("SUNPRO_DEPENDENCIES"))
        set_reason(a, CC_UNC_UNSUPPORTED, "DEPENDENCIES_OUTPUT");
    a->assemble_only = st.assemble && !st.compile;
    if (a->source && !a->output && a->reason == CC_OK)
        a->output = default_output(a->source, a->assemble_only ? ".s" : ".o");
    if (st.dep_file_given) {
        a->dep_file_given = 1;
        free(a->dep_file);
        a->dep_file = strdup(st.dep_file_given);
    }
    if (a->dep != CC_DEP_NONE && !a->dep_file && a->reason == CC_OK)
        a->dep_file = default_depfile(a);
    if (a->reason == CC_OK && (!a->output || (a->dep != CC_DEP_NONE && !a->dep_file)))
        return -ENOMEM;
    if (a->reason == CC_OK && a->dep == CC_DEP_NONE && st.dep_file_given)
        set_reason(a, CC_UNC_UNSUPPORTED, "-MF without -MD");
    /* Compiling preprocessed text elsewhere gives the same object when no debug
     * information records what preprocessing changes: columns move when macros expand,
     * and -g3 records the macros themselves. gcc keeps the working directory in a line
     * marker; clang does not, so its compiles stay here. */
    a->remote_ok = a->reason == CC_OK && a->family == CC_FAMILY_GCC && !a->native_cpu &&
                   (a->lang == CC_LANG_C || a->lang == CC_LANG_CXX) &&
                   (!a->debug || (st.no_column_info && !st.debug_macros));
    return 0;
}

void cc_args_release(struct cc_args *a)
{
    for (size_t i = 0; i < a->n_owned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->argv);
    free(a->detail);
    free(a->output);
    free(a->dep_file);
    free(a->prefix_maps);
    free(a->key_args);
    free(a->cpp_args);
    free(a->remote_args);
    free(a->dep_args);
    memset(a, 0, sizeof(*a));
}
