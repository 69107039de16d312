/* toolchains/trace_scene.c - the scene as a whole: loading from disk or memory (the
 * grammar is trace_parse.c's), where included files and meshes are found, the inputs
 * list, the summary, and freeing. */
#include "toolchains/trace_internal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int trace_path_resolve(const char *from, const char *written, char **out, const char **why)
{
    *out = NULL;
    if (!*written) {
        *why = "the path is empty";
        return -EINVAL;
    }
    if (written[0] == '/') {
        *why = "absolute paths are refused: a farm could not ship the file; write it "
               "relative to the scene's directory";
        return -EINVAL;
    }
    /* The directory of `from`, then `written`, as one list of parts. */
    size_t from_dir = 0;
    const char *slash = strrchr(from, '/');
    if (slash)
        from_dir = (size_t)(slash - from);
    size_t cap = from_dir + strlen(written) + 2;
    char *joined = malloc(cap), *res = malloc(cap);
    if (!joined || !res) {
        free(joined);
        free(res);
        return -ENOMEM;
    }
    snprintf(joined, cap, "%.*s%s%s", (int)from_dir, from, from_dir ? "/" : "", written);
    size_t len = 0;
    for (char *part = joined; *part;) {
        size_t n = strcspn(part, "/");
        if (n == 2 && part[0] == '.' && part[1] == '.') {
            if (len == 0) {
                free(joined);
                free(res);
                *why = "the path climbs out of the scene's directory: a farm ships only "
                       "what lies below it";
                return -EINVAL;
            }
            while (len > 0 && res[len - 1] != '/')
                len--;
            if (len > 0)
                len--;   /* the slash before the dropped part */
        } else if (n > 0 && !(n == 1 && part[0] == '.')) {
            if (len > 0)
                res[len++] = '/';
            memcpy(res + len, part, n);
            len += n;
        }
        part += n;
        if (*part == '/')
            part++;
    }
    res[len] = '\0';
    free(joined);
    if (len == 0 || written[strlen(written) - 1] == '/') {
        free(res);
        *why = "the path names a directory, not a file";
        return -EINVAL;
    }
    *out = res;
    return 0;
}

int trace_source_read(const struct trace_source *src, const char *rel, size_t max,
                      char **display, char **text, size_t *len, const char **why)
{
    *display = NULL;
    *text = NULL;
    *len = 0;
    if (!src->dir) {
        for (size_t i = 0; i < src->n_mem; i++) {
            if (strcmp(src->mem[i].path, rel) != 0)
                continue;
            if (src->mem[i].len > max) {
                *why = "the file is over the size limit";
                return UDCS_ETOOBIG;
            }
            *display = strdup(rel);
            *text = malloc(src->mem[i].len + 1);
            if (!*display || !*text) {
                free(*display);
                free(*text);
                *display = *text = NULL;
                return -ENOMEM;
            }
            memcpy(*text, src->mem[i].data, src->mem[i].len);
            (*text)[src->mem[i].len] = '\0';
            *len = src->mem[i].len;
            return 0;
        }
        *why = src->n_mem ? "no such file among the scene's files"
                          : "the scene was given as text without a directory, so it cannot "
                            "include files or load meshes";
        return src->n_mem ? -ENOENT : -EINVAL;
    }
    char *path = *src->dir ? udcs_path_join(src->dir, rel) : strdup(rel);
    if (!path)
        return -ENOMEM;
    struct udcs_buf b = UDCS_BUF_INIT(max);
    int rc = udcs_read_file(path, &b);
    if (rc < 0) {
        udcs_buf_release(&b);
        free(path);
        *why = rc == UDCS_ETOOBIG ? "the file is over the size limit" : udcs_strerror(rc);
        return rc;
    }
    *display = path;
    *text = udcs_buf_detach(&b, len);
    if (!*text) {
        free(path);
        *display = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* The directory part of `path` ("" when it has none, "/" for a file in the root). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup("");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static void why_clear(char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
}

int trace_scene_load(const char *path, struct trace_scene **out, char *why, size_t why_len)
{
    *out = NULL;
    why_clear(why, why_len);
    struct trace_err e = { why, why_len, 0 };
    char *dir = dir_of(path);
    if (!dir)
        return -ENOMEM;
    struct udcs_buf b = UDCS_BUF_INIT(TRACE_MAX_SCENE_BYTES);
    int rc = udcs_read_file(path, &b);
    if (rc < 0) {
        trace_err_set(&e, rc, path, 0, 0, "cannot read the scene: %s",
                      rc == UDCS_ETOOBIG ? "larger than the limit of 16 MiB"
                                         : udcs_strerror(rc));
    } else {
        struct trace_source src = { .dir = dir };
        rc = trace_parse_scene(path, b.data ? b.data : "", b.len, &src, out, &e);
    }
    udcs_buf_release(&b);
    free(dir);
    return rc;
}

/* Parse `text` with includes and meshes read from `src`. */
static int parse_from(const char *name, const char *text, size_t len,
                      const struct trace_source *src, struct trace_scene **out, char *why,
                      size_t why_len)
{
    *out = NULL;
    why_clear(why, why_len);
    struct trace_err e = { why, why_len, 0 };
    if (len > TRACE_MAX_SCENE_BYTES)
        return trace_err_set(&e, UDCS_ETOOBIG, name, 0, 0,
                             "the scene is larger than the limit of 16 MiB");
    return trace_parse_scene(name, text, len, src, out, &e);
}

int trace_scene_parse(const char *name, const char *text, size_t len, const char *dir,
                      struct trace_scene **out, char *why, size_t why_len)
{
    struct trace_source src = { .dir = dir };
    return parse_from(name, text, len, &src, out, why, why_len);
}

int trace_scene_parse_files(const char *name, const char *text, size_t len,
                            const struct trace_memfile *files, size_t n_files,
                            struct trace_scene **out, char *why, size_t why_len)
{
    struct trace_source src = { .dir = NULL, .mem = files, .n_mem = n_files };
    return parse_from(name, text, len, &src, out, why, why_len);
}

static void object_release(struct trace_object *o)
{
    for (int p = 0; p < TRACE_P_COUNT; p++)
        trace_track_release(&o->props[p]);
}

void trace_scene_free(struct trace_scene *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_materials; i++)
        free(s->materials[i].name);
    free(s->materials);
    for (int i = 0; i < s->n_objects; i++)
        object_release(&s->objects[i]);
    free(s->objects);
    object_release(&s->camera);
    for (int i = 0; i < s->n_meshes; i++)
        trace_mesh_release(&s->meshes[i]);
    free(s->meshes);
    for (int i = 0; i < s->n_inputs; i++)
        free(s->inputs[i]);
    free(s->inputs);
    for (int i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    free(s);
}

int trace_scene_inputs(const struct trace_scene *s, const char *const **paths)
{
    *paths = (const char *const *)s->inputs;
    return s->n_inputs;
}

void trace_scene_describe(const struct trace_scene *s, struct trace_scene_info *info)
{
    memset(info, 0, sizeof(*info));
    info->width = s->width;
    info->height = s->height;
    info->samples = s->samples;
    info->max_bounces = s->max_bounces;
    info->frame_first = s->frame_first;
    info->frame_last = s->frame_last;
    info->n_materials = s->n_materials;
    info->n_objects = s->n_objects;
    info->n_triangles = s->n_triangles;
    info->n_inputs = s->n_inputs;
    for (int i = 0; i < s->n_objects; i++) {
        const struct trace_object *o = &s->objects[i];
        switch (o->kind) {
        case TRACE_OBJ_SPHERE: info->n_spheres++; break;
        case TRACE_OBJ_PLANE: info->n_planes++; break;
        case TRACE_OBJ_QUAD: info->n_quads++; break;
        case TRACE_OBJ_BOX: info->n_boxes++; break;
        case TRACE_OBJ_MESH: info->n_meshes++; break;
        default: break;
        }
        if (s->materials[o->material].m.kind == TRACE_MAT_EMISSIVE)
            info->n_emissive++;
        for (int p = 0; p < TRACE_P_COUNT; p++)
            info->n_animated += o->props[p].n_keys > 1;
    }
    for (int p = 0; p < TRACE_P_COUNT; p++)
        info->n_animated += s->camera.props[p].n_keys > 1;
}
