/* tests/fuzz/fuzz_job_spec.c - POST /api/submit bodies: farm_spec_parse() on arbitrary
 * bytes, against a real master state in a temporary directory. An accepted job must
 * have units whose specs the master can act on: argv non-empty, every path contained,
 * dependencies only on earlier units, and submitting it must work. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

static struct farm *fuzz_farm;
static char dir[] = "/tmp/udcs-fuzz-farm-XXXXXX";

static void remove_farm(void)
{
    farm_close(fuzz_farm);
    udcs_remove_tree(dir);
}

static struct farm *farm_for_fuzzing(void)
{
    if (!fuzz_farm) {
        FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        atexit(remove_farm);
        udcs_log_open_file("/dev/null");
        struct farm_options o = { .state_dir = dir, .max_submit_bytes = 1u << 20 };
        FUZZ_CHECK(farm_open(&o, &fuzz_farm) == 0, "farm_open");
    }
    return fuzz_farm;
}

static void check_unit(const json_t *u, size_t index)
{
    json_t *argv = json_object_get(u, "argv");
    FUZZ_CHECK(json_is_array(argv) && json_array_size(argv) > 0, "unit %zu without argv", index);
    const char *path;
    json_t *in;
    json_object_foreach(json_object_get(u, "inputs"), path, in) {
        FUZZ_CHECK(udcs_path_is_contained(path), "input path '%s' accepted", path);
        json_t *k = json_object_get(in, "unit");
        FUZZ_CHECK(!k || (json_is_integer(k) && json_integer_value(k) >= 0 &&
                          (size_t)json_integer_value(k) < index),
                   "unit %zu depends on a unit not before it", index);
    }
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(u, "outputs"), i, o)
        FUZZ_CHECK(json_is_string(o) && udcs_path_is_contained(json_string_value(o)),
                   "output path accepted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct farm *f = farm_for_fuzzing();
    json_t *job = NULL, *units = NULL;
    char why[1024] = "";
    pthread_mutex_lock(&f->lock);
    int rc = farm_spec_parse(f, (const char *)data, size, &job, &units, why, sizeof(why));
    pthread_mutex_unlock(&f->lock);
    if (rc < 0) {
        FUZZ_CHECK(rc == UDCS_EPROTO, "unexpected code %d", rc);
        FUZZ_CHECK(why[0], "refused without a reason");
        FUZZ_CHECK(!job && !units, "a refused job left something behind");
        return 0;
    }
    FUZZ_CHECK(json_is_array(units) && json_array_size(units) > 0, "accepted without units");
    size_t i;
    json_t *u;
    json_array_foreach(units, i, u)
        check_unit(u, i);
    json_decref(job);
    json_decref(units);
    return 0;
}
