# common/ - the runtime every module shares.
COMMON_SRCS := common/err.c common/log.c common/buf.c common/fs.c common/proc.c \
               common/units.c common/config.c common/json.c common/http_server.c \
               common/http_client.c common/base64.c common/cli.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(O)/%.o)
COMMON_LIB := $(O)/libudcs_common.a
DEPFILES += $(COMMON_OBJS:.o=.d)

$(COMMON_LIB): $(COMMON_OBJS)
	@rm -f $@
	$(QUIET_AR)$(AR) rcs $@ $^
