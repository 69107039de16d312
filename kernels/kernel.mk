# kernels/kernel.mk - the udcs-kernel program. Included after toolchains/ (its job fields
# are RENDER_LIB's), while kernels/module.mk comes before, for udcs-trace's GPU path.
# udcs-kernel: what kernel units run on agents (kernel_exec.c: run and merge), and what
# agents ask for the device classes they offer. KERNELS_EXEC_LIB is its logic without
# main(), for the tests and the fuzzer (patches).
KERNELS_EXEC_OBJS := $(O)/kernels/kernel_exec.o
KERNELS_EXEC_LIB := $(O)/libudcs_kernels_exec.a
KERNELS_MAIN_OBJS := $(O)/kernels/kernel_main.o
DEPFILES += $(KERNELS_EXEC_OBJS:.o=.d) $(KERNELS_MAIN_OBJS:.o=.d)

$(KERNELS_EXEC_LIB): $(KERNELS_EXEC_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

BINARIES += $(BIN)/udcs-kernel
$(BIN)/udcs-kernel: $(KERNELS_MAIN_OBJS) $(KERNELS_EXEC_LIB) $(KERNELS_RUNTIME_LIB) \
                    $(KERNELS_LIB) $(RENDER_LIB) $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -ldl -o $@

# OpenCL and CUDA are dlopen()ed: glibc 2.34 and later have dlopen in libc itself, and -ldl
# is still named for older C libraries (on newer ones it is an empty stub). In PKG_LIBS so
# that every program linking KERNELS_RUNTIME_LIB, the tests included, gets it.
PKG_LIBS += -ldl
