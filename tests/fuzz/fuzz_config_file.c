/* tests/fuzz/fuzz_config_file.c - a config file of arbitrary bytes through inih and the
 * settings table (common/config.c): loading either succeeds or is refused with a usage
 * error, and whatever it accepted reads back through the typed getters. */
#include "common/config.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static const struct udcs_setting table[] = {
    UDCS_SETTING(dir, "--dir", NULL, "cas.dir", "~/.cache/udcs", PATH, "a path"),
    UDCS_SETTING(max_size, "--max-size", NULL, "cas.max_size", "5G", SIZE, "a size"),
    UDCS_SETTING(level, "--level", NULL, "cas.level", "3", UINT, "a number"),
    UDCS_SETTING(flag, "--flag", NULL, "serve.flag", "false", BOOL, "a bool"),
    UDCS_SETTING(name, "--name", NULL, "log.name", NULL, STRING, "a string"),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        udcs_log_open_file("/dev/null");   /* refusals log; keep the fuzzer's output clean */
        quiet = 1;
    }
    int fd = memfd_create("config", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0, "memfd_create failed");
    FUZZ_CHECK(udcs_write_full(fd, data, size) == 0, "writing the memfd failed");
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    struct udcs_config cfg;
    FUZZ_CHECK(udcs_config_init(&cfg, table, sizeof(table) / sizeof(table[0])) == 0, "init");
    char *argv[] = { "fuzz", "--config", path, NULL };
    int i = 1;
    FUZZ_CHECK(udcs_config_take_flag(&cfg, 3, argv, &i) == 1 && i == 3, "--config not taken");
    int rc = udcs_config_load(&cfg);
    FUZZ_CHECK(rc == 0 || rc == UDCS_EUSAGE || rc == -ENOMEM, "unexpected code %d", rc);
    if (rc == 0) {
        uint64_t u;
        int b;
        FUZZ_CHECK(udcs_config_size(&cfg, "max_size", &u) == 0, "accepted a bad size");
        FUZZ_CHECK(udcs_config_uint(&cfg, "level", &u) == 0, "accepted a bad number");
        FUZZ_CHECK(udcs_config_bool(&cfg, "flag", &b) == 0, "accepted a bad bool");
        FUZZ_CHECK(udcs_config_str(&cfg, "dir") != NULL, "lost the path");
    }
    udcs_config_release(&cfg);
    close(fd);
    return 0;
}
