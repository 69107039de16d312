/* common/log.c - the logger behind log.h. One write(2) per line, so lines from threads and
 * from processes sharing a log file never interleave mid-line. */
#include "common/log.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Longest line we format; longer messages are cut and end with "...". */
#define LOG_LINE_MAX 4096

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
static const char *const cli_level_words[] = { "error", "warning", "info", "debug" };

static struct {
    char program[64];
    enum udcs_log_level level;
    enum udcs_log_style style;
    int fd;
} logger = { "udcs", UDCS_LOG_WARN, UDCS_LOG_STYLE_DAEMON, STDERR_FILENO };

void udcs_log_init(const char *program, enum udcs_log_level level, enum udcs_log_style style)
{
    const char *slash = strrchr(program, '/');
    snprintf(logger.program, sizeof(logger.program), "%s", slash ? slash + 1 : program);
    logger.level = level;
    logger.style = style;
}

void udcs_log_set_level(enum udcs_log_level level)
{
    logger.level = level;
}

enum udcs_log_level udcs_log_get_level(void)
{
    return logger.level;
}

int udcs_log_level_parse(const char *text, enum udcs_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (enum udcs_log_level)i;
            return 0;
        }
    }
    return UDCS_EUSAGE;
}

int udcs_log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (logger.fd != STDERR_FILENO)
        close(logger.fd);
    logger.fd = fd;
    return 0;
}

int udcs_log_enabled(enum udcs_log_level level)
{
    return level <= logger.level;
}

void udcs_log_write(enum udcs_log_level level, const char *fmt, ...)
{
    if (!udcs_log_enabled(level))
        return;

    int saved_errno = errno;   /* logging must not disturb the caller's errno */
    char line[LOG_LINE_MAX];
    int n;
    if (logger.style == UDCS_LOG_STYLE_CLI && logger.fd == STDERR_FILENO) {
        n = snprintf(line, sizeof(line), "%s: %s: ", logger.program, cli_level_words[level]);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s[%ld] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], logger.program,
                     (long)getpid());
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);

    size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
    if (len > sizeof(line) - 2) {   /* cut: keep room for "..." and the newline */
        len = sizeof(line) - 2;
        memcpy(line + len - 3, "...", 3);
    }
    line[len++] = '\n';

    ssize_t w;
    while ((w = write(logger.fd, line, len)) < 0 && errno == EINTR)
        ;   /* interrupted before anything was written: try again */
    errno = saved_errno;
}
