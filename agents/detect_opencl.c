/* agents/detect_opencl.c - OpenCL devices of every platform the ICD loader knows
 * (libOpenCL.so.1, dlopen()ed at run time: Debian's ocl-icd-libopencl1). With PoCL
 * installed the CPU itself is a device. Only the few OpenCL names detection needs are
 * declared here, with the values of Khronos' CL/cl.h. */
#include "agents/detect.h"
#include "common/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- OpenCL, as specified (CL/cl.h) ------------------------------------------------------ */

typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef uint64_t cl_ulong;
typedef cl_ulong cl_device_type;
typedef cl_uint cl_platform_info;
typedef cl_uint cl_device_info;
typedef struct _cl_platform_id *cl_platform_id;
typedef struct _cl_device_id *cl_device_id;

#define CL_SUCCESS 0
#define CL_DEVICE_NOT_FOUND (-1)
#define CL_PLATFORM_NOT_FOUND_KHR (-1001)   /* the ICD loader found no platform */
#define CL_PLATFORM_NAME 0x0902
#define CL_DEVICE_TYPE_CPU (1u << 1)
#define CL_DEVICE_TYPE_GPU (1u << 2)
#define CL_DEVICE_TYPE_ACCELERATOR (1u << 3)
#define CL_DEVICE_TYPE_ALL 0xFFFFFFFFu
#define CL_DEVICE_TYPE_INFO 0x1000          /* CL_DEVICE_TYPE, renamed: it clashes above */
#define CL_DEVICE_MAX_COMPUTE_UNITS 0x1002
#define CL_DEVICE_GLOBAL_MEM_SIZE 0x101F
#define CL_DEVICE_NAME 0x102B
#define CL_DEVICE_VERSION 0x102F

#define OPENCL_LIBRARY "libOpenCL.so.1"
/* Bounds on what a broken driver could make us allocate. */
#define OPENCL_MAX_PLATFORMS 64
#define OPENCL_MAX_DEVICES 256
#define OPENCL_MAX_TEXT_BYTES 4096

/* The loaded ICD loader, process-wide like the library itself; filled once. It is never
 * dlclose()d: the vendor drivers it loads keep state (and threads) for the process. */
static struct {
    int usable;
    cl_int (*get_platform_ids)(cl_uint n, cl_platform_id *platforms, cl_uint *count);
    cl_int (*get_platform_info)(cl_platform_id p, cl_platform_info what, size_t size,
                                void *value, size_t *size_ret);
    cl_int (*get_device_ids)(cl_platform_id p, cl_device_type type, cl_uint n,
                             cl_device_id *devices, cl_uint *count);
    cl_int (*get_device_info)(cl_device_id d, cl_device_info what, size_t size, void *value,
                              size_t *size_ret);
} ocl;
static pthread_once_t ocl_once = PTHREAD_ONCE_INIT;

#define LOAD_SYMBOL(lib, field, name) ((field) = (__typeof__(field))dlsym((lib), (name)))

static void ocl_load(void)
{
    void *lib = dlopen(OPENCL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        udcs_log_debug("agent: no OpenCL ICD loader (%s): %s", OPENCL_LIBRARY, dlerror());
        return;
    }
    if (!LOAD_SYMBOL(lib, ocl.get_platform_ids, "clGetPlatformIDs") ||
        !LOAD_SYMBOL(lib, ocl.get_platform_info, "clGetPlatformInfo") ||
        !LOAD_SYMBOL(lib, ocl.get_device_ids, "clGetDeviceIDs") ||
        !LOAD_SYMBOL(lib, ocl.get_device_info, "clGetDeviceInfo")) {
        udcs_log_warn("agent: %s lacks a core OpenCL function (%s); no OpenCL device is "
                      "reported", OPENCL_LIBRARY, dlerror());
        return;
    }
    ocl.usable = 1;
}

/* A text property of a platform (`dev` NULL) or device, as a new JSON string; "unknown"
 * when the driver will not say, NULL only when out of memory. */
static json_t *info_text(cl_platform_id plat, cl_device_id dev, cl_uint what)
{
    char buf[OPENCL_MAX_TEXT_BYTES];
    size_t len = 0;
    cl_int err = dev ? ocl.get_device_info(dev, what, sizeof(buf) - 1, buf, &len)
                     : ocl.get_platform_info(plat, what, sizeof(buf) - 1, buf, &len);
    if (err != CL_SUCCESS || len == 0 || len >= sizeof(buf))
        return agent_detect_text(NULL);
    buf[len] = '\0';   /* drivers count the NUL in len; this also ends one that did not */
    return agent_detect_text(buf);
}

static const char *device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "gpu";
    if (type & CL_DEVICE_TYPE_CPU)
        return "cpu";
    return "accelerator";   /* CL_DEVICE_TYPE_ACCELERATOR and the fixed-function CUSTOM */
}

static json_t *device_describe(cl_device_id dev, json_t *platform_name)
{
    cl_device_type type = 0;
    cl_uint units = 0;
    cl_ulong mem = 0;
    if (ocl.get_device_info(dev, CL_DEVICE_TYPE_INFO, sizeof(type), &type, NULL) != CL_SUCCESS)
        type = CL_DEVICE_TYPE_ACCELERATOR;
    if (ocl.get_device_info(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(units), &units, NULL) !=
        CL_SUCCESS)
        units = 0;
    if (ocl.get_device_info(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(mem), &mem, NULL) !=
        CL_SUCCESS)
        mem = 0;
    return json_pack("{s:O, s:o, s:s, s:I, s:f, s:o}", "platform", platform_name, "name",
                     info_text(NULL, dev, CL_DEVICE_NAME), "type", device_type_name(type),
                     "compute_units", (json_int_t)units, "memory_gb", agent_detect_gib(mem),
                     "version", info_text(NULL, dev, CL_DEVICE_VERSION));
}

/* Append the devices of platform `plat` to `out`. Returns 0 or -ENOMEM. */
static int platform_add_devices(cl_platform_id plat, json_t *out)
{
    cl_uint count = 0;
    cl_int err = ocl.get_device_ids(plat, CL_DEVICE_TYPE_ALL, 0, NULL, &count);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && count == 0))
        return 0;
    if (err != CL_SUCCESS) {
        udcs_log_warn("agent: an OpenCL platform would not list its devices (error %d); "
                      "skipping it", (int)err);
        return 0;
    }
    if (count > OPENCL_MAX_DEVICES)
        count = OPENCL_MAX_DEVICES;
    cl_device_id *devs = calloc(count, sizeof(*devs));
    json_t *name = info_text(plat, NULL, CL_PLATFORM_NAME);
    int rc = devs && name ? 0 : -ENOMEM;
    if (rc == 0 && ocl.get_device_ids(plat, CL_DEVICE_TYPE_ALL, count, devs, &count) !=
                       CL_SUCCESS)
        count = 0;   /* gone between the two calls: nothing to report */
    for (cl_uint i = 0; rc == 0 && i < count && i < OPENCL_MAX_DEVICES; i++)
        if (json_array_append_new(out, device_describe(devs[i], name)) < 0)
            rc = -ENOMEM;
    json_decref(name);
    free(devs);
    return rc;
}

int agent_detect_opencl(json_t **out)
{
    json_t *devices = json_array();
    *out = NULL;
    if (!devices)
        return -ENOMEM;
    pthread_once(&ocl_once, ocl_load);
    cl_platform_id plats[OPENCL_MAX_PLATFORMS];
    cl_uint count = 0;
    cl_int err = ocl.usable ? ocl.get_platform_ids(OPENCL_MAX_PLATFORMS, plats, &count)
                            : CL_PLATFORM_NOT_FOUND_KHR;
    if (err == CL_PLATFORM_NOT_FOUND_KHR) {
        count = 0;
        if (ocl.usable)
            udcs_log_debug("agent: the OpenCL ICD loader found no platform");
    } else if (err != CL_SUCCESS) {
        udcs_log_warn("agent: clGetPlatformIDs failed (error %d); no OpenCL device is reported",
                      (int)err);
        count = 0;
    }
    int rc = 0;
    for (cl_uint i = 0; rc == 0 && i < count && i < OPENCL_MAX_PLATFORMS; i++)
        rc = platform_add_devices(plats[i], devices);
    if (rc < 0) {
        json_decref(devices);
        return rc;
    }
    *out = devices;
    return 0;
}
