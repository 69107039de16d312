/* common/log.h - the one logger: levels, one line per event, printf-checked formats.
 *
 * Lines look like `2026-11-25T16:40:01.123Z WARN  udcs-cas[4711] cas: ...`. By convention
 * the message starts with the module name and a colon. The logger is one of the two
 * process-wide objects (with the parsed configuration); main() sets it up. */
#ifndef UDCS_COMMON_LOG_H
#define UDCS_COMMON_LOG_H

enum udcs_log_level {
    UDCS_LOG_ERROR = 0,
    UDCS_LOG_WARN  = 1,
    UDCS_LOG_INFO  = 2,
    UDCS_LOG_DEBUG = 3,
};

/* How a line looks. Daemons log with time, level and pid; command-line tools talk to a
 * person: "udcs-cas: error: ..." with no timestamp. */
enum udcs_log_style {
    UDCS_LOG_STYLE_DAEMON = 0,
    UDCS_LOG_STYLE_CLI,
};

/* Name the program in every line and set the threshold and style. Safe to call again. */
void udcs_log_init(const char *program, enum udcs_log_level level, enum udcs_log_style style);
void udcs_log_set_level(enum udcs_log_level level);
enum udcs_log_level udcs_log_get_level(void);

/* Parse "error", "warn", "info" or "debug" (case-insensitive). Returns 0 or UDCS_EUSAGE. */
int udcs_log_level_parse(const char *text, enum udcs_log_level *out);

/* Send lines to `path` (appended, created 0644) instead of stderr. Returns 0 or -errno. */
int udcs_log_open_file(const char *path);

/* True when a message at `level` would be written: lets callers skip costly formatting. */
int udcs_log_enabled(enum udcs_log_level level);

void udcs_log_write(enum udcs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define udcs_log_error(...) udcs_log_write(UDCS_LOG_ERROR, __VA_ARGS__)
#define udcs_log_warn(...)  udcs_log_write(UDCS_LOG_WARN, __VA_ARGS__)
#define udcs_log_info(...)  udcs_log_write(UDCS_LOG_INFO, __VA_ARGS__)
#define udcs_log_debug(...) \
    do { if (udcs_log_enabled(UDCS_LOG_DEBUG)) udcs_log_write(UDCS_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
