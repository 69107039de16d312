# agents/ - the agent. So far: hardware and toolchain detection (a library the agent's main
# loop links) and udcs-detect, which prints what detection finds. Detection loads OpenCL
# and the CUDA driver with the loaders of kernels/ (opencl_api.c, cuda_api.c), so what
# links AGENTS_DETECT_LIB links KERNELS_RUNTIME_LIB after it (kernels/module.mk, included
# before this file, defines it).
AGENTS_DETECT_SRCS := agents/detect_host.c agents/detect_gpu_cuda.c agents/detect_opencl.c \
                      agents/detect_toolchains.c
AGENTS_DETECT_OBJS := $(AGENTS_DETECT_SRCS:%.c=$(O)/%.o)
AGENTS_DETECT_LIB := $(O)/libudcs_agent_detect.a
AGENTS_DETECT_MAIN_OBJS := $(O)/agents/detect_main.o
DEPFILES += $(AGENTS_DETECT_OBJS:.o=.d) $(AGENTS_DETECT_MAIN_OBJS:.o=.d)

$(AGENTS_DETECT_LIB): $(AGENTS_DETECT_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

# CUDA, NVML, OpenCL and FFmpeg are dlopen()ed, never linked. glibc 2.34 and later have
# dlopen in libc itself; -ldl is still named for older C libraries (on newer ones it is an
# empty stub).
AGENTS_DETECT_LDLIBS := -ldl

BINARIES += $(BIN)/udcs-detect
$(BIN)/udcs-detect: $(AGENTS_DETECT_MAIN_OBJS) $(AGENTS_DETECT_LIB) $(KERNELS_RUNTIME_LIB) \
                    $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(AGENTS_DETECT_LDLIBS) -o $@
