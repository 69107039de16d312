/* cas/cli.h - what the files of the udcs-cas command share (cli_main.c parses settings
 * and dispatches; cli_tree.c stores and restores directory trees; cli_serve.c serves). */
#ifndef UDCS_CAS_CLI_H
#define UDCS_CAS_CLI_H

#include "cas/cas.h"
#include "common/config.h"

/* Exit statuses of udcs-cas, documented in `udcs-cas --help` and docs/CAS.md. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,     /* the operation failed, or `has` found something missing */
    CLI_EXIT_USAGE = 2,      /* bad command line or setting */
    CLI_EXIT_NOT_FOUND = 3,  /* get/cat: no such blob, here or on the remote */
};

struct cli {
    struct udcs_config cfg;
    char *token;             /* from the token file, or NULL */
};

/* Open the store the settings describe (with its remote, if any) into *out. Returns
 * CLI_EXIT_OK, or after saying why (with *out NULL) CLI_EXIT_USAGE when a setting is
 * wrong (--level 99, a remote that is not an http URL) or CLI_EXIT_FAILED. */
int cli_open_cas(struct cli *cli, struct cas **out);
/* The local store alone (stats, verify, trim, serve); the same statuses. */
int cli_open_store(struct cli *cli, struct cas_store **out);

/* For a command's own options that take a value: whether argv[*i] is `option`. Returns
 * 1 with the value in *value and *i moved onto it, 0 when argv[*i] is something else,
 * or UDCS_EUSAGE after saying that `cmd`'s `option` needs a value (it came last). */
int cli_option_value(const char *cmd, int argc, char **argv, int *i, const char *option,
                     const char **value);

/* Map an error from the store to an exit status, after printing `what` and why. */
int cli_fail(struct cas *c, int rc, const char *what);

int cli_cmd_put_tree(struct cli *cli, struct cas *c, const char *dir, const char *manifest_out,
                     int verbose);
int cli_cmd_get_tree(struct cli *cli, struct cas *c, const char *digest, const char *out_dir);
int cli_cmd_serve(struct cli *cli, int argc, char **argv);

#endif
