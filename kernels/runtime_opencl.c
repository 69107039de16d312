/* kernels/runtime_opencl.c - the OpenCL back end of runtime.h: the ICD loader
 * (libOpenCL.so.1, loaded by opencl_api.c on first use), one context and in-order queue
 * per device handle, programs built from source or loaded from their binary, buffers
 * copied in and back around each launch. Checks of arguments and the program blob's
 * format are runtime.c's. */
#include "kernels/opencl_api.h"
#include "kernels/runtime_internal.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kernel names a program lists when the entry is missing (CL_PROGRAM_KERNEL_NAMES). */
#define OPENCL_MAX_NAMES_BYTES 2048
/* What the device choice reads: "P:D", platform and device index. */
#define OPENCL_DEVICE_ENV "UDCS_OPENCL_DEVICE"

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

/* ---- the platforms ------------------------------------------------------------------- */

/* The platforms, or -ENOTSUP with why when there are none. */
static int platforms_get(cl_platform_id *plats, cl_uint *count, char *why, size_t why_len)
{
    const char *load_why;
    if (kern_opencl_load(&load_why) < 0)
        return kernel_fail(-ENOTSUP, why, why_len, "%s", load_why);
    cl_int err = kern_cl->get_platform_ids(KERN_OPENCL_MAX_PLATFORMS, plats, count);
    if (err == CL_SUCCESS && *count > KERN_OPENCL_MAX_PLATFORMS)
        *count = KERN_OPENCL_MAX_PLATFORMS;
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && *count == 0))
        return kernel_fail(-ENOTSUP, why, why_len, "no OpenCL platform: install "
                           "pocl-opencl-icd or a GPU driver");
    if (err != CL_SUCCESS)
        return kernel_fail(-ENOTSUP, why, why_len, "clGetPlatformIDs failed: %s",
                           cl_error_name(err));
    return 0;
}

/* Up to KERN_OPENCL_MAX_DEVICES devices of `type` on `plat`; *count 0 when it has none. */
static void devices_get(cl_platform_id plat, cl_device_type type, cl_device_id *devs,
                        cl_uint *count)
{
    if (kern_cl->get_device_ids(plat, type, KERN_OPENCL_MAX_DEVICES, devs, count) != CL_SUCCESS)
        *count = 0;
    if (*count > KERN_OPENCL_MAX_DEVICES)
        *count = KERN_OPENCL_MAX_DEVICES;
}

static int cl_available(char *why, size_t why_len)
{
    cl_platform_id plats[KERN_OPENCL_MAX_PLATFORMS];
    cl_device_id devs[KERN_OPENCL_MAX_DEVICES];
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
    char buf[KERN_OPENCL_MAX_TEXT_BYTES];
    size_t len = 0;
    cl_int err = dev ? kern_cl->get_device_info(dev, what, sizeof(buf), buf, &len)
                     : kern_cl->get_platform_info(plat, what, sizeof(buf), buf, &len);
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
    cl_device_id devs[KERN_OPENCL_MAX_DEVICES];
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
    cl_device_id devs[KERN_OPENCL_MAX_DEVICES];
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
    cl_platform_id plats[KERN_OPENCL_MAX_PLATFORMS];
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

    char name[KERN_OPENCL_MAX_TEXT_BYTES / 4], plat[KERN_OPENCL_MAX_TEXT_BYTES / 4];
    char driver[KERN_OPENCL_MAX_TEXT_BYTES / 4], version[KERN_OPENCL_MAX_TEXT_BYTES / 4];
    info_text(NULL, cl->device, CL_DEVICE_NAME, name, sizeof(name));
    info_text(cl->platform, NULL, CL_PLATFORM_NAME, plat, sizeof(plat));
    info_text(NULL, cl->device, CL_DRIVER_VERSION, driver, sizeof(driver));
    info_text(NULL, cl->device, CL_DEVICE_VERSION, version, sizeof(version));
    snprintf(d->device_class, sizeof(d->device_class), "opencl %s (%s, %s, %s)", name, plat,
             driver, version);

    cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)cl->platform,
                                      0 };
    cl_int err;
    cl->context = kern_cl->create_context(props, 1, &cl->device, NULL, NULL, &err);
    if (cl->context)
        cl->queue = kern_cl->create_command_queue(cl->context, cl->device, 0, &err);
    if (!cl->context || !cl->queue) {
        if (cl->context)
            kern_cl->release_context(cl->context);
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
    kern_cl->release_command_queue(cl->queue);
    kern_cl->release_context(cl->context);
    free(cl);
    d->cl = NULL;
}

/* ---- building ------------------------------------------------------------------------ */

/* Append the program's build log for the device to `log`. */
static void build_log_get(struct kernel_cl_device *cl, cl_program prog, struct udcs_buf *log)
{
    size_t len = 0;
    if (kern_cl->get_program_build_info(prog, cl->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) !=
            CL_SUCCESS || len == 0)
        return;
    char *text = malloc(len);
    if (text && kern_cl->get_program_build_info(prog, cl->device, CL_PROGRAM_BUILD_LOG, len, text,
                                                NULL) == CL_SUCCESS)
        kernel_log_append(log, text, len);
    free(text);
}

/* clBuildProgram, its log appended to `log` whatever the outcome. */
static int program_build(struct kernel_device *d, cl_program prog, const char *options,
                         const char *entry, struct udcs_buf *log, char *why, size_t why_len)
{
    struct kernel_cl_device *cl = d->cl;
    cl_int err = kern_cl->build_program(prog, 1, &cl->device, options, NULL, NULL);
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
    *out = kern_cl->create_kernel(prog, entry, &err);
    if (*out)
        return 0;
    if (err != CL_INVALID_KERNEL_NAME && err != CL_INVALID_KERNEL_DEFINITION)
        return kernel_fail(cl_failure_code(err), why, why_len,
                           "kernel %s: clCreateKernel failed: %s", entry, cl_error_name(err));
    char names[OPENCL_MAX_NAMES_BYTES], clean[OPENCL_MAX_NAMES_BYTES];
    size_t len = 0;
    if (kern_cl->get_program_info(prog, CL_PROGRAM_KERNEL_NAMES, sizeof(names), names, &len) !=
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
    cl_program prog = kern_cl->create_program_with_source(cl->context, 1, &source, &len, &err);
    if (!prog)
        return kernel_fail(cl_failure_code(err), why, why_len,
                           "kernel %s: clCreateProgramWithSource failed: %s", entry,
                           cl_error_name(err));
    int rc = program_build(d, prog, options, entry, log, why, why_len);
    if (rc == 0)
        rc = kernel_create(prog, entry, &kernel, why, why_len);

    size_t size = 0;
    if (rc == 0) {
        err = kern_cl->get_program_info(prog, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, NULL);
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
        err = kern_cl->get_program_info(prog, CL_PROGRAM_BINARIES, sizeof(binaries), binaries,
                                        NULL);
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
        kern_cl->release_kernel(kernel);
    kern_cl->release_program(prog);
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
            kern_cl->release_mem_object(l->mems[i]);
    free(l->mems);
    if (l->kernel)
        kern_cl->release_kernel(l->kernel);
    if (l->program)
        kern_cl->release_program(l->program);
}

/* The program from its binary, built, and the kernel `entry` of it. */
static int launch_load(struct kernel_device *d, const struct kernel_program *prog,
                       const char *entry, struct cl_launch *l, char *why, size_t why_len)
{
    struct kernel_cl_device *cl = d->cl;
    const unsigned char *binary = prog->payload;
    size_t size = prog->payload_len;
    cl_int status = CL_SUCCESS, err;
    l->program = kern_cl->create_program_with_binary(cl->context, 1, &cl->device, &size, &binary,
                                                     &status, &err);
    if (!l->program)
        return kernel_fail(err == CL_INVALID_BINARY ? UDCS_EUSAGE : cl_failure_code(err), why,
                           why_len, "kernel %s: the program binary does not load on %s: %s",
                           entry, d->device_class,
                           cl_error_name(err == CL_INVALID_BINARY ? status : err));
    struct udcs_buf log = UDCS_BUF_INIT(KERN_OPENCL_MAX_TEXT_BYTES);
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
    cl_int err = kern_cl->get_kernel_info(l->kernel, CL_KERNEL_NUM_ARGS, sizeof(n_params),
                                          &n_params, NULL);
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
            l->mems[i] = kern_cl->create_buffer(d->cl->context, flags, a->bytes ? a->bytes : 1,
                                                a->bytes ? a->data : NULL, &err);
            if (!l->mems[i])
                return kernel_arg_fail(cl_failure_code(err), why, why_len, entry, i, a,
                                       "a buffer of %zu bytes could not be made: %s", a->bytes,
                                       cl_error_name(err));
            err = kern_cl->set_kernel_arg(l->kernel, (cl_uint)i, sizeof(cl_mem), &l->mems[i]);
        } else {
            err = kern_cl->set_kernel_arg(l->kernel, (cl_uint)i, a->bytes,
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
    cl_int err = kern_cl->enqueue_nd_range_kernel(cl->queue, l->kernel, s->dims,
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
    err = kern_cl->finish(cl->queue);
    if (err != CL_SUCCESS)
        return kernel_fail(-EIO, why, why_len, "kernel %s failed while running: %s", entry,
                           cl_error_name(err));
    for (size_t i = 0; i < n_args; i++) {
        const struct kernel_arg *a = &args[i];
        if (a->kind != KERNEL_ARG_BUFFER || !a->writable || a->bytes == 0)
            continue;
        err = kern_cl->enqueue_read_buffer(cl->queue, l->mems[i], CL_TRUE, 0, a->bytes, a->data, 0,
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
