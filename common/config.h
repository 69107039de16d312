/* common/config.h - settings from flags, environment, a config file and defaults.
 *
 * Each program declares its settings once, in a table giving the flag, the UDCS_*
 * variable, the config-file key and the default, so the four cannot drift apart.
 * Precedence: flags > environment > the user's config file > the system config file >
 * built-in defaults, whatever order the sources are read in. Config files are INI (read
 * with inih): `[cas]` then `max_size = 5G` sets the key "cas.max_size". The user's file
 * is --config, $UDCS_CONFIG, or $XDG_CONFIG_HOME/udcs/config (~/.config/udcs/config);
 * the system file is /etc/udcs/config ($UDCS_SYSTEM_CONFIG names another, for tests).
 * Only an explicitly named file must exist (an empty variable counts as unset). The parsed configuration is one of
 * the two process-wide objects (with the logger), created in main() and passed down. */
#ifndef UDCS_COMMON_CONFIG_H
#define UDCS_COMMON_CONFIG_H

#include <stdint.h>
#include <stdio.h>

enum udcs_setting_type {
    UDCS_SETTING_STRING,
    UDCS_SETTING_PATH,   /* a string where a leading "~/" means $HOME */
    UDCS_SETTING_SIZE,   /* bytes, written like "5G" (common/units.h) */
    UDCS_SETTING_UINT,
    UDCS_SETTING_BOOL,   /* 1/0, true/false, yes/no, on/off */
};

struct udcs_setting {
    const char *name;        /* how code asks for it: "max_size" */
    const char *flag;        /* "--max-size"; NULL: not settable by flag */
    const char *env;         /* "UDCS_MAXSIZE"; NULL: not settable by environment */
    const char *key;         /* "cas.max_size"; NULL: not settable in the file */
    const char *def;         /* default as text; NULL: unset */
    enum udcs_setting_type type;
    const char *help;        /* one line for --help and --print-config */
};

/* Declare one table row: UDCS_SETTING(field, flag, env, key, default, type, help). */
#define UDCS_SETTING(name, flag, env, key, def, type, help) \
    { #name, flag, env, key, def, UDCS_SETTING_##type, help }

enum udcs_origin {
    UDCS_ORIGIN_UNSET = 0,
    UDCS_ORIGIN_DEFAULT,
    UDCS_ORIGIN_SYSTEM_FILE,     /* /etc/udcs/config */
    UDCS_ORIGIN_FILE,            /* the user's file, or --config / $UDCS_CONFIG */
    UDCS_ORIGIN_ENV,
    UDCS_ORIGIN_FLAG,
};

struct udcs_config {
    const struct udcs_setting *table;
    size_t count;
    char **values;               /* one per table row; NULL when unset */
    enum udcs_origin *origins;
    char *file;                  /* the user's config file read, or NULL */
    char *system_file;           /* the system config file read, or NULL */
    char *explicit_file;         /* from --config */
};

/* Start with the defaults of `table` (`count` rows). Returns 0 or -ENOMEM. */
int udcs_config_init(struct udcs_config *cfg, const struct udcs_setting *table, size_t count);

/* Look at argv[*i]. If it is one of the table's flags ("--max-size 5G" or
 * "--max-size=5G") or "--config FILE", record it, advance *i past what it used and return
 * 1. Return 0 when argv[*i] is not a setting flag, UDCS_EUSAGE (after printing why) when
 * its value is missing. */
int udcs_config_take_flag(struct udcs_config *cfg, int argc, char **argv, int *i);

/* Read the environment and the config file. Call after the flags. Returns 0, or
 * UDCS_EUSAGE / -errno after printing what was wrong (file, line, key). */
int udcs_config_load(struct udcs_config *cfg);

/* Set a value directly, as if it came from `origin` (used by tests and by commands that
 * derive settings). Lower origins never replace higher ones. Returns 0 or -ENOMEM. */
int udcs_config_set(struct udcs_config *cfg, const char *name, const char *value,
                    enum udcs_origin origin);

/* The value of `name` as text (PATH settings expanded), or NULL when unset. Asking for a
 * name not in the table is a programming error and aborts. */
const char *udcs_config_str(const struct udcs_config *cfg, const char *name);

/* Typed values. On a value that does not parse, print which setting, where it came from
 * and what is expected, and return UDCS_EUSAGE. An unset value returns -ENOENT. */
int udcs_config_size(const struct udcs_config *cfg, const char *name, uint64_t *out);
int udcs_config_uint(const struct udcs_config *cfg, const char *name, uint64_t *out);
int udcs_config_bool(const struct udcs_config *cfg, const char *name, int *out);

/* Check every set value against its type; returns 0 or UDCS_EUSAGE after printing. */
int udcs_config_validate(const struct udcs_config *cfg);

/* Where `name`'s value came from, as a word: "default", "file", "environment", "flag". */
const char *udcs_config_origin_name(const struct udcs_config *cfg, const char *name);

/* --print-config: every setting, its value and where it came from. */
void udcs_config_print(const struct udcs_config *cfg, FILE *out);

/* The flags of the table, one line each with help and default, for --help. */
void udcs_config_print_flags(const struct udcs_config *cfg, FILE *out);

void udcs_config_release(struct udcs_config *cfg);

/* Read a bearer token: the first line of the file at `path`, which must not be empty.
 * The caller frees *out. Returns 0, or -errno / UDCS_EUSAGE after logging what to do. */
int udcs_config_read_token(const char *path, char **out);

#endif
