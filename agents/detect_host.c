/* agents/detect_host.c - host facts (uname, /proc, statvfs, /etc/os-release), and the
 * assembly of the whole object: agent_detect() with its overrides, agent_detect_refresh().
 * GPUs, OpenCL devices and toolchains come from the other detect_*.c files; see
 * agents/detect.h for the object's keys. */
#include "agents/detect.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

/* /proc/cpuinfo is about 1.5 KiB per logical CPU: 4 MiB covers well over 2000 CPUs. */
#define HOST_CPUINFO_MAX_BYTES (4u << 20)
/* /proc/meminfo and os-release are a few KiB. */
#define HOST_SMALL_FILE_MAX_BYTES (64u << 10)
/* The first line of /proc/stat ("cpu  ..."): ten numbers of at most 20 digits. */
#define HOST_STAT_HEAD_BYTES 512
/* Where os-release(5) says to look, in order. */
static const char *const os_release_paths[] = { "/etc/os-release", "/usr/lib/os-release" };
/* /proc/cpuinfo keys naming the processor: x86 first, then what ARM, MIPS and POWER
 * kernels write instead. */
static const char *const cpuinfo_model_keys[] = { "model name", "Processor", "cpu model",
                                                  "Hardware", "cpu" };
#define MANUAL_GPU_NAME "manually declared CUDA GPU"

/* ---- shared helpers --------------------------------------------------------------------- */

double agent_detect_gib(uint64_t bytes)
{
    /* Rounded by hand, not with round(): the agent library does not need libm. */
    double hundredths = (double)bytes / (double)(1ull << 30) * 100.0 + 0.5;
    return (double)(uint64_t)hundredths / 100.0;
}

json_t *agent_detect_text(const char *text)
{
    if (!text)
        return json_string("unknown");
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 0)
        return json_string("unknown");
    json_t *s = json_stringn(text, len);
    if (s)
        return s;
    char *copy = strndup(text, len);   /* not UTF-8 (or out of memory): make it ASCII */
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)copy[i] >= 0x80)
            copy[i] = '?';
    s = json_stringn(copy, len);
    free(copy);
    return s;
}

/* ---- reading /proc and /etc ------------------------------------------------------------- */

/* The value of the first "key: value" line (as /proc files write them) whose key is
 * `key` followed only by blanks before the colon, as a malloc()ed string; NULL when
 * absent or out of memory. */
static char *colon_value(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t llen = end ? (size_t)(end - line) : strlen(line);
        if (llen > klen && strncmp(line, key, klen) == 0) {
            const char *p = line + klen;
            while (p < line + llen && (*p == ' ' || *p == '\t'))
                p++;
            if (p < line + llen && *p == ':') {
                p++;
                return strndup(p, llen - (size_t)(p - line));
            }
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The processor's model from /proc/cpuinfo; NULL when unknown. */
static char *cpu_model_read(void)
{
    struct udcs_buf b = UDCS_BUF_INIT(HOST_CPUINFO_MAX_BYTES);
    char *model = NULL;
    int rc = udcs_read_file("/proc/cpuinfo", &b);
    /* Too big is fine: the first processor's lines are at the start. */
    if ((rc == 0 || rc == UDCS_ETOOBIG) && b.data) {
        for (size_t i = 0; !model && i < sizeof(cpuinfo_model_keys) / sizeof(*cpuinfo_model_keys);
             i++)
            model = colon_value(b.data, cpuinfo_model_keys[i]);
    } else {
        udcs_log_debug("agent: cannot read /proc/cpuinfo: %s", udcs_strerror(rc));
    }
    udcs_buf_release(&b);
    return model;
}

/* A "Key:   1234 kB" line of /proc/meminfo in bytes; 0 when absent. */
static uint64_t meminfo_bytes(const char *text, const char *key)
{
    char *v = colon_value(text, key);
    if (!v)
        return 0;
    char *end;
    unsigned long long kib = strtoull(v, &end, 10);
    free(v);
    return kib > UINT64_MAX / 1024 ? 0 : (uint64_t)kib * 1024;
}

/* Total and available memory. /proc/meminfo's MemAvailable is the kernel's estimate of
 * what can be allocated without swapping; sysinfo(2) is the fallback without /proc. */
static void memory_read(uint64_t *total, uint64_t *avail)
{
    struct udcs_buf b = UDCS_BUF_INIT(HOST_SMALL_FILE_MAX_BYTES);
    *total = *avail = 0;
    if (udcs_read_file("/proc/meminfo", &b) == 0 && b.data) {
        *total = meminfo_bytes(b.data, "MemTotal");
        *avail = meminfo_bytes(b.data, "MemAvailable");
        if (*avail == 0)   /* kernels before 3.14 */
            *avail = meminfo_bytes(b.data, "MemFree") + meminfo_bytes(b.data, "Buffers") +
                     meminfo_bytes(b.data, "Cached");
    }
    udcs_buf_release(&b);
    struct sysinfo si;
    if (*total == 0 && sysinfo(&si) == 0) {
        *total = (uint64_t)si.totalram * si.mem_unit;
        *avail = ((uint64_t)si.freeram + si.bufferram) * si.mem_unit;
    }
    if (*avail > *total)
        *avail = *total;
}

/* Undo the shell quoting os-release(5) allows: "...", '...' or bare, with backslash
 * escapes inside double quotes. Works in place. */
static void shell_unquote(char *s)
{
    char *out = s;
    char quote = 0;
    for (char *p = s; *p; p++) {
        if (!quote && (*p == '"' || *p == '\'')) {
            quote = *p;
        } else if (quote && *p == quote) {
            quote = 0;
        } else if (quote != '\'' && *p == '\\' && p[1]) {
            *out++ = *++p;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
}

/* PRETTY_NAME of os-release; NULL when unknown. */
static char *os_pretty_name_read(void)
{
    for (size_t i = 0; i < sizeof(os_release_paths) / sizeof(*os_release_paths); i++) {
        struct udcs_buf b = UDCS_BUF_INIT(HOST_SMALL_FILE_MAX_BYTES);
        char *name = NULL;
        if (udcs_read_file(os_release_paths[i], &b) == 0 && b.data) {
            for (char *line = b.data; line && !name;) {
                char *end = strchr(line, '\n');
                if (end)
                    *end = '\0';
                if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
                    name = strdup(line + 12);
                    if (name)
                        shell_unquote(name);
                }
                line = end ? end + 1 : NULL;
            }
        }
        udcs_buf_release(&b);
        if (name)
            return name;
    }
    return NULL;
}

/* ---- the host keys ---------------------------------------------------------------------- */

/* Set `key` to `value` (a new reference, NULL when a constructor failed). Returns 0 or
 * -ENOMEM. */
static int set_new(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) == 0 ? 0 : -ENOMEM;
}

/* Set `key` to a malloc()ed string, which is freed. */
static int set_owned_text(json_t *obj, const char *key, char *text)
{
    int rc = set_new(obj, key, agent_detect_text(text));
    free(text);
    return rc;
}

static json_t *load_array(void)
{
    double load[3] = { 0, 0, 0 };
    if (getloadavg(load, 3) != 3)
        load[0] = load[1] = load[2] = 0;
    json_t *a = json_array();
    for (int i = 0; a && i < 3; i++) {
        /* /proc/loadavg has two decimals; keep them and no binary noise beyond. */
        double v = load[i] < 0 ? 0 : (double)(uint64_t)(load[i] * 100.0 + 0.5) / 100.0;
        if (json_array_append_new(a, json_real(v)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static double disk_free_gib(void)
{
    struct statvfs sv;
    if (statvfs(".", &sv) < 0) {
        udcs_log_debug("agent: statvfs of the current directory failed: %s", strerror(errno));
        return 0;
    }
    return agent_detect_gib((uint64_t)sv.f_bavail * sv.f_frsize);
}

/* "ram_free_gb", never above the object's "ram_gb" (which an override may have set). */
static int set_ram_free(json_t *info, uint64_t avail)
{
    double free_gb = agent_detect_gib(avail);
    json_t *total = json_object_get(info, "ram_gb");
    if (json_is_number(total) && free_gb > json_number_value(total))
        free_gb = json_number_value(total);
    return set_new(info, "ram_free_gb", json_real(free_gb));
}

int agent_detect_host(json_t *info)
{
    if (!json_is_object(info))
        return -EINVAL;

    struct utsname u;
    if (uname(&u) < 0)
        memset(&u, 0, sizeof(u));   /* cannot fail on Linux; degrade to "unknown" anyway */
    char host[HOST_NAME_MAX + 1] = "";
    if (gethostname(host, sizeof(host)) < 0 || !host[0])
        snprintf(host, sizeof(host), "%s", u.nodename);
    host[sizeof(host) - 1] = '\0';
    for (char *p = u.sysname; *p; p++)
        *p = (char)tolower((unsigned char)*p);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t total, avail;
    memory_read(&total, &avail);

    int rc = set_new(info, "hostname", agent_detect_text(host));
    if (rc == 0)
        rc = set_new(info, "architecture", agent_detect_text(u.machine));
    if (rc == 0)
        rc = set_new(info, "os", agent_detect_text(u.sysname));
    if (rc == 0)
        rc = set_owned_text(info, "os_version", os_pretty_name_read());
    if (rc == 0)
        rc = set_new(info, "kernel", agent_detect_text(u.release));
    if (rc == 0)
        rc = set_owned_text(info, "cpu_model", cpu_model_read());
    if (rc == 0)
        rc = set_new(info, "cpu_cores", json_integer(cpus > 0 ? cpus : 0));
    if (rc == 0)
        rc = set_new(info, "ram_gb", json_real(agent_detect_gib(total)));
    if (rc == 0)
        rc = set_ram_free(info, avail);
    if (rc == 0)
        rc = set_new(info, "disk_free_gb", json_real(disk_free_gib()));
    if (rc == 0)
        rc = set_new(info, "load", load_array());
    return rc;
}

/* ---- overrides ---------------------------------------------------------------------------- */

/* A size override must be a finite number, not negative (0 means "detect"). */
static int size_override_is_valid(double gb)
{
    return gb >= 0.0 && gb <= DBL_MAX;   /* false for NaN too */
}

static json_t *manual_gpu_new(double memory_gb)
{
    return json_pack("{s:i, s:s, s:s, s:f, s:n, s:n, s:n, s:n}", "index", 0, "api", "cuda",
                     "name", MANUAL_GPU_NAME, "memory_gb", memory_gb, "memory_free_gb",
                     "compute_capability", "utilization", "driver_version");
}

/* Replace detected values by the overrides in `ov` and name each in "overrides". */
static int overrides_apply(json_t *info, const struct agent_overrides *ov)
{
    json_t *applied = json_array();
    if (!applied || json_object_set_new(info, "overrides", applied) < 0)
        return -ENOMEM;
    if (!ov)
        return 0;

    int rc = 0;
    if (ov->cpu_cores > 0) {
        rc = set_new(info, "cpu_cores", json_integer(ov->cpu_cores));
        if (rc == 0)
            rc = json_array_append_new(applied, json_string("cpu_cores"));
    }
    if (rc == 0 && ov->ram_gb > 0) {
        rc = set_new(info, "ram_gb", json_real(ov->ram_gb));
        json_t *free_gb = json_object_get(info, "ram_free_gb");
        if (rc == 0 && json_number_value(free_gb) > ov->ram_gb)
            rc = set_new(info, "ram_free_gb", json_real(ov->ram_gb));
        if (rc == 0)
            rc = json_array_append_new(applied, json_string("ram_gb"));
    }

    json_t *gpus = json_object_get(info, "gpus");
    if (rc == 0 && json_array_size(gpus) == 0) {
        if (ov->gpu_cuda) {
            rc = json_array_append_new(gpus, manual_gpu_new(ov->gpu_memory_gb));
            if (rc == 0)
                rc = json_array_append_new(applied, json_string("gpu_cuda"));
            if (rc == 0 && ov->gpu_memory_gb > 0)
                rc = json_array_append_new(applied, json_string("gpu_memory_gb"));
        } else if (ov->gpu_memory_gb > 0) {
            udcs_log_warn("agent: a GPU memory of %.2f GiB was given, but no CUDA GPU was "
                          "detected or declared; ignoring it (add --gpu-cuda to declare one)",
                          ov->gpu_memory_gb);
        }
    } else if (rc == 0 && ov->gpu_memory_gb > 0) {
        size_t i;
        json_t *gpu;
        json_array_foreach(gpus, i, gpu) {
            if (rc == 0)
                rc = json_object_set_new(gpu, "memory_gb", json_real(ov->gpu_memory_gb));
            json_t *free_gb = json_object_get(gpu, "memory_free_gb");
            if (rc == 0 && json_is_number(free_gb) &&
                json_number_value(free_gb) > ov->gpu_memory_gb)
                rc = json_object_set_new(gpu, "memory_free_gb", json_real(ov->gpu_memory_gb));
        }
        if (rc == 0)
            rc = json_array_append_new(applied, json_string("gpu_memory_gb"));
    }
    return rc == 0 ? 0 : -ENOMEM;
}

/* ---- the whole object ----------------------------------------------------------------------- */

int agent_detect(const struct agent_overrides *ov, json_t **out)
{
    *out = NULL;
    if (ov && (ov->cpu_cores < 0 || !size_override_is_valid(ov->ram_gb) ||
               !size_override_is_valid(ov->gpu_memory_gb)))
        return UDCS_EUSAGE;

    json_t *info = json_object();
    if (!info)
        return -ENOMEM;
    json_t *gpus = NULL, *opencl = NULL, *toolchains = NULL;
    int rc = agent_detect_host(info);
    if (rc == 0)
        rc = agent_detect_cuda(&gpus);
    if (rc == 0)
        rc = set_new(info, "gpus", gpus);
    if (rc == 0)
        rc = agent_detect_opencl(&opencl);
    if (rc == 0)
        rc = set_new(info, "opencl_devices", opencl);
    if (rc == 0)
        rc = agent_detect_toolchains(NULL, &toolchains);
    if (rc == 0)
        rc = set_new(info, "toolchains", toolchains);
    if (rc == 0)
        rc = overrides_apply(info, ov);
    if (rc < 0) {
        json_decref(info);
        return rc;
    }
    *out = info;
    return 0;
}

int agent_detect_refresh(json_t *info)
{
    if (!json_is_object(info))
        return -EINVAL;
    uint64_t total, avail;
    memory_read(&total, &avail);
    int rc = set_new(info, "load", load_array());
    if (rc == 0)
        rc = set_new(info, "disk_free_gb", json_real(disk_free_gib()));
    if (rc == 0)
        rc = set_ram_free(info, avail);
    json_t *gpus = json_object_get(info, "gpus");
    if (rc == 0 && json_is_array(gpus))
        rc = agent_detect_cuda_refresh(gpus);
    return rc;
}

/* ---- CPU time ------------------------------------------------------------------------------ */

int agent_cpu_times_parse(const char *text, size_t len, uint64_t *busy, uint64_t *total)
{
    /* The first line: "cpu  user nice system idle iowait irq softirq steal guest
     * guest_nice", in clock ticks since boot. guest and guest_nice are already counted
     * in user and nice, so they are left out of the total. */
    if (len < 4 || memcmp(text, "cpu ", 4) != 0)
        return -EINVAL;
    uint64_t v[8] = { 0 };
    size_t n = 0, i = 4;
    while (n < 8 && i < len && text[i] != '\n') {
        while (i < len && text[i] == ' ')
            i++;
        if (i >= len || text[i] < '0' || text[i] > '9')
            break;
        uint64_t x = 0;
        for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
            if (x > (UINT64_MAX - 9) / 10)
                return -EINVAL;
            x = x * 10 + (uint64_t)(text[i] - '0');
        }
        v[n++] = x;
    }
    if (n < 4)   /* user nice system idle at the least */
        return -EINVAL;
    uint64_t sum = 0, idle = v[3] + v[4];   /* idle and iowait */
    for (size_t k = 0; k < n; k++) {
        if (sum > UINT64_MAX - v[k])
            return -EINVAL;
        sum += v[k];
    }
    *total = sum;
    *busy = sum - idle;
    return 0;
}

int agent_cpu_times(uint64_t *busy, uint64_t *total)
{
    /* Only the first line: the whole file grows with CPUs and interrupts. */
    char head[HOST_STAT_HEAD_BYTES];
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = udcs_read_full(fd, head, sizeof(head));
    int rc = n < 0 ? (int)n : agent_cpu_times_parse(head, (size_t)n, busy, total);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}
