/* cas/cli_serve.c - `udcs-cas serve`: the local store over HTTP (cas/http.c) until
 * SIGINT or SIGTERM. Writes need the bearer token from --token-file; a server without
 * one must be asked for explicitly with --no-auth. */
#include "cas/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/http_server.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_cmd_serve(struct cli *cli, int argc, char **argv)
{
    const char *port_file = NULL;
    for (int i = 0; i < argc; i++) {
        int taken = cli_option_value("serve", argc, argv, &i, "--port-file", &port_file);
        if (taken < 0)
            return CLI_EXIT_USAGE;
        if (!taken) {
            udcs_log_error("serve: unknown argument '%s'; see 'udcs-cas --help'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    int no_auth = 0, auth_reads = 0;
    uint64_t max_blob;
    if (udcs_config_bool(&cli->cfg, "no_auth", &no_auth) < 0 ||
        udcs_config_bool(&cli->cfg, "auth_reads", &auth_reads) < 0 ||
        udcs_config_size(&cli->cfg, "max_blob", &max_blob) < 0)
        return CLI_EXIT_USAGE;
    if (!cli->token && !no_auth) {
        udcs_log_error("serve: no --token-file given, so anyone who can reach the server "
                       "could write to it. Make a token (for example: head -c 24 /dev/urandom "
                       "| base64 > token; chmod 600 token) and pass --token-file token, or "
                       "pass --no-auth on a network you trust");
        return CLI_EXIT_USAGE;
    }
    if (cli->token && no_auth) {
        udcs_log_error("serve: --no-auth and --token-file contradict each other; pick one");
        return CLI_EXIT_USAGE;
    }
    if (udcs_log_get_level() < UDCS_LOG_INFO)
        udcs_log_set_level(UDCS_LOG_INFO);   /* a server says what it does */
    udcs_log_init("udcs-cas", udcs_log_get_level(), UDCS_LOG_STYLE_DAEMON);

    struct cas_store *cs;
    int status = cli_open_store(cli, &cs);
    if (status != CLI_EXIT_OK)
        return status;

    /* Block the stop signals in every thread (MHD's inherit this mask); sigwait below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct udcs_http_server_options so = { .listen = udcs_config_str(&cli->cfg, "listen"),
                                           .token = cli->token, .auth_reads = auth_reads };
    struct cas_http_limits lim = { .max_blob_bytes = max_blob };
    struct udcs_http_server *srv = NULL;
    int rc = udcs_http_server_new(&so, &srv);
    if (rc == 0)
        rc = cas_http_mount(srv, cs, &lim);
    if (rc == 0)
        rc = udcs_http_server_start(srv);
    if (rc < 0) {
        udcs_http_server_free(srv);
        cas_store_close(cs);
        return rc == UDCS_EUSAGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
    }
    if (port_file) {
        char text[16];
        int n = snprintf(text, sizeof(text), "%u\n", udcs_http_server_port(srv));
        rc = udcs_write_atomic(port_file, text, (size_t)n, 0644);
        if (rc < 0) {
            udcs_log_error("serve: cannot write the port to %s: %s", port_file, udcs_strerror(rc));
            udcs_http_server_free(srv);
            cas_store_close(cs);
            return CLI_EXIT_FAILED;
        }
    }
    udcs_log_info("cas: serving %s on %s (writes %s, reads %s)", cas_store_root(cs),
                  udcs_http_server_url(srv), cli->token ? "need the token" : "open to all",
                  auth_reads && cli->token ? "need the token" : "open to all");

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    udcs_log_info("cas: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    udcs_http_server_free(srv);
    cas_store_close(cs);
    return CLI_EXIT_OK;
}
