/* common/config.c - the settings table resolved from flags, environment, file, defaults.
 * The config file is parsed by inih; this file only maps its keys onto the table. */
#include "common/config.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/units.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const origin_names[] = { "unset", "default", "system file", "file",
                                            "environment", "flag" };

static long find_row(const struct udcs_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->count; i++)
        if (strcmp(cfg->table[i].name, name) == 0)
            return (long)i;
    return -1;
}

static size_t row_or_abort(const struct udcs_config *cfg, const char *name)
{
    long i = find_row(cfg, name);
    if (i < 0) {
        udcs_log_error("config: setting '%s' is not declared in this program's table "
                       "(a programming error)", name);
        abort();
    }
    return (size_t)i;
}

static int set_row(struct udcs_config *cfg, size_t i, const char *value, enum udcs_origin o)
{
    if (o < cfg->origins[i])
        return 0;
    char *copy = NULL;
    if (value) {
        const char *home = getenv("HOME");
        if (cfg->table[i].type == UDCS_SETTING_PATH && value[0] == '~' && value[1] == '/' &&
            home) {
            if (asprintf(&copy, "%s%s", home, value + 1) < 0)
                copy = NULL;
        } else {
            copy = strdup(value);
        }
        if (!copy)
            return -ENOMEM;
    }
    free(cfg->values[i]);
    cfg->values[i] = copy;
    cfg->origins[i] = o;
    return 0;
}

int udcs_config_init(struct udcs_config *cfg, const struct udcs_setting *table, size_t count)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->table = table;
    cfg->count = count;
    cfg->values = calloc(count ? count : 1, sizeof(*cfg->values));
    cfg->origins = calloc(count ? count : 1, sizeof(*cfg->origins));
    if (!cfg->values || !cfg->origins) {
        udcs_config_release(cfg);
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        if (table[i].def && set_row(cfg, i, table[i].def, UDCS_ORIGIN_DEFAULT) < 0) {
            udcs_config_release(cfg);
            return -ENOMEM;
        }
    }
    return 0;
}

int udcs_config_set(struct udcs_config *cfg, const char *name, const char *value,
                    enum udcs_origin origin)
{
    return set_row(cfg, row_or_abort(cfg, name), value, origin);
}

/* Match "--flag" or "--flag=value"; returns the value pointer for the second form. */
static int flag_matches(const char *arg, const char *flag, const char **inline_value)
{
    size_t n = strlen(flag);
    if (strncmp(arg, flag, n) != 0)
        return 0;
    if (arg[n] == '\0') {
        *inline_value = NULL;
        return 1;
    }
    if (arg[n] == '=') {
        *inline_value = arg + n + 1;
        return 1;
    }
    return 0;
}

static const char *flag_value(const char *flag, const char *inline_value, int argc,
                              char **argv, int *i)
{
    if (inline_value)
        return inline_value;
    if (*i + 1 >= argc) {
        udcs_log_error("option %s needs a value", flag);
        return NULL;
    }
    return argv[++*i];
}

int udcs_config_take_flag(struct udcs_config *cfg, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *inline_value;
    if (flag_matches(arg, "--config", &inline_value)) {
        const char *v = flag_value("--config", inline_value, argc, argv, i);
        if (!v)
            return UDCS_EUSAGE;
        free(cfg->explicit_file);
        cfg->explicit_file = strdup(v);
        (*i)++;
        return cfg->explicit_file ? 1 : -ENOMEM;
    }
    for (size_t r = 0; r < cfg->count; r++) {
        const struct udcs_setting *s = &cfg->table[r];
        if (!s->flag || !flag_matches(arg, s->flag, &inline_value))
            continue;
        const char *v;
        if (s->type == UDCS_SETTING_BOOL && !inline_value)
            v = "true";   /* "--auth-reads" alone switches it on */
        else if (!(v = flag_value(s->flag, inline_value, argc, argv, i)))
            return UDCS_EUSAGE;
        int rc = set_row(cfg, r, v, UDCS_ORIGIN_FLAG);
        if (rc < 0)
            return rc;
        (*i)++;
        return 1;
    }
    return 0;
}

/* Whether the table has any key in `section` (the part of a key before the dot). */
static int section_is_ours(const struct udcs_config *cfg, const char *section)
{
    size_t n = strlen(section);
    for (size_t i = 0; i < cfg->count; i++) {
        const char *k = cfg->table[i].key;
        if (k && strncmp(k, section, n) == 0 && k[n] == '.')
            return 1;
    }
    return 0;
}

struct file_load {
    struct udcs_config *cfg;
    const char *path;
    enum udcs_origin origin;
    int rc;
};

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    struct file_load *fl = user;
    struct udcs_config *cfg = fl->cfg;
    char key[256];
    snprintf(key, sizeof(key), "%s%s%s", section, section[0] ? "." : "", name);
    for (size_t i = 0; i < cfg->count; i++) {
        if (cfg->table[i].key && strcmp(cfg->table[i].key, key) == 0) {
            if (set_row(cfg, i, value, fl->origin) < 0)
                fl->rc = -ENOMEM;
            return 1;
        }
    }
    /* Several programs share one file; only a key in a section this program reads, but
     * unknown to it, is a mistake worth stopping for (most likely a typo). */
    if (section_is_ours(cfg, section)) {
        udcs_log_error("config: %s: unknown key '%s' in section [%s]", fl->path, name,
                       section);
        fl->rc = UDCS_EUSAGE;
        return 0;
    }
    return 1;
}

static int load_file(struct udcs_config *cfg, const char *path, int must_exist,
                     enum udcs_origin origin)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && !must_exist)
            return 0;
        int rc = -errno;
        udcs_log_error("config: cannot read %s: %s", path, udcs_strerror(rc));
        return rc;
    }
    struct file_load fl = { cfg, path, origin, 0 };
    int line = ini_parse_file(f, on_ini_entry, &fl);
    fclose(f);
    if (fl.rc < 0)
        return fl.rc;
    if (line != 0) {
        udcs_log_error("config: %s line %d: not 'key = value', '[section]' or a comment",
                       path, line);
        return UDCS_EUSAGE;
    }
    char **slot = origin == UDCS_ORIGIN_SYSTEM_FILE ? &cfg->system_file : &cfg->file;
    free(*slot);   /* from an earlier load */
    *slot = strdup(path);
    return *slot ? 0 : -ENOMEM;
}

int udcs_config_load(struct udcs_config *cfg)
{
    for (size_t i = 0; i < cfg->count; i++) {
        const char *v = cfg->table[i].env ? getenv(cfg->table[i].env) : NULL;
        if (v && set_row(cfg, i, v, UDCS_ORIGIN_ENV) < 0)
            return -ENOMEM;
    }

    const char *path = cfg->explicit_file;
    int must_exist = path != NULL;
    if (!path && (path = getenv("UDCS_CONFIG")) != NULL) {
        if (*path)
            must_exist = 1;
        else
            path = NULL;   /* set but empty, like XDG_CONFIG_HOME below: as if unset */
    }
    char *default_path = NULL;
    if (!path) {
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        if (xdg && *xdg) {
            if (asprintf(&default_path, "%s/udcs/config", xdg) < 0)
                return -ENOMEM;
        } else if (home) {
            if (asprintf(&default_path, "%s/.config/udcs/config", home) < 0)
                return -ENOMEM;
        }
        path = default_path;
    }
    const char *system = getenv("UDCS_SYSTEM_CONFIG");
    if (!system)
        system = "/etc/udcs/config";
    int rc = *system ? load_file(cfg, system, 0, UDCS_ORIGIN_SYSTEM_FILE) : 0;
    if (rc == 0 && path)
        rc = load_file(cfg, path, must_exist, UDCS_ORIGIN_FILE);
    free(default_path);
    if (rc < 0)
        return rc;
    return udcs_config_validate(cfg);
}

const char *udcs_config_str(const struct udcs_config *cfg, const char *name)
{
    return cfg->values[row_or_abort(cfg, name)];
}

/* Say which setting was wrong, where its value came from, and what it must look like. */
static int report_bad_value(const struct udcs_config *cfg, size_t i, const char *expected)
{
    const struct udcs_setting *s = &cfg->table[i];
    const char *where;
    char file_where[512];
    switch (cfg->origins[i]) {
    case UDCS_ORIGIN_FLAG:
        where = s->flag;
        break;
    case UDCS_ORIGIN_ENV:
        where = s->env;
        break;
    case UDCS_ORIGIN_FILE:
    case UDCS_ORIGIN_SYSTEM_FILE: {
        const char *file = cfg->origins[i] == UDCS_ORIGIN_FILE ? cfg->file : cfg->system_file;
        snprintf(file_where, sizeof(file_where), "%s in %s", s->key,
                 file ? file : "the config file");
        where = file_where;
        break;
    }
    default:
        where = "the built-in default";
        break;
    }
    udcs_log_error("setting %s (from %s) is '%s'; expected %s", s->name, where,
                   cfg->values[i], expected);
    return UDCS_EUSAGE;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    for (size_t k = 0; k < 4; k++) {
        if (strcasecmp(v, yes[k]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[k]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return UDCS_EUSAGE;
}

static int parse_uint(const char *v, uint64_t *out)
{
    /* strtoull() skips blanks and takes a sign (" -1" would wrap to 2^64-1): only a
     * string of digits is a whole number. */
    if (!isdigit((unsigned char)*v))
        return UDCS_EUSAGE;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end)
        return UDCS_EUSAGE;
    *out = n;
    return 0;
}

int udcs_config_size(const struct udcs_config *cfg, const char *name, uint64_t *out)
{
    size_t i = row_or_abort(cfg, name);
    if (!cfg->values[i])
        return -ENOENT;
    if (udcs_size_parse(cfg->values[i], out) < 0)
        return report_bad_value(cfg, i, "a size such as 512M, 5G or 4096");
    return 0;
}

int udcs_config_uint(const struct udcs_config *cfg, const char *name, uint64_t *out)
{
    size_t i = row_or_abort(cfg, name);
    if (!cfg->values[i])
        return -ENOENT;
    if (parse_uint(cfg->values[i], out) < 0)
        return report_bad_value(cfg, i, "a whole number");
    return 0;
}

int udcs_config_bool(const struct udcs_config *cfg, const char *name, int *out)
{
    size_t i = row_or_abort(cfg, name);
    if (!cfg->values[i])
        return -ENOENT;
    if (parse_bool(cfg->values[i], out) < 0)
        return report_bad_value(cfg, i, "true or false");
    return 0;
}

int udcs_config_validate(const struct udcs_config *cfg)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->count; i++) {
        if (!cfg->values[i])
            continue;
        uint64_t u;
        int b, r = 0;
        switch (cfg->table[i].type) {
        case UDCS_SETTING_SIZE:
            r = udcs_config_size(cfg, cfg->table[i].name, &u);
            break;
        case UDCS_SETTING_UINT:
            r = udcs_config_uint(cfg, cfg->table[i].name, &u);
            break;
        case UDCS_SETTING_BOOL:
            r = udcs_config_bool(cfg, cfg->table[i].name, &b);
            break;
        default:
            break;
        }
        if (r < 0)
            rc = r;
    }
    return rc;
}

const char *udcs_config_origin_name(const struct udcs_config *cfg, const char *name)
{
    return origin_names[cfg->origins[row_or_abort(cfg, name)]];
}

void udcs_config_print(const struct udcs_config *cfg, FILE *out)
{
    fprintf(out, "# config file: %s\n", cfg->file ? cfg->file : "(none read)");
    fprintf(out, "# system config file: %s\n", cfg->system_file ? cfg->system_file : "(none read)");
    for (size_t i = 0; i < cfg->count; i++) {
        const struct udcs_setting *s = &cfg->table[i];
        fprintf(out, "%-16s = %-28s (%s)\n", s->name, cfg->values[i] ? cfg->values[i] : "",
                origin_names[cfg->origins[i]]);
    }
}

void udcs_config_print_flags(const struct udcs_config *cfg, FILE *out)
{
    for (size_t i = 0; i < cfg->count; i++) {
        const struct udcs_setting *s = &cfg->table[i];
        if (!s->flag)
            continue;
        static const char *const value_hint[] = {
            [UDCS_SETTING_STRING] = " VALUE", [UDCS_SETTING_PATH] = " PATH",
            [UDCS_SETTING_SIZE] = " SIZE", [UDCS_SETTING_UINT] = " N", [UDCS_SETTING_BOOL] = "",
        };
        char left[64];
        snprintf(left, sizeof(left), "%s%s", s->flag, value_hint[s->type]);
        fprintf(out, "  %-22s %s", left, s->help);
        if (s->env)
            fprintf(out, " [%s]", s->env);
        if (s->def && *s->def)
            fprintf(out, " (default %s)", s->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-22s %s\n", "--config FILE", "read settings from FILE [UDCS_CONFIG]");
}

void udcs_config_release(struct udcs_config *cfg)
{
    if (cfg->values)
        for (size_t i = 0; i < cfg->count; i++)
            free(cfg->values[i]);
    free(cfg->values);
    free(cfg->origins);
    free(cfg->file);
    free(cfg->system_file);
    free(cfg->explicit_file);
    memset(cfg, 0, sizeof(*cfg));
}

/* Largest token file accepted: a token is a line, not a document. */
#define TOKEN_FILE_MAX 4096

int udcs_config_read_token(const char *path, char **out)
{
    struct udcs_buf b = UDCS_BUF_INIT(TOKEN_FILE_MAX);
    int rc = udcs_read_file(path, &b);
    if (rc < 0) {
        udcs_log_error("cannot read token file %s: %s", path, udcs_strerror(rc));
        udcs_buf_release(&b);
        return rc;
    }
    size_t n = strcspn(b.data ? b.data : "", "\r\n");
    if (n == 0) {
        udcs_log_error("token file %s is empty; put the token on its first line", path);
        udcs_buf_release(&b);
        return UDCS_EUSAGE;
    }
    b.data[n] = '\0';
    *out = udcs_buf_detach(&b, NULL);
    return 0;
}
