/* kernels/cuda_api.h - the CUDA driver API (libcuda.so.1), dlopen()ed once per process
 * and never linked: the one place that loads it, for the kernel runtime (runtime_cuda.c,
 * which adds NVRTC) and the agent's GPU detection (agents/detect_gpu_cuda.c, which adds
 * NVML). Only the names UDCS uses are declared, from NVIDIA's documented cuda.h.
 *
 *     const char *why;
 *     if (kern_cuda_load(&why) < 0)
 *         ... say why, and go on without CUDA ...
 *     kern_cu->device_get_count(&count);
 */
#ifndef UDCS_KERNELS_CUDA_API_H
#define UDCS_KERNELS_CUDA_API_H

#include <stddef.h>

/* ---- the CUDA driver API, as documented (cuda.h) ------------------------------------- */

typedef int CUresult;                       /* enum cudaError_enum */
typedef int CUdevice;                       /* an ordinal */
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;     /* CUdeviceptr_v2: 64 bits on 64-bit hosts */

#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_INVALID_IMAGE 200
#define CUDA_ERROR_NO_BINARY_FOR_GPU 209
#define CUDA_ERROR_INVALID_PTX 218
#define CUDA_ERROR_UNSUPPORTED_PTX_VERSION 222
#define CUDA_ERROR_NOT_FOUND 500
#define CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES 701
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76

#define KERN_CUDA_LIBRARY "libcuda.so.1"

/* The driver functions UDCS calls. Where cuda.h maps a name to a _v2 symbol, the _v2 one
 * is loaded (the unsuffixed symbols keep the old ABI). */
struct kern_cuda_api {
    CUresult (*init)(unsigned int flags);
    CUresult (*driver_get_version)(int *version);
    CUresult (*device_get_count)(int *count);
    CUresult (*device_get)(CUdevice *dev, int ordinal);
    CUresult (*device_get_name)(char *name, int len, CUdevice dev);
    CUresult (*device_total_mem)(size_t *bytes, CUdevice dev);
    CUresult (*device_get_attribute)(int *value, int attribute, CUdevice dev);
    CUresult (*device_get_pci_bus_id)(char *bus_id, int len, CUdevice dev);
    CUresult (*primary_ctx_retain)(CUcontext *ctx, CUdevice dev);
    CUresult (*primary_ctx_release)(CUdevice dev);
    CUresult (*ctx_set_current)(CUcontext ctx);
    CUresult (*ctx_synchronize)(void);
    CUresult (*module_load_data)(CUmodule *mod, const void *image);
    CUresult (*module_unload)(CUmodule mod);
    CUresult (*module_get_function)(CUfunction *fn, CUmodule mod, const char *name);
    CUresult (*module_get_global)(CUdeviceptr *ptr, size_t *bytes, CUmodule mod,
                                  const char *name);
    CUresult (*mem_alloc)(CUdeviceptr *ptr, size_t bytes);
    CUresult (*mem_free)(CUdeviceptr ptr);
    CUresult (*memcpy_htod)(CUdeviceptr dst, const void *src, size_t bytes);
    CUresult (*memcpy_dtoh)(void *dst, CUdeviceptr src, size_t bytes);
    CUresult (*launch_kernel)(CUfunction fn, unsigned int grid_x, unsigned int grid_y,
                              unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                              unsigned int block_z, unsigned int shared_bytes, CUstream stream,
                              void **params, void **extra);
    /* Optional, NULL where the driver lacks them: error names and descriptions (driver
     * 6.0; use kern_cuda_error_name() and kern_cuda_error_text()) and parameter layouts
     * (driver 12.4). */
    CUresult (*get_error_name)(CUresult err, const char **name);
    CUresult (*get_error_string)(CUresult err, const char **text);
    CUresult (*func_get_param_info)(CUfunction fn, size_t index, size_t *offset,
                                    size_t *bytes);
};

/* The loaded functions, process-wide and read-only. Read them only once
 * kern_cuda_load() has returned 0 (its pthread_once is also what makes the table safe to
 * read from any thread). */
extern const struct kern_cuda_api *const kern_cu;

/* Load the driver and run cuInit(0), the first time any thread asks (pthread_once);
 * every later call returns what the first one found, without trying again. The library
 * is never dlclose()d: the driver starts threads and keeps state for the process.
 *
 * Returns 0 (kern_cu is usable), or a negative code with a one-line reason in *why
 * (static text, valid for the life of the process):
 *   -ENOENT   no libcuda.so.1 could be opened: no NVIDIA driver (the reason ends with
 *             "install the NVIDIA driver", for a caller to go on);
 *   -ELIBBAD  it lacks one of the required functions above (too old or damaged);
 *   -ENODEV   cuInit says the driver sees no GPU;
 *   -EIO      cuInit failed otherwise; the reason names the error and what to check
 *             (under AddressSanitizer: ASAN_OPTIONS=protect_shadow_gap=0). */
int kern_cuda_load(const char **why);

/* The name of a driver error ("CUDA_ERROR_OUT_OF_MEMORY"), or "unknown CUDA error" when
 * the driver cannot say (no cuGetErrorName, or no library). Call it after
 * kern_cuda_load(), whatever that returned. Never NULL. */
const char *kern_cuda_error_name(CUresult err);

/* The driver's description of an error ("out of memory"), or "no description"; the
 * same conditions. Never NULL. */
const char *kern_cuda_error_text(CUresult err);

#endif
