/* agents/detect_main.c - udcs-detect: print what the agent would report about this
 * machine (agents/detect.h) as pretty JSON, so detection can be tried on any machine
 * without a farm. Takes the agent's manual capability flags. */
#include "agents/detect.h"
#include "common/err.h"
#include "common/log.h"
#include "common/units.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
/* Enough digits for two-decimal sizes and loads, few enough to hide binary noise
 * (jansson's default of 17 prints 0.52 as 0.52000000000000002). */
#define DETECT_REAL_PRECISION 12

static void usage(FILE *to)
{
    fprintf(to,
            "usage: udcs-detect [--cpu-cores N] [--ram SIZE] [--gpu-cuda] [--gpu-memory SIZE]\n"
            "                   [--refresh] [-v]\n"
            "Print, as JSON, the hardware and toolchains a UDCS agent on this machine would\n"
            "report to the farm.\n"
            "  --cpu-cores N      report N CPU cores instead of those online\n"
            "  --ram SIZE         report SIZE of memory (e.g. 32GB, 8G, 1.5GiB)\n"
            "  --gpu-cuda         claim one CUDA GPU even if none is detected\n"
            "  --gpu-memory SIZE  memory of the claimed GPU (or of each detected one)\n"
            "  --refresh          also run the heartbeat refresh once, as the agent does\n"
            "  -v, --verbose      log what detection tries and skips\n");
}

/* A SIZE flag's value in GiB. Returns 0 or UDCS_EUSAGE (logged). */
static int parse_gib(const char *flag, const char *text, double *out)
{
    uint64_t bytes;
    if (!text || udcs_size_parse(text, &bytes) < 0 || bytes == 0) {
        udcs_log_error("%s needs a size above zero such as 32GB or 8G, not '%s'", flag,
                       text ? text : "");
        return UDCS_EUSAGE;
    }
    *out = (double)bytes / (double)(1ull << 30);
    return 0;
}

static int parse_cores(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || errno || end == text || *end || v <= 0 || v > INT_MAX) {
        udcs_log_error("--cpu-cores needs a whole number above zero, not '%s'", text ? text : "");
        return UDCS_EUSAGE;
    }
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct agent_overrides ov = { 0 };
    int refresh = 0;
    udcs_log_init("udcs-detect", UDCS_LOG_WARN, UDCS_LOG_STYLE_CLI);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--cpu-cores") == 0) {
            rc = parse_cores(value, &ov.cpu_cores);
            i++;
        } else if (strcmp(a, "--ram") == 0) {
            rc = parse_gib(a, value, &ov.ram_gb);
            i++;
        } else if (strcmp(a, "--gpu-memory") == 0) {
            rc = parse_gib(a, value, &ov.gpu_memory_gb);
            i++;
        } else if (strcmp(a, "--gpu-cuda") == 0) {
            ov.gpu_cuda = 1;
        } else if (strcmp(a, "--refresh") == 0) {
            refresh = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            udcs_log_set_level(UDCS_LOG_DEBUG);
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else {
            udcs_log_error("unknown argument '%s'", a);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (rc < 0)
            return EXIT_USAGE;
    }

    json_t *info = NULL;
    int rc = agent_detect(&ov, &info);
    if (rc == 0 && refresh)
        rc = agent_detect_refresh(info);
    if (rc < 0) {
        udcs_log_error("detection failed: %s", udcs_strerror(rc));
        json_decref(info);
        return EXIT_FAILED;
    }
    char *text = json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS |
                                      JSON_REAL_PRECISION(DETECT_REAL_PRECISION));
    json_decref(info);
    if (!text) {
        udcs_log_error("out of memory while printing the result");
        return EXIT_FAILED;
    }
    int ok = puts(text) >= 0 && fflush(stdout) == 0;
    free(text);
    if (!ok) {
        udcs_log_error("cannot write to standard output: %s", strerror(errno));
        return EXIT_FAILED;
    }
    return EXIT_OK;
}
