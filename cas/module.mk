# cas/ - the content-addressed store library and the udcs-cas command.
CAS_SRCS := cas/digest.c cas/blob.c cas/decoder.c cas/result.c cas/store.c cas/stats.c cas/ac.c \
            cas/ingest.c cas/store_maint.c cas/remote.c cas/http.c cas/layered.c cas/tree.c \
            cas/action.c
CAS_OBJS := $(CAS_SRCS:%.c=$(O)/%.o)
CAS_LIB := $(O)/libudcs_cas.a
CAS_CLI_SRCS := cas/cli_main.c cas/cli_tree.c cas/cli_serve.c
CAS_CLI_OBJS := $(CAS_CLI_SRCS:%.c=$(O)/%.o)
DEPFILES += $(CAS_OBJS:.o=.d) $(CAS_CLI_OBJS:.o=.d)

$(CAS_LIB): $(CAS_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^

BINARIES += $(BIN)/udcs-cas
$(BIN)/udcs-cas: $(CAS_CLI_OBJS) $(CAS_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(QUIET_LINK)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@
