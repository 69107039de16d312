/* kernels/kernel_main.c - udcs-kernel: the program kernel units run on agents, and what
 * agents ask to learn which devices they offer (docs/KERNELS.md).
 *
 *   udcs-kernel --version
 *   udcs-kernel --opencl-device | --cuda-device     the device class, "opencl ..." / "cuda ..."
 *   udcs-kernel devices                             both APIs, or why each is missing
 *   udcs-kernel compile SOURCE --api opencl|cuda --entry NAME [--options TEXT]
 *               [--range-space DIMS:G0,G1,G2:L0,L1,L2] -o PROGRAM
 *   udcs-kernel run LAUNCH.json
 *   udcs-kernel merge MERGE.json
 * Exit status: 0 done, 1 failed (no device, a kernel that does not compile or fails),
 * 2 bad usage. */
#include "common/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/sanitizer.h"
#include "kernels/kernel_exec.h"
#include "kernels/kernel_job.h"
#include "kernels/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2
#define SOURCE_MAX_BYTES (16u << 20)
#define PROGRAM_MAX_BYTES (1u << 30)
#define LOG_MAX_BYTES (4u << 20)

UDCS_LSAN_WITHOUT_TLS

static void usage(FILE *out)
{
    fprintf(out,
            "usage: udcs-kernel COMMAND ... | --version\n"
            "\n"
            "  --opencl-device, --cuda-device     print the device class this machine offers\n"
            "                                     for the API (exit 1 with the reason if none)\n"
            "  devices                            both APIs: the device, or why there is none\n"
            "  compile SOURCE --api opencl|cuda --entry NAME [--options TEXT]\n"
            "          [--range-space DIMS:G0,G1,G2:L0,L1,L2] -o PROGRAM\n"
            "                                     build SOURCE for this device (the log on\n"
            "                                     stderr); --range-space: to run in ranges\n"
            "                                     of that index space\n"
            "  run LAUNCH.json                    run a launch description in this directory\n"
            "  merge MERGE.json                   merge the patches of range units\n"
            "\n"
            "Environment: UDCS_OPENCL_DEVICE=P:D and UDCS_CUDA_DEVICE=N choose a device.\n"
            "Exit status: 0 done, 1 failed, 2 bad usage.\n");
}

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "udcs-kernel: %s%s%s\n", what, *why ? ": " : "", why);
    return UDCS_EXIT_FAILED;
}

static int parse_api(const char *text, enum kernel_api *api)
{
    if (text && strcmp(text, "opencl") == 0)
        *api = KERNEL_API_OPENCL;
    else if (text && strcmp(text, "cuda") == 0)
        *api = KERNEL_API_CUDA;
    else
        return -1;
    return 0;
}

static int print_device(enum kernel_api api)
{
    char why[1024] = "";
    struct kernel_device *d;
    if (kernel_device_open(api, &d, why, sizeof(why)) < 0) {
        fprintf(stderr, "udcs-kernel: no %s device: %s\n", kernel_api_name(api), why);
        return UDCS_EXIT_FAILED;
    }
    printf("%s\n", kernel_device_class(d));
    kernel_device_close(d);
    return udcs_cli_finish(UDCS_EXIT_OK);
}

static int cmd_devices(void)
{
    enum kernel_api apis[] = { KERNEL_API_OPENCL, KERNEL_API_CUDA };
    for (size_t i = 0; i < 2; i++) {
        char why[1024] = "";
        struct kernel_device *d;
        if (kernel_device_open(apis[i], &d, why, sizeof(why)) < 0) {
            printf("%-7s none: %s\n", kernel_api_name(apis[i]), why);
            continue;
        }
        printf("%-7s %s\n", kernel_api_name(apis[i]), kernel_device_class(d));
        kernel_device_close(d);
    }
    return udcs_cli_finish(UDCS_EXIT_OK);
}

/* "DIMS:G0,G1,G2:L0,L1,L2" */
static int parse_space(const char *text, struct kernel_ndrange *nd)
{
    unsigned long long v[7];
    char tail;
    if (sscanf(text, "%llu:%llu,%llu,%llu:%llu,%llu,%llu%c", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &tail) != 7 || v[0] < 1 || v[0] > 3)
        return -1;
    nd->dims = (unsigned)v[0];
    for (int d = 0; d < 3; d++) {
        nd->global[d] = (size_t)v[1 + d];
        nd->local[d] = (size_t)v[4 + d];
        if (!nd->global[d])
            return -1;
    }
    return 0;
}

static int cmd_compile(int argc, char **argv)
{
    const char *source = NULL, *api_text = NULL, *entry = NULL, *options = NULL,
               *space = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--api") == 0       ? &api_text
                            : strcmp(argv[i], "--entry") == 0   ? &entry
                            : strcmp(argv[i], "--options") == 0 ? &options
                            : strcmp(argv[i], "--range-space") == 0 ? &space
                            : strcmp(argv[i], "-o") == 0        ? &out
                                                                : NULL;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else if (!slot && argv[i][0] != '-' && !source) {
            source = argv[i];
        } else {
            fprintf(stderr, "udcs-kernel compile: %s '%s'\n",
                    slot ? "missing value after" : "unexpected argument", argv[i]);
            return EXIT_USAGE;
        }
    }
    enum kernel_api api;
    struct kernel_ndrange nd;
    if (!source || !entry || !out || parse_api(api_text, &api) < 0 ||
        (space && parse_space(space, &nd) < 0)) {
        fprintf(stderr, "udcs-kernel compile: needs SOURCE --api opencl|cuda --entry NAME -o "
                "PROGRAM (and --range-space DIMS:G0,G1,G2:L0,L1,L2 if given)\n");
        return EXIT_USAGE;
    }
    struct udcs_buf text = UDCS_BUF_INIT(SOURCE_MAX_BYTES + (1u << 16));
    struct udcs_buf program = UDCS_BUF_INIT(PROGRAM_MAX_BYTES), log = UDCS_BUF_INIT(LOG_MAX_BYTES);
    struct udcs_buf file = UDCS_BUF_INIT(SOURCE_MAX_BYTES);
    struct kernel_device *d = NULL;
    char why[8192] = "";
    int rc = udcs_read_file(source, &file);
    if (rc < 0)
        snprintf(why, sizeof(why), "cannot read %s: %s", source, udcs_strerror(rc));
    if (rc == 0 && space)
        rc = kernel_range_prelude(api, &nd, &text);
    if (rc == 0)
        rc = udcs_buf_append(&text, file.data, file.len);
    if (rc == 0)
        rc = kernel_device_open(api, &d, why, sizeof(why));
    if (rc == 0)
        rc = kernel_check_pinned_device(d, why, sizeof(why));
    if (rc == 0)
        rc = kernel_build(d, text.data, text.len, options, entry, &program, &log, why,
                          sizeof(why));
    if (log.len)
        fprintf(stderr, "%.*s%s", (int)log.len, log.data,
                log.data[log.len - 1] == '\n' ? "" : "\n");
    if (rc == 0)
        rc = udcs_write_atomic(out, program.data, program.len, 0644);
    if (rc < 0 && !*why)
        snprintf(why, sizeof(why), "%s", udcs_strerror(rc));
    kernel_device_close(d);
    udcs_buf_release(&text);
    udcs_buf_release(&file);
    udcs_buf_release(&program);
    udcs_buf_release(&log);
    return rc < 0 ? fail("compile", why) : UDCS_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : UDCS_EXIT_OK;
    }
    const char *cmd = argv[1];
    char why[8192] = "";
    if (strcmp(cmd, "--version") == 0) {
        printf("udcs-kernel %s (OpenCL through libOpenCL.so.1, CUDA through libcuda.so.1 and "
               "NVRTC, both loaded at run time)\n", UDCS_VERSION);
        return udcs_cli_finish(UDCS_EXIT_OK);
    }
    if (strcmp(cmd, "--opencl-device") == 0 || strcmp(cmd, "--cuda-device") == 0)
        return argc == 2 ? print_device(cmd[2] == 'o' ? KERNEL_API_OPENCL : KERNEL_API_CUDA)
                         : EXIT_USAGE;
    if (strcmp(cmd, "devices") == 0)
        return argc == 2 ? cmd_devices() : EXIT_USAGE;
    if (strcmp(cmd, "compile") == 0)
        return cmd_compile(argc - 2, argv + 2);
    if ((strcmp(cmd, "run") == 0 || strcmp(cmd, "merge") == 0) && argc == 3) {
        int rc = cmd[0] == 'r' ? kernel_exec_run(argv[2], why, sizeof(why))
                               : kernel_exec_merge(argv[2], why, sizeof(why));
        return rc < 0 ? fail(cmd, why) : UDCS_EXIT_OK;
    }
    fprintf(stderr, "udcs-kernel: unknown command or arguments '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
