/* cas/cli_main.c - the udcs-cas command: settings, dispatch, and the blob commands
 * (put, get, cat, has, stats, verify, trim). Trees are in cli_tree.c, serve in
 * cli_serve.c. */
#include "cas/cli.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static const struct udcs_setting settings[] = {
    /*           name        flag            env                key              default           type  help */
    UDCS_SETTING(cache_dir,  "--cache-dir",  "UDCS_CACHE_DIR",  "cas.dir",       "~/.cache/udcs",  PATH,
                 "the local store's directory"),
    UDCS_SETTING(max_size,   "--max-size",   "UDCS_MAXSIZE",    "cas.max_size",  "5G",             SIZE,
                 "evict least recently used blobs beyond this size (0: no limit)"),
    UDCS_SETTING(level,      "--level",      "UDCS_LEVEL",      "cas.level",     "3",              UINT,
                 "zstd compression level, 1-19"),
    UDCS_SETTING(threads,    "--threads",    "UDCS_THREADS",    "cas.threads",   "0",              UINT,
                 "compression threads for large blobs (0: one per core)"),
    UDCS_SETTING(remote,     "--remote",     "UDCS_REMOTE",     "cas.remote",    NULL,             STRING,
                 "URL of a CAS server layered under the local store"),
    UDCS_SETTING(token_file, "--token-file", "UDCS_TOKEN_FILE", "cas.token_file", NULL,            PATH,
                 "file holding the bearer token (first line)"),
    UDCS_SETTING(log_level,  "--log-level",  "UDCS_LOG_LEVEL",  "log.level",     "warn",           STRING,
                 "error, warn, info or debug"),
    UDCS_SETTING(listen,     "--listen",     "UDCS_LISTEN",     "serve.listen",  "127.0.0.1:7070", STRING,
                 "serve: address to listen on (port 0: any free port)"),
    UDCS_SETTING(auth_reads, "--auth-reads", "UDCS_AUTH_READS", "serve.auth_reads", "false",       BOOL,
                 "serve: require the token for reads too"),
    UDCS_SETTING(no_auth,    "--no-auth",    NULL,              "serve.no_auth", "false",          BOOL,
                 "serve: accept writes without a token (trusted networks only)"),
    UDCS_SETTING(max_blob,   "--max-blob",   NULL,              "serve.max_blob", "64G",           SIZE,
                 "serve: largest blob accepted"),
};

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-cas [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "A content-addressed store: blobs named by XXH3-128 digests (as xxh128sum prints),\n"
            "kept zstd-compressed, verified on every read. DIGEST is 32 hex characters,\n"
            "optionally followed by /SIZE.\n"
            "\n"
            "commands:\n"
            "  put FILE...                 store files; print 'DIGEST SIZE FILE' for each\n"
            "  put -r DIR [--manifest F]   store a directory tree; print the tree's digest\n"
            "      [--verbose]             (and write its manifest as JSON to F)\n"
            "  get DIGEST -o FILE          write a blob to FILE (created only once verified)\n"
            "  get --tree DIGEST -o DIR    restore a tree stored with put -r\n"
            "  cat DIGEST...               write blobs to standard output\n"
            "  has DIGEST...               exit 0 when all are present; print the missing ones\n"
            "  stats [--json] [--zero]     counters and sizes (--zero resets the counters)\n"
            "  verify                      read every blob and record, remove damaged ones\n"
            "  trim --max-size SIZE        evict least recently used entries down to SIZE\n"
            "  serve [--port-file F]       serve this store over HTTP (see --listen)\n"
            "\n"
            "options (also settable by environment and config file):\n");
    udcs_config_print_flags(cfg, out);
    fprintf(out,
            "  --print-config         show every setting, its value and where it came from\n"
            "  --help, --version\n"
            "\n"
            "exit status: 0 done, 1 failed (or has: something missing), 2 usage error,\n"
            "3 not found (get, cat)\n");
}

/* ---- shared helpers ------------------------------------------------------------------ */

static int store_options(struct cli *cli, struct cas_store_options *o)
{
    uint64_t level, threads;
    memset(o, 0, sizeof(*o));
    o->root = udcs_config_str(&cli->cfg, "cache_dir");
    if (udcs_config_size(&cli->cfg, "max_size", &o->max_size) < 0 ||
        udcs_config_uint(&cli->cfg, "level", &level) < 0 ||
        udcs_config_uint(&cli->cfg, "threads", &threads) < 0)
        return UDCS_EUSAGE;
    if (level < 1 || level > 19) {
        udcs_log_error("level %llu, from the %s, is out of range; zstd levels run from 1 "
                       "to 19", (unsigned long long)level,
                       udcs_config_origin_name(&cli->cfg, "level"));
        return UDCS_EUSAGE;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->encode.level = (int)level;
    o->encode.workers = threads ? (int)threads : (int)(cores > 0 ? cores : 1);
    return 0;
}

int cli_open_store(struct cli *cli, struct cas_store **out)
{
    struct cas_store_options o;
    *out = NULL;
    if (store_options(cli, &o) < 0)
        return CLI_EXIT_USAGE;
    int rc = cas_store_open(&o, out);
    if (rc < 0) {
        if (rc != UDCS_EFORMAT)
            udcs_log_error("cannot open the store at %s: %s", o.root, udcs_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

int cli_open_cas(struct cli *cli, struct cas **out)
{
    struct cas_options o = { .remote_url = udcs_config_str(&cli->cfg, "remote"),
                             .remote_token = cli->token };
    *out = NULL;
    if (store_options(cli, &o.local) < 0)
        return CLI_EXIT_USAGE;
    int rc = cas_open(&o, out);
    if (rc == UDCS_EUSAGE)   /* a remote URL that is not one; cas_open said why */
        return CLI_EXIT_USAGE;
    if (rc < 0) {
        if (rc != UDCS_EFORMAT)
            udcs_log_error("cannot open the store at %s: %s", o.local.root, udcs_strerror(rc));
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

int cli_fail(struct cas *c, int rc, const char *what)
{
    const char *remote = c ? cas_last_remote_error(c) : "";
    int not_found = rc == -ENOENT || rc == UDCS_ENOTFOUND;
    if (not_found && c && cas_remote(c))
        udcs_log_error("%s: not found here or on %s", what, cas_remote_url(cas_remote(c)));
    else if (not_found)
        udcs_log_error("%s: not found in %s", what, c ? cas_store_root(cas_local(c)) : "the store");
    else
        udcs_log_error("%s: %s", what, udcs_strerror(rc));
    if (*remote && rc != UDCS_ENET)   /* a dead remote was already reported as a warning */
        udcs_log_error("remote: %s", remote);
    return not_found ? CLI_EXIT_NOT_FOUND : CLI_EXIT_FAILED;
}

int cli_option_value(const char *cmd, int argc, char **argv, int *i, const char *option,
                     const char **value)
{
    if (strcmp(argv[*i], option) != 0)
        return 0;
    if (*i + 1 >= argc) {
        udcs_log_error("%s: option %s needs a value; see 'udcs-cas --help'", cmd, option);
        return UDCS_EUSAGE;
    }
    *value = argv[++*i];
    return 1;
}

static int parse_digest_arg(const char *text, struct cas_digest *d)
{
    if (cas_digest_parse(text, d, NULL) < 0) {
        udcs_log_error("'%s' is not a digest: expected %d lowercase hex characters, "
                       "optionally followed by /SIZE", text, CAS_HEX_LEN);
        return UDCS_EUSAGE;
    }
    return 0;
}

/* After a command that wrote through to a remote: any remote failure fails the command. */
static int remote_outcome(struct cas *c, int status)
{
    if (status == CLI_EXIT_OK && cas_remote(c) && *cas_last_remote_error(c)) {
        udcs_log_error("the local store has everything, but the remote %s did not: %s",
                       cas_remote_url(cas_remote(c)), cas_last_remote_error(c));
        return CLI_EXIT_FAILED;
    }
    return status;
}

/* ---- commands ---------------------------------------------------------------------------- */

static int cmd_put(struct cli *cli, int argc, char **argv)
{
    int recursive = 0, verbose = 0;
    const char *manifest = NULL;
    char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    int n = 0;
    if (!paths)
        return CLI_EXIT_FAILED;
    for (int i = 0; i < argc; i++) {
        int taken = cli_option_value("put", argc, argv, &i, "--manifest", &manifest);
        if (taken < 0) {
            free(paths);
            return CLI_EXIT_USAGE;
        }
        if (taken)
            continue;
        if (strcmp(argv[i], "-r") == 0 || strcmp(argv[i], "--recursive") == 0) {
            recursive = 1;
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            udcs_log_error("put: unknown option '%s'; see 'udcs-cas --help'", argv[i]);
            free(paths);
            return CLI_EXIT_USAGE;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n == 0 || (manifest && !recursive)) {
        udcs_log_error(n == 0 ? "put: name at least one file (or -r DIR)"
                              : "put: --manifest goes with -r DIR");
        free(paths);
        return CLI_EXIT_USAGE;
    }
    struct cas *c;
    int status = cli_open_cas(cli, &c);
    if (status != CLI_EXIT_OK) {
        free(paths);
        return status;
    }
    for (int i = 0; i < n && status == CLI_EXIT_OK; i++) {
        struct stat st;
        if (recursive && stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            status = cli_cmd_put_tree(cli, c, paths[i], manifest, verbose);
            continue;
        }
        struct cas_digest d;
        int rc = cas_put_file(c, paths[i], &d);
        if (rc == -EISDIR) {
            udcs_log_error("put %s: it is a directory; use 'udcs-cas put -r %s'", paths[i],
                           paths[i]);
            status = CLI_EXIT_FAILED;
            break;
        }
        if (rc < 0) {   /* reading the file failed: -ENOENT is the file, not a blob */
            udcs_log_error("put %s: %s", paths[i], udcs_strerror(rc));
            status = CLI_EXIT_FAILED;
            break;
        }
        char hex[CAS_HEX_LEN + 1];
        printf("%s %llu %s\n", cas_digest_hex(&d, hex), (unsigned long long)d.size, paths[i]);
    }
    free(paths);
    status = remote_outcome(c, status);
    cas_close(c);
    return status;
}

static int output_fail(const char *digest, const char *path, int rc)
{
    udcs_log_error("get %s: cannot write %s: %s%s", digest, path, udcs_strerror(rc),
                   rc == -ENOENT ? "; create its directory first" : "");
    return CLI_EXIT_FAILED;
}

/* The output file is opened and committed here, not by cas_get_to_file, so that its own
 * errors (a missing directory is -ENOENT too) are not taken for a missing blob. */
static int get_blob_to_path(struct cas *c, const struct cas_digest *d, const char *digest,
                            const char *path)
{
    struct udcs_afile af;
    int rc = udcs_afile_open(&af, path, 0, 0644);
    if (rc < 0)
        return output_fail(digest, path, rc);
    rc = cas_get_to_afile(c, d, &af);
    if (rc < 0) {
        udcs_afile_abort(&af);
        char what[128];
        snprintf(what, sizeof(what), "get %s", digest);
        return cli_fail(c, rc, what);
    }
    rc = udcs_afile_commit(&af);
    return rc < 0 ? output_fail(digest, path, rc) : CLI_EXIT_OK;
}

static int cmd_get(struct cli *cli, int argc, char **argv)
{
    const char *out = NULL, *digest = NULL;
    int tree = 0;
    for (int i = 0; i < argc; i++) {
        int taken = cli_option_value("get", argc, argv, &i, "-o", &out);
        if (taken < 0)
            return CLI_EXIT_USAGE;
        if (taken)
            continue;
        if (strcmp(argv[i], "--tree") == 0) {
            tree = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            udcs_log_error("get: unknown option '%s'; see 'udcs-cas --help'", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (digest) {
            udcs_log_error("get: one digest at a time (use 'cat' for several)");
            return CLI_EXIT_USAGE;
        } else {
            digest = argv[i];
        }
    }
    struct cas_digest d;
    if (!digest || !out) {
        udcs_log_error("get: usage: udcs-cas get DIGEST -o FILE");
        return CLI_EXIT_USAGE;
    }
    if (parse_digest_arg(digest, &d) < 0)
        return CLI_EXIT_USAGE;
    struct cas *c;
    int status = cli_open_cas(cli, &c);
    if (status != CLI_EXIT_OK)
        return status;
    if (tree) {
        status = cli_cmd_get_tree(cli, c, digest, out);
    } else {
        status = get_blob_to_path(c, &d, digest, out);
    }
    cas_close(c);
    return status;
}

static int cmd_cat(struct cli *cli, int argc, char **argv)
{
    if (argc == 0) {
        udcs_log_error("cat: name at least one digest");
        return CLI_EXIT_USAGE;
    }
    struct cas_digest *ds = calloc((size_t)argc, sizeof(*ds));
    if (!ds)
        return CLI_EXIT_FAILED;
    for (int i = 0; i < argc; i++) {
        if (parse_digest_arg(argv[i], &ds[i]) < 0) {
            free(ds);
            return CLI_EXIT_USAGE;
        }
    }
    struct cas *c;
    int status = cli_open_cas(cli, &c);
    for (int i = 0; i < argc && status == CLI_EXIT_OK; i++) {
        int rc = cas_get_to_fd(c, &ds[i], STDOUT_FILENO);
        if (rc < 0) {
            char what[128];
            snprintf(what, sizeof(what), "cat %s", argv[i]);
            status = cli_fail(c, rc, what);
        }
    }
    free(ds);
    cas_close(c);
    return status;
}

static int cmd_has(struct cli *cli, int argc, char **argv)
{
    if (argc == 0) {
        udcs_log_error("has: name at least one digest");
        return CLI_EXIT_USAGE;
    }
    struct cas_digest d;
    for (int i = 0; i < argc; i++)
        if (parse_digest_arg(argv[i], &d) < 0)
            return CLI_EXIT_USAGE;
    struct cas *c;
    int status = cli_open_cas(cli, &c);
    if (status != CLI_EXIT_OK)
        return status;
    for (int i = 0; i < argc; i++) {
        cas_digest_parse(argv[i], &d, NULL);
        if (!cas_has(c, &d)) {
            printf("missing %s\n", argv[i]);
            status = CLI_EXIT_FAILED;
        }
    }
    if (*cas_last_remote_error(c)) {
        udcs_log_error("the remote could not be asked: %s", cas_last_remote_error(c));
        status = CLI_EXIT_FAILED;
    }
    cas_close(c);
    return status;
}

static void print_stats_human(const char *title, const struct cas_stats *s)
{
    char a[32], b[32], m[32];
    uint64_t lookups = s->hits + s->misses;
    printf("%s\n", title);
    printf("  blobs            %llu (%s stored)\n", (unsigned long long)s->blob_count,
           udcs_size_format(s->blob_bytes, a, sizeof(a)));
    printf("  action results   %llu (%s)\n", (unsigned long long)s->ac_count,
           udcs_size_format(s->ac_bytes, a, sizeof(a)));
    printf("  maximum size     %s\n",
           s->max_size ? udcs_size_format(s->max_size, m, sizeof(m)) : "none");
    printf("  hits / misses    %llu / %llu (%.1f%% hit rate)\n", (unsigned long long)s->hits,
           (unsigned long long)s->misses, lookups ? 100.0 * (double)s->hits / (double)lookups : 0.0);
    printf("  puts             %llu new, %llu already present\n", (unsigned long long)s->puts_new,
           (unsigned long long)s->puts_existing);
    printf("  bytes in / out   %s / %s (raw)\n", udcs_size_format(s->bytes_in, a, sizeof(a)),
           udcs_size_format(s->bytes_out, b, sizeof(b)));
    printf("  action cache     %llu hits, %llu misses, %llu puts\n",
           (unsigned long long)s->ac_hits, (unsigned long long)s->ac_misses,
           (unsigned long long)s->ac_puts);
    printf("  remote           %llu hits, %llu misses, %s down, %s up\n",
           (unsigned long long)s->remote_hits, (unsigned long long)s->remote_misses,
           udcs_size_format(s->remote_bytes_down, a, sizeof(a)),
           udcs_size_format(s->remote_bytes_up, b, sizeof(b)));
    printf("  evictions        %llu in %llu cleanups\n", (unsigned long long)s->evictions,
           (unsigned long long)s->cleanups);
    printf("  corrupt found    %llu\n", (unsigned long long)s->corrupt);
}

static int cmd_stats(struct cli *cli, int argc, char **argv)
{
    int as_json = 0, zero = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--zero") == 0) {
            zero = 1;
        } else {
            udcs_log_error("stats: unknown argument '%s'; see 'udcs-cas --help'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    struct cas_store *cs;
    int status = cli_open_store(cli, &cs);
    if (status != CLI_EXIT_OK)
        return status;
    struct cas_stats s;
    if (zero)
        cas_store_stats_zero(cs);
    cas_store_stats(cs, &s);
    if (as_json) {
        json_t *j = cas_stats_to_json(&s);
        json_object_set_new(j, "store", json_string(cas_store_root(cs)));
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(j);
    } else {
        char title[4200];
        snprintf(title, sizeof(title), "store %s", cas_store_root(cs));
        print_stats_human(title, &s);
    }
    cas_store_close(cs);
    return CLI_EXIT_OK;
}

static void report_corrupt(void *arg, const char *path, const char *why)
{
    (void)arg;
    printf("removed damaged %s: %s\n", path, why);
}

static int cmd_verify(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc) {
        udcs_log_error("verify takes no arguments");
        return CLI_EXIT_USAGE;
    }
    struct cas_store *cs;
    int status = cli_open_store(cli, &cs);
    if (status != CLI_EXIT_OK)
        return status;
    struct cas_verify_report r;
    int rc = cas_store_verify(cs, &r, report_corrupt, NULL);
    if (rc < 0) {
        udcs_log_error("verify %s: %s", cas_store_root(cs), udcs_strerror(rc));
        status = CLI_EXIT_FAILED;
    } else {
        char a[32];
        printf("checked %llu entries: %llu damaged and removed; %llu blobs (%s) and %llu "
               "action results remain\n", (unsigned long long)r.checked,
               (unsigned long long)r.corrupt, (unsigned long long)r.blob_count,
               udcs_size_format(r.blob_bytes, a, sizeof(a)), (unsigned long long)r.ac_count);
        if (r.corrupt)
            status = CLI_EXIT_FAILED;
    }
    cas_store_close(cs);
    return status;
}

static int cmd_trim(struct cli *cli, int argc, char **argv)
{
    (void)argv;
    if (argc) {
        udcs_log_error("trim: unexpected argument '%s'; the size goes in --max-size", argv[0]);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(udcs_config_origin_name(&cli->cfg, "max_size"), "flag") != 0) {
        udcs_log_error("trim: say how small with --max-size SIZE (for example 1G)");
        return CLI_EXIT_USAGE;
    }
    uint64_t max;
    if (udcs_config_size(&cli->cfg, "max_size", &max) < 0)
        return CLI_EXIT_USAGE;
    struct cas_store *cs;
    int status = cli_open_store(cli, &cs);
    if (status != CLI_EXIT_OK)
        return status;
    struct cas_trim_report r;
    int rc = cas_store_trim(cs, max, &r);
    if (rc < 0) {
        udcs_log_error("trim %s: %s", cas_store_root(cs), udcs_strerror(rc));
        status = CLI_EXIT_FAILED;
    } else {
        char a[32], b[32];
        printf("removed %llu entries (%s); %llu entries (%s) kept\n",
               (unsigned long long)r.removed_count,
               udcs_size_format(r.removed_bytes, a, sizeof(a)), (unsigned long long)r.kept_count,
               udcs_size_format(r.kept_bytes, b, sizeof(b)));
    }
    cas_store_close(cs);
    return status;
}

/* ---- main ----------------------------------------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
    { "put", cmd_put }, { "get", cmd_get }, { "cat", cmd_cat }, { "has", cmd_has },
    { "stats", cmd_stats }, { "verify", cmd_verify }, { "trim", cmd_trim },
    { "serve", cli_cmd_serve },
};

int main(int argc, char **argv)
{
    struct cli cli = { 0 };
    udcs_log_init("udcs-cas", UDCS_LOG_WARN, UDCS_LOG_STYLE_CLI);
    if (udcs_config_init(&cli.cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return CLI_EXIT_FAILED;
    struct udcs_cli args = { .program = "udcs-cas", .usage = usage };
    int status = udcs_cli_parse(&args, &cli.cfg, argc, argv);
    if (status <= 0) {
        status = status == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    } else if (args.n_rest == 0) {
        usage(stderr, &cli.cfg);
        status = CLI_EXIT_USAGE;
    } else {
        const char *token_file = udcs_config_str(&cli.cfg, "token_file");
        status = -1;
        if (token_file && udcs_config_read_token(token_file, &cli.token) < 0)
            status = CLI_EXIT_USAGE;
        for (size_t k = 0; status < 0 && k < sizeof(commands) / sizeof(commands[0]); k++)
            if (strcmp(args.rest[0], commands[k].name) == 0)
                status = commands[k].run(&cli, args.n_rest - 1, args.rest + 1);
        if (status < 0) {
            udcs_log_error("unknown command '%s'; commands are put, get, cat, has, stats, "
                           "verify, trim, serve (see 'udcs-cas --help')", args.rest[0]);
            status = CLI_EXIT_USAGE;
        }
    }
    free(args.rest);
    free(cli.token);
    udcs_config_release(&cli.cfg);
    return udcs_cli_finish(status);
}
