# agents/agent.mk - udcs-agent: the daemon (registration, heartbeats, slots) and its
# executors, on top of the detection library of agents/module.mk.
AGENT_SRCS := agents/agent_loop.c agents/exec.c agents/toolchain.c
AGENT_OBJS := $(AGENT_SRCS:%.c=$(O)/%.o)
AGENT_LIB := $(O)/libudcs_agent.a
AGENT_MAIN_OBJS := $(O)/agents/agent_main.o
DEPFILES += $(AGENT_OBJS:.o=.d) $(AGENT_MAIN_OBJS:.o=.d)

$(AGENT_LIB): $(AGENT_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

BINARIES += $(BIN)/udcs-agent
$(BIN)/udcs-agent: $(AGENT_MAIN_OBJS) $(AGENT_LIB) $(AGENTS_DETECT_LIB) $(KERNELS_RUNTIME_LIB) \
                   $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(AGENTS_DETECT_LDLIBS) -o $@
