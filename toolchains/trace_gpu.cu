/* toolchains/trace_gpu.cu - udcs-trace's kernel for CUDA devices: trace_kernel.c as CUDA
 * C++ for NVRTC, and trace_region(), one pixel of a region per thread (trace_gpu.h).
 *
 * Not read at run time: the build pastes the files included below into this text and
 * embeds the result in udcs-trace (toolchains/trace.mk). trace_gpu.c compiles it with
 * --device-as-default-execution-space, so the C functions of trace_kernel.c are device
 * functions without a CUDA word in them, and with the options that make the arithmetic the
 * C build's, bit for bit: --fmad=false (NVRTC fuses a * b + c by default), --prec-div=true
 * and --prec-sqrt=true (correctly rounded), --ftz=false (denormals kept). */
#define TRACE_DEVICE 1
typedef unsigned int uint32_t;
#define TRACE_GLOBAL
/* CUDA's headers, which NVRTC reads first, may declare a template named `surface` (the
 * surface references of CUDA 11 and older); trace_kernel.c has a struct of that name. */
#define surface trace_surface

#include "toolchains/trace_gpu.h"
#include "toolchains/trace_kernel.c"

/* extern "C": the runtime finds the kernel by this plain name, not a C++ mangled one. */
extern "C" __global__ void trace_region(TRACE_GPU_PARAMS)
{
    trace_gpu_pixel((int)(blockIdx.x * blockDim.x + threadIdx.x),
                    (int)(blockIdx.y * blockDim.y + threadIdx.y), TRACE_GPU_ARGS);
}
