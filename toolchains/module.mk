# toolchains/ - adapters to outside tools. So far: udcs-compile, the compiler wrapper.
#
# udcs-compile is on the path of every compile, so it links only what a cache hit needs
# (the store, zstd, xxHash, jansson, inih): no libcurl, OpenSSL or libmicrohttpd, whose
# loading alone would cost more than a hit. udcs-compile-farm is the same program with
# the farm code; udcs-compile execs it when a farm is configured and the local store
# cannot answer.
COMPILE_SRCS := toolchains/compile_args.c toolchains/compile_compiler.c \
                toolchains/compile_depfile.c toolchains/compile_key.c \
                toolchains/compile_manifest.c toolchains/compile_stats.c \
                toolchains/compile_cache.c toolchains/compile_farm_down.c \
                toolchains/compile_project.c toolchains/compile_project_build.c
COMPILE_OBJS := $(COMPILE_SRCS:%.c=$(O)/%.o)
COMPILE_LIB := $(O)/libudcs_compile.a
COMPILE_MAIN_OBJS := $(O)/toolchains/compile_main.o
DEPFILES += $(COMPILE_OBJS:.o=.d) $(COMPILE_MAIN_OBJS:.o=.d) \
            $(O)/toolchains/compile_nofarm.d $(O)/toolchains/compile_farm.d \
            $(O)/toolchains/compile_package.d

$(COMPILE_LIB): $(COMPILE_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

# Linked statically: each shared library costs a hit its loading and relocation (about
# 0.1-0.2 ms apiece here); the four are small, permissively licensed, and Debian ships
# their archives in the same -dev packages. Sanitizer builds stay dynamic.
COMPILE_PKGS := libzstd libxxhash jansson inih
ifeq ($(SAN),)
COMPILE_LIBS = -Wl,-Bstatic $(shell pkg-config --libs-only-l $(COMPILE_PKGS)) -Wl,-Bdynamic \
               $(shell pkg-config --libs-only-L $(COMPILE_PKGS))
else
COMPILE_LIBS = $(shell pkg-config --libs $(COMPILE_PKGS))
endif

BINARIES += $(BIN)/udcs-compile $(BIN)/udcs-compile-farm
$(BIN)/udcs-compile: $(COMPILE_MAIN_OBJS) $(O)/toolchains/compile_nofarm.o $(COMPILE_LIB) \
                     $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) -Wl,--as-needed $^ $(COMPILE_LIBS) -o $@

$(BIN)/udcs-compile-farm: $(COMPILE_MAIN_OBJS) $(O)/toolchains/compile_farm.o \
                          $(O)/toolchains/compile_package.o $(COMPILE_LIB) \
                          $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

# Images: OpenImageIO is C++, so one C++ file (image_oiio.cpp) implements the C interface
# of image.h; programs that read or write images link IMAGE_LIB with IMAGE_LDLIBS. The
# plain-C part of image.h (format names, sizes) is in RENDER_LIB as well, for programs
# that need no image library.
CXX ?= g++
ifeq ($(origin CXX),default)
CXX := g++
endif
ALL_CXXFLAGS = -std=c++17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -I. \
               $(shell pkg-config --cflags OpenImageIO) $(CFLAGS) $(SAN) -MMD -MP
IMAGE_OBJS := $(O)/toolchains/image_oiio.o $(O)/toolchains/image_core.o
IMAGE_LIB := $(O)/libudcs_image.a
IMAGE_LDLIBS = $(shell pkg-config --libs OpenImageIO) -lstdc++ -lm
DEPFILES += $(IMAGE_OBJS:.o=.d) $(O)/toolchains/image_main.d

$(O)/toolchains/%.o: toolchains/%.cpp
	@mkdir -p $(@D)
	$(QUIET_CXX)$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

$(IMAGE_LIB): $(IMAGE_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

# The same as a shared library that programs load when they first write an image
# (toolchains/image_dl.c), from lib/udcs/ beside bin/.
LIBDIR := $(BUILD)/lib/udcs
IMAGE_DL := $(LIBDIR)/libudcs-image.so
IMAGE_PIC_OBJS := $(IMAGE_OBJS:.o=.pic.o)
DEPFILES += $(IMAGE_PIC_OBJS:.o=.d)

$(O)/toolchains/%.pic.o: toolchains/%.cpp
	@mkdir -p $(@D)
	$(QUIET_CXX)$(CXX) $(ALL_CXXFLAGS) -fPIC -c $< -o $@

$(O)/toolchains/%.pic.o: toolchains/%.c
	@mkdir -p $(@D)
	$(QUIET_CC)$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(IMAGE_DL): $(IMAGE_PIC_OBJS)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CXX) -shared $(ALL_LDFLAGS) $^ $(IMAGE_LDLIBS) -o $@

# Render and encode jobs as units (render_split.c, encode_split.c, with the segment
# planner and the encode settings' parsers): plain C over jansson, linked by the master,
# the udcs-render client and the tests; sizes and rectangles are parsed the same way there
# and in udcs-image.
RENDER_OBJS := $(O)/toolchains/render_split.o $(O)/toolchains/render_povray.o \
               $(O)/toolchains/image_core.o $(O)/toolchains/encode_split.o $(O)/toolchains/job_fields.o \
               $(O)/toolchains/video_plan.o $(O)/toolchains/video_args.o
RENDER_LIB := $(O)/libudcs_render.a
DEPFILES += $(RENDER_OBJS:.o=.d)

$(RENDER_LIB): $(RENDER_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

BINARIES += $(BIN)/udcs-image
$(BIN)/udcs-image: $(O)/toolchains/image_main.o $(IMAGE_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(IMAGE_LDLIBS) -o $@
