/* common/cli.h - what every UDCS program's main() does first: settings flags anywhere on
 * the command line, --help, --version, --print-config, environment and config file, and
 * the log level. Whatever is not a setting is handed back in order (the command and its
 * own arguments). */
#ifndef UDCS_COMMON_CLI_H
#define UDCS_COMMON_CLI_H

#include <stdio.h>

#include "common/config.h"

#define UDCS_VERSION "0.2.0"

/* Exit statuses every UDCS program uses. */
enum udcs_exit {
    UDCS_EXIT_OK = 0,
    UDCS_EXIT_FAILED = 1,
    UDCS_EXIT_USAGE = 2,
    UDCS_EXIT_NOT_FOUND = 3,
};

struct udcs_cli {
    const char *program;                        /* "udcs-farm" */
    void (*usage)(FILE *out, const struct udcs_config *cfg);
    char **rest;                                /* out: the arguments that were not settings */
    int n_rest;
};

/* Parse argv into `cfg` (already initialised with the program's table, which must have a
 * "log_level" setting). Returns 1 when main should continue, 0 when it is done (help,
 * version or the configuration was printed: exit UDCS_EXIT_OK), or UDCS_EUSAGE after
 * saying what was wrong. A "--" and everything after it go to cli->rest untouched (they
 * belong to a command the program runs). Free cli->rest with free(). */
int udcs_cli_parse(struct udcs_cli *cli, struct udcs_config *cfg, int argc, char **argv);

/* Flush standard output and turn a write error into a failure. Returns `status` or
 * UDCS_EXIT_FAILED. */
int udcs_cli_finish(int status);

/* For programs that take no arguments besides settings: 0 when cli->rest is empty;
 * otherwise logs "unknown option 'X'" (or "unexpected argument 'X'") with where to
 * look, and returns UDCS_EUSAGE. */
int udcs_cli_refuse_rest(const struct udcs_cli *cli);

#endif
