/* tests/unit/test_agent_detect.c - agents/detect.h on the real machine, no mocks: the
 * object's keys and types, host facts against the kernel's own answers, toolchains found
 * on PATH (the real gcc, and fake tools written as shell scripts), overrides, refresh,
 * OpenCL through PoCL, and no CUDA GPU where libcuda.so.1 is absent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "agents/detect.h"
#include "cas/cas.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/proc.h"
#include "tests/unit/helpers/testutil.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A fake tool that never answers is given up on after 5 s (+0.5 s grace); allow slack. */
#define HANG_LIMIT_MS 9000
#define CHILD_TIMEOUT_MS 20000
#define OUTPUT_MAX (1u << 20)

struct fixture {
    char *dir;          /* fresh directory for fake tools */
    char *saved_path;   /* $PATH before the test */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = test_tmpdir("detect");
    const char *path = getenv("PATH");
    f->saved_path = path ? strdup(path) : NULL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->saved_path)
        setenv("PATH", f->saved_path, 1);
    else
        unsetenv("PATH");
    free(f->saved_path);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static json_t *detect(const struct agent_overrides *ov)
{
    json_t *info = NULL;
    assert_int_equal(agent_detect(ov, &info), 0);
    assert_non_null(info);
    return info;
}

/* Run `sh -c script` and return its stdout (malloc()ed), failing the test unless it
 * exits with 0. */
static char *sh_output(const char *script)
{
    char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
    struct udcs_buf out = UDCS_BUF_INIT(OUTPUT_MAX);
    struct udcs_proc p = UDCS_PROC_INIT;
    p.argv = argv;
    p.in.mode = UDCS_PROC_NULL;
    p.out.mode = UDCS_PROC_CAPTURE;
    p.out.buf = &out;
    p.timeout_ms = CHILD_TIMEOUT_MS;
    assert_int_equal(udcs_proc_run(&p), 0);
    assert_int_equal(p.exit_code, 0);
    char *text = udcs_buf_detach(&out, NULL);
    assert_non_null(text);
    text[strcspn(text, "\n")] = '\0';
    return text;
}

/* Write an executable shell script `name` into `dir`; returns its path (malloc()ed). */
static char *write_script(const char *dir, const char *name, const char *body)
{
    char *path = udcs_path_join(dir, name);
    assert_non_null(path);
    assert_int_equal(udcs_write_atomic(path, body, strlen(body), 0755), 0);
    return path;
}

static void digest_hex_of(const char *path, char hex[CAS_HEX_LEN + 1])
{
    struct cas_digest d;
    assert_int_equal(cas_digest_of_file(path, &d), 0);
    cas_digest_hex(&d, hex);
}

/* The toolchains entry named `name`, or NULL. */
static json_t *toolchain_named(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return e;
    }
    return NULL;
}

static json_t *toolchains_on(const char *search_path)
{
    json_t *list = NULL;
    assert_int_equal(agent_detect_toolchains(search_path, &list), 0);
    assert_true(json_is_array(list));
    return list;
}

static const char *str_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("key '%s' is not a string", key);
    return json_string_value(v);
}

static double num_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        fail_msg("key '%s' is not a number", key);
    return json_number_value(v);
}

static json_int_t int_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("key '%s' is not an integer", key);
    return json_integer_value(v);
}

/* obj[key] is present, and null or of `type` (JSON_REAL: any number). */
static void assert_null_or(json_t *obj, const char *key, json_type type)
{
    json_t *v = json_object_get(obj, key);
    if (!v || !(json_is_null(v) || json_typeof(v) == type ||
                (type == JSON_REAL && json_is_number(v))))
        fail_msg("key '%s' is missing or of the wrong type", key);
}

static void assert_gpu_well_typed(json_t *g)
{
    assert_true(int_of(g, "index") >= 0);
    assert_string_equal(str_of(g, "api"), "cuda");
    assert_true(strlen(str_of(g, "name")) > 0);
    assert_true(num_of(g, "memory_gb") >= 0);
    assert_null_or(g, "memory_free_gb", JSON_REAL);
    assert_null_or(g, "compute_capability", JSON_STRING);
    assert_null_or(g, "utilization", JSON_INTEGER);
    assert_null_or(g, "driver_version", JSON_STRING);
    json_t *cc = json_object_get(g, "compute_capability");
    int major, minor;
    char end;
    if (json_is_string(cc))
        assert_int_equal(sscanf(json_string_value(cc), "%d.%d%c", &major, &minor, &end), 2);
    json_t *util = json_object_get(g, "utilization");
    if (json_is_integer(util))
        assert_true(json_integer_value(util) >= 0 && json_integer_value(util) <= 100);
    json_t *free_gb = json_object_get(g, "memory_free_gb");
    if (json_is_number(free_gb))
        assert_true(json_number_value(free_gb) <= num_of(g, "memory_gb"));
}

static void assert_toolchain_well_typed(json_t *t)
{
    assert_true(strlen(str_of(t, "name")) > 0);
    assert_true(strlen(str_of(t, "version")) > 0);
    assert_true(str_of(t, "path")[0] == '/');
    struct cas_digest d;   /* 32 lower-case hex digits, as the CAS names blobs */
    assert_int_equal(cas_digest_parse(str_of(t, "fingerprint"), &d, NULL), 0);
    json_t *target = json_object_get(t, "target");   /* absent when unknown, never null */
    assert_true(!target || (json_is_string(target) && json_string_length(target) > 0));
}

/* `e` is an entry with `version` and `target` (NULL: absent), and, when given, `path`
 * and the fingerprint `hex`. */
static void assert_toolchain_is(json_t *e, const char *version, const char *target,
                                const char *path, const char *hex)
{
    assert_non_null(e);
    assert_toolchain_well_typed(e);
    assert_string_equal(str_of(e, "version"), version);
    if (target)
        assert_string_equal(str_of(e, "target"), target);
    else
        assert_null(json_object_get(e, "target"));
    if (path)
        assert_string_equal(str_of(e, "path"), path);
    if (hex)
        assert_string_equal(str_of(e, "fingerprint"), hex);
}

/* ---- the object ------------------------------------------------------------------------------ */

static void object_has_every_key_with_its_type(void **state)
{
    (void)state;
    json_t *info = detect(NULL);
    static const char *const strings[] = { "hostname", "architecture", "os", "os_version",
                                           "kernel", "cpu_model" };
    for (size_t i = 0; i < sizeof(strings) / sizeof(*strings); i++)
        assert_true(strlen(str_of(info, strings[i])) > 0);
    assert_string_equal(str_of(info, "os"), "linux");
    assert_true(int_of(info, "cpu_cores") > 0);
    assert_true(num_of(info, "ram_gb") > 0);
    assert_true(num_of(info, "ram_free_gb") >= 0);
    assert_true(num_of(info, "ram_free_gb") <= num_of(info, "ram_gb"));
    assert_true(num_of(info, "disk_free_gb") >= 0);

    json_t *load = json_object_get(info, "load");
    assert_true(json_is_array(load));
    assert_int_equal(json_array_size(load), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(json_is_number(json_array_get(load, i)));
        assert_true(json_number_value(json_array_get(load, i)) >= 0);
    }

    size_t i;
    json_t *e;
    assert_true(json_is_array(json_object_get(info, "gpus")));
    json_array_foreach(json_object_get(info, "gpus"), i, e)
        assert_gpu_well_typed(e);
    assert_true(json_is_array(json_object_get(info, "opencl_devices")));
    json_array_foreach(json_object_get(info, "opencl_devices"), i, e) {
        assert_true(strlen(str_of(e, "platform")) > 0);
        assert_true(strlen(str_of(e, "name")) > 0);
        const char *type = str_of(e, "type");
        assert_true(strcmp(type, "cpu") == 0 || strcmp(type, "gpu") == 0 ||
                    strcmp(type, "accelerator") == 0);
        assert_true(int_of(e, "compute_units") >= 0);
        assert_true(num_of(e, "memory_gb") >= 0);
        assert_true(strlen(str_of(e, "version")) > 0);
    }
    assert_true(json_is_array(json_object_get(info, "toolchains")));
    json_array_foreach(json_object_get(info, "toolchains"), i, e)
        assert_toolchain_well_typed(e);
    assert_true(json_is_array(json_object_get(info, "overrides")));
    assert_int_equal(json_array_size(json_object_get(info, "overrides")), 0);
    assert_int_equal(json_object_size(info), 15);   /* nothing more than the schema */
    json_decref(info);
}

static void host_facts_are_the_kernels_own_answers(void **state)
{
    (void)state;
    char host[HOST_NAME_MAX + 1];
    struct utsname u;
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_int_equal(uname(&u), 0);
    json_t *info = detect(NULL);
    assert_int_equal(int_of(info, "cpu_cores"), sysconf(_SC_NPROCESSORS_ONLN));
    assert_string_equal(str_of(info, "hostname"), host);
    assert_string_equal(str_of(info, "architecture"), u.machine);
    assert_string_equal(str_of(info, "kernel"), u.release);
    json_decref(info);
}

/* "disk_free_gb" is statvfs(".")'s; others write meanwhile, so allow 1% and 0.1 GiB. */
static void assert_disk_free_is_statvfs(json_t *info)
{
    struct statvfs sv;
    assert_int_equal(statvfs(".", &sv), 0);
    double gib = (double)sv.f_bavail * sv.f_frsize / (double)(1ull << 30);
    double got = num_of(info, "disk_free_gb");
    if (fabs(got - gib) > gib / 100 + 0.1)
        fail_msg("disk_free_gb %.3f, statvfs says %.3f GiB", got, gib);
}

static void sizes_are_meminfo_memtotal_and_statvfs_of_the_current_directory(void **state)
{
    (void)state;
    char *kib_text = sh_output("awk '/^MemTotal:/ { print $2 }' /proc/meminfo");
    double gib = strtod(kib_text, NULL) / (1024.0 * 1024.0);
    free(kib_text);
    assert_true(gib > 0);
    json_t *info = detect(NULL);
    double got = num_of(info, "ram_gb");
    if (fabs(got - gib) > gib / 100)
        fail_msg("ram_gb %.3f, /proc/meminfo says %.3f GiB", got, gib);
    assert_disk_free_is_statvfs(info);
    json_decref(info);
}

static void os_version_is_the_pretty_name_of_os_release(void **state)
{
    (void)state;
    /* The shell undoes the quoting os-release uses, independently of our parser; without
     * the file (or the key) the answer is "unknown". */
    char *pretty = sh_output("f=/etc/os-release; [ -r $f ] || f=/usr/lib/os-release; "
                             "PRETTY_NAME=; [ -r $f ] && . $f; "
                             "printf '%s\\n' \"${PRETTY_NAME:-unknown}\"");
    json_t *info = detect(NULL);
    assert_string_equal(str_of(info, "os_version"), pretty);
    free(pretty);
    json_decref(info);
}

/* ---- toolchains --------------------------------------------------------------------------- */

static void gcc_on_path_has_its_version_target_and_file_fingerprint(void **state)
{
    (void)state;
    char *where = sh_output("command -v gcc || true");
    if (!where[0]) {   /* no gcc here: then none may be reported */
        json_t *info = detect(NULL);
        assert_null(toolchain_named(json_object_get(info, "toolchains"), "gcc"));
        json_decref(info);
        free(where);
        return;
    }
    char *resolved = realpath(where, NULL);
    assert_non_null(resolved);
    char *version = sh_output("gcc -dumpfullversion");
    char *target = sh_output("gcc -dumpmachine");
    char hex[CAS_HEX_LEN + 1];
    digest_hex_of(resolved, hex);

    json_t *info = detect(NULL);
    assert_toolchain_is(toolchain_named(json_object_get(info, "toolchains"), "gcc"), version,
                        target, resolved, hex);
    json_decref(info);
    free(where);
    free(resolved);
    free(version);
    free(target);
}

static const char fake_gcc[] =
    "#!/bin/sh\n"
    "case \"$1\" in\n"
    "-dumpfullversion) echo 'noise on stderr' >&2; echo 99.1.2 ;;\n"
    "-dumpmachine) echo fake-linux-gnu ;;\n"
    "*) exit 1 ;;\n"
    "esac\n";

static void fake_gcc_on_path_is_reported_with_the_version_it_prints(void **state)
{
    struct fixture *f = *state;
    char *script = write_script(f->dir, "gcc", fake_gcc);
    char hex[CAS_HEX_LEN + 1];
    digest_hex_of(script, hex);
    char *resolved = realpath(script, NULL);
    assert_non_null(resolved);

    assert_int_equal(setenv("PATH", f->dir, 1), 0);
    json_t *info = detect(NULL);
    json_t *list = json_object_get(info, "toolchains");
    assert_toolchain_is(toolchain_named(list, "gcc"), "99.1.2", "fake-linux-gnu", resolved, hex);
    /* Only that directory was searched: the machine's own compilers are not found. */
    assert_null(toolchain_named(list, "g++"));
    assert_null(toolchain_named(list, "cc"));
    json_decref(info);
    free(script);
    free(resolved);
}

/* A gcc driver's programs are listed beside it ("gcc/cc1", "gcc/as") with their own
 * fingerprints: two machines with the same driver may run another cc1 or assembler. */
static void gcc_programs_are_listed_with_their_fingerprints(void **state)
{
    struct fixture *f = *state;
    char *libexec = udcs_path_join(f->dir, "libexec");
    assert_non_null(libexec);
    assert_int_equal(udcs_mkdir_p(libexec, 0755), 0);
    char *cc1 = write_script(libexec, "cc1", "#!/bin/sh\n# cc1 of gcc 99\nexit 1\n");
    char *as = write_script(f->dir, "as", "#!/bin/sh\n# as of binutils 9.99\nexit 1\n");
    char body[4096];
    snprintf(body, sizeof(body),
             "#!/bin/sh\n"
             "case \"$1\" in\n"
             "-dumpfullversion) echo 99.1.2 ;;\n"
             "-dumpmachine) echo fake-linux-gnu ;;\n"
             "-print-prog-name=cc1) echo %s ;;\n"      /* by its path, as gcc does */
             "-print-prog-name=as) echo as ;;\n"       /* looked up on PATH, as Debian's */
             "-print-prog-name=*) echo \"${1#-print-prog-name=}\" ;;\n"   /* not there */
             "*) exit 1 ;;\n"
             "esac\n", cc1);
    free(write_script(f->dir, "gcc", body));
    char cc1_hex[CAS_HEX_LEN + 1], as_hex[CAS_HEX_LEN + 1];
    digest_hex_of(cc1, cc1_hex);
    digest_hex_of(as, as_hex);
    char *cc1_real = realpath(cc1, NULL), *as_real = realpath(as, NULL);
    assert_non_null(cc1_real);
    assert_non_null(as_real);

    json_t *list = toolchains_on(f->dir);
    assert_toolchain_is(toolchain_named(list, "gcc/cc1"), "99.1.2", "fake-linux-gnu", cc1_real,
                        cc1_hex);
    assert_toolchain_is(toolchain_named(list, "gcc/as"), "99.1.2", "fake-linux-gnu", as_real,
                        as_hex);
    assert_null(toolchain_named(list, "gcc/cc1plus"));   /* a program it cannot find */
    json_decref(list);

    /* clang is one binary: nothing beside it, whatever it answers */
    free(write_script(f->dir, "clang", body));
    list = toolchains_on(f->dir);
    assert_non_null(toolchain_named(list, "clang"));
    assert_null(toolchain_named(list, "clang/cc1"));
    assert_null(toolchain_named(list, "clang/as"));
    json_decref(list);
    free(cc1);
    free(as);
    free(cc1_real);
    free(as_real);
    free(libexec);
}

static void compilers_without_dumpfullversion_are_read_from_their_version_line(void **state)
{
    struct fixture *f = *state;
    free(write_script(f->dir, "clang",
                      "#!/bin/sh\n"
                      "case \"$1\" in\n"
                      "-dumpfullversion) echo 'clang: error: no input files' >&2; exit 1 ;;\n"
                      "--version) echo 'Fake clang version 42.0.1 (https://example.invalid)';"
                      " echo 'Target: fake' ;;\n"
                      "-dumpmachine) echo fake-pc-linux-gnu ;;\n"
                      "esac\n"));
    /* gcc before 7 treats -dumpfullversion as no input and has no "version" word. */
    free(write_script(f->dir, "g++",
                      "#!/bin/sh\n"
                      "case \"$1\" in\n"
                      "--version) echo 'g++ (GCC) 4.8.5 20150623 (Red Hat 4.8.5-44)' ;;\n"
                      "-dumpmachine) echo x86_64-redhat-linux ;;\n"
                      "*) echo 'g++: fatal error: no input files' >&2; exit 1 ;;\n"
                      "esac\n"));
    json_t *list = toolchains_on(f->dir);
    assert_toolchain_is(toolchain_named(list, "clang"), "42.0.1", "fake-pc-linux-gnu", NULL,
                        NULL);
    assert_toolchain_is(toolchain_named(list, "g++"), "4.8.5", "x86_64-redhat-linux", NULL,
                        NULL);
    json_decref(list);
}

static void renderers_and_encoders_are_read_from_their_banner(void **state)
{
    struct fixture *f = *state;
    /* POV-Ray 3.7 prints its banner on stderr, after a complaint about its config file. */
    free(write_script(f->dir, "povray",
                      "#!/bin/sh\n"
                      "[ \"$1\" = --version ] || exit 1\n"
                      "echo 'povray: cannot open the user configuration file' >&2\n"
                      "printf 'POV-Ray 3.7.0.10.unofficial\\n\\nThis is an unofficial version'"
                      " >&2\n"));
    free(write_script(f->dir, "blender",
                      "#!/bin/sh\n"
                      "[ \"$1\" = --version ] || exit 1\n"
                      "echo 'Color management: using fallback mode for management'\n"
                      "echo 'Blender 4.1.0'\n"
                      "echo '\tbuild date: 2024-03-25'\n"));
    free(write_script(f->dir, "ffmpeg",
                      "#!/bin/sh\n"
                      "[ \"$1\" = -version ] || exit 1\n"
                      "echo 'ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000-2023 the FFmpeg"
                      " developers'\n"));
    json_t *list = toolchains_on(f->dir);
    assert_toolchain_is(toolchain_named(list, "povray"), "3.7.0.10.unofficial", NULL, NULL,
                        NULL);
    assert_toolchain_is(toolchain_named(list, "blender"), "4.1.0", NULL, NULL, NULL);
    assert_toolchain_is(toolchain_named(list, "ffmpeg"), "6.1.1-3ubuntu5", NULL, NULL, NULL);
    json_decref(list);
}

static void tool_that_fails_or_hangs_is_listed_with_version_unknown(void **state)
{
    struct fixture *f = *state;
    free(write_script(f->dir, "blender", "#!/bin/sh\necho 'segmentation fault' >&2\nexit 139\n"));
    free(write_script(f->dir, "povray", "#!/bin/sh\nsleep 60\n"));
    uint64_t start = udcs_mono_ms();
    json_t *list = toolchains_on(f->dir);
    uint64_t took = udcs_mono_ms() - start;
    assert_toolchain_is(toolchain_named(list, "blender"), "unknown", NULL, NULL, NULL);
    assert_toolchain_is(toolchain_named(list, "povray"), "unknown", NULL, NULL, NULL);
    if (took > HANG_LIMIT_MS)
        fail_msg("detection waited %llu ms for a tool that never answers",
                 (unsigned long long)took);
    json_decref(list);
}

static void fingerprint_follows_a_changed_binary(void **state)
{
    struct fixture *f = *state;
    char *script = write_script(f->dir, "gcc", fake_gcc);
    char hex[CAS_HEX_LEN + 1];

    json_t *list = toolchains_on(f->dir);
    digest_hex_of(script, hex);
    assert_string_equal(str_of(toolchain_named(list, "gcc"), "fingerprint"), hex);
    json_decref(list);

    /* Rewritten in place (same inode), one byte longer. Closed before running it: a
     * file open for writing cannot be executed (ETXTBSY). */
    int fd = open(script, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(udcs_write_full(fd, fake_gcc, sizeof(fake_gcc) - 1), 0);
    assert_int_equal(udcs_write_full(fd, "\n", 1), 0);
    assert_int_equal(close(fd), 0);
    list = toolchains_on(f->dir);
    char hex2[CAS_HEX_LEN + 1];
    digest_hex_of(script, hex2);
    assert_string_not_equal(hex2, hex);
    assert_string_equal(str_of(toolchain_named(list, "gcc"), "fingerprint"), hex2);
    json_decref(list);

    /* Same size, same inode, one byte changed: only the mtime tells. */
    fd = open(script, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(udcs_pwrite_full(fd, "#", 1, (off_t)sizeof(fake_gcc) - 1), 0);
    struct timespec later[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &later[1]), 0);
    later[1].tv_sec += 10;
    assert_int_equal(futimens(fd, later), 0);
    assert_int_equal(close(fd), 0);
    list = toolchains_on(f->dir);
    char hex3[CAS_HEX_LEN + 1];
    digest_hex_of(script, hex3);
    assert_string_not_equal(hex3, hex2);
    assert_string_equal(str_of(toolchain_named(list, "gcc"), "fingerprint"), hex3);
    json_decref(list);
    free(script);
}

static void empty_and_relative_path_entries_are_not_searched(void **state)
{
    struct fixture *f = *state;
    free(write_script(f->dir, "gcc", fake_gcc));
    char *sub = udcs_path_join(f->dir, "bin");
    assert_non_null(sub);
    assert_int_equal(udcs_mkdir_p(sub, 0755), 0);
    free(write_script(sub, "g++", fake_gcc));
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);

    json_t *list = toolchains_on("::.:bin");
    assert_null(toolchain_named(list, "gcc"));
    assert_null(toolchain_named(list, "g++"));
    json_decref(list);
    /* The same files are found through an absolute entry. */
    list = toolchains_on(sub);
    assert_non_null(toolchain_named(list, "g++"));
    json_decref(list);

    assert_int_equal(chdir(cwd), 0);
    free(sub);
}

static void ffmpeg_libraries_report_the_version_in_their_file_name(void **state)
{
    (void)state;
    void *h = dlopen("libavcodec.so.59", RTLD_LAZY | RTLD_LOCAL);
    json_t *list = toolchains_on("/nonexistent");
    json_t *codec = toolchain_named(list, "libavcodec");
    if (!h) {   /* not installed (Debian: libavcodec59): then not reported */
        assert_null(codec);
        json_decref(list);
        return;
    }
    dlclose(h);
    assert_non_null(codec);
    assert_toolchain_well_typed(codec);
    /* Debian names the file libavcodec.so.59.37.100 after the version it holds. */
    const char *path = str_of(codec, "path");
    const char *so = strstr(path, ".so.");
    assert_non_null(so);
    assert_string_equal(str_of(codec, "version"), so + 4);
    char hex[CAS_HEX_LEN + 1];
    digest_hex_of(path, hex);
    assert_string_equal(str_of(codec, "fingerprint"), hex);
    assert_non_null(toolchain_named(list, "libavformat"));
    json_decref(list);
}

/* ---- overrides ------------------------------------------------------------------------------- */

static int list_has(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        if (json_is_string(e) && strcmp(json_string_value(e), name) == 0)
            return 1;
    }
    return 0;
}

static void overrides_replace_values_and_are_listed(void **state)
{
    (void)state;
    struct agent_overrides ov = { .cpu_cores = 3, .ram_gb = 0.5, .gpu_cuda = 1,
                                  .gpu_memory_gb = 8 };
    json_t *plain = detect(NULL);
    size_t detected_gpus = json_array_size(json_object_get(plain, "gpus"));
    json_decref(plain);

    json_t *info = detect(&ov);
    json_t *applied = json_object_get(info, "overrides");
    assert_int_equal(int_of(info, "cpu_cores"), 3);
    assert_true(num_of(info, "ram_gb") == 0.5);
    assert_true(num_of(info, "ram_free_gb") <= 0.5);   /* never more free than there is */
    assert_true(list_has(applied, "cpu_cores"));
    assert_true(list_has(applied, "ram_gb"));
    assert_true(list_has(applied, "gpu_memory_gb"));
    json_t *gpus = json_object_get(info, "gpus");
    if (detected_gpus == 0) {
        assert_int_equal(json_array_size(gpus), 1);
        json_t *g = json_array_get(gpus, 0);
        assert_int_equal(int_of(g, "index"), 0);
        assert_string_equal(str_of(g, "api"), "cuda");
        assert_string_equal(str_of(g, "name"), "manually declared CUDA GPU");
        assert_true(num_of(g, "memory_gb") == 8);
        assert_true(json_is_null(json_object_get(g, "compute_capability")));
        assert_true(json_is_null(json_object_get(g, "utilization")));
        assert_true(list_has(applied, "gpu_cuda"));
        assert_int_equal(json_array_size(applied), 4);
    } else {
        /* A real GPU is there: nothing to claim, but its memory is replaced. */
        assert_int_equal(json_array_size(gpus), detected_gpus);
        assert_true(num_of(json_array_get(gpus, 0), "memory_gb") == 8);
        assert_false(list_has(applied, "gpu_cuda"));
        assert_int_equal(json_array_size(applied), 3);
    }
    json_decref(info);
}

static void gpu_memory_alone_applies_only_to_detected_gpus(void **state)
{
    (void)state;
    json_t *plain = detect(NULL);
    size_t detected_gpus = json_array_size(json_object_get(plain, "gpus"));
    json_decref(plain);
    struct agent_overrides ov = { .gpu_memory_gb = 4 };
    json_t *info = detect(&ov);
    json_t *gpus = json_object_get(info, "gpus");
    json_t *applied = json_object_get(info, "overrides");
    assert_int_equal(json_array_size(gpus), detected_gpus);   /* nothing claimed */
    if (detected_gpus == 0) {
        assert_int_equal(json_array_size(applied), 0);
    } else {   /* the detected GPUs take the declared memory */
        size_t i;
        json_t *g;
        json_array_foreach(gpus, i, g) {
            assert_true(num_of(g, "memory_gb") == 4);
            assert_gpu_well_typed(g);   /* free memory capped by it */
        }
        assert_int_equal(json_array_size(applied), 1);
        assert_true(list_has(applied, "gpu_memory_gb"));
    }
    json_decref(info);
}

static void invalid_overrides_and_objects_are_refused(void **state)
{
    (void)state;
    const struct agent_overrides bad[] = {
        { .cpu_cores = -1 }, { .ram_gb = -2 }, { .ram_gb = NAN }, { .gpu_memory_gb = -1 },
        { .gpu_memory_gb = INFINITY },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        json_t *info = json_null();   /* must be reset to NULL */
        assert_int_equal(agent_detect(&bad[i], &info), UDCS_EUSAGE);
        assert_null(info);
    }
    json_t *a = json_array();
    assert_int_equal(agent_detect_refresh(a), -EINVAL);
    assert_int_equal(agent_detect_refresh(NULL), -EINVAL);
    json_decref(a);
}

/* ---- refresh ---------------------------------------------------------------------------------- */

/* A copy of `info` without the keys refresh may change. */
static json_t *without_fast_fields(json_t *info)
{
    json_t *c = json_deep_copy(info);
    assert_non_null(c);
    json_object_del(c, "load");
    json_object_del(c, "disk_free_gb");
    json_object_del(c, "ram_free_gb");
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(c, "gpus"), i, g) {
        json_object_del(g, "utilization");
        json_object_del(g, "memory_free_gb");
    }
    return c;
}

static void refresh_updates_load_and_disk_and_leaves_the_rest(void **state)
{
    (void)state;
    struct agent_overrides ov = { .cpu_cores = 5, .ram_gb = 0.25 };
    json_t *info = detect(&ov);
    json_t *before = without_fast_fields(info);
    /* Values detection can never give, so a refresh that skips a field is seen. */
    assert_int_equal(json_object_set_new(info, "load", json_pack("[iii]", -1, -1, -1)), 0);
    assert_int_equal(json_object_set_new(info, "disk_free_gb", json_real(-1)), 0);
    assert_int_equal(json_object_set_new(info, "ram_free_gb", json_real(-1)), 0);

    assert_int_equal(agent_detect_refresh(info), 0);

    json_t *load = json_object_get(info, "load");
    assert_int_equal(json_array_size(load), 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_number_value(json_array_get(load, i)) >= 0);
    assert_disk_free_is_statvfs(info);
    assert_true(num_of(info, "ram_free_gb") >= 0);
    assert_true(num_of(info, "ram_free_gb") <= 0.25);   /* capped by the overridden total */

    json_t *after = without_fast_fields(info);
    assert_true(json_equal(before, after));   /* overrides included */
    json_decref(before);
    json_decref(after);
    json_decref(info);
}

/* ---- devices ------------------------------------------------------------------------------------ */

static void pocl_gives_an_opencl_cpu_device(void **state)
{
    (void)state;
    void *h = dlopen("libOpenCL.so.1", RTLD_LAZY | RTLD_LOCAL);
    json_t *devs = NULL;
    assert_int_equal(agent_detect_opencl(&devs), 0);
    assert_true(json_is_array(devs));
    if (!h) {   /* no ICD loader (Debian: ocl-icd-libopencl1): no device */
        assert_int_equal(json_array_size(devs), 0);
        json_decref(devs);
        return;
    }
    dlclose(h);
    size_t i;
    json_t *e;
    int cpus = 0;
    json_array_foreach(devs, i, e) {
        if (strcmp(str_of(e, "type"), "cpu") != 0)
            continue;
        cpus++;
        assert_true(int_of(e, "compute_units") >= 1);
        assert_true(num_of(e, "memory_gb") > 0);
        assert_non_null(strstr(str_of(e, "version"), "OpenCL"));
    }
    /* PoCL (Debian: pocl-opencl-icd) puts the CPU itself among the devices. */
    if (access("/etc/OpenCL/vendors/pocl.icd", R_OK) == 0)
        assert_true(cpus >= 1);
    json_decref(devs);
}

static void gpus_are_empty_without_libcuda_and_well_typed_with_it(void **state)
{
    (void)state;
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    json_t *gpus = NULL;
    assert_int_equal(agent_detect_cuda(&gpus), 0);
    assert_true(json_is_array(gpus));
    if (!h) {
        assert_int_equal(json_array_size(gpus), 0);
    } else {
        dlclose(h);
        /* A GPU the kernel exposes is one CUDA must report. */
        if (access("/dev/nvidia0", F_OK) == 0)
            assert_true(json_array_size(gpus) >= 1);
        size_t i;
        json_t *g;
        json_array_foreach(gpus, i, g) {
            assert_gpu_well_typed(g);
            assert_int_equal(int_of(g, "index"), (json_int_t)i);
            assert_true(json_is_string(json_object_get(g, "compute_capability")));
            assert_true(num_of(g, "memory_gb") > 0);
        }
        assert_int_equal(agent_detect_cuda_refresh(gpus), 0);
        json_array_foreach(gpus, i, g)
            assert_gpu_well_typed(g);
    }
    json_decref(gpus);
}

/* ---- helpers of the header ------------------------------------------------------------------------ */

static void text_helper_keeps_utf8_and_masks_other_bytes(void **state)
{
    (void)state;
    json_t *s = agent_detect_text("  NVIDIA H100 80GB HBM3 \n");
    assert_string_equal(json_string_value(s), "NVIDIA H100 80GB HBM3");
    json_decref(s);
    s = agent_detect_text("caf\xc3\xa9");   /* valid UTF-8 stays */
    assert_string_equal(json_string_value(s), "caf\xc3\xa9");
    json_decref(s);
    s = agent_detect_text("Intel\xae Core");   /* Latin-1 from an old driver */
    assert_string_equal(json_string_value(s), "Intel? Core");
    json_decref(s);
    s = agent_detect_text(NULL);
    assert_string_equal(json_string_value(s), "unknown");
    json_decref(s);
    assert_true(agent_detect_gib(1ull << 30) == 1.0);
    assert_true(agent_detect_gib(85899345920ull) == 80.0);
    assert_true(agent_detect_gib(0) == 0.0);
    assert_true(fabs(agent_detect_gib(1536ull << 20) - 1.5) < 1e-12);
}

static void cpu_times_count_everything_but_idle_and_iowait_as_busy(void **state)
{
    (void)state;
    uint64_t busy = 0, total = 0;
    /* user nice system idle iowait irq softirq steal guest guest_nice */
    const char stat[] = "cpu  100 5 50 800 40 3 2 0 30 0\ncpu0 50 2 25 400 20 1 1 0 15 0\n";
    assert_int_equal(agent_cpu_times_parse(stat, sizeof(stat) - 1, &busy, &total), 0);
    assert_true(total == 1000);        /* guest and guest_nice are in user and nice already */
    assert_true(busy == 1000 - 840);
    /* an old kernel's four numbers */
    assert_int_equal(agent_cpu_times_parse("cpu 1 2 3 4\n", 12, &busy, &total), 0);
    assert_true(total == 10 && busy == 6);
    assert_int_equal(agent_cpu_times_parse("cpu0 1 2 3 4\n", 13, &busy, &total), -EINVAL);
    assert_int_equal(agent_cpu_times_parse("cpu  1 2 3\n", 11, &busy, &total), -EINVAL);
    assert_int_equal(agent_cpu_times_parse("cpu  1 2 99999999999999999999999 4\n", 35, &busy,
                                           &total), -EINVAL);
    assert_int_equal(agent_cpu_times_parse("", 0, &busy, &total), -EINVAL);
    /* the real file: time only goes forward */
    uint64_t b1, t1, b2, t2;
    assert_int_equal(agent_cpu_times(&b1, &t1), 0);
    usleep(20000);
    assert_int_equal(agent_cpu_times(&b2, &t2), 0);
    assert_true(t1 > 0 && b1 <= t1 && t2 >= t1 && b2 >= b1);
}

#define DETECT_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        DETECT_TEST(object_has_every_key_with_its_type),
        DETECT_TEST(host_facts_are_the_kernels_own_answers),
        DETECT_TEST(sizes_are_meminfo_memtotal_and_statvfs_of_the_current_directory),
        DETECT_TEST(os_version_is_the_pretty_name_of_os_release),
        DETECT_TEST(gcc_on_path_has_its_version_target_and_file_fingerprint),
        DETECT_TEST(fake_gcc_on_path_is_reported_with_the_version_it_prints),
        DETECT_TEST(gcc_programs_are_listed_with_their_fingerprints),
        DETECT_TEST(compilers_without_dumpfullversion_are_read_from_their_version_line),
        DETECT_TEST(renderers_and_encoders_are_read_from_their_banner),
        DETECT_TEST(tool_that_fails_or_hangs_is_listed_with_version_unknown),
        DETECT_TEST(fingerprint_follows_a_changed_binary),
        DETECT_TEST(empty_and_relative_path_entries_are_not_searched),
        DETECT_TEST(ffmpeg_libraries_report_the_version_in_their_file_name),
        DETECT_TEST(overrides_replace_values_and_are_listed),
        DETECT_TEST(gpu_memory_alone_applies_only_to_detected_gpus),
        DETECT_TEST(invalid_overrides_and_objects_are_refused),
        DETECT_TEST(refresh_updates_load_and_disk_and_leaves_the_rest),
                DETECT_TEST(pocl_gives_an_opencl_cpu_device),
        DETECT_TEST(gpus_are_empty_without_libcuda_and_well_typed_with_it),
        DETECT_TEST(text_helper_keeps_utf8_and_masks_other_bytes),
        DETECT_TEST(cpu_times_count_everything_but_idle_and_iowait_as_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
