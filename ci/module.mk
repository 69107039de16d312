# ci/ - `udcs ci` (docs/CI.md): cached pipeline steps keyed by git trees (libgit2), outputs
# as archive blobs (libarchive), affected steps, cache files, reports. Linked into the udcs
# CLI, whose rule (farm/module.mk, included before this file) names the libraries it
# needs only once: CI_LIB and the libraries it uses go first in PKG_LIBS for that target,
# so the link finds ci_main (called from udcs_main.c) and what ci/ calls.
CI_SRCS := ci/ci_steps.c ci/ci_key.c ci/ci_archive.c ci/ci_log.c ci/ci_step.c ci/ci_affected.c \
           ci/ci_bundle.c ci/ci_report.c ci/ci_main.c
CI_OBJS := $(CI_SRCS:%.c=$(O)/%.o)
CI_LIB := $(O)/libudcs_ci.a
DEPFILES += $(CI_OBJS:.o=.d)

$(CI_LIB): $(CI_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

# ci_key.c fingerprints named toolchains with the agents' detection (agents/detect.h),
# which loads OpenCL and CUDA through kernels/ and needs -ldl (agents/module.mk).
CI_LINK = $(CI_LIB) $(AGENTS_DETECT_LIB) $(KERNELS_RUNTIME_LIB) $(CAS_LIB) \
          $(COMMON_LIB) $(shell pkg-config --libs $(PKGS)) $(AGENTS_DETECT_LDLIBS)
$(BIN)/udcs: $(CI_LIB) $(AGENTS_DETECT_LIB) $(KERNELS_RUNTIME_LIB)
$(BIN)/udcs: PKG_LIBS = $(CI_LINK)

# The unit tests (tests/unit/test_ci.c), the fuzz targets of the steps parser and of cache
# file import (tests/fuzz/fuzz_ci_*.c) and their replay tests link ci/ too; tests/module.mk's rules
# name the other libraries.
CI_TEST_LINKS := $(TESTBIN)/test_ci $(BUILD)/fuzz/fuzz_ci_steps $(TESTBIN)/test_replay_fuzz_ci_steps \
                 $(BUILD)/fuzz/fuzz_ci_cache_import $(TESTBIN)/test_replay_fuzz_ci_cache_import
$(CI_TEST_LINKS): $(CI_LIB)
$(CI_TEST_LINKS): PKG_LIBS = $(CI_LINK)
