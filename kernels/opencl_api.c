/* kernels/opencl_api.c - the OpenCL ICD loader, dlopen()ed once (opencl_api.h). */
#include "kernels/opencl_api.h"
#include "common/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Filled once by ocl_load(), read-only afterwards. */
static struct kern_opencl_api table;
const struct kern_opencl_api *const kern_cl = &table;
static int load_rc;             /* kern_opencl_load()'s answer */
static char load_error[256];    /* its reason, when load_rc < 0 */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* PoCL keeps compiled kernels under $POCL_CACHE_DIR, by default under $HOME/.cache. Units
 * run with HOME in a scratch directory that goes away with the unit, so every unit would
 * compile from nothing; a per-user directory under /var/tmp survives them. It must be
 * ours and closed to others: PoCL loads what it finds there as code. Set here, before the
 * ICD loader starts PoCL (which reads it then), for whoever loads OpenCL first: the
 * runtime, or the agent's detection (whose environment units then inherit, through
 * agents/exec.c). */
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

/* Look `name` up in `lib` into the function pointer `field`; false when missing. */
#define LOAD_SYMBOL(lib, field, name) ((field) = (__typeof__(field))dlsym((lib), (name)))

static void ocl_load(void)
{
    pocl_cache_dir_set();   /* before the ICD loader starts PoCL, which reads it */
    void *lib = dlopen(KERN_OPENCL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof(load_error), "no OpenCL ICD loader (%s): install "
                 "ocl-icd-libopencl1 and pocl-opencl-icd or a GPU driver", dlerror());
        load_rc = -ENOENT;
        return;
    }
    if (!LOAD_SYMBOL(lib, table.get_platform_ids, "clGetPlatformIDs") ||
        !LOAD_SYMBOL(lib, table.get_platform_info, "clGetPlatformInfo") ||
        !LOAD_SYMBOL(lib, table.get_device_ids, "clGetDeviceIDs") ||
        !LOAD_SYMBOL(lib, table.get_device_info, "clGetDeviceInfo") ||
        !LOAD_SYMBOL(lib, table.create_context, "clCreateContext") ||
        !LOAD_SYMBOL(lib, table.release_context, "clReleaseContext") ||
        !LOAD_SYMBOL(lib, table.create_command_queue, "clCreateCommandQueue") ||
        !LOAD_SYMBOL(lib, table.release_command_queue, "clReleaseCommandQueue") ||
        !LOAD_SYMBOL(lib, table.create_program_with_source, "clCreateProgramWithSource") ||
        !LOAD_SYMBOL(lib, table.create_program_with_binary, "clCreateProgramWithBinary") ||
        !LOAD_SYMBOL(lib, table.build_program, "clBuildProgram") ||
        !LOAD_SYMBOL(lib, table.get_program_info, "clGetProgramInfo") ||
        !LOAD_SYMBOL(lib, table.get_program_build_info, "clGetProgramBuildInfo") ||
        !LOAD_SYMBOL(lib, table.release_program, "clReleaseProgram") ||
        !LOAD_SYMBOL(lib, table.create_kernel, "clCreateKernel") ||
        !LOAD_SYMBOL(lib, table.get_kernel_info, "clGetKernelInfo") ||
        !LOAD_SYMBOL(lib, table.set_kernel_arg, "clSetKernelArg") ||
        !LOAD_SYMBOL(lib, table.release_kernel, "clReleaseKernel") ||
        !LOAD_SYMBOL(lib, table.create_buffer, "clCreateBuffer") ||
        !LOAD_SYMBOL(lib, table.release_mem_object, "clReleaseMemObject") ||
        !LOAD_SYMBOL(lib, table.enqueue_nd_range_kernel, "clEnqueueNDRangeKernel") ||
        !LOAD_SYMBOL(lib, table.enqueue_read_buffer, "clEnqueueReadBuffer") ||
        !LOAD_SYMBOL(lib, table.finish, "clFinish")) {
        snprintf(load_error, sizeof(load_error), "%s lacks an OpenCL 1.2 function (%s): the "
                 "ICD loader is too old or damaged", KERN_OPENCL_LIBRARY, dlerror());
        load_rc = -ELIBBAD;
        return;
    }
    load_rc = 0;
}

int kern_opencl_load(const char **why)
{
    pthread_once(&load_once, ocl_load);
    *why = load_rc < 0 ? load_error : NULL;
    return load_rc;
}
