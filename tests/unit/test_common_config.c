/* tests/unit/test_common_config.c - common/config.h: precedence of flags, environment,
 * config file and defaults; flag forms; the INI file; typed values; --print-config.
 * Each test gets its own $HOME and $XDG_CONFIG_HOME, and the log goes to a file it reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "tests/unit/helpers/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB (1024ull * 1024 * 1024)

static const struct udcs_setting table[] = {
    /*           name        flag            env                 key                default */
    UDCS_SETTING(remote,     "--remote",     "UDCS_T_REMOTE",    "cas.remote",      "http://d:1",
                 STRING, "remote store URL"),
    UDCS_SETTING(max_size,   "--max-size",   "UDCS_T_MAXSIZE",   "cas.max_size",    "20G",
                 SIZE, "largest store size"),
    UDCS_SETTING(workers,    "--workers",    "UDCS_T_WORKERS",   "cas.workers",     "4",
                 UINT, "worker threads"),
    UDCS_SETTING(auth_reads, "--auth-reads", "UDCS_T_AUTHREADS", "serve.auth_reads", "false",
                 BOOL, "require the token for reads"),
    UDCS_SETTING(dir,        "--dir",        "UDCS_T_DIR",       "cas.dir",         "~/.cache/u",
                 PATH, "store directory"),
    UDCS_SETTING(token,      NULL,           "UDCS_T_TOKEN",     "serve.token",     NULL,
                 STRING, "bearer token"),
    UDCS_SETTING(jobs,       "--jobs",       NULL,               NULL,              NULL,
                 UINT, "parallel jobs"),
};
#define TABLE_ROWS (sizeof(table) / sizeof(table[0]))

static const char *const test_env[] = { "UDCS_T_REMOTE", "UDCS_T_MAXSIZE", "UDCS_T_WORKERS",
                                        "UDCS_T_AUTHREADS", "UDCS_T_DIR", "UDCS_T_TOKEN",
                                        "UDCS_CONFIG" };

struct fixture {
    char *dir;        /* $XDG_CONFIG_HOME and $HOME live here */
    char *home;
    char *log;
    struct udcs_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir("config");
    f->home = udcs_path_join(f->dir, "home");
    f->log = udcs_path_join(f->dir, "log");
    for (size_t i = 0; i < sizeof(test_env) / sizeof(test_env[0]); i++)
        unsetenv(test_env[i]);
    setenv("XDG_CONFIG_HOME", f->dir, 1);
    setenv("HOME", f->home, 1);
    if (udcs_log_open_file(f->log) < 0 || udcs_config_init(&f->cfg, table, TABLE_ROWS) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    udcs_config_release(&f->cfg);
    udcs_log_open_file("/dev/stderr");
    for (size_t i = 0; i < sizeof(test_env) / sizeof(test_env[0]); i++)
        unsetenv(test_env[i]);
    free(f->home);
    free(f->log);
    test_rmtree(f->dir);
    free(f);
    return 0;
}

/* Write the default config file, $XDG_CONFIG_HOME/udcs/config; returns its path. */
static char *write_default_config(struct fixture *f, const char *text)
{
    char *sub = udcs_path_join(f->dir, "udcs");
    assert_int_equal(udcs_mkdir_p(sub, 0755), 0);
    char *path = udcs_path_join(sub, "config");
    test_write_file(path, text, strlen(text));
    free(sub);
    return path;
}

static char *write_config_at(struct fixture *f, const char *name, const char *text)
{
    char *path = udcs_path_join(f->dir, name);
    test_write_file(path, text, strlen(text));
    return path;
}

/* Whether the log holds `text`. */
static int log_has(struct fixture *f, const char *text)
{
    struct udcs_buf b = UDCS_BUF_INIT(1 << 20);
    int found = udcs_read_file(f->log, &b) == 0 && b.data && strstr(b.data, text) != NULL;
    udcs_buf_release(&b);
    return found;
}

/* Feed `args` through udcs_config_take_flag like a main() loop; returns the first
 * non-flag's index, or the error. */
static int take_flags(struct udcs_config *cfg, int argc, char **argv)
{
    int i = 0;
    while (i < argc) {
        int rc = udcs_config_take_flag(cfg, argc, argv, &i);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return i;
    }
    return i;
}

/* ---- precedence ------------------------------------------------------------------------- */

static void defaults_apply_when_nothing_else_is_set(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    assert_null(f->cfg.file);   /* no default file: fine */
    assert_string_equal(udcs_config_str(&f->cfg, "remote"), "http://d:1");
    assert_string_equal(udcs_config_origin_name(&f->cfg, "remote"), "default");
    uint64_t v;
    assert_int_equal(udcs_config_size(&f->cfg, "max_size", &v), 0);
    assert_int_equal(v, 20 * GIB);
    assert_int_equal(udcs_config_uint(&f->cfg, "workers", &v), 0);
    assert_int_equal(v, 4);
    int b = -1;
    assert_int_equal(udcs_config_bool(&f->cfg, "auth_reads", &b), 0);
    assert_int_equal(b, 0);
    assert_null(udcs_config_str(&f->cfg, "token"));
    assert_string_equal(udcs_config_origin_name(&f->cfg, "token"), "unset");
    assert_int_equal(udcs_config_uint(&f->cfg, "jobs", &v), -ENOENT);
}

static void flag_beats_environment_beats_file_beats_default(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f, "[cas]\nremote = http://file:1\nworkers = 5\n"
                                         "max_size = 5G\n");
    setenv("UDCS_T_REMOTE", "http://env:1", 1);
    setenv("UDCS_T_WORKERS", "6", 1);
    char *argv[] = { "--remote", "http://flag:1", "rest" };
    assert_int_equal(take_flags(&f->cfg, 3, argv), 2);
    assert_int_equal(udcs_config_load(&f->cfg), 0);

    assert_string_equal(udcs_config_str(&f->cfg, "remote"), "http://flag:1");
    assert_string_equal(udcs_config_origin_name(&f->cfg, "remote"), "flag");
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "6");
    assert_string_equal(udcs_config_origin_name(&f->cfg, "workers"), "environment");
    assert_string_equal(udcs_config_str(&f->cfg, "max_size"), "5G");
    assert_string_equal(udcs_config_origin_name(&f->cfg, "max_size"), "file");
    assert_string_equal(udcs_config_str(&f->cfg, "auth_reads"), "false");
    assert_string_equal(udcs_config_origin_name(&f->cfg, "auth_reads"), "default");
    assert_string_equal(f->cfg.file, path);
    free(path);
}

static void precedence_holds_whatever_the_order_of_calls(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f, "[cas]\nremote = http://file:1\nworkers = 5\n");
    setenv("UDCS_T_WORKERS", "6", 1);
    assert_int_equal(udcs_config_load(&f->cfg), 0);   /* environment and file first ... */
    char *argv[] = { "--remote=http://flag:1" };
    assert_int_equal(take_flags(&f->cfg, 1, argv), 1);   /* ... the flag after */
    assert_string_equal(udcs_config_str(&f->cfg, "remote"), "http://flag:1");

    /* lower origins arriving later never replace higher ones */
    assert_int_equal(udcs_config_set(&f->cfg, "remote", "http://late-file:1", UDCS_ORIGIN_FILE),
                     0);
    assert_int_equal(udcs_config_set(&f->cfg, "workers", "7", UDCS_ORIGIN_FILE), 0);
    assert_int_equal(udcs_config_set(&f->cfg, "workers", "8", UDCS_ORIGIN_DEFAULT), 0);
    assert_string_equal(udcs_config_str(&f->cfg, "remote"), "http://flag:1");
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "6");
    assert_string_equal(udcs_config_origin_name(&f->cfg, "workers"), "environment");
    /* an equal or higher origin does */
    assert_int_equal(udcs_config_set(&f->cfg, "workers", "9", UDCS_ORIGIN_ENV), 0);
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "9");
    assert_int_equal(udcs_config_set(&f->cfg, "workers", "10", UDCS_ORIGIN_FLAG), 0);
    assert_string_equal(udcs_config_origin_name(&f->cfg, "workers"), "flag");
    free(path);
}

/* ---- flags -------------------------------------------------------------------------------- */

static void flag_takes_separate_or_inline_value(void **state)
{
    struct fixture *f = *state;
    char *argv[] = { "--workers", "8", "--max-size=512M", "--remote=", "input.c" };
    int i = 0;
    assert_int_equal(udcs_config_take_flag(&f->cfg, 5, argv, &i), 1);
    assert_int_equal(i, 2);   /* past the flag and its value */
    assert_int_equal(udcs_config_take_flag(&f->cfg, 5, argv, &i), 1);
    assert_int_equal(i, 3);
    assert_int_equal(udcs_config_take_flag(&f->cfg, 5, argv, &i), 1);
    assert_int_equal(i, 4);
    assert_int_equal(udcs_config_take_flag(&f->cfg, 5, argv, &i), 0);
    assert_int_equal(i, 4);   /* not a flag: left for the caller */
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "8");
    assert_string_equal(udcs_config_str(&f->cfg, "max_size"), "512M");
    assert_string_equal(udcs_config_str(&f->cfg, "remote"), "");
}

static void only_whole_flag_names_match(void **state)
{
    struct fixture *f = *state;
    char *argv[] = { "--workersX", "--work", "--workers-max=3", "-workers", "--other=1" };
    for (int k = 0; k < 5; k++) {
        int i = k;
        assert_int_equal(udcs_config_take_flag(&f->cfg, 5, argv, &i), 0);
        assert_int_equal(i, k);
    }
    assert_string_equal(udcs_config_origin_name(&f->cfg, "workers"), "default");
}

static void bool_flag_alone_means_true_and_leaves_next_argument(void **state)
{
    struct fixture *f = *state;
    char *argv[] = { "--auth-reads", "file.txt" };
    int i = 0;
    assert_int_equal(udcs_config_take_flag(&f->cfg, 2, argv, &i), 1);
    assert_int_equal(i, 1);
    int b = 0;
    assert_int_equal(udcs_config_bool(&f->cfg, "auth_reads", &b), 0);
    assert_int_equal(b, 1);

    char *off[] = { "--auth-reads=off" };
    i = 0;
    assert_int_equal(udcs_config_take_flag(&f->cfg, 1, off, &i), 1);
    assert_int_equal(udcs_config_bool(&f->cfg, "auth_reads", &b), 0);
    assert_int_equal(b, 0);
}

static void flag_without_its_value_is_a_usage_error(void **state)
{
    struct fixture *f = *state;
    char *argv[] = { "--workers" };
    int i = 0;
    assert_int_equal(udcs_config_take_flag(&f->cfg, 1, argv, &i), UDCS_EUSAGE);
    assert_true(log_has(f, "--workers needs a value"));
    assert_string_equal(udcs_config_origin_name(&f->cfg, "workers"), "default");

    char *cfg_argv[] = { "x", "--config" };
    i = 1;
    assert_int_equal(udcs_config_take_flag(&f->cfg, 2, cfg_argv, &i), UDCS_EUSAGE);
    assert_null(f->cfg.explicit_file);
}

/* ---- the config file ------------------------------------------------------------------------ */

static void ini_sections_map_onto_dotted_keys(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f,
                                      "# a comment\n"
                                      "; another\n"
                                      "[cas]\n"
                                      "max_size = 1.5GiB\n"
                                      "workers=3\n"
                                      "\n"
                                      "[serve]\n"
                                      "auth_reads = Yes\n"
                                      "token = s3cret\n");
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    uint64_t v;
    assert_int_equal(udcs_config_size(&f->cfg, "max_size", &v), 0);
    assert_int_equal(v, 3 * GIB / 2);
    assert_int_equal(udcs_config_uint(&f->cfg, "workers", &v), 0);
    assert_int_equal(v, 3);
    int b;
    assert_int_equal(udcs_config_bool(&f->cfg, "auth_reads", &b), 0);
    assert_int_equal(b, 1);
    assert_string_equal(udcs_config_str(&f->cfg, "token"), "s3cret");
    assert_string_equal(udcs_config_origin_name(&f->cfg, "token"), "file");
    free(path);
}

static void unknown_key_in_a_known_section_is_a_usage_error(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f, "[cas]\nworkers = 2\nmax_sise = 5G\n");
    assert_int_equal(udcs_config_load(&f->cfg), UDCS_EUSAGE);
    assert_true(log_has(f, "unknown key 'max_sise' in section [cas]"));
    assert_true(log_has(f, path));
    free(path);
}

static void unknown_sections_and_top_level_keys_are_ignored(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f, "stray = 1\n[farm]\nurl = http://x\n[cas]\nworkers = 2\n");
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "2");
    free(path);
}

static void malformed_line_names_file_and_line(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f, "[cas]\nworkers = 2\nthis is not ini\n");
    assert_int_equal(udcs_config_load(&f->cfg), UDCS_EUSAGE);
    assert_true(log_has(f, "line 3"));
    free(path);
}

static void explicit_config_file_must_exist_and_replaces_the_default(void **state)
{
    struct fixture *f = *state;
    char *def = write_default_config(f, "[cas]\nworkers = 2\n");
    char *missing = udcs_path_join(f->dir, "missing.ini");
    char *argv[] = { "--config", missing };
    assert_int_equal(take_flags(&f->cfg, 2, argv), 2);
    assert_int_equal(udcs_config_load(&f->cfg), -ENOENT);
    assert_true(log_has(f, missing));
    udcs_config_release(&f->cfg);

    char *other = write_config_at(f, "other.ini", "[cas]\nworkers = 11\n");
    assert_int_equal(udcs_config_init(&f->cfg, table, TABLE_ROWS), 0);
    char *argv2[] = { "--config=x", "--config", other };   /* the last one counts */
    assert_int_equal(take_flags(&f->cfg, 3, argv2), 3);
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "11");
    assert_string_equal(f->cfg.file, other);

    /* loading again after another --config reads that file instead */
    char *argv3[] = { "--config", def };
    assert_int_equal(take_flags(&f->cfg, 2, argv3), 2);
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "2");
    assert_string_equal(f->cfg.file, def);
    free(def);
    free(missing);
    free(other);
}

static void udcs_config_variable_names_a_file_that_must_exist(void **state)
{
    struct fixture *f = *state;
    char *def = write_default_config(f, "[cas]\nworkers = 2\n");
    char *other = write_config_at(f, "env.ini", "[cas]\nworkers = 12\n");
    setenv("UDCS_CONFIG", other, 1);
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "12");
    udcs_config_release(&f->cfg);

    /* set but empty: as if unset, the default file is read */
    setenv("UDCS_CONFIG", "", 1);
    assert_int_equal(udcs_config_init(&f->cfg, table, TABLE_ROWS), 0);
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    assert_string_equal(udcs_config_str(&f->cfg, "workers"), "2");
    udcs_config_release(&f->cfg);

    char *missing = udcs_path_join(f->dir, "gone.ini");
    setenv("UDCS_CONFIG", missing, 1);
    assert_int_equal(udcs_config_init(&f->cfg, table, TABLE_ROWS), 0);
    assert_int_equal(udcs_config_load(&f->cfg), -ENOENT);
    free(def);
    free(other);
    free(missing);
}

/* ---- typed values ------------------------------------------------------------------------- */

static void bad_values_from_any_source_are_usage_errors_naming_the_source(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f, "[cas]\nworkers = many\n");
    assert_int_equal(udcs_config_load(&f->cfg), UDCS_EUSAGE);
    assert_true(log_has(f, "setting workers (from cas.workers in "));
    assert_true(log_has(f, "is 'many'; expected a whole number"));
    udcs_config_release(&f->cfg);

    assert_int_equal(udcs_config_init(&f->cfg, table, TABLE_ROWS), 0);
    setenv("UDCS_T_MAXSIZE", "5Q", 1);
    assert_int_equal(udcs_config_load(&f->cfg), UDCS_EUSAGE);
    assert_true(log_has(f, "setting max_size (from UDCS_T_MAXSIZE) is '5Q'"));
    unsetenv("UDCS_T_MAXSIZE");
    udcs_config_release(&f->cfg);

    assert_int_equal(udcs_config_init(&f->cfg, table, TABLE_ROWS), 0);
    char *argv[] = { "--auth-reads=maybe" };
    assert_int_equal(take_flags(&f->cfg, 1, argv), 1);
    assert_int_equal(udcs_config_load(&f->cfg), UDCS_EUSAGE);
    assert_true(log_has(f, "setting auth_reads (from --auth-reads) is 'maybe'"));
    free(path);
}

static void typed_getters_accept_only_their_syntax(void **state)
{
    struct fixture *f = *state;
    static const char *const bad_uint[] = { "", "-1", "+3", "12abc", "1.5", " 7", " -1",
                                            "99999999999999999999999" };
    static const char *const bad_size[] = { "", "G", "-1", "5Q", "99999999999T" };
    static const char *const bad_bool[] = { "", "2", "yess", "t", "enabled" };
    uint64_t v = 77;
    int b = 77;
    for (size_t i = 0; i < sizeof(bad_uint) / sizeof(bad_uint[0]); i++) {
        assert_int_equal(udcs_config_set(&f->cfg, "workers", bad_uint[i], UDCS_ORIGIN_FLAG), 0);
        assert_int_equal(udcs_config_uint(&f->cfg, "workers", &v), UDCS_EUSAGE);
    }
    for (size_t i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++) {
        assert_int_equal(udcs_config_set(&f->cfg, "max_size", bad_size[i], UDCS_ORIGIN_FLAG), 0);
        assert_int_equal(udcs_config_size(&f->cfg, "max_size", &v), UDCS_EUSAGE);
    }
    for (size_t i = 0; i < sizeof(bad_bool) / sizeof(bad_bool[0]); i++) {
        assert_int_equal(udcs_config_set(&f->cfg, "auth_reads", bad_bool[i], UDCS_ORIGIN_FLAG),
                         0);
        assert_int_equal(udcs_config_bool(&f->cfg, "auth_reads", &b), UDCS_EUSAGE);
    }
    assert_int_equal(v, 77);
    assert_int_equal(b, 77);
    assert_int_equal(udcs_config_validate(&f->cfg), UDCS_EUSAGE);

    /* a value set as if from a file, when no file was read, is still reported sensibly */
    udcs_config_release(&f->cfg);
    assert_int_equal(udcs_config_init(&f->cfg, table, TABLE_ROWS), 0);
    assert_int_equal(udcs_config_set(&f->cfg, "workers", "x", UDCS_ORIGIN_FILE), 0);
    assert_int_equal(udcs_config_uint(&f->cfg, "workers", &v), UDCS_EUSAGE);
    assert_true(log_has(f, "(from cas.workers in "));
    assert_false(log_has(f, "(null)"));

    static const char *const yes[] = { "1", "true", "YES", "On" };
    static const char *const no[] = { "0", "False", "no", "OFF" };
    for (size_t i = 0; i < 4; i++) {
        udcs_config_set(&f->cfg, "auth_reads", yes[i], UDCS_ORIGIN_FLAG);
        assert_int_equal(udcs_config_bool(&f->cfg, "auth_reads", &b), 0);
        assert_int_equal(b, 1);
        udcs_config_set(&f->cfg, "auth_reads", no[i], UDCS_ORIGIN_FLAG);
        assert_int_equal(udcs_config_bool(&f->cfg, "auth_reads", &b), 0);
        assert_int_equal(b, 0);
    }
    udcs_config_set(&f->cfg, "workers", "18446744073709551615", UDCS_ORIGIN_FLAG);
    assert_int_equal(udcs_config_uint(&f->cfg, "workers", &v), 0);
    assert_int_equal(v, UINT64_MAX);
}

static void path_settings_expand_a_leading_tilde_slash(void **state)
{
    struct fixture *f = *state;
    char want[4096];
    snprintf(want, sizeof(want), "%s/.cache/u", f->home);
    assert_string_equal(udcs_config_str(&f->cfg, "dir"), want);   /* the default */

    setenv("UDCS_T_DIR", "~/from-env", 1);
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    snprintf(want, sizeof(want), "%s/from-env", f->home);
    assert_string_equal(udcs_config_str(&f->cfg, "dir"), want);

    udcs_config_set(&f->cfg, "dir", "~other/x", UDCS_ORIGIN_FLAG);
    assert_string_equal(udcs_config_str(&f->cfg, "dir"), "~other/x");
    udcs_config_set(&f->cfg, "dir", "/abs/~/x", UDCS_ORIGIN_FLAG);
    assert_string_equal(udcs_config_str(&f->cfg, "dir"), "/abs/~/x");
    /* only PATH settings are expanded */
    udcs_config_set(&f->cfg, "remote", "~/x", UDCS_ORIGIN_FLAG);
    assert_string_equal(udcs_config_str(&f->cfg, "remote"), "~/x");
}

/* ---- output --------------------------------------------------------------------------------- */

/* What `print` wrote, in a malloc()ed string. */
static char *printed(struct udcs_config *cfg, void (*print)(const struct udcs_config *, FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    print(cfg, mem);
    fclose(mem);
    return text;
}

/* The line of `text` that starts with `name` followed by a space. */
static const char *line_of(const char *text, const char *name, char *line, size_t line_len)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            const char *end = strchr(p, '\n');
            snprintf(line, line_len, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
            return line;
        }
    }
    fail_msg("no line for '%s' in:\n%s", name, text);
    return NULL;
}

static void print_config_shows_each_value_and_its_origin(void **state)
{
    struct fixture *f = *state;
    char *path = write_default_config(f, "[cas]\nmax_size = 5G\n");
    setenv("UDCS_T_WORKERS", "6", 1);
    char *argv[] = { "--remote", "http://flag:1" };
    assert_int_equal(take_flags(&f->cfg, 2, argv), 2);
    assert_int_equal(udcs_config_load(&f->cfg), 0);
    char *text = printed(&f->cfg, udcs_config_print);
    char line[512], head[600];
    snprintf(head, sizeof(head), "# config file: %s\n", path);
    assert_memory_equal(text, head, strlen(head));
    line_of(text, "remote", line, sizeof(line));
    assert_non_null(strstr(line, "http://flag:1"));
    assert_non_null(strstr(line, "(flag)"));
    assert_non_null(strstr(line_of(text, "workers", line, sizeof(line)), "(environment)"));
    assert_non_null(strstr(line_of(text, "max_size", line, sizeof(line)), "(file)"));
    assert_non_null(strstr(line_of(text, "auth_reads", line, sizeof(line)), "(default)"));
    assert_non_null(strstr(line_of(text, "token", line, sizeof(line)), "(unset)"));
    free(text);
    free(path);
}

static void print_flags_lists_flags_with_env_and_default(void **state)
{
    struct fixture *f = *state;
    char *text = printed(&f->cfg, udcs_config_print_flags);
    assert_non_null(strstr(text, "--max-size SIZE"));
    assert_non_null(strstr(text, "[UDCS_T_MAXSIZE] (default 20G)"));
    assert_non_null(strstr(text, "--auth-reads "));
    assert_null(strstr(text, "--auth-reads V"));   /* a bool flag takes no value */
    assert_null(strstr(text, "bearer token"));     /* not settable by flag */
    assert_non_null(strstr(text, "--config FILE"));
    free(text);
}

#define CFG_TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CFG_TEST(defaults_apply_when_nothing_else_is_set),
        CFG_TEST(flag_beats_environment_beats_file_beats_default),
        CFG_TEST(precedence_holds_whatever_the_order_of_calls),
        CFG_TEST(flag_takes_separate_or_inline_value),
        CFG_TEST(only_whole_flag_names_match),
        CFG_TEST(bool_flag_alone_means_true_and_leaves_next_argument),
        CFG_TEST(flag_without_its_value_is_a_usage_error),
        CFG_TEST(ini_sections_map_onto_dotted_keys),
        CFG_TEST(unknown_key_in_a_known_section_is_a_usage_error),
        CFG_TEST(unknown_sections_and_top_level_keys_are_ignored),
        CFG_TEST(malformed_line_names_file_and_line),
        CFG_TEST(explicit_config_file_must_exist_and_replaces_the_default),
        CFG_TEST(udcs_config_variable_names_a_file_that_must_exist),
        CFG_TEST(bad_values_from_any_source_are_usage_errors_naming_the_source),
        CFG_TEST(typed_getters_accept_only_their_syntax),
        CFG_TEST(path_settings_expand_a_leading_tilde_slash),
        CFG_TEST(print_config_shows_each_value_and_its_origin),
        CFG_TEST(print_flags_lists_flags_with_env_and_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
