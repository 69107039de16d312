# UDCS - distributed build and render farm. One GNU Makefile; each folder lists its
# sources in a module.mk fragment. Objects go to $(BUILD)/obj, binaries to $(BUILD)/bin.
# `make help` lists the targets.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD ?= build
O := $(BUILD)/obj
BIN := $(BUILD)/bin
TESTBIN := $(BUILD)/tests
PREFIX ?= /usr/local

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

# Libraries come from pkg-config only. Evaluated lazily: `make deps` may install them.
PKGS := libzstd libxxhash libmicrohttpd libcurl jansson openssl inih sqlite3 libarchive libgit2
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
TEST_PKG_CFLAGS = $(shell pkg-config --cflags cmocka)
TEST_PKG_LIBS = $(shell pkg-config --libs cmocka)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wundef -Wvla -Wno-format-nonliteral -Wno-format-truncation
# clang (make fuzz) does not know every gcc warning option named above.
ifneq ($(findstring clang,$(CC)),)
WARNINGS += -Wno-unknown-warning-option
endif
CFLAGS ?= -O2 -g
# SAN is set by `make asan` and `make fuzz`.
SAN ?=
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) -I. $(PKG_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP
ALL_LDFLAGS = $(SAN) -pthread $(LDFLAGS)

BINARIES :=
TEST_PROGRAMS :=
FUZZ_TARGETS :=
DEPFILES :=

include common/module.mk
include cas/module.mk
include kernels/module.mk
include agents/module.mk
include agents/agent.mk
include toolchains/module.mk
include toolchains/trace.mk
include toolchains/video.mk
include kernels/kernel.mk
include farm/module.mk
include ci/module.mk
include tests/module.mk

# Quiet by default; `make V=1` shows the commands.
V ?= 0
ifeq ($(V),0)
Q := @
QUIET_CC = @echo "  CC      $<";
QUIET_LINK = @echo "  LINK    $@";
QUIET_AR = @echo "  AR      $@";
QUIET_CXX = @echo "  CXX     $<";
endif

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(QUIET_CC)$(CC) $(ALL_CFLAGS) -c $< -o $@

.PHONY: all
all: $(BINARIES)

# Keep intermediate objects (pattern-rule chains would otherwise delete them).
.SECONDARY:

# ---- dependencies (Debian 12 packages) ------------------------------------------------
# What the build, the tests, the benchmarks and the demo need. `make deps` installs what
# is missing when run as root, and otherwise prints the apt-get line to run.
DEBS := build-essential pkg-config clang libclang-rt-14-dev \
        libzstd-dev libxxhash-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev \
        libssl-dev libinih-dev libsqlite3-dev libcmocka-dev zstd xxhash curl jq procps \
        ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd clinfo libarchive-dev libgit2-dev libxml2-utils bubblewrap \
        cmake meson ninja-build gcc-aarch64-linux-gnu qemu-user \
        linux-source-6.1 flex bison bc ccache sccache distcc \
        libopenimageio-dev libtiff-dev povray povray-includes povray-examples \
        libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev ffmpeg
# cmake, meson, ninja-build, gcc-aarch64-linux-gnu and qemu-user: udcs-compile --project
# builds real projects for two targets and runs the aarch64 one; linux-source-6.1 (with
# flex, bison, bc to configure it): a real project nobody here wrote, built in the tests and
# the benchmark; ccache, sccache and distcc: what the compile benchmark compares against.
# libopenimageio-dev: image files for udcs-render (libtiff-dev: its tiles, written without
# loading OpenImageIO); povray with its includes and examples:
# the POV-Ray adapter, tested on Debian's own example scenes. Blender is large: .ci/run
# installs it, and its tests say why they skip where it is missing. FFmpeg's libraries:
# the encoder adapter (udcs-video, udcs-encode); the ffmpeg program: what the encode
# benchmark compares with, and ffprobe, which the encode tests ask for frame times.
# OpenCL: the ICD loader and its headers (udcs-kernel loads it at run time; the headers give
# the types), PoCL (every machine's CPU is an OpenCL device, so the tests run real kernels),
# clinfo (to see what the loader finds).

# The dashboard: its build, and the Debian packages its browser tests need.
include web.mk

MISSING_DEBS = $(shell for p in $(DEBS); do \
    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
    done)

.PHONY: deps deps-if-missing
deps:
	@missing="$(strip $(MISSING_DEBS))"; \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEBS)) Debian packages are installed"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	    echo "deps: missing packages; as root, run:"; \
	    echo "  apt-get install -y --no-install-recommends $$missing"; exit 1; fi; \
	echo "deps: installing $$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

# Only runs apt when something is missing, so `make check` stays quick on a set-up machine.
deps-if-missing:
	@if [ -n "$(strip $(MISSING_DEBS))" ]; then $(MAKE) --no-print-directory deps; fi

# ---- tests -------------------------------------------------------------------------------
.PHONY: check check-run asan fuzz bench demo
check: deps-if-missing
	@$(MAKE) --no-print-directory all tests
	@$(MAKE) --no-print-directory check-run

check-run:
	@UDCS_BIN=$(abspath $(BIN)) UDCS_TESTBIN=$(abspath $(TESTBIN)) tests/run.sh

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan: deps-if-missing
	@$(MAKE) --no-print-directory BUILD=build/asan SAN="$(ASAN_FLAGS)" CFLAGS="-O1 -g" all tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:protect_shadow_gap=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	    UDCS_SANITIZER_LOGS=$(abspath build/asan/sanitizer-reports) \
	    $(MAKE) --no-print-directory BUILD=build/asan check-run

FUZZ_SECONDS ?= 30
fuzz: deps-if-missing
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="-O1 -g" \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" fuzz-targets
	@tests/fuzz/run.sh build/fuzz/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: deps-if-missing
	@$(MAKE) --no-print-directory all tests
	@UDCS_BIN=$(abspath $(BIN)) UDCS_TESTBIN=$(abspath $(TESTBIN)) tests/bench/run.sh

demo: deps-if-missing
	@$(MAKE) --no-print-directory all
	@UDCS_BIN=$(abspath $(BIN)) tests/demo.sh

# ---- install, clean, help ------------------------------------------------------------------
.PHONY: install clean help
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/udcs
	install -m 0755 $(BINARIES) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(IMAGE_DL) $(DESTDIR)$(PREFIX)/lib/udcs/

clean:
	rm -rf build

help:
	@echo "UDCS make targets:"
	@echo "  make              build every binary into $(BIN)/"
	@echo "  make web          bundle the web dashboard into $(BUILD)/web/ (needs npm; part of"
	@echo "                    make when npm is installed; docs/DASHBOARD.md)"
	@echo "  make check        install missing Debian packages, build, run every test;"
	@echo "                    the last line says 'N passed, N failed'"
	@echo "  make tests        build the test programs only (build/tests/)"
	@echo "  make check-run    run the tests without building first; TEST_FILTER=NAME"
	@echo "                    runs only the programs whose name holds NAME"
	@echo "  make asan         the unit and integration tests under AddressSanitizer and"
	@echo "                    UndefinedBehaviorSanitizer (build/asan/)"
	@echo "  make fuzz         build the libFuzzer targets with clang and run each for"
	@echo "                    FUZZ_SECONDS (default $(FUZZ_SECONDS)) seconds"
	@echo "  make fuzz-targets build the libFuzzer targets without running them"
	@echo "  make bench        run the benchmarks against what a user would use instead (docs/BENCHMARKS.md)"
	@echo "  make demo         set up, build, and run the demo on loopback"
	@echo "  make deps         install the Debian packages UDCS needs (as root), or print"
	@echo "                    the apt-get line to run"
	@echo "  make install      install the binaries into PREFIX/bin (PREFIX=$(PREFIX))"
	@echo "  make clean        remove build/"
	@echo "  make help         this list"

-include $(DEPFILES)
