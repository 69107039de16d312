# tests/ - unit tests (cmocka), fuzz targets (libFuzzer), benchmark programs.
TEST_LIBS = $(CAS_LIB) $(COMMON_LIB)
tests: $(TEST_PROGRAMS)
.PHONY: tests fuzz-targets
fuzz-targets: $(FUZZ_TARGETS)
