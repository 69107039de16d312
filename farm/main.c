/* farm/main.c - udcs-farm, the master: its settings, then farm_serve() until SIGINT or
 * SIGTERM. A kill -9 at any moment is fine too: the state is in SQLite. */
#include "farm/farm.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* malloc arenas for the master's threads (see run()). */
#define FARM_MALLOC_ARENAS 4

static const struct udcs_setting settings[] = {
    /*           name          flag                  env                    key                    default            type    help */
    UDCS_SETTING(port,         "--port",             "UDCS_FARM_PORT",      "farm.port",           "8080",            UINT,   "API port (agents, clients, CAS); 0: any free port"),
    UDCS_SETTING(web_port,     "--web-port",         "UDCS_FARM_WEB_PORT",  "farm.web_port",       "8081",            UINT,   "web port: the dashboard and the client API; 0: any free port"),
    UDCS_SETTING(web_dir,      "--web-dir",          "UDCS_FARM_WEB_DIR",   "farm.web_dir",        NULL,              PATH,   "the built dashboard (default: ../share/udcs/web or ../web beside the binary)"),
    UDCS_SETTING(no_web,       "--no-web",           NULL,                  "farm.no_web",         "false",           BOOL,   "serve no web port (no dashboard)"),
    UDCS_SETTING(listen,       "--listen",           "UDCS_FARM_LISTEN",    "farm.listen",         "127.0.0.1",       STRING, "address to listen on (0.0.0.0 for a LAN)"),
    UDCS_SETTING(state,        "--state",            "UDCS_FARM_STATE",     "farm.state",          "~/.local/share/udcs/farm", PATH, "state directory: farm.db and the store"),
    UDCS_SETTING(token_file,   "--token-file",       "UDCS_TOKEN_FILE",     "farm.token_file",     NULL,              PATH,   "the farm token agents use (first line)"),
    UDCS_SETTING(client_token_file, "--client-token-file", "UDCS_CLIENT_TOKEN_FILE", "farm.client_token_file", NULL, PATH, "the client token (default: the farm token)"),
    UDCS_SETTING(no_auth,      "--no-auth",          NULL,                  "farm.no_auth",        "false",           BOOL,   "accept requests without tokens (trusted networks only)"),
    UDCS_SETTING(auth_reads,   "--auth-reads",       NULL,                  "farm.auth_reads",     "false",           BOOL,   "require a token for reads too"),
    UDCS_SETTING(lease_ttl_ms, "--lease-ttl-ms",     NULL,                  "farm.lease_ttl_ms",   "15000",           UINT,   "a lease not renewed for this long expires"),
    UDCS_SETTING(heartbeat_ms, "--heartbeat-ms",     NULL,                  "farm.heartbeat_ms",   "3000",            UINT,   "how often agents renew their leases"),
    UDCS_SETTING(max_attempts, "--max-attempts",     NULL,                  "farm.max_attempts",   "3",               UINT,   "attempts per unit unless a job says otherwise"),
    UDCS_SETTING(backoff_ms,   "--backoff-ms",       NULL,                  "farm.backoff_ms",     "1000",            UINT,   "first retry delay; doubles each attempt"),
    UDCS_SETTING(backoff_max_ms, "--backoff-max-ms", NULL,                  "farm.backoff_max_ms", "60000",           UINT,   "longest retry delay"),
    UDCS_SETTING(blocklist_after, "--blocklist-after", NULL,                "farm.blocklist_after", "3",              UINT,   "failures of one job's units before an agent is kept off it"),
    UDCS_SETTING(max_size,     "--max-size",         NULL,                  "farm.cas_max_size",   "50G",             SIZE,   "the master's store: evict beyond this"),
    UDCS_SETTING(max_submit,   "--max-submit",       NULL,                  "farm.max_submit",     "256M",            SIZE,   "largest job submission accepted"),
    UDCS_SETTING(port_file,    "--port-file",        NULL,                  NULL,                  NULL,              PATH,   "write the API and web ports there, one per line"),
    UDCS_SETTING(log_level,    "--log-level",        "UDCS_LOG_LEVEL",      "log.level",           "info",            STRING, "error, warn, info or debug"),
    UDCS_SETTING(log_file,     "--log-file",         NULL,                  "log.file",            NULL,              PATH,   "log there instead of standard error"),
};

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-farm [OPTIONS]\n"
            "\n"
            "The UDCS farm master: takes jobs over HTTP, splits them into units, leases them\n"
            "to agents, caches every result, and keeps its state in SQLite under --state.\n"
            "\n"
            "options (also settable by environment and config file):\n");
    udcs_config_print_flags(cfg, out);
    fprintf(out, "  --print-config         show every setting and where it came from\n"
                 "  --help, --version\n");
}

/* Agents long-poll in one connection each: allow more files than the default 1024. */
static void raise_file_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static int setting_uint(const struct udcs_config *cfg, const char *name, uint64_t *out)
{
    return udcs_config_uint(cfg, name, out);
}

static int run(const struct udcs_config *cfg)
{
    struct farm_options o = { .state_dir = udcs_config_str(cfg, "state") };
    uint64_t port, web_port, attempts, blocklist;
    int no_auth, no_web, auth_reads;
    if (setting_uint(cfg, "port", &port) < 0 || setting_uint(cfg, "web_port", &web_port) < 0 ||
        setting_uint(cfg, "lease_ttl_ms", &o.lease_ttl_ms) < 0 ||
        setting_uint(cfg, "heartbeat_ms", &o.heartbeat_ms) < 0 ||
        setting_uint(cfg, "max_attempts", &attempts) < 0 ||
        setting_uint(cfg, "backoff_ms", &o.backoff_ms) < 0 ||
        setting_uint(cfg, "backoff_max_ms", &o.backoff_max_ms) < 0 ||
        setting_uint(cfg, "blocklist_after", &blocklist) < 0 ||
        udcs_config_size(cfg, "max_size", &o.cas_max_size) < 0 ||
        udcs_config_size(cfg, "max_submit", &o.max_submit_bytes) < 0 ||
        udcs_config_bool(cfg, "no_auth", &no_auth) < 0 ||
        udcs_config_bool(cfg, "no_web", &no_web) < 0 ||
        udcs_config_bool(cfg, "auth_reads", &auth_reads) < 0)
        return UDCS_EXIT_USAGE;
    if (port > 65535 || web_port > 65535 || attempts < 1 || attempts > 100 ||
        o.lease_ttl_ms < 100 || o.heartbeat_ms < 10 || o.heartbeat_ms >= o.lease_ttl_ms) {
        udcs_log_error("settings out of range: ports are 0-65535, --max-attempts 1-100, "
                       "--lease-ttl-ms at least 100 and more than --heartbeat-ms");
        return UDCS_EXIT_USAGE;
    }
    o.max_attempts = (int)attempts;
    o.blocklist_after = blocklist ? (int)blocklist : 1;

    char *agent_token = NULL, *client_token = NULL;
    const char *tf = udcs_config_str(cfg, "token_file");
    const char *ctf = udcs_config_str(cfg, "client_token_file");
    if (!tf && !no_auth) {
        udcs_log_error("no --token-file: agents and clients would be accepted without a "
                       "token. Make one (head -c 24 /dev/urandom | base64 > farm.token; "
                       "chmod 600 farm.token) and pass --token-file farm.token, or pass "
                       "--no-auth on a network you trust");
        return UDCS_EXIT_USAGE;
    }
    if ((tf && udcs_config_read_token(tf, &agent_token) < 0) ||
        (ctf && udcs_config_read_token(ctf, &client_token) < 0)) {
        free(agent_token);
        return UDCS_EXIT_USAGE;
    }
    const char *log_file = udcs_config_str(cfg, "log_file");
    if (log_file && udcs_log_open_file(log_file) < 0) {
        udcs_log_error("cannot open log file %s", log_file);
        free(agent_token);
        free(client_token);
        return UDCS_EXIT_USAGE;
    }

    char api[300], web[300];
    const char *host = udcs_config_str(cfg, "listen");
    const char *fmt = strchr(host, ':') ? "[%s]:%llu" : "%s:%llu";
    snprintf(api, sizeof(api), fmt, host, (unsigned long long)port);
    snprintf(web, sizeof(web), fmt, host, (unsigned long long)web_port);
    struct farm_listen l = { .api_listen = api, .web_listen = no_web ? NULL : web,
                             .agent_token = agent_token,
                             .client_token = client_token ? client_token : agent_token,
                             .auth_reads = auth_reads,
                             .web_dir = udcs_config_str(cfg, "web_dir") };
    char *web_dir = l.web_dir || no_web ? NULL : farm_web_dir_default();
    if (web_dir)
        l.web_dir = web_dir;

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);   /* every thread inherits it; sigwait below */
    signal(SIGPIPE, SIG_IGN);
    raise_file_limit();
    /* One thread per connection: without a cap, glibc gives many of them an arena of
     * their own, and a master with 1,000 agents would hold memory it does not use. */
    mallopt(M_ARENA_MAX, FARM_MALLOC_ARENAS);

    struct farm *f = NULL;
    int rc = farm_open(&o, &f);
    if (rc == 0)
        rc = farm_serve(f, &l);
    const char *port_file = udcs_config_str(cfg, "port_file");
    if (rc == 0 && port_file) {
        char text[64];
        int n = snprintf(text, sizeof(text), "%u\n%u\n", farm_api_port(f), farm_web_port(f));
        rc = udcs_write_atomic(port_file, text, (size_t)n, 0644);
        if (rc < 0)
            udcs_log_error("cannot write %s: %s", port_file, udcs_strerror(rc));
    }
    if (rc == 0) {
        int sig = 0;
        while (sigwait(&stop, &sig) != 0)
            ;
        udcs_log_info("farm: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    farm_close(f);
    free(web_dir);
    free(agent_token);
    free(client_token);
    return rc < 0 ? (rc == UDCS_EUSAGE ? UDCS_EXIT_USAGE : UDCS_EXIT_FAILED) : UDCS_EXIT_OK;
}

int main(int argc, char **argv)
{
    udcs_log_init("udcs-farm", UDCS_LOG_INFO, UDCS_LOG_STYLE_DAEMON);
    struct udcs_config cfg;
    if (udcs_config_init(&cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return UDCS_EXIT_FAILED;
    struct udcs_cli cli = { .program = "udcs-farm", .usage = usage };
    int status = udcs_cli_parse(&cli, &cfg, argc, argv);
    if (status == 1 && udcs_cli_refuse_rest(&cli) < 0) {
        status = UDCS_EXIT_USAGE;
    } else if (status == 1) {
        status = run(&cfg);
    } else {
        status = status == 0 ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    }
    free(cli.rest);
    udcs_config_release(&cfg);
    return udcs_cli_finish(status);
}
