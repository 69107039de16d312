/* ci/ci_main.c - `udcs ci`: picks the subcommand and opens the local store for the ones
 * that need it. The subcommands live in ci_step.c, ci_affected.c, ci_bundle.c and
 * ci_report.c. */
#include "ci/ci.h"
#include "ci/ci_internal.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "farm/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ci_usage(FILE *out)
{
    fputs("usage: udcs ci SUBCOMMAND ...   (docs/CI.md)\n"
          "  step --name NAME --inputs PATHSPEC... --outputs PATH... [--env VAR]...\n"
          "       [--toolchain NAME]... [--cache-url URL [--cache-token-file F]] [--remote]\n"
          "       -- CMD ARGS          run CMD, or replay its outputs, stdout, stderr and\n"
          "                            exit status when the git trees of its inputs, the\n"
          "                            command, the environment and toolchains are as before\n"
          "  affected --base REF [--head REF] [--steps FILE] [--json]\n"
          "                            the steps whose inputs differ between two commits\n"
          "  cache export FILE [--used] | cache import FILE\n"
          "                            the local store as one .tar.zst (verified on import)\n"
          "  report [--junit FILE] [--json FILE]\n"
          "                            the steps run, as JUnit XML and JSON\n",
          out);
}

int ci_main(struct client *c, int argc, char **argv)
{
    const char *cache_dir = udcs_config_str(&c->cfg, "cache_dir");
    if (argc < 1) {
        udcs_log_error("ci: a subcommand is needed: step, affected, cache, report "
                       "('udcs ci help'; docs/CI.md)");
        return UDCS_EXIT_USAGE;
    }
    if (strcmp(argv[0], "help") == 0) {
        ci_usage(stdout);
        return UDCS_EXIT_OK;
    }
    if (strcmp(argv[0], "step") == 0) {
        /* `step --remote` starts `udcs run`, which must reach the same farm and store
         * however this process was told of them (flag, environment or file): they go
         * into that child's environment only, never a local command's. */
        static const char *const pass[][2] = { { "farm", "UDCS_FARM" },
                                               { "token", "UDCS_TOKEN" },
                                               { "token_file", "UDCS_TOKEN_FILE" },
                                               { "cache_dir", "UDCS_CACHE_DIR" } };
        char *farm_env[sizeof(pass) / sizeof(pass[0]) + 1] = { NULL };
        size_t n = 0;
        for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
            const char *v = udcs_config_str(&c->cfg, pass[i][0]);
            if (v && asprintf(&farm_env[n], "%s=%s", pass[i][1], v) >= 0)
                n++;
        }
        int status = ci_cmd_step(cache_dir, farm_env, argc - 1, argv + 1);
        for (size_t i = 0; i < n; i++)
            free(farm_env[i]);
        git_libgit2_shutdown();
        return status;
    }
    if (strcmp(argv[0], "affected") == 0) {
        int status = ci_cmd_affected(cache_dir, argc - 1, argv + 1);
        git_libgit2_shutdown();
        return status;
    }
    if (strcmp(argv[0], "report") == 0)
        return ci_cmd_report(cache_dir, argc - 1, argv + 1);
    if (strcmp(argv[0], "cache") == 0)
        return ci_cmd_cache(cache_dir, argc - 1, argv + 1);
    udcs_log_error("ci: unknown subcommand '%s'; subcommands are step, affected, cache, "
                   "report ('udcs ci help'; docs/CI.md)", argv[0]);
    return UDCS_EXIT_USAGE;
}
