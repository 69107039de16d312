/* kernels/cuda_api.c - the CUDA driver API, dlopen()ed and initialised once
 * (cuda_api.h). */
#include "kernels/cuda_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

/* What to check when cuInit fails. Under AddressSanitizer the driver cannot map its
 * memory where ASan protects the shadow gap, and cuInit says CUDA_ERROR_OUT_OF_MEMORY. */
#ifdef __SANITIZE_ADDRESS__
#define CUDA_INIT_HINT "this is an AddressSanitizer build: run it with " \
                       "ASAN_OPTIONS=protect_shadow_gap=0"
#else
#define CUDA_INIT_HINT "check the driver with nvidia-smi"
#endif

/* Filled once by cuda_load(), read-only afterwards. */
static struct kern_cuda_api table;
const struct kern_cuda_api *const kern_cu = &table;
static int load_rc;             /* kern_cuda_load()'s answer */
static char load_error[320];    /* its reason, when load_rc < 0 */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

const char *kern_cuda_error_name(CUresult err)
{
    const char *name = NULL;
    if (table.get_error_name && table.get_error_name(err, &name) == CUDA_SUCCESS && name)
        return name;
    return "unknown CUDA error";
}

const char *kern_cuda_error_text(CUresult err)
{
    const char *text = NULL;
    if (table.get_error_string && table.get_error_string(err, &text) == CUDA_SUCCESS && text)
        return text;
    return "no description";
}

/* Look `name` up in `lib` into the function pointer `field`; false when missing. */
#define LOAD_SYMBOL(lib, field, name) ((field) = (__typeof__(field))dlsym((lib), (name)))

static int cuda_open(void)
{
    void *lib = dlopen(KERN_CUDA_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof(load_error), "no CUDA driver (%s): install the NVIDIA "
                 "driver", dlerror());
        return -ENOENT;
    }
    LOAD_SYMBOL(lib, table.get_error_name, "cuGetErrorName");
    LOAD_SYMBOL(lib, table.get_error_string, "cuGetErrorString");
    LOAD_SYMBOL(lib, table.func_get_param_info, "cuFuncGetParamInfo");
    /* cuda.h maps these names to their _v2 versions since CUDA 4 (11 for the primary
     * context); the unsuffixed symbols keep the old ABI. */
    if (!LOAD_SYMBOL(lib, table.primary_ctx_release, "cuDevicePrimaryCtxRelease_v2"))
        LOAD_SYMBOL(lib, table.primary_ctx_release, "cuDevicePrimaryCtxRelease");
    if (!LOAD_SYMBOL(lib, table.init, "cuInit") ||
        !LOAD_SYMBOL(lib, table.driver_get_version, "cuDriverGetVersion") ||
        !LOAD_SYMBOL(lib, table.device_get_count, "cuDeviceGetCount") ||
        !LOAD_SYMBOL(lib, table.device_get, "cuDeviceGet") ||
        !LOAD_SYMBOL(lib, table.device_get_name, "cuDeviceGetName") ||
        !LOAD_SYMBOL(lib, table.device_total_mem, "cuDeviceTotalMem_v2") ||
        !LOAD_SYMBOL(lib, table.device_get_attribute, "cuDeviceGetAttribute") ||
        !LOAD_SYMBOL(lib, table.device_get_pci_bus_id, "cuDeviceGetPCIBusId") ||
        !LOAD_SYMBOL(lib, table.primary_ctx_retain, "cuDevicePrimaryCtxRetain") ||
        !table.primary_ctx_release ||
        !LOAD_SYMBOL(lib, table.ctx_set_current, "cuCtxSetCurrent") ||
        !LOAD_SYMBOL(lib, table.ctx_synchronize, "cuCtxSynchronize") ||
        !LOAD_SYMBOL(lib, table.module_load_data, "cuModuleLoadData") ||
        !LOAD_SYMBOL(lib, table.module_unload, "cuModuleUnload") ||
        !LOAD_SYMBOL(lib, table.module_get_function, "cuModuleGetFunction") ||
        !LOAD_SYMBOL(lib, table.module_get_global, "cuModuleGetGlobal_v2") ||
        !LOAD_SYMBOL(lib, table.mem_alloc, "cuMemAlloc_v2") ||
        !LOAD_SYMBOL(lib, table.mem_free, "cuMemFree_v2") ||
        !LOAD_SYMBOL(lib, table.memcpy_htod, "cuMemcpyHtoD_v2") ||
        !LOAD_SYMBOL(lib, table.memcpy_dtoh, "cuMemcpyDtoH_v2") ||
        !LOAD_SYMBOL(lib, table.launch_kernel, "cuLaunchKernel")) {
        snprintf(load_error, sizeof(load_error), "%s lacks a function kernels need (%s): the "
                 "driver is too old or damaged", KERN_CUDA_LIBRARY, dlerror());
        return -ELIBBAD;
    }
    CUresult err = table.init(0);
    if (err == CUDA_ERROR_NO_DEVICE) {
        snprintf(load_error, sizeof(load_error), "the CUDA driver sees no GPU");
        return -ENODEV;
    }
    if (err != CUDA_SUCCESS) {
        snprintf(load_error, sizeof(load_error), "cuInit failed with %s (%d): %s",
                 kern_cuda_error_name(err), err, CUDA_INIT_HINT);
        return -EIO;
    }
    return 0;
}

static void cuda_load(void)
{
    load_rc = cuda_open();
}

int kern_cuda_load(const char **why)
{
    pthread_once(&load_once, cuda_load);
    *why = load_rc < 0 ? load_error : NULL;
    return load_rc;
}
