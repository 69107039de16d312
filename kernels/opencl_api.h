/* kernels/opencl_api.h - the OpenCL ICD loader (libOpenCL.so.1, Debian's
 * ocl-icd-libopencl1), dlopen()ed once per process and never linked: the one place that
 * loads it, for the kernel runtime (runtime_opencl.c) and the agent's device detection
 * (agents/detect_opencl.c). Types and constants are Khronos' CL/cl.h (OpenCL 1.2); only
 * the functions come from the library, through the table below.
 *
 *     const char *why;
 *     if (kern_opencl_load(&why) < 0)
 *         ... say why, and go on without OpenCL ...
 *     kern_cl->get_platform_ids(KERN_OPENCL_MAX_PLATFORMS, plats, &count);
 */
#ifndef UDCS_KERNELS_OPENCL_API_H
#define UDCS_KERNELS_OPENCL_API_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR (-1001)   /* cl_khr_icd: the loader found no platform */
#endif

#define KERN_OPENCL_LIBRARY "libOpenCL.so.1"
/* Bounds on what a broken driver could make a caller allocate. */
#define KERN_OPENCL_MAX_PLATFORMS 64
#define KERN_OPENCL_MAX_DEVICES 256
#define KERN_OPENCL_MAX_TEXT_BYTES 4096

/* The OpenCL 1.2 functions UDCS calls, each with the type CL/cl.h gives it. */
struct kern_opencl_api {
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
};

/* The loaded functions, process-wide and read-only. Read them only once
 * kern_opencl_load() has returned 0 (its pthread_once is also what makes the table safe
 * to read from any thread). */
extern const struct kern_opencl_api *const kern_cl;

/* Load the ICD loader the first time any thread asks (pthread_once); every later call
 * returns what the first one found, without trying again. The library is never
 * dlclose()d: the vendor drivers it loads keep threads and state for the process.
 *
 * Before loading, POCL_CACHE_DIR is pointed at /var/tmp/udcs-pocl-cache-UID (created
 * 0700) unless it is set: PoCL reads it once, when the ICD loader starts it, and its
 * default under $HOME would not outlive a unit's scratch HOME. A directory that cannot
 * be made ours is logged (WARN) and PoCL keeps its default.
 *
 * Returns 0 (kern_cl is usable), or a negative code with a one-line reason in *why
 * (static text, valid for the life of the process):
 *   -ENOENT   no libOpenCL.so.1 could be opened (the reason says what to install);
 *   -ELIBBAD  it lacks one of the functions above (too old or damaged). */
int kern_opencl_load(const char **why);

#endif
