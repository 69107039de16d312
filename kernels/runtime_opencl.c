/* kernels/runtime_opencl.c - the OpenCL back end of runtime.h: the ICD loader
 * (libOpenCL.so.1) dlopen()ed on first use, one context and in-order queue per device
 * handle, programs built from source or loaded from their binary, buffers copied in and
 * back around each launch. Types and constants come from Khronos' CL/cl.h; no function
 * of it is linked. Checks of arguments and the program blob's format are runtime.c's. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "kernels/runtime_internal.h"
#include "common/err.h"
#include "common/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR (-1001)   /* cl_khr_icd: the loader found no platform */
#endif

#define OPENCL_LIBRARY "libOpenCL.so.1"
/* Bounds on what a broken driver could make us allocate. */
#define OPENCL_MAX_PLATFORMS 64
#define OPENCL_MAX_DEVICES 256
#define OPENCL_MAX_TEXT_BYTES 4096
/* Kernel names a program lists when the entry is missing (CL_PROGRAM_KERNEL_NAMES). */
#define OPENCL_MAX_NAMES_BYTES 2048
/* What the device choice reads: "P:D", platform and device index. */
#define OPENCL_DEVICE_ENV "UDCS_OPENCL_DEVICE"

/* The loaded ICD loader: process-wide like the library, filled once, never dlclose()d
 * (the drivers it loads keep threads and state for the process). */
static struct {
    int usable;
    char error[256];        /* why not, when not usable */
    __typeof__(clGetPlatformIDs) *get_platform_ids;
    __typeof__(clGetPlatformInfo) *get_platform_info;
    __typeof__(clGetDeviceIDs) *get_device_ids;
    __typeof__(clGetDeviceInfo) *get_device_info;
    __typeof__(clCreateContext) *create_context;
    __typeof__(clReleaseContext) *release_context;
    __typeof__(clCreateCommandQueue) *create_command_queue;
    __typeof__(clReleaseCommandQueue) *release_command_queue;
    __typeof__(clCreateProgramWithSource) *create_program_with_source;
    __typeof__(clCreateProgramWithBinary) *create_program_with_binary;
    __typeof__(clBuildProgram) *build_program;
    __typeof__(clGetProgramInfo) *get_program_info;
    __typeof__(clGetProgramBuildInfo) *get_program_build_info;
    __typeof__(clReleaseProgram) *release_program;
    __typeof__(clCreateKernel) *create_kernel;
    __typeof__(clGetKernelInfo) *get_kernel_info;
    __typeof__(clSetKernelArg) *set_kernel_arg;
    __typeof__(clReleaseKernel) *release_kernel;
    __typeof__(clCreateBuffer) *create_buffer;
    __typeof__(clReleaseMemObject) *release_mem_object;
    __typeof__(clEnqueueNDRangeKernel) *enqueue_nd_range_kernel;
    __typeof__(clEnqueueReadBuffer) *enqueue_read_buffer;
    __typeof__(clFinish) *finish;
} ocl;
static pthread_once_t ocl_once = PTHREAD_ONCE_INIT;

struct kernel_cl_device {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
};

static const char *cl_error_name(cl_int err)
{
#define CL_ERROR(e) case e: return #e
    switch (err) {
    CL_ERROR(CL_SUCCESS);
    CL_ERROR(CL_DEVICE_NOT_FOUND);
    CL_ERROR(CL_DEVICE_NOT_AVAILABLE);
    CL_ERROR(CL_COMPILER_NOT_AVAILABLE);
    CL_ERROR(CL_MEM_OBJECT_ALLOCATION_FAILURE);
    CL_ERROR(CL_OUT_OF_RESOURCES);
    CL_ERROR(CL_OUT_OF_HOST_MEMORY);
    CL_ERROR(CL_BUILD_PROGRAM_FAILURE);
    CL_ERROR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
    CL_ERROR(CL_COMPILE_PROGRAM_FAILURE);
    CL_ERROR(CL_LINKER_NOT_AVAILABLE);
    CL_ERROR(CL_LINK_PROGRAM_FAILURE);
    CL_ERROR(CL_INVALID_VALUE);
    CL_ERROR(CL_INVALID_DEVICE_TYPE);
    CL_ERROR(CL_INVALID_PLATFORM);
    CL_ERROR(CL_INVALID_DEVICE);
    CL_ERROR(CL_INVALID_CONTEXT);
    CL_ERROR(CL_INVALID_QUEUE_PROPERTIES);
    CL_ERROR(CL_INVALID_COMMAND_QUEUE);
    CL_ERROR(CL_INVALID_HOST_PTR);
    CL_ERROR(CL_INVALID_MEM_OBJECT);
    CL_ERROR(CL_INVALID_BINARY);
    CL_ERROR(CL_INVALID_BUILD_OPTIONS);
    CL_ERROR(CL_INVALID_PROGRAM);
    CL_ERROR(CL_INVALID_PROGRAM_EXECUTABLE);
    CL_ERROR(CL_INVALID_KERNEL_NAME);
    CL_ERROR(CL_INVALID_KERNEL_DEFINITION);
    CL_ERROR(CL_INVALID_KERNEL);
    CL_ERROR(CL_INVALID_ARG_INDEX);
    CL_ERROR(CL_INVALID_ARG_VALUE);
    CL_ERROR(CL_INVALID_ARG_SIZE);
    CL_ERROR(CL_INVALID_KERNEL_ARGS);
    CL_ERROR(CL_INVALID_WORK_DIMENSION);
    CL_ERROR(CL_INVALID_WORK_GROUP_SIZE);
    CL_ERROR(CL_INVALID_WORK_ITEM_SIZE);
    CL_ERROR(CL_INVALID_GLOBAL_OFFSET);
    CL_ERROR(CL_INVALID_EVENT_WAIT_LIST);
    CL_ERROR(CL_INVALID_EVENT);
    CL_ERROR(CL_INVALID_OPERATION);
    CL_ERROR(CL_INVALID_BUFFER_SIZE);
    CL_ERROR(CL_INVALID_GLOBAL_WORK_SIZE);
    CL_ERROR(CL_INVALID_PROPERTY);
    CL_ERROR(CL_INVALID_COMPILER_OPTIONS);
    CL_ERROR(CL_INVALID_LINKER_OPTIONS);
    CL_ERROR(CL_PLATFORM_NOT_FOUND_KHR);
    default: return "unknown OpenCL error";
    }
#undef CL_ERROR
}

/* The code for an OpenCL failure that is not the caller's doing. */
static int cl_failure_code(cl_int err)
{
    return err == CL_OUT_OF_HOST_MEMORY || err == CL_MEM_OBJECT_ALLOCATION_FAILURE ? -ENOMEM
                                                                                    : -EIO;
}

/* ---- loading ------------------------------------------------------------------------- */

/* PoCL keeps compiled kernels under $POCL_CACHE_DIR, by default under $HOME/.cache. Units
 * run with HOME in a scratch directory that goes away with the unit, so every unit would
 * compile from nothing; a per-user directory under /var/tmp survives them. It must be
 * ours and closed to others: PoCL loads what it finds there as code. */
static void pocl_cache_dir_set(void)
{
    char dir[64];
    struct stat st;
    if (getenv("POCL_CACHE_DIR"))
        return;
    snprintf(dir, sizeof(dir), "/var/tmp/udcs-pocl-cache-%u", (unsigned)getuid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        udcs_log_warn("kernels: cannot create %s (%s); PoCL keeps its kernel cache in its "
                      "default place", dir, strerror(errno));
        return;
    }
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077)) {
        udcs_log_warn("kernels: %s is not a directory only this user can use; PoCL keeps "
                      "its kernel cache in its default place", dir);
        return;
    }
    setenv("POCL_CACHE_DIR", dir, 0);
}

#define LOAD_SYMBOL(lib, field, name) ((field) = (__typeof__(field))dlsym((lib), (name)))

static void ocl_load(void)
{
    pocl_cache_dir_set();   /* before the ICD loader starts PoCL, which reads it */
    void *lib = dlopen(OPENCL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(ocl.error, sizeof(ocl.error), "no OpenCL ICD loader (%s): install "
                 "ocl-icd-libopencl1 and pocl-opencl-icd or a GPU driver", dlerror());
        return;
    }
    if (!LOAD_SYMBOL(lib, ocl.get_platform_ids, "clGetPlatformIDs") ||
        !LOAD_SYMBOL(lib, ocl.get_platform_info, "clGetPlatformInfo") ||
        !LOAD_SYMBOL(lib, ocl.get_device_ids, "clGetDeviceIDs") ||
        !LOAD_SYMBOL(lib, ocl.get_device_info, "clGetDeviceInfo") ||
        !LOAD_SYMBOL(lib, ocl.create_context, "clCreateContext") ||
        !LOAD_SYMBOL(lib, ocl.release_context, "clReleaseContext") ||
        !LOAD_SYMBOL(lib, ocl.create_command_queue, "clCreateCommandQueue") ||
        !LOAD_SYMBOL(lib, ocl.release_command_queue, "clReleaseCommandQueue") ||
        !LOAD_SYMBOL(lib, ocl.create_program_with_source, "clCreateProgramWithSource") ||
        !LOAD_SYMBOL(lib, ocl.create_program_with_binary, "clCreateProgramWithBinary") ||
        !LOAD_SYMBOL(lib, ocl.build_program, "clBuildProgram") ||
        !LOAD_SYMBOL(lib, ocl.get_program_info, "clGetProgramInfo") ||
        !LOAD_SYMBOL(lib, ocl.get_program_build_info, "clGetProgramBuildInfo") ||
        !LOAD_SYMBOL(lib, ocl.release_program, "clReleaseProgram") ||
        !LOAD_SYMBOL(lib, ocl.create_kernel, "clCreateKernel") ||
        !LOAD_SYMBOL(lib, ocl.get_kernel_info, "clGetKernelInfo") ||
        !LOAD_SYMBOL(lib, ocl.set_kernel_arg, "clSetKernelArg") ||
        !LOAD_SYMBOL(lib, ocl.release_kernel, "clReleaseKernel") ||
        !LOAD_SYMBOL(lib, ocl.create_buffer, "clCreateBuffer") ||
        !LOAD_SYMBOL(lib, ocl.release_mem_object, "clReleaseMemObject") ||
        !LOAD_SYMBOL(lib, ocl.enqueue_nd_range_kernel, "clEnqueueNDRangeKernel") ||
        !LOAD_SYMBOL(lib, ocl.enqueue_read_buffer, "clEnqueueReadBuffer") ||
        !LOAD_SYMBOL(lib, ocl.finish, "clFinish")) {
        snprintf(ocl.error, sizeof(ocl.error), "%s lacks an OpenCL 1.2 function (%s): the "
                 "ICD loader is too old or damaged", OPENCL_LIBRARY, dlerror());
        return;
    }
    ocl.usable = 1;
}

/* The platforms, or -ENOTSUP with why when there are none. */
static int platforms_get(cl_platform_id *plats, cl_uint *count, char *why, size_t why_len)
{
    pthread_once(&ocl_once, ocl_load);
    if (!ocl.usable)
        return kernel_fail(-ENOTSUP, why, why_len, "%s", ocl.error);
    cl_int err = ocl.get_platform_ids(OPENCL_MAX_PLATFORMS, plats, count);
    if (err == CL_SUCCESS && *count > OPENCL_MAX_PLATFORMS)
        *count = OPENCL_MAX_PLATFORMS;
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && *count == 0))
        return kernel_fail(-ENOTSUP, why, why_len, "no OpenCL platform: install "
                           "pocl-opencl-icd or a GPU driver");
    if (err != CL_SUCCESS)
        return kernel_fail(-ENOTSUP, why, why_len, "clGetPlatformIDs failed: %s",
                           cl_error_name(err));
    return 0;
}

/* Up to OPENCL_MAX_DEVICES devices of `type` on `plat`; *count 0 when it has none. */
static void devices_get(cl_platform_id plat, cl_device_type type, cl_device_id *devs,
                        cl_uint *count)
{
    if (ocl.get_device_ids(plat, type, OPENCL_MAX_DEVICES, devs, count) != CL_SUCCESS)
        *count = 0;
    if (*count > OPENCL_MAX_DEVICES)
        *count = OPENCL_MAX_DEVICES;
}

static int cl_available(char *why, size_t why_len)
{
    cl_platform_id plats[OPENCL_MAX_PLATFORMS];
    cl_device_id devs[OPENCL_MAX_DEVICES];
    cl_uint n_plats = 0, n_devs = 0;
    if (platforms_get(plats, &n_plats, why, why_len) < 0)
        return 0;
    for (cl_uint p = 0; p < n_plats; p++) {
        devices_get(plats[p], CL_DEVICE_TYPE_ALL, devs, &n_devs);
        if (n_devs > 0)
            return 1;
    }
    kernel_fail(0, why, why_len, "OpenCL platforms but no device on any of them");
    return 0;
}

/* ---- opening a device ---------------------------------------------------------------- */

/* A text property of a platform (`dev` NULL) or a device as one clean line. */
static void info_text(cl_platform_id plat, cl_device_id dev, cl_uint what, char *out,
                      size_t out_len)
{
    char buf[OPENCL_MAX_TEXT_BYTES];
    size_t len = 0;
    cl_int err = dev ? ocl.get_device_info(dev, what, sizeof(buf), buf, &len)
                     : ocl.get_platform_info(plat, what, sizeof(buf), buf, &len);
    if (err != CL_SUCCESS || len > sizeof(buf))
        len = 0;
    kernel_text_clean(out, out_len, buf, len);
    if (!out[0])
        snprintf(out, out_len, "unknown");
}

/* The device UDCS_OPENCL_DEVICE names, as "P:D". */
static int device_by_env(const char *spec, cl_platform_id *plats, cl_uint n_plats,
                         struct kernel_cl_device *cl, char *why, size_t why_len)
{
    unsigned p, dv;
    char extra;
    if (sscanf(spec, "%u:%u%c", &p, &dv, &extra) != 2)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "%s='%s' is not 'PLATFORM:DEVICE' (indexes as 'udcs-kernel "
                           "devices' lists them, e.g. 0:0)", OPENCL_DEVICE_ENV, spec);
    if (p >= n_plats)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "%s='%s': there are %u OpenCL platforms", OPENCL_DEVICE_ENV, spec,
                           n_plats);
    cl_device_id devs[OPENCL_MAX_DEVICES];
    cl_uint n_devs = 0;
    devices_get(plats[p], CL_DEVICE_TYPE_ALL, devs, &n_devs);
    if (dv >= n_devs)
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "%s='%s': OpenCL platform %u has %u devices", OPENCL_DEVICE_ENV,
                           spec, p, n_devs);
    cl->platform = plats[p];
    cl->device = devs[dv];
    return 0;
}

/* The first GPU of any platform, else the first device. */
static int device_default(cl_platform_id *plats, cl_uint n_plats, struct kernel_cl_device *cl,
                          char *why, size_t why_len)
{
    static const cl_device_type order[] = { CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ALL };
    cl_device_id devs[OPENCL_MAX_DEVICES];
    cl_uint n_devs = 0;
    for (size_t t = 0; t < sizeof(order) / sizeof(order[0]); t++)
        for (cl_uint p = 0; p < n_plats; p++) {
            devices_get(plats[p], order[t], devs, &n_devs);
            if (n_devs > 0) {
                cl->platform = plats[p];
                cl->device = devs[0];
                return 0;
            }
        }
    return kernel_fail(-ENOTSUP, why, why_len,
                       "OpenCL platforms but no device on any of them: check the driver "
                       "with clinfo");
}

static int cl_open(struct kernel_device *d, char *why, size_t why_len)
{
    cl_platform_id plats[OPENCL_MAX_PLATFORMS];
    cl_uint n_plats = 0;
    int rc = platforms_get(plats, &n_plats, why, why_len);
    if (rc < 0)
        return rc;
    struct kernel_cl_device *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return kernel_fail(-ENOMEM, why, why_len, "out of memory opening an OpenCL device");
    const char *spec = getenv(OPENCL_DEVICE_ENV);
    rc = spec && *spec ? device_by_env(spec, plats, n_plats, cl, why, why_len)
                       : device_default(plats, n_plats, cl, why, why_len);
    if (rc < 0) {
        free(cl);
        return rc;
    }

    char name[OPENCL_MAX_TEXT_BYTES / 4], plat[OPENCL_MAX_TEXT_BYTES / 4];
    char driver[OPENCL_MAX_TEXT_BYTES / 4], version[OPENCL_MAX_TEXT_BYTES / 4];
    info_text(NULL, cl->device, CL_DEVICE_NAME, name, sizeof(name));
    info_text(cl->platform, NULL, CL_PLATFORM_NAME, plat, sizeof(plat));
    info_text(NULL, cl->device, CL_DRIVER_VERSION, driver, sizeof(driver));
    info_text(NULL, cl->device, CL_DEVICE_VERSION, version, sizeof(version));
    snprintf(d->device_class, sizeof(d->device_class), "opencl %s (%s, %s, %s)", name, plat,
             driver, version);

    cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)cl->platform,
                                      0 };
    cl_int err;
    cl->context = ocl.create_context(props, 1, &cl->device, NULL, NULL, &err);
    if (cl->context)
        cl->queue = ocl.create_command_queue(cl->context, cl->device, 0, &err);
    if (!cl->context || !cl->queue) {
        if (cl->context)
            ocl.release_context(cl->context);
        free(cl);
        return kernel_fail(cl_failure_code(err), why, why_len,
                           "OpenCL device %s (%s) would not open: %s", name, plat,
                           cl_error_name(err));
    }
    d->cl = cl;
    return 0;
}

static void cl_close(struct kernel_device *d)
{
    struct kernel_cl_device *cl = d->cl;
    if (!cl)
        return;
    ocl.release_command_queue(cl->queue);
    ocl.release_context(cl->context);
    free(cl);
    d->cl = NULL;
}

/* ---- building ------------------------------------------------------------------------ */

/* Append the program's build log for the device to `log`. */
static void build_log_get(struct kernel_cl_device *cl, cl_program prog, struct udcs_buf *log)
{
    size_t len = 0;
    if (ocl.get_program_build_info(prog, cl->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) !=
            CL_SUCCESS || len == 0)
        return;
    char *text = malloc(len);
    if (text && ocl.get_program_build_info(prog, cl->device, CL_PROGRAM_BUILD_LOG, len, text,
                                           NULL) == CL_SUCCESS)
        kernel_log_append(log, text, len);
    free(text);
}

/* clBuildProgram, its log appended to `log` whatever the outcome. */
static int program_build(struct kernel_device *d, cl_program prog, const char *options,
                         const char *entry, struct udcs_buf *log, char *why, size_t why_len)
{
    struct kernel_cl_device *cl = d->cl;
    cl_int err = ocl.build_program(prog, 1, &cl->device, options, NULL, NULL);
    size_t before = log->len;
    build_log_get(cl, prog, log);
    if (err == CL_SUCCESS)
        return 0;
    if (err == CL_BUILD_PROGRAM_FAILURE || err == CL_COMPILE_PROGRAM_FAILURE ||
        err == CL_INVALID_BUILD_OPTIONS || err == CL_INVALID_COMPILER_OPTIONS) {
        char summary[1024];
        kernel_log_summary(log->data ? log->data + before : "", log->len - before, summary,
                           sizeof(summary));
        return kernel_fail(UDCS_EUSAGE, why, why_len,
                           "kernel %s does not build for %s (%s%s%s)%s%s", entry,
                           d->device_class, cl_error_name(err),
                           err == CL_INVALID_BUILD_OPTIONS ? ", options: " : "",
                           err == CL_INVALID_BUILD_OPTIONS ? options : "",
                           summary[0] ? ": " : "", summary);
    }
    return kernel_fail(cl_failure_code(err), why, why_len, "kernel %s: clBuildProgram failed: %s",
                       entry, cl_error_name(err));
}

/* The kernel object of `entry`, or UDCS_EUSAGE listing the kernels the program has. */
static int kernel_create(cl_program prog, const char *entry, cl_kernel *out, char *why,
                         size_t why_len)
{
    cl_int err;
    *out = ocl.create_kernel(prog, entry, &err);
    if (*out)
        return 0;
    if (err != CL_INVALID_KERNEL_NAME && err != CL_INVALID_KERNEL_DEFINITION)
        return kernel_fail(cl_failure_code(err), why, why_len,
                           "kernel %s: clCreateKernel failed: %s", entry, cl_error_name(err));
    char names[OPENCL_MAX_NAMES_BYTES], clean[OPENCL_MAX_NAMES_BYTES];
    size_t len = 0;
    if (ocl.get_program_info(prog, CL_PROGRAM_KERNEL_NAMES, sizeof(names), names, &len) !=
            CL_SUCCESS || len > sizeof(names))
        len = 0;
    kernel_text_clean(clean, sizeof(clean), names, len);
    return kernel_fail(UDCS_EUSAGE, why, why_len, "no kernel %s in the program (%s); it has: %s",
                       entry, cl_error_name(err), clean[0] ? clean : "no kernels");
}

static int cl_build(struct kernel_device *d, const char *source, size_t len,
                    const char *options, const char *entry, struct udcs_buf *program,
                    struct udcs_buf *log, char *why, size_t why_len)
{
    struct kernel_cl_device *cl = d->cl;
    cl_int err;
    cl_kernel kernel = NULL;
    unsigned char *binary = NULL;
    cl_program prog = ocl.create_program_with_source(cl->context, 1, &source, &len, &err);
    if (!prog)
        return kernel_fail(cl_failure_code(err), why, why_len,
                           "kernel %s: clCreateProgramWithSource failed: %s", entry,
                           cl_error_name(err));
    int rc = program_build(d, prog, options, entry, log, why, why_len);
    if (rc == 0)
        rc = kernel_create(prog, entry, &kernel, why, why_len);

    size_t size = 0;
    if (rc == 0) {
        err = ocl.get_program_info(prog, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, NULL);
        if (err != CL_SUCCESS || size == 0)
            rc = kernel_fail(-ENOTSUP, why, why_len,
                             "kernel %s: %s gives no program binary (%s)", entry,
                             d->device_class, cl_error_name(err));
    }
    if (rc == 0 && !(binary = malloc(size)))
        rc = kernel_fail(-ENOMEM, why, why_len, "kernel %s: out of memory for its %zu-byte "
                         "binary", entry, size);
    if (rc == 0) {
        unsigned char *binaries[1] = { binary };
        err = ocl.get_program_info(prog, CL_PROGRAM_BINARIES, sizeof(binaries), binaries, NULL);
        if (err != CL_SUCCESS)
            rc = kernel_fail(cl_failure_code(err), why, why_len,
                             "kernel %s: reading the program binary failed: %s", entry,
                             cl_error_name(err));
    }
    if (rc == 0) {
        rc = kernel_program_write(program, KERNEL_API_OPENCL, "binary", entry, entry,
                                  d->device_class, binary, size);
        if (rc < 0)
            kernel_fail(rc, why, why_len, "kernel %s: its %zu-byte program does not fit the "
                        "buffer (%s)", entry, size, udcs_strerror(rc));
    }
    free(binary);
    if (kernel)
        ocl.release_kernel(kernel);
    ocl.release_program(prog);
    return rc;
}

/* ---- launching ----------------------------------------------------------------------- */

/* What one launch holds, released by launch_release() on every path. */
struct cl_launch {
    cl_program program;
    cl_kernel kernel;
    cl_mem *mems;
    size_t n_mems;
};

static void launch_release(struct cl_launch *l)
{
    for (size_t i = 0; l->mems && i < l->n_mems; i++)
        if (l->mems[i])
            ocl.release_mem_object(l->mems[i]);
    free(l->mems);
    if (l->kernel)
        ocl.release_kernel(l->kernel);
    if (l->program)
        ocl.release_program(l->program);
}

/* The program from its binary, built, and the kernel `entry` of it. */
static int launch_load(struct kernel_device *d, const struct kernel_program *prog,
                       const char *entry, struct cl_launch *l, char *why, size_t why_len)
{
    struct kernel_cl_device *cl = d->cl;
    const unsigned char *binary = prog->payload;
    size_t size = prog->payload_len;
    cl_int status = CL_SUCCESS, err;
    l->program = ocl.create_program_with_binary(cl->context, 1, &cl->device, &size, &binary,
                                                &status, &err);
    if (!l->program)
        return kernel_fail(err == CL_INVALID_BINARY ? UDCS_EUSAGE : cl_failure_code(err), why,
                           why_len, "kernel %s: the program binary does not load on %s: %s",
                           entry, d->device_class,
                           cl_error_name(err == CL_INVALID_BINARY ? status : err));
    struct udcs_buf log = UDCS_BUF_INIT(OPENCL_MAX_TEXT_BYTES);
    int rc = program_build(d, l->program, "", entry, &log, why, why_len);
    udcs_buf_release(&log);
    if (rc < 0)
        return rc;
    /* The symbol is the entry's name in OpenCL; another kernel of the same program is
     * asked for by its own name. */
    return kernel_create(l->program, entry, &l->kernel, why, why_len);
}

static int launch_set_args(struct kernel_device *d, const char *entry,
                           const struct kernel_arg *args, size_t n_args, struct cl_launch *l,
                           char *why, size_t why_len)
{
    cl_uint n_params = 0;
    cl_int err = ocl.get_kernel_info(l->kernel, CL_KERNEL_NUM_ARGS, sizeof(n_params), &n_params,
                                     NULL);
    if (err != CL_SUCCESS)
        return kernel_fail(cl_failure_code(err), why, why_len,
                           "kernel %s: its parameter count is unknown: %s", entry,
                           cl_error_name(err));
    if (n_params != n_args)
        return kernel_fail(UDCS_EUSAGE, why, why_len, "kernel %s takes %u arguments, %zu given",
                           entry, n_params, n_args);
    if (n_args && !(l->mems = calloc(n_args, sizeof(*l->mems))))
        return kernel_fail(-ENOMEM, why, why_len, "kernel %s: out of memory", entry);
    l->n_mems = n_args;
    for (size_t i = 0; i < n_args; i++) {
        const struct kernel_arg *a = &args[i];
        if (a->kind == KERNEL_ARG_BUFFER) {
            /* OpenCL has no empty buffers: an empty array gets one byte nobody reads. */
            cl_mem_flags flags = CL_MEM_READ_WRITE | (a->bytes ? CL_MEM_COPY_HOST_PTR : 0);
            l->mems[i] = ocl.create_buffer(d->cl->context, flags, a->bytes ? a->bytes : 1,
                                           a->bytes ? a->data : NULL, &err);
            if (!l->mems[i])
                return kernel_arg_fail(cl_failure_code(err), why, why_len, entry, i, a,
                                       "a buffer of %zu bytes could not be made: %s", a->bytes,
                                       cl_error_name(err));
            err = ocl.set_kernel_arg(l->kernel, (cl_uint)i, sizeof(cl_mem), &l->mems[i]);
        } else {
            err = ocl.set_kernel_arg(l->kernel, (cl_uint)i, a->bytes,
                                     a->kind == KERNEL_ARG_LOCAL ? NULL : a->data);
        }
        if (err != CL_SUCCESS)
            return kernel_arg_fail(UDCS_EUSAGE, why, why_len, entry, i, a, "%s (%s of %zu "
                                   "bytes)", cl_error_name(err),
                                   a->kind == KERNEL_ARG_BUFFER ? "buffer"
                                   : a->kind == KERNEL_ARG_LOCAL ? "local memory" : "scalar",
                                   a->bytes);
    }
    return 0;
}

static int launch_run(struct kernel_device *d, const char *entry,
                      const struct kernel_arg *args, size_t n_args,
                      const struct kernel_space *s, struct cl_launch *l, char *why,
                      size_t why_len)
{
    struct kernel_cl_device *cl = d->cl;
    cl_int err = ocl.enqueue_nd_range_kernel(cl->queue, l->kernel, s->dims,
                                             s->is_range ? s->offset : NULL, s->global,
                                             s->has_local ? s->local : NULL, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        int usage = err == CL_INVALID_WORK_GROUP_SIZE || err == CL_INVALID_WORK_ITEM_SIZE ||
                    err == CL_INVALID_GLOBAL_WORK_SIZE || err == CL_INVALID_GLOBAL_OFFSET ||
                    err == CL_INVALID_KERNEL_ARGS || err == CL_INVALID_WORK_DIMENSION;
        return kernel_fail(usage ? UDCS_EUSAGE : cl_failure_code(err), why, why_len,
                           "kernel %s: %s refused the launch over %zu x %zu x %zu in groups "
                           "of %zu x %zu x %zu: %s", entry, d->device_class, s->global[0],
                           s->global[1], s->global[2], s->local[0], s->local[1], s->local[2],
                           cl_error_name(err));
    }
    err = ocl.finish(cl->queue);
    if (err != CL_SUCCESS)
        return kernel_fail(-EIO, why, why_len, "kernel %s failed while running: %s", entry,
                           cl_error_name(err));
    for (size_t i = 0; i < n_args; i++) {
        const struct kernel_arg *a = &args[i];
        if (a->kind != KERNEL_ARG_BUFFER || !a->writable || a->bytes == 0)
            continue;
        err = ocl.enqueue_read_buffer(cl->queue, l->mems[i], CL_TRUE, 0, a->bytes, a->data, 0,
                                      NULL, NULL);
        if (err != CL_SUCCESS)
            return kernel_arg_fail(-EIO, why, why_len, entry, i, a,
                                   "reading the result back failed: %s", cl_error_name(err));
    }
    return 0;
}

static int cl_launch(struct kernel_device *d, const struct kernel_program *prog,
                     const char *entry, const struct kernel_arg *args, size_t n_args,
                     const struct kernel_space *space, char *why, size_t why_len)
{
    struct cl_launch l = { 0 };
    int rc = launch_load(d, prog, entry, &l, why, why_len);
    if (rc == 0)
        rc = launch_set_args(d, entry, args, n_args, &l, why, why_len);
    if (rc == 0)
        rc = launch_run(d, entry, args, n_args, space, &l, why, why_len);
    launch_release(&l);
    return rc;
}

const struct kernel_backend kernel_backend_opencl = {
    .open = cl_open,
    .close = cl_close,
    .available = cl_available,
    .build = cl_build,
    .launch = cl_launch,
};
