# farm/ - the master (udcs-farm) and the client (udcs).
FARM_SRCS := farm/db.c farm/state.c farm/sched.c farm/spec.c farm/pin.c farm/views.c farm/protocol.c farm/api_agent.c \
             farm/api_client.c farm/api_dash.c farm/api_web.c farm/actions.c farm/events.c \
             farm/metrics.c farm/background.c farm/farm.c
FARM_OBJS := $(FARM_SRCS:%.c=$(O)/%.o)
FARM_LIB := $(O)/libudcs_farm.a
FARM_MAIN_OBJS := $(O)/farm/main.o
DEPFILES += $(FARM_OBJS:.o=.d) $(FARM_MAIN_OBJS:.o=.d)

$(FARM_LIB): $(FARM_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

BINARIES += $(BIN)/udcs-farm
$(BIN)/udcs-farm: $(FARM_MAIN_OBJS) $(FARM_LIB) $(KERNELS_LIB) $(RENDER_LIB) $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

UDCS_CLI_OBJS := $(O)/farm/udcs_main.o $(O)/farm/udcs_run.o $(O)/farm/udcs_kernel.o \
                 $(O)/farm/client.o $(O)/farm/client_watch.o
DEPFILES += $(UDCS_CLI_OBJS:.o=.d)
BINARIES += $(BIN)/udcs
$(BIN)/udcs: $(UDCS_CLI_OBJS) $(KERNELS_LIB) $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

# udcs-render reads built-in scenes itself (toolchains/trace.h) to refuse a broken scene
# with its line and column before anything is sent, and to find the files it needs; with
# --encode it opens the encoder (toolchains/video.h) to refuse settings before rendering.
RENDER_CLI_OBJS := $(O)/farm/render_main.o $(O)/farm/client.o $(O)/farm/client_watch.o
DEPFILES += $(O)/farm/render_main.d $(O)/farm/client_watch.d
BINARIES += $(BIN)/udcs-render
$(BIN)/udcs-render: $(RENDER_CLI_OBJS) $(VIDEO_LIB) $(RENDER_LIB) $(TRACE_LIB) $(CAS_LIB) \
                    $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(VIDEO_LDLIBS) -lm -o $@

# udcs-encode reads and splits the input itself (toolchains/video.h, FFmpeg's libraries):
# only segments travel, and a file that is not a video is refused before anything is sent.
ENCODE_CLI_OBJS := $(O)/farm/encode_main.o $(O)/farm/client.o $(O)/farm/client_watch.o
DEPFILES += $(O)/farm/encode_main.d
$(O)/farm/encode_main.o: ALL_CFLAGS += $(VIDEO_CFLAGS)
BINARIES += $(BIN)/udcs-encode
$(BIN)/udcs-encode: $(ENCODE_CLI_OBJS) $(VIDEO_LIB) $(RENDER_LIB) $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(VIDEO_LDLIBS) -o $@
