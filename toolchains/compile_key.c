/* toolchains/compile_key.c - the keys of a compile.
 *
 * Every key starts with the common part (cc_key_common): what the object depends on
 * besides the source text. Then one of:
 *   direct key     common + the source file's digest: names the manifest (direct mode)
 *   depend key     common + every file the compiler read, by path and digest: a result
 *                  found through a manifest, computed from the compiler's own include list
 *   cpp key        common + the preprocessed text: a result found by preprocessing
 * The kinds are hashed in, so keys of different kinds never meet. */
#include "toolchains/compile.h"
#include "toolchains/compile_internal.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_VERSION "udcs-compile-key 2"

/* Environment that changes what the compiler writes: include search paths, the locale of
 * diagnostics, reproducible-build time, compiler overrides. */
static const char *const key_env[] = {
    "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "SOURCE_DATE_EPOCH",
    "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LANGUAGE", "GCC_COMPARE_DEBUG",
    "GCC_EXEC_PREFIX", "COMPILER_PATH", "GCC_COLORS", "CCC_OVERRIDE_OPTIONS", "CL", "_CL_",
    "SDKROOT", "MACOSX_DEPLOYMENT_TARGET", NULL
};

static void hash_str(struct cas_hasher *h, const char *s)
{
    cas_hasher_update(h, s, strlen(s) + 1);
}

/* The CPU model and flags, for -march=native (the first processor's, from cpuinfo). */
static void hash_cpu(struct cas_hasher *h)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[8192];
    while (f && fgets(line, sizeof(line), f)) {
        if (line[0] == '\n')
            break;
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "flags", 5) == 0 ||
            strncmp(line, "vendor_id", 9) == 0 || strncmp(line, "cpu family", 10) == 0 ||
            strncmp(line, "model\t", 6) == 0)
            hash_str(h, line);
    }
    if (f)
        fclose(f);
}

/* `cwd` after the -fdebug-prefix-map / -ffile-prefix-map rules (the last matching rule
 * wins, as in gcc). */
static void hash_cwd(const struct cc_args *a, const char *cwd, struct cas_hasher *h)
{
    for (size_t i = a->n_prefix_maps; i-- > 0;) {
        const char *map = a->prefix_maps[i];
        const char *eq = strchr(map, '=');
        size_t olen = eq ? (size_t)(eq - map) : 0;
        if (eq && olen && strncmp(cwd, map, olen) == 0) {
            hash_str(h, "cwd-mapped");
            cas_hasher_update(h, eq + 1, strlen(eq + 1));
            hash_str(h, cwd + olen);
            return;
        }
    }
    hash_str(h, "cwd");
    hash_str(h, cwd);
}

/* Stamp of the system headers for -MMD depfiles, which leave them out: the package
 * database and the usual include directories change when a package touches headers. */
static void hash_system_headers(struct cas_hasher *h)
{
    static const char *const paths[] = { "/var/lib/dpkg/status", "/var/lib/rpm",
                                         "/usr/include", "/usr/local/include", NULL };
    for (size_t i = 0; paths[i]; i++) {
        struct stat st;
        char line[128];
        if (stat(paths[i], &st) == 0) {
            snprintf(line, sizeof(line), "%lld.%ld/%llu", (long long)st.st_mtim.tv_sec,
                     st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
            hash_str(h, line);
        }
    }
}

void cc_key_common(const struct cc_call *call, struct cas_hasher *h)
{
    const struct cc_args *a = &call->args;
    hash_str(h, KEY_VERSION);
    hash_str(h, call->compiler.hex);
    for (size_t i = 0; i < a->n_key_args; i++)
        hash_str(h, a->key_args[i]);
    hash_str(h, "env");
    for (size_t i = 0; key_env[i]; i++) {
        const char *v = getenv(key_env[i]);
        if (v) {
            hash_str(h, key_env[i]);
            hash_str(h, v);
        }
    }
    if (a->debug)
        hash_cwd(a, call->cwd, h);
    if (a->native_cpu)
        hash_cpu(h);
    if (call->color)
        hash_str(h, "diagnostics in colour");
    if (a->dep != CC_DEP_NONE && !a->dep_targets_given) {
        /* the default target of the dependency file is the object's name */
        hash_str(h, "dep-target");
        hash_str(h, a->output);
    }
}

void cc_key_direct(const struct cc_call *call, const struct cas_digest *source,
                   struct cas_digest *out)
{
    struct cas_hasher h;
    cas_hasher_init(&h);
    cc_key_common(call, &h);
    hash_str(&h, "direct");
    if (call->args.dep == CC_DEP_MMD && !(call->set->sloppiness & CC_SLOPPY_SYSTEM_HEADERS))
        hash_system_headers(&h);
    cas_hasher_update(&h, source->hash, CAS_HASH_BYTES);
    cas_hasher_final(&h, out);
    cas_hasher_release(&h);
}

void cc_key_depend(const struct cc_call *call, const struct cc_file_digest *files, size_t n,
                   struct cas_digest *out)
{
    struct cas_hasher h;
    cas_hasher_init(&h);
    cc_key_common(call, &h);
    hash_str(&h, "depend");
    if (call->args.dep == CC_DEP_MMD && !(call->set->sloppiness & CC_SLOPPY_SYSTEM_HEADERS))
        hash_system_headers(&h);
    for (size_t i = 0; i < n; i++) {
        hash_str(&h, files[i].path);
        cas_hasher_update(&h, files[i].digest.hash, CAS_HASH_BYTES);
    }
    cas_hasher_final(&h, out);
    cas_hasher_release(&h);
}

void cc_key_cpp(const struct cc_call *call, const struct udcs_buf *preprocessed,
                struct cas_digest *out)
{
    struct cas_hasher h;
    cas_hasher_init(&h);
    cc_key_common(call, &h);
    hash_str(&h, "cpp");
    cas_hasher_update(&h, preprocessed->data ? preprocessed->data : "", preprocessed->len);
    cas_hasher_final(&h, out);
    cas_hasher_release(&h);
}

/* ---- reading inputs ---------------------------------------------------------------------- */

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* Whether the text uses __DATE__, __TIME__ or __TIMESTAMP__ as a token: mentions in
 * comments and in string or character literals do not count (they are never expanded). A
 * quick memmem rules out almost every file before the careful scan. */
static int has_time_macro(const char *data, size_t len)
{
    if (!memmem(data, len, "__DATE__", 8) && !memmem(data, len, "__TIME", 6))
        return 0;
    enum { CODE, LINE_COMMENT, BLOCK_COMMENT, STRING, CHAR } st = CODE;
    for (size_t i = 0; i < len; i++) {
        char c = data[i], n = i + 1 < len ? data[i + 1] : '\0';
        switch (st) {
        case CODE:
            if (c == '/' && n == '/')
                st = LINE_COMMENT, i++;
            else if (c == '/' && n == '*')
                st = BLOCK_COMMENT, i++;
            else if (c == '"')
                st = STRING;
            else if (c == '\'' && !(i > 0 && is_ident_char(data[i - 1])))
                st = CHAR;   /* not a C++14 digit separator */
            else if (c == '_' && n == '_' && (i == 0 || !is_ident_char(data[i - 1]))) {
                static const char *const macros[] = { "__DATE__", "__TIME__", "__TIMESTAMP__" };
                for (size_t k = 0; k < 3; k++) {
                    size_t ml = strlen(macros[k]);
                    if (i + ml <= len && memcmp(data + i, macros[k], ml) == 0 &&
                        (i + ml == len || !is_ident_char(data[i + ml])))
                        return 1;
                }
            }
            break;
        case LINE_COMMENT:
            if (c == '\\' && n == '\n')
                i++;
            else if (c == '\n')
                st = CODE;
            break;
        case BLOCK_COMMENT:
            if (c == '*' && n == '/')
                st = CODE, i++;
            break;
        case STRING:
        case CHAR:
            if (c == '\\')
                i++;
            else if ((st == STRING && c == '"') || (st == CHAR && c == '\'') || c == '\n')
                st = CODE;
            break;
        }
    }
    return 0;
}

int cc_file_digest(const char *path, int scan_time_macros, uint64_t newer_than_ns,
                   struct cas_digest *out, unsigned *flags)
{
    struct udcs_buf b = UDCS_BUF_INIT(1u << 30);
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fstat(fd, &st) < 0 ? -errno : 0;
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = -EISDIR;
    if (rc == 0)
        rc = udcs_buf_read_fd(&b, fd);
    close(fd);
    if (rc < 0) {
        udcs_buf_release(&b);
        return rc;
    }
    cas_digest_of_bytes(b.data ? b.data : "", b.len, out);
    if (scan_time_macros && b.len && has_time_macro(b.data, b.len))
        *flags |= CC_FILE_TIME_MACROS;
    uint64_t m = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
    uint64_t c = (uint64_t)st.st_ctim.tv_sec * 1000000000ull + (uint64_t)st.st_ctim.tv_nsec;
    if (newer_than_ns && (m >= newer_than_ns || c >= newer_than_ns))
        *flags |= CC_FILE_TOO_NEW;
    udcs_buf_release(&b);
    return 0;
}
