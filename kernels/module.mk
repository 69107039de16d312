# kernels/ - GPU kernels on the farm (docs/KERNELS.md).
#
# KERNELS_LIB is plain C over jansson and the store: element types, the parameter-list
# reader, launch descriptions and the job splitter. The master, the tests and the fuzzer
# link it; nothing in it loads a GPU library.
# KERNELS_RUNTIME_LIB runs kernels: OpenCL and CUDA (dlopen()ed, never linked: the one
# loader of each library, which agent detection uses too) and the CPU references of the
# kernel library. udcs-kernel, udcs-trace, udcs-agent, udcs-detect and the tests link it.
KERNELS_SRCS := kernels/kernel_types.c kernels/kernel_sig.c kernels/kernel_job.c kernels/npy.c
KERNELS_OBJS := $(KERNELS_SRCS:%.c=$(O)/%.o)
KERNELS_LIB := $(O)/libudcs_kernels.a
DEPFILES += $(KERNELS_OBJS:.o=.d)

$(KERNELS_LIB): $(KERNELS_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

KERNELS_RUNTIME_SRCS := kernels/runtime.c kernels/runtime_opencl.c kernels/runtime_cuda.c \
                        kernels/reference.c kernels/opencl_api.c kernels/cuda_api.c
KERNELS_RUNTIME_OBJS := $(KERNELS_RUNTIME_SRCS:%.c=$(O)/%.o)
KERNELS_RUNTIME_LIB := $(O)/libudcs_kernels_runtime.a
DEPFILES += $(KERNELS_RUNTIME_OBJS:.o=.d)

$(KERNELS_RUNTIME_LIB): $(KERNELS_RUNTIME_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

