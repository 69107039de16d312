# toolchains/trace.mk - udcs-trace, the built-in path tracer (docs/SCENES.md).
#
# TRACE_LIB is the renderer without main() and without image files: the scene parser, frame
# evaluation, the BVH, the per-pixel kernel and threaded regions. Unit tests, the fuzzer and
# udcs-render link it without OpenImageIO; udcs-trace adds image.h's writers.
TRACE_SRCS := toolchains/trace_lex.c toolchains/trace_parse.c toolchains/trace_obj.c \
              toolchains/trace_scene.c toolchains/trace_anim.c toolchains/trace_frame.c \
              toolchains/trace_bvh.c toolchains/trace_kernel.c toolchains/trace_render.c
TRACE_OBJS := $(TRACE_SRCS:%.c=$(O)/%.o)
TRACE_LIB := $(O)/libudcs_trace.a
TRACE_MAIN_OBJS := $(O)/toolchains/trace_main.o
DEPFILES += $(TRACE_OBJS:.o=.d) $(TRACE_MAIN_OBJS:.o=.d)

# A pixel must come out the same from every build of these files that a farm mixes: no
# fused multiply-adds (gcc's ISO C modes already refuse them; clang's default does not).
$(TRACE_OBJS): ALL_CFLAGS += -ffp-contract=off

# The renderer uses libm (sqrtf, powf, tan...): every program linking TRACE_LIB (the unit
# tests and fuzz targets through TEST_LIBS) needs it after the libraries.
PKG_LIBS += -lm

$(TRACE_LIB): $(TRACE_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

# udcs-trace does not link OpenImageIO: its start-up (260 shared libraries, about 0.2 s)
# would be paid by every tile unit. Tiles are written with libtiff (image_tiff.c); other
# files through libudcs-image.so, loaded on first use (image_dl.c).
TRACE_IMAGE_OBJS := $(O)/toolchains/image_dl.o $(O)/toolchains/image_tiff.o
DEPFILES += $(TRACE_IMAGE_OBJS:.o=.d)
BINARIES += $(BIN)/udcs-trace
$(BIN)/udcs-trace: $(TRACE_MAIN_OBJS) $(TRACE_IMAGE_OBJS) $(TRACE_LIB) $(RENDER_LIB) \
                   $(COMMON_LIB) | $(IMAGE_DL)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $(filter-out $(IMAGE_DL),$^) $(PKG_LIBS) \
	    $(shell pkg-config --libs libtiff-4) -ldl -lm -o $@
