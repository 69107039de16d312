/* kernels/runtime_cuda.c - the CUDA back end of runtime.h: the driver API (libcuda.so.1,
 * loaded by cuda_api.c) and NVRTC (libnvrtc.so*, loaded here), both dlopen()ed on first
 * use. Sources are compiled by NVRTC for the device's own architecture (a cubin), or as
 * PTX the driver finishes when NVRTC is older than the GPU; launches run in the device's
 * primary context. Only the few NVRTC names used here are declared, from NVIDIA's
 * documented nvrtc.h. Checks of arguments and the program blob's format are
 * runtime.c's. */
#include "kernels/cuda_api.h"
#include "kernels/runtime_internal.h"
#include "common/err.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- NVRTC, as documented (nvrtc.h) -------------------------------------------------- */

typedef int nvrtcResult;
typedef struct _nvrtcProgram *nvrtcProgram;
#define NVRTC_SUCCESS 0
#define NVRTC_ERROR_OUT_OF_MEMORY 1
#define NVRTC_ERROR_INVALID_OPTION 5
#define NVRTC_ERROR_COMPILATION 6

/* NVRTC's soname carries its major version (11.2 for all of 11.x); the unversioned name
 * exists where the development package is installed. CUDA's own directory is tried last
 * for installations that do not register it with ld.so. */
static const char *const nvrtc_libraries[] = {
    "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2",
    "/usr/local/cuda/lib64/libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so.13",
    "/usr/local/cuda/lib64/libnvrtc.so.12", "/usr/local/cuda/lib64/libnvrtc.so.11.2",
};
#define CUDA_DEVICE_ENV "UDCS_CUDA_DEVICE"
/* cuDeviceGetName's buffer; NVIDIA's own tools use 256. */
#define CUDA_NAME_BYTES 256
/* The range prelude's offset (kernel_range_prelude()): three unsigned ints. */
#define RANGE_OFFSET_SYMBOL "udcs_range_block_offset"
/* Architectures NVRTC may list (nvrtcGetSupportedArchs); about 20 in CUDA 12. */
#define NVRTC_MAX_ARCHS 128
/* Options given to NVRTC: the caller's, split at spaces, and ours. */
#define NVRTC_MAX_OPTIONS 64
/* A kernel's parameters: CUDA passes at most 32 KiB of them, so 8192 4-byte ones. */
#define CUDA_MAX_PARAMS 8192

/* Whether CUDA is usable, and NVRTC's functions: process-wide like the driver's own
 * state, filled once, never dlclose()d. The driver's functions are kern_cu's. */
static struct {
    int usable;                 /* the driver (cuda_api.h) and NVRTC loaded */
    char error[320];            /* why not */
    int nvrtc_major, nvrtc_minor;
    nvrtcResult (*nvrtc_version)(int *major, int *minor);
    nvrtcResult (*nvrtc_create_program)(nvrtcProgram *prog, const char *src, const char *name,
                                        int n_headers, const char *const *headers,
                                        const char *const *include_names);
    nvrtcResult (*nvrtc_destroy_program)(nvrtcProgram *prog);
    nvrtcResult (*nvrtc_add_name_expression)(nvrtcProgram prog, const char *const expr);
    nvrtcResult (*nvrtc_compile_program)(nvrtcProgram prog, int n_options,
                                         const char *const *options);
    nvrtcResult (*nvrtc_get_lowered_name)(nvrtcProgram prog, const char *const expr,
                                          const char **lowered);
    nvrtcResult (*nvrtc_get_program_log_size)(nvrtcProgram prog, size_t *bytes);
    nvrtcResult (*nvrtc_get_program_log)(nvrtcProgram prog, char *log);
    nvrtcResult (*nvrtc_get_ptx_size)(nvrtcProgram prog, size_t *bytes);
    nvrtcResult (*nvrtc_get_ptx)(nvrtcProgram prog, char *ptx);
    const char *(*nvrtc_get_error_string)(nvrtcResult err);
    /* Optional: cubins (NVRTC 11.1) and the architecture list (NVRTC 11.2). */
    nvrtcResult (*nvrtc_get_cubin_size)(nvrtcProgram prog, size_t *bytes);
    nvrtcResult (*nvrtc_get_cubin)(nvrtcProgram prog, char *cubin);
    nvrtcResult (*nvrtc_get_num_supported_archs)(int *count);
    nvrtcResult (*nvrtc_get_supported_archs)(int *archs);
} cu;
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;

struct kernel_cu_device {
    CUdevice device;
    CUcontext context;          /* the primary context, retained while open */
    int arch;                   /* compute capability as 10 * major + minor: 90 */
};

#define LOAD_SYMBOL(lib, field, name) ((field) = (__typeof__(field))dlsym((lib), (name)))

static const char *nvrtc_error_name(nvrtcResult err)
{
    const char *name = cu.nvrtc_get_error_string ? cu.nvrtc_get_error_string(err) : NULL;
    return name ? name : "unknown NVRTC error";
}

/* ---- loading ------------------------------------------------------------------------- */

static int nvrtc_load(void)
{
    void *lib = NULL;
    for (size_t i = 0; !lib && i < sizeof(nvrtc_libraries) / sizeof(nvrtc_libraries[0]); i++)
        lib = dlopen(nvrtc_libraries[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(cu.error, sizeof(cu.error), "a CUDA driver but no NVRTC (libnvrtc.so, .so.13, "
                 ".so.12 or .so.11.2, also under /usr/local/cuda/lib64): install CUDA's "
                 "cuda-nvrtc package");
        return -1;
    }
    LOAD_SYMBOL(lib, cu.nvrtc_get_cubin_size, "nvrtcGetCUBINSize");
    LOAD_SYMBOL(lib, cu.nvrtc_get_cubin, "nvrtcGetCUBIN");
    LOAD_SYMBOL(lib, cu.nvrtc_get_num_supported_archs, "nvrtcGetNumSupportedArchs");
    LOAD_SYMBOL(lib, cu.nvrtc_get_supported_archs, "nvrtcGetSupportedArchs");
    if (!LOAD_SYMBOL(lib, cu.nvrtc_version, "nvrtcVersion") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_create_program, "nvrtcCreateProgram") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_destroy_program, "nvrtcDestroyProgram") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_add_name_expression, "nvrtcAddNameExpression") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_compile_program, "nvrtcCompileProgram") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_get_lowered_name, "nvrtcGetLoweredName") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_get_program_log_size, "nvrtcGetProgramLogSize") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_get_program_log, "nvrtcGetProgramLog") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_get_ptx_size, "nvrtcGetPTXSize") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_get_ptx, "nvrtcGetPTX") ||
        !LOAD_SYMBOL(lib, cu.nvrtc_get_error_string, "nvrtcGetErrorString")) {
        snprintf(cu.error, sizeof(cu.error), "NVRTC lacks a function kernels need (%s): it "
                 "is older than CUDA 8 or damaged", dlerror());
        return -1;
    }
    if (cu.nvrtc_version(&cu.nvrtc_major, &cu.nvrtc_minor) != NVRTC_SUCCESS) {
        snprintf(cu.error, sizeof(cu.error), "nvrtcVersion failed: NVRTC is damaged");
        return -1;
    }
    return 0;
}

static void cu_load(void)
{
    const char *why;
    int rc = kern_cuda_load(&why);
    if (rc < 0) {
        snprintf(cu.error, sizeof(cu.error), "%s%s", why,
                 rc == -ENOENT ? ", or use OpenCL" : "");
        return;
    }
    if (nvrtc_load() == 0)
        cu.usable = 1;
}

static int cu_available(char *why, size_t why_len)
{
    int count = 0;
    pthread_once(&cu_once, cu_load);
    if (!cu.usable) {
        kernel_fail(0, why, why_len, "%s", cu.error);
        return 0;
    }
    if (kern_cu->device_get_count(&count) != CUDA_SUCCESS || count == 0) {
        kernel_fail(0, why, why_len, "the CUDA driver sees no GPU");
        return 0;
    }
    return 1;
}

/* ---- opening a device ---------------------------------------------------------------- */

/* The ordinal UDCS_CUDA_DEVICE names, else 0. */
static int ordinal_get(int count, int *out, char *why, size_t why_len)
{
    const char *spec = getenv(CUDA_DEVICE_ENV);
    *out = 0;
    if (spec && *spec) {
        char extra;
        if (sscanf(spec, "%d%c", out, &extra) != 1 || *out < 0)
            return kernel_fail(UDCS_EUSAGE, why, why_len, "%s='%s' is not a GPU ordinal "
                               "(0, 1, ...)", CUDA_DEVICE_ENV, spec);
    }
    if (*out >= count)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "%s=%d: the CUDA driver sees %d GPUs",
                           CUDA_DEVICE_ENV, *out, count);
    return 0;
}

static int cu_open(struct kernel_device *d, char *why, size_t why_len)
{
    int count = 0, ordinal, major = 0, minor = 0, version = 0;
    char name[CUDA_NAME_BYTES] = "";
    pthread_once(&cu_once, cu_load);
    if (!cu.usable)
        return kernel_fail(-ENOTSUP, why, why_len, "%s", cu.error);
    CUresult err = kern_cu->device_get_count(&count);
    if (err != CUDA_SUCCESS || count == 0)
        return kernel_fail(-ENOTSUP, why, why_len, "the CUDA driver sees no GPU (%s)",
                           kern_cuda_error_name(err));
    int rc = ordinal_get(count, &ordinal, why, why_len);
    if (rc < 0)
        return rc;
    struct kernel_cu_device *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return kernel_fail(-ENOMEM, why, why_len, "out of memory opening a CUDA device");
    err = kern_cu->device_get(&cd->device, ordinal);
    if (err == CUDA_SUCCESS)
        err = kern_cu->device_get_name(name, sizeof(name), cd->device);
    if (err == CUDA_SUCCESS)
        err = kern_cu->device_get_attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                            cd->device);
    if (err == CUDA_SUCCESS)
        err = kern_cu->device_get_attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                            cd->device);
    if (err == CUDA_SUCCESS)
        err = kern_cu->driver_get_version(&version);   /* 12040 for 12.4 */
    if (err == CUDA_SUCCESS)
        err = kern_cu->primary_ctx_retain(&cd->context, cd->device);
    if (err != CUDA_SUCCESS) {
        free(cd);
        return kernel_fail(err == CUDA_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EIO, why, why_len,
                           "CUDA GPU %d would not open: %s (%s)", ordinal,
                           kern_cuda_error_name(err), kern_cuda_error_text(err));
    }
    name[sizeof(name) - 1] = '\0';
    cd->arch = major * 10 + minor;
    char clean[CUDA_NAME_BYTES];
    kernel_text_clean(clean, sizeof(clean), name, strlen(name));
    snprintf(d->device_class, sizeof(d->device_class), "cuda %s sm_%d (driver %d.%d, NVRTC %d.%d)",
             clean, cd->arch, version / 1000, version % 1000 / 10, cu.nvrtc_major,
             cu.nvrtc_minor);
    d->cu = cd;
    return 0;
}

static void cu_close(struct kernel_device *d)
{
    struct kernel_cu_device *cd = d->cu;
    if (!cd)
        return;
    kern_cu->primary_ctx_release(cd->device);
    free(cd);
    d->cu = NULL;
}

/* Make the device's context the calling thread's (a handle may move between threads). */
static int context_enter(struct kernel_device *d, const char *entry, char *why, size_t why_len)
{
    CUresult err = kern_cu->ctx_set_current(d->cu->context);
    if (err != CUDA_SUCCESS)
        return kernel_fail(-EIO, why, why_len, "kernel %s: cuCtxSetCurrent failed: %s", entry,
                           kern_cuda_error_name(err));
    return 0;
}

/* ---- building ------------------------------------------------------------------------ */

/* The target for a device of architecture `arch`: its own (sm_XY, a cubin) when NVRTC
 * knows it, else PTX for the newest architecture NVRTC knows below it, which the driver
 * compiles when it loads the module. *is_cubin says which; -1 when NVRTC knows no
 * architecture this old or older. */
static int target_choose(int arch, int *target, int *is_cubin)
{
    int can_cubin = cu.nvrtc_get_cubin_size && cu.nvrtc_get_cubin;
    int n = 0, archs[NVRTC_MAX_ARCHS];
    *target = arch;
    *is_cubin = can_cubin;
    if (!cu.nvrtc_get_num_supported_archs || !cu.nvrtc_get_supported_archs ||
        cu.nvrtc_get_num_supported_archs(&n) != NVRTC_SUCCESS || n <= 0 ||
        n > NVRTC_MAX_ARCHS || cu.nvrtc_get_supported_archs(archs) != NVRTC_SUCCESS)
        return 0;   /* NVRTC before 11.2: try the device's own */
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (archs[i] == arch)
            return 0;
        if (archs[i] < arch && archs[i] > best)
            best = archs[i];
    }
    if (best < 0)
        return -1;
    *target = best;
    *is_cubin = 0;
    return 0;
}

/* Split the caller's options at spaces into `argv` (pointing into `copy`), then add the
 * architecture and -default-device unless given. *virtual_arch is set when the caller
 * names a virtual architecture (compute_XY), for which NVRTC makes PTX and no cubin.
 * Returns the count or -1 when too many. */
static int options_make(char *copy, const char *arch_option, const char **argv,
                        int *virtual_arch)
{
    int n = 0, has_arch = 0, has_default_device = 0;
    *virtual_arch = 0;
    for (char *save = NULL, *tok = strtok_r(copy, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save)) {
        if (n == NVRTC_MAX_OPTIONS - 2)
            return -1;
        if (strncmp(tok, "-arch", 5) == 0 || strncmp(tok, "--gpu-architecture", 18) == 0) {
            has_arch = 1;
            *virtual_arch = strstr(tok, "compute_") != NULL;
        }
        if (strcmp(tok, "-default-device") == 0 ||
            strcmp(tok, "--device-as-default-execution-space") == 0)
            has_default_device = 1;
        argv[n++] = tok;
    }
    if (!has_arch)
        argv[n++] = arch_option;
    if (!has_default_device)
        argv[n++] = "-default-device";   /* unmarked functions are device functions */
    return n;
}

static void program_log_get(nvrtcProgram prog, struct udcs_buf *log)
{
    size_t len = 0;
    if (cu.nvrtc_get_program_log_size(prog, &len) != NVRTC_SUCCESS || len <= 1)
        return;
    char *text = malloc(len);
    if (text && cu.nvrtc_get_program_log(prog, text) == NVRTC_SUCCESS)
        kernel_log_append(log, text, len);
    free(text);
}

/* The compiled code: a cubin, or PTX (its size counts the NUL, which is left out). Where a
 * cubin was asked for and NVRTC made none (a virtual architecture), the PTX, and
 * *is_cubin becomes 0. */
static int code_get(nvrtcProgram prog, int *is_cubin, char **out, size_t *len)
{
    nvrtcResult err = *is_cubin ? cu.nvrtc_get_cubin_size(prog, len)
                                : cu.nvrtc_get_ptx_size(prog, len);
    if (err != NVRTC_SUCCESS)
        return err;
    if (*is_cubin && *len == 0) {
        *is_cubin = 0;
        return code_get(prog, is_cubin, out, len);
    }
    if (*len == 0 || !(*out = malloc(*len)))
        return NVRTC_ERROR_OUT_OF_MEMORY;
    err = *is_cubin ? cu.nvrtc_get_cubin(prog, *out) : cu.nvrtc_get_ptx(prog, *out);
    if (err == NVRTC_SUCCESS && !*is_cubin && (*out)[*len - 1] == '\0')
        (*len)--;
    return err;
}

static int module_load(struct kernel_device *d, const struct kernel_program *prog,
                       const char *entry, CUmodule *mod, char *why, size_t why_len);

static int cu_build(struct kernel_device *d, const char *source, size_t len,
                    const char *options, const char *entry, struct udcs_buf *program,
                    struct udcs_buf *log, char *why, size_t why_len)
{
    int target, is_cubin;
    if (target_choose(d->cu->arch, &target, &is_cubin) < 0)
        return kernel_fail(-ENOTSUP, why, why_len, "NVRTC %d.%d compiles for no architecture "
                           "as old as sm_%d; use an NVRTC that matches the driver",
                           cu.nvrtc_major, cu.nvrtc_minor, d->cu->arch);
    char arch_option[48];
    snprintf(arch_option, sizeof(arch_option), "--gpu-architecture=%s_%d",
             is_cubin ? "sm" : "compute", target);
    char *src = malloc(len + 1), *opt_copy = strdup(options), *code = NULL;
    const char *argv[NVRTC_MAX_OPTIONS];
    nvrtcProgram nv = NULL;
    int rc = 0;
    if (!src || !opt_copy) {
        rc = kernel_fail(-ENOMEM, why, why_len, "kernel %s: out of memory", entry);
        goto out;
    }
    memcpy(src, source, len);   /* NVRTC reads a C string */
    src[len] = '\0';
    int virtual_arch;
    int argc = options_make(opt_copy, arch_option, argv, &virtual_arch);
    if (virtual_arch)
        is_cubin = 0;   /* the caller's compute_XY: PTX, which the driver finishes */
    if (argc < 0) {
        rc = kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: more than %d NVRTC options",
                         entry, NVRTC_MAX_OPTIONS - 2);
        goto out;
    }

    nvrtcResult err = cu.nvrtc_create_program(&nv, src, entry, 0, NULL, NULL);
    if (err == NVRTC_SUCCESS)
        /* Kernels are C++ functions to NVRTC: the name expression gives the entry's
         * symbol, mangled or (extern "C") not. */
        err = cu.nvrtc_add_name_expression(nv, entry);
    if (err != NVRTC_SUCCESS) {
        rc = kernel_fail(err == NVRTC_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EIO, why, why_len,
                         "kernel %s: NVRTC would not take the source: %s", entry,
                         nvrtc_error_name(err));
        goto out;
    }
    err = cu.nvrtc_compile_program(nv, argc, argv);
    size_t before = log->len;
    program_log_get(nv, log);
    if (err == NVRTC_ERROR_COMPILATION || err == NVRTC_ERROR_INVALID_OPTION) {
        char summary[1024];
        kernel_log_summary(log->data ? log->data + before : "", log->len - before, summary,
                           sizeof(summary));
        rc = kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s does not compile for %s (%s)%s%s",
                         entry, d->device_class, nvrtc_error_name(err), summary[0] ? ": " : "",
                         summary);
        goto out;
    }
    const char *lowered = NULL;
    if (err == NVRTC_SUCCESS)
        err = cu.nvrtc_get_lowered_name(nv, entry, &lowered);
    size_t code_len = 0;
    if (err == NVRTC_SUCCESS)
        err = code_get(nv, &is_cubin, &code, &code_len);
    if (err != NVRTC_SUCCESS || !lowered) {
        rc = kernel_fail(err == NVRTC_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EIO, why, why_len,
                         "kernel %s: NVRTC failed: %s", entry, nvrtc_error_name(err));
        goto out;
    }
    if (strlen(lowered) >= KERNEL_PROGRAM_NAME_BYTES) {
        rc = kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: its symbol has more than %d "
                         "characters", entry, KERNEL_PROGRAM_NAME_BYTES - 1);
        goto out;
    }
    rc = kernel_program_write(program, KERNEL_API_CUDA, is_cubin ? "cubin" : "ptx", entry,
                              lowered, d->device_class, code, code_len);
    if (rc < 0) {
        kernel_fail(rc, why, why_len, "kernel %s: its %zu-byte program does not fit the "
                    "buffer (%s)", entry, code_len, udcs_strerror(rc));
        goto out;
    }

    /* Load it once, as OpenCL's clCreateKernel does at build time: a PTX the driver
     * cannot take, or an entry that is no __global__ function, fails here. */
    struct kernel_program check = { .api = KERNEL_API_CUDA };
    CUmodule mod = NULL;
    CUfunction fn;
    snprintf(check.format, sizeof(check.format), "%s", is_cubin ? "cubin" : "ptx");
    check.payload = (const unsigned char *)code;
    check.payload_len = code_len;
    rc = module_load(d, &check, entry, &mod, why, why_len);
    CUresult cerr = rc == 0 ? kern_cu->module_get_function(&fn, mod, lowered) : CUDA_SUCCESS;
    if (rc == 0 && cerr != CUDA_SUCCESS)
        rc = kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: the program has no kernel %s "
                         "(%s): is it a __global__ function?", entry, lowered,
                         kern_cuda_error_name(cerr));
    if (mod)
        kern_cu->module_unload(mod);
    if (rc < 0)
        udcs_buf_reset(program);
out:
    if (nv)
        cu.nvrtc_destroy_program(&nv);
    free(code);
    free(opt_copy);
    free(src);
    return rc;
}

/* ---- launching ----------------------------------------------------------------------- */

/* Load the program's code into a module of the device's context. */
static int module_load(struct kernel_device *d, const struct kernel_program *prog,
                       const char *entry, CUmodule *mod, char *why, size_t why_len)
{
    int rc = context_enter(d, entry, why, why_len);
    if (rc < 0)
        return rc;
    /* A copy: PTX must end in a NUL, and a cubin is read as an aligned ELF image, which a
     * pointer into the middle of the blob is not. */
    char *image = malloc(prog->payload_len + 1);
    if (!image)
        return kernel_fail(-ENOMEM, why, why_len, "kernel %s: out of memory", entry);
    memcpy(image, prog->payload, prog->payload_len);
    image[prog->payload_len] = '\0';
    CUresult err = kern_cu->module_load_data(mod, image);
    free(image);
    if (err == CUDA_SUCCESS)
        return 0;
    *mod = NULL;
    if (err == CUDA_ERROR_UNSUPPORTED_PTX_VERSION)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: the driver cannot load PTX "
                           "from NVRTC %d.%d (%s): use an NVRTC no newer than the driver",
                           entry, cu.nvrtc_major, cu.nvrtc_minor, kern_cuda_error_name(err));
    if (err == CUDA_ERROR_INVALID_IMAGE || err == CUDA_ERROR_NO_BINARY_FOR_GPU ||
        err == CUDA_ERROR_INVALID_PTX)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: its %s does not load on %s: "
                           "%s", entry, prog->format, d->device_class, kern_cuda_error_name(err));
    return kernel_fail(err == CUDA_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EIO, why, why_len,
                       "kernel %s: cuModuleLoadData failed: %s (%s)", entry,
                       kern_cuda_error_name(err), kern_cuda_error_text(err));
}

/* What one launch holds, released by launch_release() on every path. */
struct cu_launch {
    CUmodule module;
    CUfunction function;
    CUdeviceptr *ptrs;
    void **params;
    size_t n;
};

static void launch_release(struct cu_launch *l)
{
    for (size_t i = 0; l->ptrs && i < l->n; i++)
        if (l->ptrs[i])
            kern_cu->mem_free(l->ptrs[i]);
    free(l->ptrs);
    free(l->params);
    if (l->module)
        kern_cu->module_unload(l->module);
}

/* The kernel's parameters against the arguments, where the driver says (12.4 and later:
 * cuFuncGetParamInfo); older drivers cannot, and a wrong count is then the caller's. */
static int params_check(const char *entry, const struct kernel_arg *args, size_t n_args,
                        CUfunction fn, char *why, size_t why_len)
{
    if (!kern_cu->func_get_param_info)
        return 0;
    size_t n = 0, offset, bytes;
    while (n < CUDA_MAX_PARAMS &&
           kern_cu->func_get_param_info(fn, n, &offset, &bytes) == CUDA_SUCCESS)
        n++;
    if (n != n_args)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s takes %zu arguments, %zu given",
                           entry, n, n_args);
    for (size_t i = 0; i < n_args; i++) {
        const struct kernel_arg *a = &args[i];
        size_t want = a->kind == KERNEL_ARG_BUFFER ? sizeof(CUdeviceptr) : a->bytes;
        if (kern_cu->func_get_param_info(fn, i, &offset, &bytes) == CUDA_SUCCESS && bytes != want)
            return kernel_arg_fail(UDCS_EUSAGE, why, why_len, entry, i, a,
                                   "the parameter takes %zu bytes, and a %s of %zu is given",
                                   bytes, a->kind == KERNEL_ARG_BUFFER ? "pointer" : "scalar",
                                   want);
    }
    return 0;
}

static int launch_set_args(const char *entry, const struct kernel_arg *args, size_t n_args,
                           struct cu_launch *l, char *why, size_t why_len)
{
    for (size_t i = 0; i < n_args; i++)
        if (args[i].kind == KERNEL_ARG_LOCAL)
            return kernel_arg_fail(UDCS_EUSAGE, why, why_len, entry, i, &args[i],
                                   "CUDA kernels take no __local arguments: declare a "
                                   "__shared__ array in the kernel");
    int rc = params_check(entry, args, n_args, l->function, why, why_len);
    if (rc < 0)
        return rc;
    l->n = n_args;
    if (n_args && (!(l->ptrs = calloc(n_args, sizeof(*l->ptrs))) ||
                   !(l->params = calloc(n_args, sizeof(*l->params)))))
        return kernel_fail(-ENOMEM, why, why_len, "kernel %s: out of memory", entry);
    for (size_t i = 0; i < n_args; i++) {
        const struct kernel_arg *a = &args[i];
        if (a->kind == KERNEL_ARG_SCALAR) {
            l->params[i] = a->data;
            continue;
        }
        /* No empty allocations: an empty array gets one byte nobody reads. */
        CUdeviceptr ptr = 0;
        CUresult err = kern_cu->mem_alloc(&ptr, a->bytes ? a->bytes : 1);
        if (err == CUDA_SUCCESS) {
            l->ptrs[i] = ptr;   /* launch_release() frees it from here on */
            if (a->bytes)
                err = kern_cu->memcpy_htod(ptr, a->data, a->bytes);
        }
        if (err != CUDA_SUCCESS)
            return kernel_arg_fail(err == CUDA_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EIO, why,
                                   why_len, entry, i, a, "copying %zu bytes to the GPU "
                                   "failed: %s", a->bytes, kern_cuda_error_name(err));
        l->params[i] = &l->ptrs[i];
    }
    return 0;
}

/* Set the range prelude's block offset (zeros for a whole launch, as loaded). */
static int range_offset_set(const char *entry, const struct kernel_space *s,
                            struct cu_launch *l, char *why, size_t why_len)
{
    CUdeviceptr ptr;
    size_t bytes = 0;
    unsigned int offset[3];
    CUresult err = kern_cu->module_get_global(&ptr, &bytes, l->module, RANGE_OFFSET_SYMBOL);
    if (err == CUDA_ERROR_NOT_FOUND)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s runs in ranges but was not "
                           "built with kernel_range_prelude() (no %s): its blockIdx would "
                           "count from the range", entry, RANGE_OFFSET_SYMBOL);
    if (err == CUDA_SUCCESS && bytes != sizeof(offset))
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: %s has %zu bytes, not %zu: "
                           "use kernel_range_prelude() as it is", entry, RANGE_OFFSET_SYMBOL,
                           bytes, sizeof(offset));
    for (int d = 0; d < 3; d++)
        offset[d] = (unsigned int)(s->offset[d] / s->local[d]);
    if (err == CUDA_SUCCESS)
        err = kern_cu->memcpy_htod(ptr, offset, sizeof(offset));
    if (err != CUDA_SUCCESS)
        return kernel_fail(-EIO, why, why_len, "kernel %s: setting its range offset failed: %s",
                           entry, kern_cuda_error_name(err));
    return 0;
}

/* The grid and block of the launch. CUDA runs whole blocks only, so the space must be
 * made of them. */
static int grid_get(const char *entry, const struct kernel_space *s, unsigned int grid[3],
                    unsigned int block[3], char *why, size_t why_len)
{
    if (!s->has_local)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: CUDA needs a block size "
                           "(local[0] is 0)", entry);
    for (int d = 0; d < 3; d++) {
        if (s->full_global[d] % s->local[d] != 0)
            return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: global size %zu in "
                               "dimension %d is not a multiple of the block size %zu: round "
                               "it up (kernels guard their index)", entry, s->full_global[d],
                               d, s->local[d]);
        size_t blocks = s->global[d] / s->local[d];
        if (blocks > UINT32_MAX || s->local[d] > UINT32_MAX ||
            s->full_global[d] / s->local[d] > UINT32_MAX)
            return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s: %zu blocks of %zu in "
                               "dimension %d are more than CUDA counts", entry, blocks,
                               s->local[d], d);
        grid[d] = (unsigned int)blocks;
        block[d] = (unsigned int)s->local[d];
    }
    return 0;
}

static int launch_run(struct kernel_device *d, const char *entry,
                      const struct kernel_arg *args, size_t n_args,
                      const struct kernel_space *s, struct cu_launch *l, char *why,
                      size_t why_len)
{
    unsigned int grid[3], block[3];
    int rc = grid_get(entry, s, grid, block, why, why_len);
    if (rc == 0 && s->is_range)
        rc = range_offset_set(entry, s, l, why, why_len);
    if (rc < 0)
        return rc;
    CUresult err = kern_cu->launch_kernel(l->function, grid[0], grid[1], grid[2], block[0],
                                          block[1], block[2], 0, NULL, l->params, NULL);
    if (err != CUDA_SUCCESS)
        return kernel_fail(err == CUDA_ERROR_INVALID_VALUE ||
                                   err == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES ? UDCS_EUSAGE : -EIO,
                           why, why_len, "kernel %s: %s refused the launch of %u x %u x %u "
                           "blocks of %u x %u x %u: %s (%s)", entry, d->device_class, grid[0],
                           grid[1], grid[2], block[0], block[1], block[2],
                           kern_cuda_error_name(err), kern_cuda_error_text(err));
    err = kern_cu->ctx_synchronize();
    if (err != CUDA_SUCCESS)
        return kernel_fail(-EIO, why, why_len, "kernel %s failed while running: %s (%s); after "
                           "such an error the CUDA context may be unusable: close the device",
                           entry, kern_cuda_error_name(err), kern_cuda_error_text(err));
    for (size_t i = 0; i < n_args; i++) {
        const struct kernel_arg *a = &args[i];
        if (a->kind != KERNEL_ARG_BUFFER || !a->writable || a->bytes == 0)
            continue;
        err = kern_cu->memcpy_dtoh(a->data, l->ptrs[i], a->bytes);
        if (err != CUDA_SUCCESS)
            return kernel_arg_fail(-EIO, why, why_len, entry, i, a,
                                   "reading the result back failed: %s",
                                   kern_cuda_error_name(err));
    }
    return 0;
}

static int cu_launch(struct kernel_device *d, const struct kernel_program *prog,
                     const char *entry, const struct kernel_arg *args, size_t n_args,
                     const struct kernel_space *space, char *why, size_t why_len)
{
    struct cu_launch l = { 0 };
    /* The build's symbol for its entry; another kernel of the program by its own name
     * (extern "C" kernels have no other). */
    const char *symbol = strcmp(entry, prog->entry) == 0 ? prog->symbol : entry;
    int rc = module_load(d, prog, entry, &l.module, why, why_len);
    if (rc == 0) {
        CUresult err = kern_cu->module_get_function(&l.function, l.module, symbol);
        if (err != CUDA_SUCCESS)
            rc = kernel_fail(err == CUDA_ERROR_NOT_FOUND ? UDCS_EUSAGE : -EIO, why, why_len,
                             "no kernel %s (symbol %s) in the program: %s", entry, symbol,
                             kern_cuda_error_name(err));
    }
    if (rc == 0)
        rc = launch_set_args(entry, args, n_args, &l, why, why_len);
    if (rc == 0)
        rc = launch_run(d, entry, args, n_args, space, &l, why, why_len);
    launch_release(&l);
    return rc;
}

const struct kernel_backend kernel_backend_cuda = {
    .open = cu_open,
    .close = cu_close,
    .available = cu_available,
    .build = cu_build,
    .launch = cu_launch,
};
