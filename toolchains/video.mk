# toolchains/video.mk - the encoder adapter (toolchains/video.h) over FFmpeg's libraries,
# and udcs-video, the program agents run for encode and join units.
#
# The segment planner and the settings' parsers (video_plan.c, video_args.c) are plain C:
# they are in RENDER_LIB too (toolchains/module.mk), for the master, the tests and the
# fuzzer, which do not load FFmpeg.
VIDEO_PKGS := libavformat libavcodec libavutil libswscale libswresample
VIDEO_CFLAGS = $(shell pkg-config --cflags $(VIDEO_PKGS))
VIDEO_LDLIBS = $(shell pkg-config --libs $(VIDEO_PKGS)) -lm

VIDEO_SRCS := toolchains/video_settings.c toolchains/video_split.c \
              toolchains/video_encode.c toolchains/video_join.c toolchains/video_probe.c
VIDEO_OBJS := $(VIDEO_SRCS:%.c=$(O)/%.o)
VIDEO_LIB := $(O)/libudcs_video.a
VIDEO_PLAN_OBJS := $(O)/toolchains/video_plan.o $(O)/toolchains/video_args.o
DEPFILES += $(VIDEO_OBJS:.o=.d) $(VIDEO_PLAN_OBJS:.o=.d) $(O)/toolchains/video_main.d

$(VIDEO_OBJS) $(O)/toolchains/video_main.o: ALL_CFLAGS += $(VIDEO_CFLAGS)

$(VIDEO_LIB): $(VIDEO_OBJS) $(VIDEO_PLAN_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

BINARIES += $(BIN)/udcs-video
$(BIN)/udcs-video: $(O)/toolchains/video_main.o $(VIDEO_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(VIDEO_LDLIBS) -o $@
