/* toolchains/trace_gpu.cl - udcs-trace's kernel for OpenCL devices: trace_kernel.c as
 * OpenCL C, and trace_region(), one pixel of a region per work-item (trace_gpu.h).
 *
 * Not read at run time: the build pastes the files included below into this text and
 * embeds the result in udcs-trace (toolchains/trace.mk); trace_gpu.c compiles it with
 * -cl-fp32-correctly-rounded-divide-sqrt. Pixels must equal the C build's to the bit, so
 * nothing may round differently: no contraction of a * b + c into a fused multiply-add
 * (OpenCL C allows it by default), division and sqrt correctly rounded (OpenCL C allows
 * 2.5 ulp by default), denormals kept (the default). */
#pragma OPENCL FP_CONTRACT OFF

#define TRACE_DEVICE 1
typedef uint uint32_t;
#define TRACE_GLOBAL __global
/* OpenCL C's float functions are overloaded, without the C suffix. */
#define sqrtf sqrt
#define fabsf fabs
#define copysignf copysign

#include "toolchains/trace_gpu.h"
#include "toolchains/trace_kernel.c"

__kernel void trace_region(TRACE_GPU_PARAMS)
{
    trace_gpu_pixel((int)get_global_id(0), (int)get_global_id(1), TRACE_GPU_ARGS);
}
