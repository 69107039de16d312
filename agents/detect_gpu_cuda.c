/* agents/detect_gpu_cuda.c - CUDA GPUs through the driver API (libcuda.so.1, loaded by
 * kernels/cuda_api.c, the loader the kernel runtime uses too) and their utilization and
 * free memory through NVML (libnvidia-ml.so.1, loaded here: only detection uses it), both
 * dlopen()ed at run time so the agent runs on machines without them. Only what detection
 * needs of NVML is declared here, from NVIDIA's public NVML documentation. */
#include "agents/detect.h"
#include "common/err.h"
#include "common/log.h"
#include "kernels/cuda_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- NVML, as documented (nvml.h) -------------------------------------------------------- */

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
#define NVML_SUCCESS 0
typedef struct {
    unsigned int gpu;       /* % of the last sample period a kernel was running */
    unsigned int memory;    /* % of it device memory was read or written */
} nvmlUtilization_t;
typedef struct {
    unsigned long long total, free, used;   /* bytes */
} nvmlMemory_t;

#define NVML_LIBRARY "libnvidia-ml.so.1"
/* cuDeviceGetName's buffer; NVIDIA's own tools use 256. */
#define GPU_NAME_BYTES 256
/* "0000:00:00.0" is 12 characters; NVML's buffer constant is 32. */
#define GPU_PCI_BUS_ID_BYTES 32

/* The loaded libraries: the CUDA driver's functions are kern_cu's (cuda_api.h), NVML's
 * are here. Process-wide on purpose: dlopen() handles and cuInit() are per-process in
 * any case, and loading once spares each heartbeat the cost. Filled once (pthread_once),
 * read-only afterwards. */
static int cuda_usable;             /* kern_cuda_load() succeeded: cuInit ok */
static pthread_once_t cuda_once = PTHREAD_ONCE_INIT;

static struct {
    int usable;
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*shutdown)(void);
    nvmlReturn_t (*device_by_pci_bus_id)(const char *bus_id, nvmlDevice_t *dev);
    nvmlReturn_t (*utilization_rates)(nvmlDevice_t dev, nvmlUtilization_t *out);
    nvmlReturn_t (*memory_info)(nvmlDevice_t dev, nvmlMemory_t *out);
} nvml;
static pthread_once_t nvml_once = PTHREAD_ONCE_INIT;

/* Look `name` up in `lib` into the function pointer `field`; false when missing. */
#define LOAD_SYMBOL(lib, field, name) ((field) = (__typeof__(field))dlsym((lib), (name)))

/* The CUDA driver, loaded and initialised (cuda_api.h). Why it is not usable is logged
 * once: DEBUG where there is simply no driver or no GPU, WARN where a driver is there
 * but broken. */
static void cuda_load(void)
{
    const char *why;
    int rc = kern_cuda_load(&why);
    if (rc == -ENOENT || rc == -ENODEV)
        udcs_log_debug("agent: %s; no CUDA GPU is reported", why);
    else if (rc < 0)
        udcs_log_warn("agent: the CUDA driver is installed but %s; no CUDA GPU is reported",
                      why);
    cuda_usable = rc == 0;
}

static void nvml_load(void)
{
    void *lib = dlopen(NVML_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        udcs_log_debug("agent: no NVML (%s), so GPU utilization and free memory are null: %s",
                       NVML_LIBRARY, dlerror());
        return;
    }
    if (!LOAD_SYMBOL(lib, nvml.init, "nvmlInit_v2") ||
        !LOAD_SYMBOL(lib, nvml.shutdown, "nvmlShutdown") ||
        !LOAD_SYMBOL(lib, nvml.device_by_pci_bus_id, "nvmlDeviceGetHandleByPciBusId_v2") ||
        !LOAD_SYMBOL(lib, nvml.utilization_rates, "nvmlDeviceGetUtilizationRates") ||
        !LOAD_SYMBOL(lib, nvml.memory_info, "nvmlDeviceGetMemoryInfo")) {
        udcs_log_warn("agent: %s lacks a function the agent needs (%s); GPU utilization and "
                      "free memory are reported as null", NVML_LIBRARY, dlerror());
        return;
    }
    nvml.usable = 1;
}

/* NVML for the length of one detection or refresh: nvmlInit_v2 and nvmlShutdown count
 * references, so callers in several threads do not disturb each other. Returns 1 when
 * NVML may be used (and must be ended with nvml_end), 0 otherwise. */
static int nvml_begin(void)
{
    pthread_once(&nvml_once, nvml_load);
    if (!nvml.usable)
        return 0;
    nvmlReturn_t err = nvml.init();
    if (err != NVML_SUCCESS) {
        udcs_log_debug("agent: nvmlInit_v2 failed (%d); GPU utilization and free memory are "
                       "null", err);
        return 0;
    }
    return 1;
}

static void nvml_end(void)
{
    nvml.shutdown();
}

/* Set "utilization" and "memory_free_gb" of `gpu` (CUDA device `dev`) from NVML, or to
 * null when NVML cannot say. `have_nvml` is nvml_begin()'s answer. */
static int gpu_set_nvml_fields(json_t *gpu, CUdevice dev, int have_nvml)
{
    json_t *util = json_null(), *free_gb = json_null();
    char bus_id[GPU_PCI_BUS_ID_BYTES];
    nvmlDevice_t handle;
    /* By PCI bus id, not by index: NVML numbers GPUs in PCI order and ignores
     * CUDA_VISIBLE_DEVICES, while CUDA puts the fastest first and honours it. */
    if (have_nvml &&
        kern_cu->device_get_pci_bus_id(bus_id, sizeof(bus_id), dev) == CUDA_SUCCESS &&
        nvml.device_by_pci_bus_id(bus_id, &handle) == NVML_SUCCESS) {
        nvmlUtilization_t u;
        nvmlMemory_t m;
        if (nvml.utilization_rates(handle, &u) == NVML_SUCCESS)   /* not under MIG */
            util = json_integer(u.gpu);
        if (nvml.memory_info(handle, &m) == NVML_SUCCESS) {
            double gb = agent_detect_gib(m.free);
            json_t *total = json_object_get(gpu, "memory_gb");
            /* An override may have declared less memory than the GPU has. */
            if (json_is_number(total) && gb > json_number_value(total))
                gb = json_number_value(total);
            free_gb = json_real(gb);
        }
    }
    int rc = json_object_set_new(gpu, "utilization", util);
    rc |= json_object_set_new(gpu, "memory_free_gb", free_gb);
    return rc == 0 ? 0 : -ENOMEM;
}

/* The entry for CUDA ordinal `ordinal`, or NULL when CUDA cannot describe it (logged) or
 * out of memory (*rc = -ENOMEM). */
static json_t *gpu_describe(int ordinal, const char *driver_version, int have_nvml, int *rc)
{
    CUdevice dev;
    char name[GPU_NAME_BYTES] = "";
    size_t mem_bytes = 0;
    int major = -1, minor = -1;
    CUresult err = kern_cu->device_get(&dev, ordinal);
    if (err == CUDA_SUCCESS)
        err = kern_cu->device_get_name(name, sizeof(name), dev);
    if (err == CUDA_SUCCESS)
        err = kern_cu->device_total_mem(&mem_bytes, dev);
    if (err != CUDA_SUCCESS) {
        udcs_log_warn("agent: CUDA GPU %d could not be described (%s, %d); leaving it out",
                      ordinal, kern_cuda_error_name(err), err);
        return NULL;
    }
    name[sizeof(name) - 1] = '\0';

    json_t *gpu = json_object();
    json_t *cc = json_null();
    if (kern_cu->device_get_attribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                      dev) == CUDA_SUCCESS &&
        kern_cu->device_get_attribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                      dev) == CUDA_SUCCESS) {
        char text[32];
        snprintf(text, sizeof(text), "%d.%d", major, minor);
        cc = json_string(text);
    }
    int bad = !gpu;
    bad |= json_object_set_new(gpu, "index", json_integer(ordinal));
    bad |= json_object_set_new(gpu, "api", json_string("cuda"));
    bad |= json_object_set_new(gpu, "name", agent_detect_text(name));
    bad |= json_object_set_new(gpu, "memory_gb", json_real(agent_detect_gib(mem_bytes)));
    bad |= json_object_set_new(gpu, "compute_capability", cc);
    bad |= json_object_set_new(gpu, "driver_version",
                               driver_version ? json_string(driver_version) : json_null());
    if (bad || gpu_set_nvml_fields(gpu, dev, have_nvml) < 0) {
        json_decref(gpu);
        *rc = -ENOMEM;
        return NULL;
    }
    return gpu;
}

int agent_detect_cuda(json_t **out)
{
    json_t *gpus = json_array();
    *out = NULL;
    if (!gpus)
        return -ENOMEM;
    pthread_once(&cuda_once, cuda_load);
    int count = 0;
    CUresult err = cuda_usable ? kern_cu->device_get_count(&count) : CUDA_SUCCESS;
    if (err != CUDA_SUCCESS) {
        udcs_log_warn("agent: cuDeviceGetCount failed with %s (%d); no CUDA GPU is reported",
                      kern_cuda_error_name(err), err);
        count = 0;
    }
    if (count == 0) {
        *out = gpus;
        return 0;
    }

    /* The version of CUDA the driver supports, 12040 for 12.4. */
    int version = 0;
    char version_text[32], *driver_version = NULL;
    if (kern_cu->driver_get_version(&version) == CUDA_SUCCESS && version > 0) {
        snprintf(version_text, sizeof(version_text), "%d.%d", version / 1000,
                 version % 1000 / 10);
        driver_version = version_text;
    }
    int have_nvml = nvml_begin();
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        json_t *gpu = gpu_describe(i, driver_version, have_nvml, &rc);
        if (gpu && json_array_append_new(gpus, gpu) < 0)
            rc = -ENOMEM;
    }
    if (have_nvml)
        nvml_end();
    if (rc < 0) {
        json_decref(gpus);
        return rc;
    }
    *out = gpus;
    return 0;
}

int agent_detect_cuda_refresh(json_t *gpus)
{
    if (!json_is_array(gpus))
        return -EINVAL;
    pthread_once(&cuda_once, cuda_load);
    if (!cuda_usable || json_array_size(gpus) == 0)
        return 0;
    int have_nvml = nvml_begin();
    int rc = 0;
    size_t i;
    json_t *gpu;
    json_array_foreach(gpus, i, gpu) {
        json_t *index = json_object_get(gpu, "index");
        const char *api = json_string_value(json_object_get(gpu, "api"));
        CUdevice dev;
        if (rc < 0 || !json_is_integer(index) || !api || strcmp(api, "cuda") != 0 ||
            json_integer_value(index) < 0 || json_integer_value(index) > INT32_MAX ||
            kern_cu->device_get(&dev, (int)json_integer_value(index)) != CUDA_SUCCESS)
            continue;
        rc = gpu_set_nvml_fields(gpu, dev, have_nvml);
    }
    if (have_nvml)
        nvml_end();
    return rc;
}
