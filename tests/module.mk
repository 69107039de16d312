# tests/ - every tests/unit/test_*.c is one cmocka program; every tests/fuzz/fuzz_*.c one
# libFuzzer target; every tests/bench/bench_*.c one benchmark program. Adding a file is
# enough: nothing here lists them by hand.
TEST_LIBS = $(FARM_LIB) $(AGENTS_DETECT_LIB) $(KERNELS_EXEC_LIB) $(KERNELS_RUNTIME_LIB) $(KERNELS_LIB) $(RENDER_LIB) $(COMPILE_LIB) $(TRACE_LIB) $(CAS_LIB) $(COMMON_LIB)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_HELPER_SRCS := $(wildcard tests/unit/helpers/*.c)
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(O)/%.o)
TEST_PROGRAMS += $(UNIT_SRCS:tests/unit/%.c=$(TESTBIN)/%)
DEPFILES += $(UNIT_SRCS:%.c=$(O)/%.d) $(UNIT_HELPER_OBJS:.o=.d)

$(O)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(QUIET_CC)$(CC) $(ALL_CFLAGS) $(TEST_PKG_CFLAGS) -c $< -o $@

$(TESTBIN)/test_%: $(O)/tests/unit/test_%.o $(UNIT_HELPER_OBJS) $(TEST_LIBS)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(TEST_PKG_LIBS) -o $@

BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
TEST_PROGRAMS += $(BENCH_SRCS:tests/bench/%.c=$(TESTBIN)/%)
DEPFILES += $(BENCH_SRCS:%.c=$(O)/%.d)

$(TESTBIN)/bench_%: $(O)/tests/bench/bench_%.o $(TEST_LIBS)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
DEPFILES += $(FUZZ_SRCS:%.c=$(O)/%.d)

$(BUILD)/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(TEST_LIBS)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer $^ $(PKG_LIBS) -o $@

# Each fuzz target also becomes an ordinary test program, test_replay_fuzz_X (gcc, no
# libFuzzer): it replays the target's seed corpus and regressions in `make check` and, under
# the sanitizers, in `make asan` (tests/fuzz/replay_main.c).
FUZZ_REPLAYS := $(FUZZ_SRCS:tests/fuzz/%.c=$(TESTBIN)/test_replay_%)
TEST_PROGRAMS += $(FUZZ_REPLAYS)
FUZZ_REPLAY_OBJS := $(FUZZ_SRCS:tests/fuzz/%.c=$(O)/tests/fuzz/replay_%.o)
DEPFILES += $(FUZZ_REPLAY_OBJS:.o=.d)

$(FUZZ_REPLAY_OBJS): $(O)/tests/fuzz/replay_%.o: tests/fuzz/replay_main.c
	@mkdir -p $(@D)
	$(QUIET_CC)$(CC) $(ALL_CFLAGS) -DFUZZ_TARGET_NAME='"$*"' -c $< -o $@

$(FUZZ_REPLAYS): $(TESTBIN)/test_replay_%: $(O)/tests/fuzz/%.o $(O)/tests/fuzz/replay_%.o $(TEST_LIBS)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

.PHONY: tests fuzz-targets
tests: $(TEST_PROGRAMS)
fuzz-targets: $(FUZZ_TARGETS)

# make-test-video: synthetic video inputs for the video tests, from libav* alone. `tests`
# names it too: its rule above took TEST_PROGRAMS' value when make read it.
TEST_PROGRAMS += $(TESTBIN)/make-test-video
DEPFILES += $(O)/tests/tools/make_test_video.d
tests: $(TESTBIN)/make-test-video

$(O)/tests/tools/make_test_video.o: tests/tools/make_test_video.c
	@mkdir -p $(@D)
	$(QUIET_CC)$(CC) $(ALL_CFLAGS) $(VIDEO_CFLAGS) -c $< -o $@

$(TESTBIN)/make-test-video: $(O)/tests/tools/make_test_video.o
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(VIDEO_LDLIBS) -o $@
