/* common/cli.c - the start of every main(); see cli.h. */
#include "common/cli.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int udcs_cli_parse(struct udcs_cli *cli, struct udcs_config *cfg, int argc, char **argv)
{
    int want_help = 0, want_version = 0, print_config = 0;
    cli->n_rest = 0;
    cli->rest = calloc((size_t)argc + 1, sizeof(*cli->rest));
    if (!cli->rest)
        return -ENOMEM;
    for (int i = 1; i < argc;) {
        if (strcmp(argv[i], "--") == 0) {
            /* what follows belongs to a command the program runs: hand it over as it is */
            while (i < argc)
                cli->rest[cli->n_rest++] = argv[i++];
            break;
        }
        int taken = udcs_config_take_flag(cfg, argc, argv, &i);
        if (taken < 0)
            return UDCS_EUSAGE;
        if (taken)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            want_help = 1;
        else if (strcmp(argv[i], "--version") == 0)
            want_version = 1;
        else if (strcmp(argv[i], "--print-config") == 0)
            print_config = 1;
        else
            cli->rest[cli->n_rest++] = argv[i];
        i++;
    }
    if (want_help) {
        cli->usage(stdout, cfg);
        return 0;
    }
    if (want_version) {
        printf("%s %s\n", cli->program, UDCS_VERSION);
        return 0;
    }
    if (udcs_config_load(cfg) < 0)
        return UDCS_EUSAGE;
    enum udcs_log_level level;
    const char *text = udcs_config_str(cfg, "log_level");
    if (udcs_log_level_parse(text, &level) < 0) {
        udcs_log_error("log level '%s' is not one of error, warn, info, debug", text);
        return UDCS_EUSAGE;
    }
    udcs_log_set_level(level);
    if (print_config) {
        udcs_config_print(cfg, stdout);
        return 0;
    }
    return 1;
}

int udcs_cli_finish(int status)
{
    if (fflush(stdout) != 0 && status == UDCS_EXIT_OK) {
        udcs_log_error("writing standard output failed: %s", strerror(errno));
        return UDCS_EXIT_FAILED;
    }
    return status;
}

int udcs_cli_refuse_rest(const struct udcs_cli *cli)
{
    if (cli->n_rest == 0)
        return 0;
    const char *arg = cli->rest[0];
    udcs_log_error("%s '%s'; see '%s --help'",
                   arg[0] == '-' && arg[1] ? "unknown option" : "unexpected argument", arg,
                   cli->program);
    return UDCS_EUSAGE;
}
