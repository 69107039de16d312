/* ci/ci_steps.c - a CI step's definition and its JSON form, as the step log records it
 * and as a steps file (.udcs-ci.json) declares it. Both may come from outside (a cache
 * file, a repository), so every field is checked here. */
#include "ci/ci_internal.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CI_STEP_NAME_MAX 128
/* More than any real step names; bounds the work one record can ask for. */
#define CI_STEP_LIST_MAX 4096

int ci_step_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CI_STEP_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

void ci_step_release(struct ci_step *s)
{
    if (!s)
        return;
    free(s->name);
    char **lists[] = { s->inputs, s->outputs, s->env, s->toolchains, s->argv };
    size_t counts[] = { s->n_inputs, s->n_outputs, s->n_env, s->n_toolchains, s->argc };
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        for (size_t i = 0; lists[l] && i < counts[l]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    memset(s, 0, sizeof(*s));
}

enum list_rule { ANY_TEXT, INPUT_PATH, OUTPUT_PATH, ENV_NAME };

static int item_ok(const char *v, enum list_rule rule)
{
    switch (rule) {
    case INPUT_PATH:
        return v[0] == '\0' || udcs_path_is_contained(v);
    case OUTPUT_PATH:
        return udcs_path_is_contained(v);
    case ENV_NAME:
        return v[0] != '\0' && !strchr(v, '=');
    case ANY_TEXT:
        break;
    }
    return 1;
}

/* A list of strings into a NULL-terminated array. Missing: empty unless `required`. */
static int get_list(const json_t *j, const char *key, int required, enum list_rule rule,
                    char ***out, size_t *n, char *why, size_t why_len)
{
    json_t *a = json_object_get(j, key);
    *out = NULL;
    *n = 0;
    if (!a && !required)
        a = NULL;
    else if (!json_is_array(a) || json_array_size(a) > CI_STEP_LIST_MAX) {
        snprintf(why, why_len, "field '%s' must be an array of at most %d strings", key,
                 CI_STEP_LIST_MAX);
        return UDCS_EPROTO;
    }
    size_t count = a ? json_array_size(a) : 0;
    char **v = calloc(count + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const char *t = json_string_value(json_array_get(a, i));
        if (!t || !item_ok(t, rule)) {
            snprintf(why, why_len, "field '%s', item %zu: %s", key, i,
                     !t ? "not a string"
                     : rule == ENV_NAME ? "not a variable name"
                                        : "not a relative path that stays inside");
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return UDCS_EPROTO;
        }
        v[i] = strdup(t);
        if (!v[i]) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return -ENOMEM;
        }
    }
    *out = v;
    *n = count;
    return 0;
}

int ci_step_from_json(const json_t *j, struct ci_step *s, char *why, size_t why_len)
{
    memset(s, 0, sizeof(*s));
    if (!json_is_object(j)) {
        snprintf(why, why_len, "a step must be a JSON object");
        return UDCS_EPROTO;
    }
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name || !ci_step_name_ok(name)) {
        snprintf(why, why_len, "field 'name' must be 1 to %d characters of A-Z a-z 0-9 . _ -",
                 CI_STEP_NAME_MAX);
        return UDCS_EPROTO;
    }
    s->name = strdup(name);
    int rc = s->name ? 0 : -ENOMEM;
    if (rc == 0)
        rc = get_list(j, "inputs", 1, INPUT_PATH, &s->inputs, &s->n_inputs, why, why_len);
    if (rc == 0)
        rc = get_list(j, "outputs", 0, OUTPUT_PATH, &s->outputs, &s->n_outputs, why, why_len);
    if (rc == 0)
        rc = get_list(j, "env", 0, ENV_NAME, &s->env, &s->n_env, why, why_len);
    if (rc == 0)
        rc = get_list(j, "toolchains", 0, ANY_TEXT, &s->toolchains, &s->n_toolchains, why,
                      why_len);
    if (rc == 0)
        rc = get_list(j, "argv", 0, ANY_TEXT, &s->argv, &s->argc, why, why_len);
    if (rc < 0)
        ci_step_release(s);
    return rc;
}

json_t *ci_step_to_json(const struct ci_step *s)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    int bad = json_object_set_new(j, "name", json_string(s->name));
    bad |= json_object_set_new(j, "inputs", udcs_json_string_array(s->inputs, s->n_inputs));
    bad |= json_object_set_new(j, "outputs", udcs_json_string_array(s->outputs, s->n_outputs));
    bad |= json_object_set_new(j, "env", udcs_json_string_array(s->env, s->n_env));
    bad |= json_object_set_new(j, "toolchains", udcs_json_string_array(s->toolchains, s->n_toolchains));
    bad |= json_object_set_new(j, "argv", udcs_json_string_array(s->argv, s->argc));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int ci_steps_parse(const void *data, size_t len, struct ci_step **out, char *why,
                   size_t why_len)
{
    json_t *root;
    *out = NULL;
    int rc = udcs_json_parse(data, len, &root, why, why_len);
    if (rc < 0)
        return rc;
    json_t *a = json_object_get(root, "steps");
    if (!json_is_array(a) || json_array_size(a) > CI_STEP_LIST_MAX) {
        snprintf(why, why_len, "expected {\"steps\":[...]} with at most %d steps",
                 CI_STEP_LIST_MAX);
        json_decref(root);
        return UDCS_EPROTO;
    }
    size_t n = json_array_size(a);
    struct ci_step *steps = calloc(n ? n : 1, sizeof(*steps));
    rc = steps ? 0 : -ENOMEM;
    size_t done = 0;
    for (; rc == 0 && done < n; done++) {
        char inner[256] = "";
        rc = ci_step_from_json(json_array_get(a, done), &steps[done], inner, sizeof(inner));
        if (rc < 0) {
            snprintf(why, why_len, "step %zu: %s", done, inner);
            break;
        }
        for (size_t k = 0; k < done; k++)
            if (strcmp(steps[k].name, steps[done].name) == 0) {
                snprintf(why, why_len, "step %zu: the name '%s' is used twice", done,
                         steps[done].name);
                ci_step_release(&steps[done]);
                rc = UDCS_EPROTO;
                break;
            }
    }
    json_decref(root);
    if (rc < 0) {
        for (size_t k = 0; k < done; k++)
            ci_step_release(&steps[k]);
        free(steps);
        return rc;
    }
    *out = steps;
    return (int)n;
}
