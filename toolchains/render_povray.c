/* toolchains/render_povray.c - the files a POV-Ray scene needs besides itself: the files
 * it #includes and the images, fonts and density files it names ("png "wood.png"",
 * "ttf "font.ttf"", ...), found next to the scene, recursively through included files.
 * Files POV-Ray finds in its own library (colors.inc, textures.inc, ...) come with
 * POV-Ray on every agent and are not shipped. Names made by macros at parse time cannot
 * be seen here: ship such files with --input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/fs.h"
#include "toolchains/render.h"

#define POVRAY_INI "/etc/povray/3.7/povray.ini"
#define POVRAY_LIBRARY "/usr/share/povray-3.7/include"
#define MAX_SCENE_FILES 4096
#define MAX_SCENE_BYTES (64u << 20)

struct scan {
    char dir[1024];              /* the scene's directory */
    char **files;                /* found so far, relative to dir */
    size_t n;
    char **library;              /* POV-Ray's Library_Path entries */
    size_t n_library;
    char *why;
    size_t why_len;
};

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void read_library_paths(struct scan *s)
{
    struct udcs_buf ini = UDCS_BUF_INIT(1u << 20);
    if (udcs_read_file(POVRAY_INI, &ini) == 0 && ini.data) {
        for (char *line = ini.data; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strncasecmp(line, "Library_Path=", 13) == 0) {
                char *v = line + 13, *e = v + strlen(v);   /* Library_Path="/usr/share/..." */
                while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '"'))
                    *--e = '\0';
                v += *v == '"';
                char **grown = realloc(s->library, (s->n_library + 1) * sizeof(char *));
                if (grown) {
                    s->library = grown;
                    s->library[s->n_library++] = strdup(v);
                }
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    udcs_buf_release(&ini);
    if (s->n_library == 0 && (s->library = malloc(sizeof(char *))))
        s->library[s->n_library++] = strdup(POVRAY_LIBRARY);
}

static int in_library(const struct scan *s, const char *name)
{
    for (size_t i = 0; i < s->n_library; i++) {
        char path[2048];
        if (!s->library[i])
            continue;
        snprintf(path, sizeof(path), "%s/%s", s->library[i], name);
        if (is_file(path))
            return 1;
    }
    return 0;
}

static int scan_file(struct scan *s, const char *rel, int depth);

/* A name the scene uses at `file:line`: ship it when it is next to the scene. */
static int take_name(struct scan *s, const char *from, int line, const char *name, int include,
                     int depth)
{
    char path[2048];
    if (!*name || name[0] == '/' || !udcs_path_is_contained(name)) {
        if (in_library(s, name) || (name[0] == '/' && is_file(name)))
            return 0;   /* POV-Ray's own, or the same absolute path on every machine */
        snprintf(s->why, s->why_len, "%s:%d: '%s' is outside the scene's directory: a farm "
                 "cannot ship it; copy it next to the scene", from, line, name);
        return -1;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->files[i], name) == 0)
            return 0;
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    if (!is_file(path)) {
        if (in_library(s, name))
            return 0;
        snprintf(s->why, s->why_len, "%s:%d: %s \"%s\" is not next to the scene (%s) nor in "
                 "POV-Ray's library (%s)", from, line, include ? "#include" : "file", name,
                 s->dir[0] ? s->dir : ".", s->n_library ? s->library[0] : POVRAY_LIBRARY);
        return -1;
    }
    if (s->n >= MAX_SCENE_FILES) {
        snprintf(s->why, s->why_len, "the scene needs more than %d files", MAX_SCENE_FILES);
        return -1;
    }
    char **grown = realloc(s->files, (s->n + 1) * sizeof(char *));
    if (!grown || !(grown[s->n] = strdup(name))) {
        s->files = grown ? grown : s->files;
        snprintf(s->why, s->why_len, "out of memory");
        return -1;
    }
    s->files = grown;
    s->n++;
    return include ? scan_file(s, name, depth + 1) : 0;
}

/* Keywords after which POV-Ray reads a file name. */
static const char *const file_keywords[] = {
    "png", "jpeg", "tga", "gif", "iff", "ppm", "pgm", "tiff", "exr", "hdr", "sys", "df3",
    "ttf", NULL
};

static int is_word_char(char c)
{
    return c == '_' || ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9');
}

static int word_is(const char *p, size_t len, const char *w)
{
    return strlen(w) == len && memcmp(p, w, len) == 0;
}

int render_povray_names(const char *text, size_t len, render_povray_name_fn *fn, void *arg)
{
    const char *p = text, *end = text + len;
    int line = 1, include_next = 0, file_next = 0, rc = 0;
    while (p < end && rc == 0) {
        if (*p == '\n') {
            line++;
            p++;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '/') {
            while (p < end && *p != '\n')
                p++;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            for (p += 2; p < end && !(p + 1 < end && p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            p = p < end ? p + 2 : end;
        } else if (*p == '"') {
            const char *q = ++p;
            while (p < end && *p != '"' && *p != '\n')
                p += (*p == '\\' && p + 1 < end && p[1] != '\n') ? 2 : 1;   /* \" */
            if ((include_next || file_next) && p - q < 1024) {
                char name[1024];
                snprintf(name, sizeof(name), "%.*s", (int)(p - q), q);
                rc = fn(arg, line, name, include_next);
            }
            include_next = file_next = 0;
            if (p < end && *p == '"')
                p++;
        } else if (*p == '#' || is_word_char(*p)) {
            const char *w = p++;
            while (p < end && is_word_char(*p))
                p++;
            size_t n = (size_t)(p - w);
            include_next = word_is(w, n, "#include");
            file_next = 0;
            for (int k = 0; file_keywords[k]; k++)
                file_next |= word_is(w, n, file_keywords[k]);
        } else {
            if (*p != ' ' && *p != '\t' && *p != '\r')
                include_next = file_next = 0;
            p++;
        }
    }
    return rc;
}

struct scan_ctx {
    struct scan *s;
    const char *rel;
    int depth;
};

static int on_name(void *arg, int line, const char *name, int include)
{
    struct scan_ctx *c = arg;
    return take_name(c->s, c->rel, line, name, include, c->depth);
}

static int scan_file(struct scan *s, const char *rel, int depth)
{
    char path[2048];
    if (depth > 64) {
        snprintf(s->why, s->why_len, "%s: #include nests more than 64 deep", rel);
        return -1;
    }
    snprintf(path, sizeof(path), "%s%s%s", s->dir, s->dir[0] ? "/" : "", rel);
    struct udcs_buf text = UDCS_BUF_INIT(MAX_SCENE_BYTES);
    int rc = udcs_read_file(path, &text);
    if (rc < 0) {
        snprintf(s->why, s->why_len, "%s: %s", path, strerror(-rc));
        udcs_buf_release(&text);
        return -1;
    }
    struct scan_ctx c = { s, rel, depth };
    rc = render_povray_names(text.data ? text.data : "", text.len, on_name, &c);
    udcs_buf_release(&text);
    return rc;
}

int render_povray_inputs(const char *scene, char ***files, size_t *n, char *why,
                         size_t why_len)
{
    struct scan s = { .why = why, .why_len = why_len };
    const char *slash = strrchr(scene, '/');
    snprintf(s.dir, sizeof(s.dir), "%.*s", slash ? (int)(slash - scene) : 0, scene);
    if (slash && slash == scene)
        snprintf(s.dir, sizeof(s.dir), "/");
    read_library_paths(&s);
    int rc = scan_file(&s, slash ? slash + 1 : scene, 0);
    for (size_t i = 0; i < s.n_library; i++)
        free(s.library[i]);
    free(s.library);
    if (rc < 0) {
        for (size_t i = 0; i < s.n; i++)
            free(s.files[i]);
        free(s.files);
        s.files = NULL;
        s.n = 0;
    }
    *files = s.files;
    *n = s.n;
    return rc;
}
