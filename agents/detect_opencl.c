/* agents/detect_opencl.c - OpenCL devices of every platform the ICD loader knows
 * (libOpenCL.so.1, dlopen()ed at run time by kernels/opencl_api.c, the loader the kernel
 * runtime uses too: Debian's ocl-icd-libopencl1). With PoCL installed the CPU itself is a
 * device. Loading sets POCL_CACHE_DIR first (opencl_api.h), for detection as for the
 * runtime, so the agent's PoCL and its units' use the same cache. */
#include "agents/detect.h"
#include "common/log.h"
#include "kernels/opencl_api.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

static int ocl_usable;      /* kern_opencl_load() succeeded */
static pthread_once_t ocl_once = PTHREAD_ONCE_INIT;

/* Load the ICD loader (opencl_api.h) and say once why it is not usable: DEBUG where it
 * is simply not installed, WARN where it is there but broken. */
static void ocl_load(void)
{
    const char *why;
    int rc = kern_opencl_load(&why);
    if (rc == -ENOENT)
        udcs_log_debug("agent: %s; no OpenCL device is reported", why);
    else if (rc < 0)
        udcs_log_warn("agent: %s; no OpenCL device is reported", why);
    ocl_usable = rc == 0;
}

/* A text property of a platform (`dev` NULL) or device, as a new JSON string; "unknown"
 * when the driver will not say, NULL only when out of memory. */
static json_t *info_text(cl_platform_id plat, cl_device_id dev, cl_uint what)
{
    char buf[KERN_OPENCL_MAX_TEXT_BYTES];
    size_t len = 0;
    cl_int err = dev ? kern_cl->get_device_info(dev, what, sizeof(buf) - 1, buf, &len)
                     : kern_cl->get_platform_info(plat, what, sizeof(buf) - 1, buf, &len);
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
    if (kern_cl->get_device_info(dev, CL_DEVICE_TYPE, sizeof(type), &type, NULL) != CL_SUCCESS)
        type = CL_DEVICE_TYPE_ACCELERATOR;
    if (kern_cl->get_device_info(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(units), &units, NULL) !=
        CL_SUCCESS)
        units = 0;
    if (kern_cl->get_device_info(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(mem), &mem, NULL) !=
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
    cl_int err = kern_cl->get_device_ids(plat, CL_DEVICE_TYPE_ALL, 0, NULL, &count);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && count == 0))
        return 0;
    if (err != CL_SUCCESS) {
        udcs_log_warn("agent: an OpenCL platform would not list its devices (error %d); "
                      "skipping it", (int)err);
        return 0;
    }
    if (count > KERN_OPENCL_MAX_DEVICES)
        count = KERN_OPENCL_MAX_DEVICES;
    cl_device_id *devs = calloc(count, sizeof(*devs));
    json_t *name = info_text(plat, NULL, CL_PLATFORM_NAME);
    int rc = devs && name ? 0 : -ENOMEM;
    if (rc == 0 && kern_cl->get_device_ids(plat, CL_DEVICE_TYPE_ALL, count, devs, &count) !=
                       CL_SUCCESS)
        count = 0;   /* gone between the two calls: nothing to report */
    for (cl_uint i = 0; rc == 0 && i < count && i < KERN_OPENCL_MAX_DEVICES; i++)
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
    cl_platform_id plats[KERN_OPENCL_MAX_PLATFORMS];
    cl_uint count = 0;
    cl_int err = ocl_usable ? kern_cl->get_platform_ids(KERN_OPENCL_MAX_PLATFORMS, plats, &count)
                            : CL_PLATFORM_NOT_FOUND_KHR;
    if (err == CL_PLATFORM_NOT_FOUND_KHR) {
        count = 0;
        if (ocl_usable)
            udcs_log_debug("agent: the OpenCL ICD loader found no platform");
    } else if (err != CL_SUCCESS) {
        udcs_log_warn("agent: clGetPlatformIDs failed (error %d); no OpenCL device is reported",
                      (int)err);
        count = 0;
    }
    int rc = 0;
    for (cl_uint i = 0; rc == 0 && i < count && i < KERN_OPENCL_MAX_PLATFORMS; i++)
        rc = platform_add_devices(plats[i], devices);
    if (rc < 0) {
        json_decref(devices);
        return rc;
    }
    *out = devices;
    return 0;
}
