/* ci/ci_report.c - `udcs ci report --junit FILE --json FILE`: the step log as JUnit XML
 * (one testcase per step run; a non-zero exit status is a failure) and as JSON (every
 * record and a summary: hits, misses, failures, time spent and time saved), in the
 * formats CI systems display. */
#include "ci/ci_internal.h"
#include "common/cli.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CI_REPORT_MAX_BYTES (256u * 1024 * 1024)
#define MS_PER_S 1000.0

/* `text` as XML character data or attribute value. Characters XML 1.0 cannot carry
 * (control characters other than tab and newline) become '?'. */
static int xml_escaped(struct udcs_buf *b, const char *text)
{
    int rc = 0;
    for (const char *p = text ? text : ""; rc == 0 && *p; p++) {
        unsigned char ch = (unsigned char)*p;
        switch (ch) {
        case '&': rc = udcs_buf_append_str(b, "&amp;"); break;
        case '<': rc = udcs_buf_append_str(b, "&lt;"); break;
        case '>': rc = udcs_buf_append_str(b, "&gt;"); break;
        case '"': rc = udcs_buf_append_str(b, "&quot;"); break;
        case '\'': rc = udcs_buf_append_str(b, "&apos;"); break;
        default:
            if (ch < 0x20 && ch != '\t' && ch != '\n')
                ch = '?';
            rc = udcs_buf_append(b, &ch, 1);
        }
    }
    return rc;
}

static long long rec_int(json_t *rec, const char *key)
{
    return (long long)json_integer_value(json_object_get(rec, key));
}

static const char *rec_str(json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s ? s : "";
}

struct summary {
    long long steps, hits, misses, failed, time_ms, saved_ms;
};

static void summarize(json_t *log, struct summary *s)
{
    memset(s, 0, sizeof(*s));
    size_t i;
    json_t *rec;
    json_array_foreach(log, i, rec) {
        s->steps++;
        if (strcmp(rec_str(rec, "outcome"), "hit") == 0)
            s->hits++;
        else
            s->misses++;
        s->failed += rec_int(rec, "exit_code") != 0;
        s->time_ms += rec_int(rec, "elapsed_ms");
        s->saved_ms += rec_int(rec, "saved_ms");
    }
}

static int junit_of(json_t *log, const struct summary *sum, struct udcs_buf *b)
{
    char stamp[32] = "1970-01-01T00:00:00";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    int rc = udcs_buf_appendf(
        b,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<testsuites name=\"udcs ci\" tests=\"%lld\" failures=\"%lld\" errors=\"0\" "
        "time=\"%.3f\">\n"
        "  <testsuite name=\"udcs-ci\" tests=\"%lld\" failures=\"%lld\" errors=\"0\" "
        "skipped=\"0\" time=\"%.3f\" timestamp=\"%s\">\n"
        "    <properties>\n"
        "      <property name=\"hits\" value=\"%lld\"/>\n"
        "      <property name=\"misses\" value=\"%lld\"/>\n"
        "      <property name=\"saved_s\" value=\"%.3f\"/>\n"
        "    </properties>\n",
        sum->steps, sum->failed, sum->time_ms / MS_PER_S, sum->steps, sum->failed,
        sum->time_ms / MS_PER_S, stamp, sum->hits, sum->misses, sum->saved_ms / MS_PER_S);
    size_t i;
    json_t *rec;
    json_array_foreach(log, i, rec) {
        if (rc < 0)
            break;
        long long exit_code = rec_int(rec, "exit_code");
        rc = udcs_buf_append_str(b, "    <testcase classname=\"udcs.ci\" name=\"");
        if (rc == 0)
            rc = xml_escaped(b, rec_str(rec, "name"));
        if (rc == 0)
            rc = udcs_buf_appendf(b, "\" time=\"%.3f\">\n",
                                  rec_int(rec, "elapsed_ms") / MS_PER_S);
        if (rc == 0 && exit_code != 0)
            rc = udcs_buf_appendf(b,
                                  "      <failure type=\"exit\" message=\"exit status "
                                  "%lld\">the step exited with status %lld</failure>\n",
                                  exit_code, exit_code);
        char job[48] = "";
        if (rec_int(rec, "job") > 0)
            snprintf(job, sizeof(job), " (job %lld)", (long long)rec_int(rec, "job"));
        if (rc == 0)
            rc = udcs_buf_appendf(b,
                                  "      <system-out>%s: key %s, ran %s%s, run %.3f s, saved "
                                  "%.3f s, commit ",
                                  rec_str(rec, "outcome"), rec_str(rec, "key"),
                                  rec_str(rec, "where"), job, rec_int(rec, "run_ms") / MS_PER_S,
                                  rec_int(rec, "saved_ms") / MS_PER_S);
        if (rc == 0)
            rc = xml_escaped(b, rec_str(rec, "commit"));
        size_t k;
        json_t *arg;
        if (rc == 0)
            rc = udcs_buf_append_str(b, "\ncommand:");
        json_array_foreach(json_object_get(json_object_get(rec, "step"), "argv"), k, arg) {
            if (rc == 0)
                rc = udcs_buf_append_str(b, " ");
            if (rc == 0)
                rc = xml_escaped(b, json_string_value(arg));
        }
        if (rc == 0)
            rc = udcs_buf_append_str(b, "</system-out>\n    </testcase>\n");
    }
    if (rc == 0)
        rc = udcs_buf_append_str(b, "  </testsuite>\n</testsuites>\n");
    return rc;
}

static int write_report(const char *path, const char *data, size_t len, const char *what)
{
    int rc = udcs_write_atomic(path, data, len, 0644);
    if (rc < 0)
        udcs_log_error("ci report: cannot write the %s report %s: %s", what, path,
                       udcs_strerror(rc));
    return rc;
}

int ci_cmd_report(const char *cache_dir, int argc, char **argv)
{
    const char *junit = NULL, *json_path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc) {
            junit = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json_path = argv[++i];
        } else {
            udcs_log_error("ci report: unknown option or missing value '%s'; usage: udcs ci "
                           "report [--junit FILE] [--json FILE]", argv[i]);
            return UDCS_EXIT_USAGE;
        }
    }
    if (!junit && !json_path) {
        udcs_log_error("ci report: name a report to write: --junit FILE, --json FILE or both");
        return UDCS_EXIT_USAGE;
    }
    json_t *log;
    if (ci_log_read(cache_dir, &log) < 0)
        return UDCS_EXIT_FAILED;
    struct summary sum;
    summarize(log, &sum);
    int rc = 0;
    if (junit) {
        struct udcs_buf b = UDCS_BUF_INIT(CI_REPORT_MAX_BYTES);
        rc = junit_of(log, &sum, &b);
        rc = rc < 0 ? rc : write_report(junit, b.data, b.len, "JUnit");
        udcs_buf_release(&b);
    }
    if (rc == 0 && json_path) {
        json_t *j = json_pack("{s:O,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "steps", log, "summary",
                              "steps", (json_int_t)sum.steps, "hits", (json_int_t)sum.hits,
                              "misses", (json_int_t)sum.misses, "failed",
                              (json_int_t)sum.failed, "time_ms", (json_int_t)sum.time_ms,
                              "saved_ms", (json_int_t)sum.saved_ms);
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        rc = text ? write_report(json_path, text, strlen(text), "JSON") : -ENOMEM;
        free(text);
        json_decref(j);
    }
    json_decref(log);
    if (rc == 0)
        printf("%lld steps: %lld hits, %lld misses, %lld failed; %.1f s spent, %.1f s saved\n",
               sum.steps, sum.hits, sum.misses, sum.failed, sum.time_ms / MS_PER_S,
               sum.saved_ms / MS_PER_S);
    return rc == 0 ? UDCS_EXIT_OK : UDCS_EXIT_FAILED;
}
