/* agents/agent_main.c - udcs-agent: settings (the original design's worker flags
 * included: --coordinator, --gpu-cuda, --gpu-memory, --cpu-cores, --ram), detection,
 * then the daemon until SIGTERM (drain: finish what runs) or a second SIGTERM/SIGINT
 * (stop now and hand the units back). */
#include "agents/agent.h"
#include "agents/detect.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/units.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static const struct udcs_setting settings[] = {
    /*           name          flag             env                 key                  default                    type    help */
    UDCS_SETTING(farm,         "--farm",        "UDCS_FARM",        "agent.farm",        NULL,                      STRING, "the master, HOST:PORT or http://HOST:PORT"),
    UDCS_SETTING(coordinator,  "--coordinator", NULL,               NULL,                NULL,                      STRING, "the same as --farm (the original design's name)"),
    UDCS_SETTING(token_file,   "--token-file",  "UDCS_TOKEN_FILE",  "agent.token_file",  NULL,                      PATH,   "the farm token (first line)"),
    UDCS_SETTING(slots,        "--slots",       "UDCS_SLOTS",       "agent.slots",       "0",                       UINT,   "units run at once (0: one per core)"),
    UDCS_SETTING(work_dir,     "--work-dir",    "UDCS_WORK_DIR",    "agent.work_dir",    "~/.cache/udcs-agent",     PATH,   "unit directories and the local store"),
    UDCS_SETTING(name,         "--name",        NULL,               "agent.name",        NULL,                      STRING, "the name shown by udcs devices (default: host name)"),
    UDCS_SETTING(cache_max,    "--cache-max",   NULL,               "agent.cache_max",   "10G",                     SIZE,   "the local store's size limit"),
    UDCS_SETTING(lease_wait_ms, "--lease-wait-ms", NULL,            "agent.lease_wait_ms", "30000",                 UINT,   "how long one request for work may wait"),
    UDCS_SETTING(keep_units,   "--keep-units",  NULL,               NULL,                "false",                   BOOL,   "leave the last unit's files in place (debugging)"),
    UDCS_SETTING(gpu_cuda,     "--gpu-cuda",    NULL,               "agent.gpu_cuda",    "false",                   BOOL,   "declare a CUDA GPU even if none is detected"),
    UDCS_SETTING(gpu_memory,   "--gpu-memory",  NULL,               "agent.gpu_memory",  NULL,                      SIZE,   "GPU memory to declare, e.g. 8GB"),
    UDCS_SETTING(cpu_cores,    "--cpu-cores",   NULL,               "agent.cpu_cores",   NULL,                      UINT,   "CPU cores to declare"),
    UDCS_SETTING(ram,          "--ram",         NULL,               "agent.ram",         NULL,                      SIZE,   "memory to declare, e.g. 32GB"),
    UDCS_SETTING(log_level,    "--log-level",   "UDCS_LOG_LEVEL",   "log.level",         "info",                    STRING, "error, warn, info or debug"),
    UDCS_SETTING(log_file,     "--log-file",    NULL,               "log.file",          NULL,                      PATH,   "log there instead of standard error"),
};

static void usage(FILE *out, const struct udcs_config *cfg)
{
    fprintf(out,
            "usage: udcs-agent --farm HOST:PORT --token-file FILE [OPTIONS]\n"
            "\n"
            "A UDCS agent: reports this machine's hardware and toolchains to the farm master,\n"
            "takes units under leases, runs them in their own directories and process groups,\n"
            "and returns their outputs through the store. SIGTERM drains (finishes what runs);\n"
            "a second SIGTERM or SIGINT stops at once and hands running units back.\n"
            "\n"
            "options (also settable by environment and config file):\n");
    udcs_config_print_flags(cfg, out);
    fprintf(out, "  --print-config         show every setting and where it came from\n"
                 "  --help, --version\n");
}

/* The agent's identity: random, kept in the work directory so a restarted agent is the
 * same agent to the master. */
static int load_key(const char *work_dir, char **out)
{
    char *path = udcs_path_join(work_dir, "agent.key");
    struct udcs_buf b = UDCS_BUF_INIT(256);
    int rc = path ? udcs_read_file(path, &b) : -ENOMEM;
    if (rc == 0 && b.len >= 16) {
        b.data[strcspn(b.data, "\r\n")] = '\0';
        *out = udcs_buf_detach(&b, NULL);
        free(path);
        return 0;
    }
    udcs_buf_release(&b);
    unsigned char raw[16];
    char hex[33];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        free(path);
        return -EIO;
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    rc = path ? udcs_write_atomic(path, hex, 32, 0600) : -ENOMEM;
    free(path);
    if (rc == 0)
        *out = strdup(hex);
    return rc;
}

struct drain {
    struct agent_daemon *d;
    pthread_t thread;
    int done;
};

static void *drain_main(void *arg)
{
    struct drain *dr = arg;
    agent_daemon_stop(dr->d, 0);
    __atomic_store_n(&dr->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static char *farm_url(const char *farm)
{
    char *url = NULL;
    if (strncmp(farm, "http://", 7) == 0 || strncmp(farm, "https://", 8) == 0)
        return strdup(farm);
    if (asprintf(&url, "http://%s", farm) < 0)
        return NULL;
    return url;
}

static int run(const struct udcs_config *cfg)
{
    const char *farm = udcs_config_str(cfg, "farm");
    if (!farm)
        farm = udcs_config_str(cfg, "coordinator");
    if (!farm) {
        udcs_log_error("say where the master is: --farm HOST:PORT (or UDCS_FARM)");
        return UDCS_EXIT_USAGE;
    }
    struct agent_daemon d = { 0 };
    uint64_t slots, wait_ms, cores = 0, gpu_mem = 0, ram = 0;
    int gpu_cuda, keep;
    if (udcs_config_uint(cfg, "slots", &slots) < 0 ||
        udcs_config_uint(cfg, "lease_wait_ms", &wait_ms) < 0 ||
        udcs_config_size(cfg, "cache_max", &d.cfg.cache_max_bytes) < 0 ||
        udcs_config_bool(cfg, "gpu_cuda", &gpu_cuda) < 0 ||
        udcs_config_bool(cfg, "keep_units", &keep) < 0 ||
        udcs_config_uint(cfg, "cpu_cores", &cores) == UDCS_EUSAGE ||
        udcs_config_size(cfg, "gpu_memory", &gpu_mem) == UDCS_EUSAGE ||
        udcs_config_size(cfg, "ram", &ram) == UDCS_EUSAGE)
        return UDCS_EXIT_USAGE;
    if (slots > 1024) {
        udcs_log_error("--slots %llu is more than 1024", (unsigned long long)slots);
        return UDCS_EXIT_USAGE;
    }
    struct agent_overrides ov = { .cpu_cores = (int)cores, .gpu_cuda = gpu_cuda,
                                  .ram_gb = (double)ram / (1ull << 30),
                                  .gpu_memory_gb = (double)gpu_mem / (1ull << 30) };
    const char *log_file = udcs_config_str(cfg, "log_file");
    if (log_file && udcs_log_open_file(log_file) < 0) {
        udcs_log_error("cannot open log file %s", log_file);
        return UDCS_EXIT_USAGE;
    }
    char *token = NULL, *url = farm_url(farm), host[256] = "agent";
    const char *tf = udcs_config_str(cfg, "token_file");
    if (tf && udcs_config_read_token(tf, &token) < 0) {
        free(url);
        return UDCS_EXIT_USAGE;
    }
    gethostname(host, sizeof(host) - 1);
    d.cfg.farm_url = url;
    d.cfg.token = token;
    d.cfg.work_dir = udcs_config_str(cfg, "work_dir");
    d.cfg.name = udcs_config_str(cfg, "name") ? udcs_config_str(cfg, "name") : host;
    d.cfg.lease_wait_ms = wait_ms;
    d.cfg.keep_units = keep;
    pthread_mutex_init(&d.lock, NULL);
    pthread_cond_init(&d.wake, NULL);

    int rc = udcs_mkdir_p(d.cfg.work_dir, 0700);
    if (rc < 0)
        udcs_log_error("cannot create the work directory %s: %s", d.cfg.work_dir,
                       udcs_strerror(rc));
    if (rc == 0 && (rc = load_key(d.cfg.work_dir, &d.key)) < 0)
        udcs_log_error("cannot keep the agent's identity in %s: %s", d.cfg.work_dir,
                       udcs_strerror(rc));
    if (rc == 0 && (rc = agent_detect(&ov, &d.info)) < 0)
        udcs_log_error("detecting this machine failed: %s", udcs_strerror(rc));
    if (rc == 0) {
        json_int_t detected = json_integer_value(json_object_get(d.info, "cpu_cores"));
        d.cfg.slots = slots ? (int)slots : detected > 0 ? (int)detected : 1;
    }

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);   /* threads inherit it; sigwait below */
    signal(SIGPIPE, SIG_IGN);
    if (rc == 0)
        rc = agent_daemon_start(&d);
    if (rc == 0) {
        int sig = 0;
        while (sigwait(&stop, &sig) != 0)
            ;
        int hard = sig == SIGINT;
        udcs_log_info("agent: %s received: %s", sig == SIGINT ? "SIGINT" : "SIGTERM",
                      hard ? "stopping now, handing running units back"
                           : "draining (finishing running units; SIGTERM again to stop now)");
        if (!hard) {
            /* Drain in another thread; a second signal meanwhile makes it hard. */
            struct drain drain = { .d = &d };
            if (pthread_create(&drain.thread, NULL, drain_main, &drain) == 0) {
                while (!__atomic_load_n(&drain.done, __ATOMIC_ACQUIRE)) {
                    struct timespec tick = { 0, 100 * 1000 * 1000 };
                    if (sigtimedwait(&stop, NULL, &tick) > 0) {
                        udcs_log_info("agent: second signal: stopping now, handing running "
                                      "units back");
                        agent_daemon_hand_back(&d);
                    }
                }
                pthread_join(drain.thread, NULL);
                hard = -1;   /* stopped already */
            }
        }
        if (hard >= 0)
            agent_daemon_stop(&d, hard);
    } else {
        agent_daemon_stop(&d, 1);
    }
    json_decref(d.info);
    free(d.key);
    free(token);
    free(url);
    return rc < 0 ? UDCS_EXIT_FAILED : UDCS_EXIT_OK;
}

int main(int argc, char **argv)
{
    udcs_log_init("udcs-agent", UDCS_LOG_INFO, UDCS_LOG_STYLE_DAEMON);
    struct udcs_config cfg;
    if (udcs_config_init(&cfg, settings, sizeof(settings) / sizeof(settings[0])) < 0)
        return UDCS_EXIT_FAILED;
    struct udcs_cli cli = { .program = "udcs-agent", .usage = usage };
    int status = udcs_cli_parse(&cli, &cfg, argc, argv);
    if (status == 1 && udcs_cli_refuse_rest(&cli) < 0) {
        status = UDCS_EXIT_USAGE;
    } else if (status == 1) {
        status = run(&cfg);
    } else {
        status = status == 0 ? UDCS_EXIT_OK : UDCS_EXIT_USAGE;
    }
    free(cli.rest);
    udcs_config_release(&cfg);
    return udcs_cli_finish(status);
}
