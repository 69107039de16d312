/* tests/unit/test_common_fs.c - common/fs.h: full reads and writes over pipes and files,
 * atomic replacement, struct udcs_afile (commit, abort, NOREPLACE, unnamed files),
 * directory creation and removal, path joining. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "tests/unit/helpers/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each test gets a fresh directory in *state. */
static int make_dir(void **state)
{
    *state = test_tmpdir("fs");
    return 0;
}

static int remove_dir(void **state)
{
    test_rmtree(*state);
    return 0;
}

static int skip_dots(const struct dirent *e)
{
    return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

/* The names in `dir`, sorted, joined with ',' ("" when empty). Static buffer. */
static const char *listing(const char *dir)
{
    static char out[1024];
    struct dirent **names;
    int n = scandir(dir, &names, skip_dots, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strncat(out, ",", sizeof(out) - strlen(out) - 1);
        strncat(out, names[i]->d_name, sizeof(out) - strlen(out) - 1);
        free(names[i]);
    }
    free(names);
    return out;
}

static char *path_in(const char *dir, const char *name)
{
    char *p = udcs_path_join(dir, name);
    assert_non_null(p);
    return p;
}

static void assert_file_is(const char *path, const char *text)
{
    size_t len;
    char *got = test_read_file(path, &len);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(got, text, len);
    free(got);
}

/* ---- full reads and writes ----------------------------------------------------------- */

struct trickle {
    int fd;
    const unsigned char *data;
    size_t len, piece;
    int rc;
};

/* Writes in small pieces, so the reader meets many short reads. */
static void *trickle_writer(void *arg)
{
    struct trickle *t = arg;
    t->rc = 0;
    for (size_t off = 0; off < t->len && t->rc == 0; off += t->piece) {
        size_t n = t->len - off < t->piece ? t->len - off : t->piece;
        t->rc = udcs_write_full(t->fd, t->data + off, n);
    }
    close(t->fd);
    return NULL;
}

static void read_full_assembles_short_reads_until_len(void **state)
{
    (void)state;
    unsigned char data[50000], got[50000 + 10];
    test_fill(data, sizeof(data), 1, 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct trickle t = { fds[1], data, sizeof(data), 333, -1 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, trickle_writer, &t), 0);
    assert_int_equal(udcs_read_full(fds[0], got, 40000), 40000);
    /* asking for more than is left gives the rest, then 0 at end of file */
    assert_int_equal(udcs_read_full(fds[0], got + 40000, 10010), 10000);
    assert_int_equal(udcs_read_full(fds[0], got, 10), 0);
    pthread_join(th, NULL);
    close(fds[0]);
    assert_int_equal(t.rc, 0);
    assert_memory_equal(got, data, sizeof(data));
}

static void *read_all_into(void *arg)
{
    struct trickle *t = arg;
    ssize_t n = udcs_read_full(t->fd, (void *)t->data, t->len);
    t->rc = n == (ssize_t)t->len ? 0 : -1;
    return NULL;
}

static void write_full_writes_more_than_a_pipe_holds(void **state)
{
    (void)state;
    size_t len = 2 * 1024 * 1024 + 3;
    unsigned char *data = malloc(len), *got = malloc(len);
    assert_non_null(data);
    assert_non_null(got);
    test_fill(data, len, 2, 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct trickle reader = { fds[0], got, len, 0, -1 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_all_into, &reader), 0);
    assert_int_equal(udcs_write_full(fds[1], data, len), 0);
    close(fds[1]);
    pthread_join(th, NULL);
    close(fds[0]);
    assert_int_equal(reader.rc, 0);
    assert_memory_equal(got, data, len);
    free(data);
    free(got);
}

static void full_io_reports_epipe_and_ebadf(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    assert_int_equal(udcs_write_full(fds[1], "x", 1), -EPIPE);   /* SIGPIPE ignored in main */
    close(fds[1]);
    assert_int_equal(udcs_read_full(-1, (char[1]){ 0 }, 1), -EBADF);
}

static void pread_and_pwrite_full_work_at_offsets(void **state)
{
    char *path = path_in(*state, "f");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(udcs_write_full(fd, "0123456789", 10), 0);
    assert_int_equal(udcs_pwrite_full(fd, "abc", 3, 4), 0);
    assert_int_equal(udcs_pwrite_full(fd, "XY", 2, 12), 0);   /* past the end: a hole */
    char got[20] = { 0 };
    assert_int_equal(udcs_pread_full(fd, got, sizeof(got), 0), 14);
    assert_memory_equal(got, "0123abc789\0\0XY", 14);
    assert_int_equal(udcs_pread_full(fd, got, 4, 8), 4);
    assert_memory_equal(got, "89\0\0", 4);
    assert_int_equal(udcs_pread_full(fd, got, 4, 100), 0);
    /* the p-variants leave the file offset alone */
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 10);
    close(fd);
    free(path);
}

static void read_file_appends_and_honours_the_limit(void **state)
{
    char *path = path_in(*state, "f");
    test_write_file(path, "hello world", 11);
    struct udcs_buf b = UDCS_BUF_INIT(64);
    assert_int_equal(udcs_buf_append_str(&b, ">"), 0);
    assert_int_equal(udcs_read_file(path, &b), 0);
    assert_string_equal(b.data, ">hello world");
    udcs_buf_release(&b);

    struct udcs_buf small = UDCS_BUF_INIT(5);
    assert_int_equal(udcs_read_file(path, &small), UDCS_ETOOBIG);
    udcs_buf_release(&small);

    char *missing = path_in(*state, "missing");
    assert_int_equal(udcs_read_file(missing, &b), -ENOENT);
    udcs_buf_release(&b);
    free(missing);
    free(path);
}

/* ---- udcs_write_atomic --------------------------------------------------------------- */

static void write_atomic_creates_file_with_bytes_and_mode(void **state)
{
    char *path = path_in(*state, "settings");
    mode_t old = umask(022);
    assert_int_equal(udcs_write_atomic(path, "v=1\n", 4, 0640), 0);
    umask(old);
    assert_file_is(path, "v=1\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_string_equal(listing(*state), "settings");
    free(path);
}

static void write_atomic_replaces_by_rename_not_in_place(void **state)
{
    char *path = path_in(*state, "f");
    assert_int_equal(udcs_write_atomic(path, "old contents", 12, 0644), 0);
    int old_fd = open(path, O_RDONLY);
    assert_true(old_fd >= 0);
    struct stat before, after;
    assert_int_equal(fstat(old_fd, &before), 0);

    assert_int_equal(udcs_write_atomic(path, "new", 3, 0644), 0);
    assert_file_is(path, "new");
    assert_int_equal(stat(path, &after), 0);
    assert_true(after.st_ino != before.st_ino);
    /* a reader that had the old file open still sees all of it */
    char got[32];
    assert_int_equal(udcs_pread_full(old_fd, got, sizeof(got), 0), 12);
    assert_memory_equal(got, "old contents", 12);
    close(old_fd);
    assert_string_equal(listing(*state), "f");
    free(path);
}

#define ATOMIC_A_BYTES (256 * 1024)
#define ATOMIC_B_BYTES (300 * 1024 + 7)
#define ATOMIC_ROUNDS 60

struct atomic_reader {
    const char *path;
    atomic_int stop;
    atomic_int bad;   /* reads that were neither version */
    atomic_int reads;
};

/* Whole file must be all 'a' with the A size, or all 'b' with the B size. */
static void *check_versions(void *arg)
{
    struct atomic_reader *r = arg;
    char *buf = malloc(ATOMIC_B_BYTES + 1);
    while (!atomic_load(&r->stop)) {
        int fd = open(r->path, O_RDONLY);
        if (fd < 0) {
            atomic_fetch_add(&r->bad, 1);   /* the name must never be missing */
            continue;
        }
        ssize_t n = udcs_read_full(fd, buf, ATOMIC_B_BYTES + 1);
        close(fd);
        char c = n > 0 ? buf[0] : '?';
        size_t want = c == 'a' ? ATOMIC_A_BYTES : ATOMIC_B_BYTES;
        int whole = (c == 'a' || c == 'b') && (size_t)n == want;
        for (ssize_t i = 0; whole && i < n; i++)
            whole = buf[i] == c;
        if (!whole)
            atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->reads, 1);
    }
    free(buf);
    return NULL;
}

static void write_atomic_readers_never_see_a_partial_file(void **state)
{
    char *path = path_in(*state, "shared");
    char *a = malloc(ATOMIC_A_BYTES), *b = malloc(ATOMIC_B_BYTES);
    memset(a, 'a', ATOMIC_A_BYTES);
    memset(b, 'b', ATOMIC_B_BYTES);
    assert_int_equal(udcs_write_atomic(path, a, ATOMIC_A_BYTES, 0644), 0);

    struct atomic_reader r = { .path = path };
    atomic_init(&r.stop, 0);
    atomic_init(&r.bad, 0);
    atomic_init(&r.reads, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, check_versions, &r), 0);
    for (int i = 0; i < ATOMIC_ROUNDS; i++) {
        assert_int_equal(udcs_write_atomic(path, i % 2 ? a : b,
                                           i % 2 ? ATOMIC_A_BYTES : ATOMIC_B_BYTES, 0644), 0);
    }
    /* let the reader finish at least a few reads of the final version */
    int seen = atomic_load(&r.reads);
    for (int i = 0; i < 100000 && atomic_load(&r.reads) < seen + 3; i++)
        usleep(100);
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.reads) >= seen + 3);
    assert_string_equal(listing(*state), "shared");   /* no temporaries left */
    free(a);
    free(b);
    free(path);
}

static void write_atomic_into_missing_directory_fails_with_enoent(void **state)
{
    char *path = path_in(*state, "no/such/file");
    assert_int_equal(udcs_write_atomic(path, "x", 1, 0644), -ENOENT);
    assert_string_equal(listing(*state), "");
    free(path);
}

/* ---- udcs_afile ------------------------------------------------------------------------ */

static void afile_commit_gives_target_its_bytes_and_leaves_no_temporary(void **state)
{
    char *path = path_in(*state, "out.bin");
    struct udcs_afile af;
    assert_int_equal(udcs_afile_open(&af, path, UDCS_AFILE_FSYNC, 0600), 0);
    assert_int_equal(udcs_write_full(af.fd, "part one, ", 10), 0);
    assert_int_equal(access(path, F_OK), -1);   /* not visible until committed */
    assert_int_equal(udcs_write_full(af.fd, "part two", 8), 0);
    assert_int_equal(udcs_afile_commit(&af), 0);
    assert_file_is(path, "part one, part two");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_string_equal(listing(*state), "out.bin");
    free(path);
}

static void afile_commit_replaces_an_existing_target(void **state)
{
    char *path = path_in(*state, "t");
    test_write_file(path, "old", 3);
    struct udcs_afile af;
    assert_int_equal(udcs_afile_open(&af, path, 0, 0644), 0);
    assert_int_equal(udcs_write_full(af.fd, "newer", 5), 0);
    assert_file_is(path, "old");
    assert_int_equal(udcs_afile_commit(&af), 0);
    assert_file_is(path, "newer");
    assert_string_equal(listing(*state), "t");
    free(path);
}

static void afile_noreplace_keeps_existing_target(void **state)
{
    char *path = path_in(*state, "t");
    test_write_file(path, "original", 8);
    struct udcs_afile af;
    assert_int_equal(udcs_afile_open(&af, path, UDCS_AFILE_NOREPLACE | UDCS_AFILE_FSYNC, 0644),
                     0);
    assert_int_equal(udcs_write_full(af.fd, "intruder", 8), 0);
    assert_int_equal(udcs_afile_commit(&af), -EEXIST);
    assert_file_is(path, "original");
    assert_string_equal(listing(*state), "t");   /* the dropped bytes left no file */
    udcs_afile_abort(&af);                        /* harmless after a failed commit */
    assert_string_equal(listing(*state), "t");
    free(path);
}

static void afile_noreplace_creates_a_missing_target(void **state)
{
    char *path = path_in(*state, "t");
    struct udcs_afile af;
    assert_int_equal(udcs_afile_open(&af, path, UDCS_AFILE_NOREPLACE, 0644), 0);
    assert_int_equal(udcs_write_full(af.fd, "first", 5), 0);
    assert_int_equal(udcs_afile_commit(&af), 0);
    assert_file_is(path, "first");
    assert_string_equal(listing(*state), "t");
    free(path);
}

static void afile_abort_leaves_nothing_behind(void **state)
{
    char *path = path_in(*state, "t"), *other = path_in(*state, "keep");
    test_write_file(other, "k", 1);
    struct udcs_afile af;
    assert_int_equal(udcs_afile_open(&af, path, 0, 0644), 0);
    assert_int_equal(udcs_write_full(af.fd, "doomed", 6), 0);
    udcs_afile_abort(&af);
    assert_string_equal(listing(*state), "keep");
    assert_int_equal(af.fd, -1);
    udcs_afile_abort(&af);   /* twice is harmless */

    /* aborting a replacement leaves the old file as it was */
    test_write_file(path, "old", 3);
    assert_int_equal(udcs_afile_open(&af, path, 0, 0644), 0);
    assert_int_equal(udcs_write_full(af.fd, "new", 3), 0);
    udcs_afile_abort(&af);
    assert_file_is(path, "old");
    assert_string_equal(listing(*state), "keep,t");
    free(path);
    free(other);
}

static void afile_unnamed_commit_as_lands_in_a_subdirectory(void **state)
{
    char *sub = path_in(*state, "ab");
    assert_int_equal(mkdir(sub, 0755), 0);
    int dirfd = open(*state, O_RDONLY | O_DIRECTORY);
    assert_true(dirfd >= 0);

    struct udcs_afile af;
    assert_int_equal(udcs_afile_open_unnamed(&af, dirfd, UDCS_AFILE_NOREPLACE | UDCS_AFILE_FSYNC,
                                             0444), 0);
    assert_int_equal(udcs_write_full(af.fd, "blob bytes", 10), 0);
    assert_int_equal(udcs_afile_commit_as(&af, "ab/abcdef"), 0);
    assert_string_equal(listing(*state), "ab");
    assert_string_equal(listing(sub), "abcdef");
    char *blob = path_in(sub, "abcdef");
    assert_file_is(blob, "blob bytes");

    /* the same name again: NOREPLACE keeps the first copy, nothing else appears */
    assert_int_equal(udcs_afile_open_unnamed(&af, dirfd, UDCS_AFILE_NOREPLACE, 0444), 0);
    assert_int_equal(udcs_write_full(af.fd, "other", 5), 0);
    assert_int_equal(udcs_afile_commit_as(&af, "ab/abcdef"), -EEXIST);
    assert_file_is(blob, "blob bytes");
    assert_string_equal(listing(*state), "ab");
    assert_string_equal(listing(sub), "abcdef");

    /* the caller's directory descriptor is still theirs */
    assert_true(fcntl(dirfd, F_GETFD) >= 0);
    close(dirfd);
    free(blob);
    free(sub);
}

static void afile_unnamed_commit_without_name_fails_and_leaves_nothing(void **state)
{
    int dirfd = open(*state, O_RDONLY | O_DIRECTORY);
    assert_true(dirfd >= 0);
    struct udcs_afile af;
    assert_int_equal(udcs_afile_open_unnamed(&af, dirfd, 0, 0644), 0);
    assert_int_equal(udcs_write_full(af.fd, "x", 1), 0);
    assert_int_equal(udcs_afile_commit(&af), -EINVAL);
    assert_string_equal(listing(*state), "");
    close(dirfd);
}

static void afile_openat_names_target_relative_to_dirfd(void **state)
{
    int dirfd = open(*state, O_RDONLY | O_DIRECTORY);
    assert_true(dirfd >= 0);
    struct udcs_afile af;
    assert_int_equal(udcs_afile_openat(&af, dirfd, "rel", 0, 0644), 0);
    assert_int_equal(udcs_write_full(af.fd, "relative", 8), 0);
    assert_int_equal(udcs_afile_commit(&af), 0);
    char *path = path_in(*state, "rel");
    assert_file_is(path, "relative");
    assert_true(fcntl(dirfd, F_GETFD) >= 0);
    close(dirfd);
    free(path);
}

static void afile_open_reports_missing_directory_and_directory_path(void **state)
{
    struct udcs_afile af;
    char *missing = path_in(*state, "nodir/f"), *slash = NULL;
    assert_int_equal(udcs_afile_open(&af, missing, 0, 0644), -ENOENT);
    assert_int_equal(asprintf(&slash, "%s/", (char *)*state) > 0, 1);
    assert_int_equal(udcs_afile_open(&af, slash, 0, 0644), -EISDIR);
    assert_string_equal(listing(*state), "");
    free(missing);
    free(slash);
}

/* ---- directories ----------------------------------------------------------------------- */

static void mkdir_p_creates_nested_directories_and_accepts_existing(void **state)
{
    char *deep = path_in(*state, "a/b/c/d");
    assert_int_equal(udcs_mkdir_p(deep, 0755), 0);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(udcs_mkdir_p(deep, 0755), 0);   /* already there */
    char *trailing = path_in(*state, "a/b/e/");
    assert_int_equal(udcs_mkdir_p(trailing, 0755), 0);
    char *e = path_in(*state, "a/b");
    assert_string_equal(listing(e), "c,e");
    assert_int_equal(udcs_mkdir_p("", 0755), -ENOENT);
    free(e);
    free(trailing);
    free(deep);
}

static void mkdir_p_fails_with_enotdir_when_a_component_is_a_file(void **state)
{
    char *file = path_in(*state, "file");
    test_write_file(file, "x", 1);
    char *under = path_in(*state, "file/sub/dir");
    assert_int_equal(udcs_mkdir_p(under, 0755), -ENOTDIR);
    assert_int_equal(udcs_mkdir_p(file, 0755), -ENOTDIR);   /* the last component too */
    assert_file_is(file, "x");
    free(under);
    free(file);
}

static void remove_tree_removes_links_not_their_targets(void **state)
{
    char *outside = path_in(*state, "outside"), *outfile = path_in(*state, "outside/keep.txt");
    char *tree = path_in(*state, "tree"), *deep = path_in(*state, "tree/x/y/z");
    assert_int_equal(udcs_mkdir_p(outside, 0755), 0);
    test_write_file(outfile, "precious", 8);
    assert_int_equal(udcs_mkdir_p(deep, 0755), 0);
    char *f1 = path_in(*state, "tree/x/f1"), *f2 = path_in(*state, "tree/x/y/z/f2");
    char *l1 = path_in(*state, "tree/x/y/to_dir"), *l2 = path_in(*state, "tree/to_file");
    char *l3 = path_in(*state, "tree/x/dangling");
    test_write_file(f1, "1", 1);
    test_write_file(f2, "2", 1);
    assert_int_equal(symlink(outside, l1), 0);
    assert_int_equal(symlink(outfile, l2), 0);
    assert_int_equal(symlink("/nonexistent/target", l3), 0);

    assert_int_equal(udcs_remove_tree(tree), 0);
    assert_int_equal(access(tree, F_OK), -1);
    assert_string_equal(listing(*state), "outside");
    assert_string_equal(listing(outside), "keep.txt");
    assert_file_is(outfile, "precious");

    assert_int_equal(udcs_remove_tree(tree), 0);   /* already gone: not an error */
    free(outside);
    free(outfile);
    free(tree);
    free(deep);
    free(f1);
    free(f2);
    free(l1);
    free(l2);
    free(l3);
}

static void remove_tree_on_a_symlink_to_a_directory_removes_only_the_link(void **state)
{
    char *dir = path_in(*state, "real"), *inside = path_in(*state, "real/f");
    char *link = path_in(*state, "link");
    assert_int_equal(mkdir(dir, 0755), 0);
    test_write_file(inside, "f", 1);
    assert_int_equal(symlink(dir, link), 0);
    char *slashed = NULL;
    assert_true(asprintf(&slashed, "%s/", link) > 0);
    assert_int_equal(udcs_remove_tree(slashed), 0);   /* a trailing slash changes nothing */
    assert_string_equal(listing(*state), "real");
    assert_string_equal(listing(dir), "f");
    assert_int_equal(symlink(dir, link), 0);
    assert_int_equal(udcs_remove_tree(link), 0);
    assert_string_equal(listing(*state), "real");
    assert_string_equal(listing(dir), "f");
    free(slashed);

    assert_int_equal(udcs_remove_tree(inside), 0);   /* a plain file */
    assert_string_equal(listing(dir), "");
    free(dir);
    free(inside);
    free(link);
}

static void path_join_uses_exactly_one_slash(void **state)
{
    (void)state;
    static const struct { const char *dir, *name, *joined; } cases[] = {
        { "a", "b", "a/b" },
        { "a/", "b", "a/b" },
        { "a///", "b", "a/b" },
        { "/srv/cas", "ab/cd", "/srv/cas/ab/cd" },
        { "/", "etc", "/etc" },
        { "//", "etc", "/etc" },
        { "", "rel", "rel" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = udcs_path_join(cases[i].dir, cases[i].name);
        assert_non_null(p);
        if (strcmp(p, cases[i].joined) != 0)
            fail_msg("join('%s', '%s') gave '%s', expected '%s'", cases[i].dir, cases[i].name,
                     p, cases[i].joined);
        free(p);
    }
}

/* The test program's own directory: the one its path names, with nothing after it; a
 * buffer too small for it is an error, not a cut path. */
static void self_dir_is_the_programs_directory(void **state)
{
    (void)state;
    char dir[PATH_MAX], exe[PATH_MAX];
    assert_int_equal(udcs_self_dir(dir, sizeof(dir)), 0);
    assert_true(realpath("/proc/self/exe", exe) != NULL);
    size_t n = strlen(dir);
    assert_memory_equal(exe, dir, n);
    assert_string_equal(exe + n, "/test_common_fs");
    char small[8];
    assert_int_equal(udcs_self_dir(small, sizeof(small)), -ENAMETOOLONG);
}

#define FS_TEST(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        FS_TEST(read_full_assembles_short_reads_until_len),
        FS_TEST(write_full_writes_more_than_a_pipe_holds),
        FS_TEST(full_io_reports_epipe_and_ebadf),
        FS_TEST(pread_and_pwrite_full_work_at_offsets),
        FS_TEST(read_file_appends_and_honours_the_limit),
        FS_TEST(write_atomic_creates_file_with_bytes_and_mode),
        FS_TEST(write_atomic_replaces_by_rename_not_in_place),
        FS_TEST(write_atomic_readers_never_see_a_partial_file),
        FS_TEST(write_atomic_into_missing_directory_fails_with_enoent),
        FS_TEST(afile_commit_gives_target_its_bytes_and_leaves_no_temporary),
        FS_TEST(afile_commit_replaces_an_existing_target),
        FS_TEST(afile_noreplace_keeps_existing_target),
        FS_TEST(afile_noreplace_creates_a_missing_target),
        FS_TEST(afile_abort_leaves_nothing_behind),
        FS_TEST(afile_unnamed_commit_as_lands_in_a_subdirectory),
        FS_TEST(afile_unnamed_commit_without_name_fails_and_leaves_nothing),
        FS_TEST(afile_openat_names_target_relative_to_dirfd),
        FS_TEST(afile_open_reports_missing_directory_and_directory_path),
        FS_TEST(mkdir_p_creates_nested_directories_and_accepts_existing),
        FS_TEST(mkdir_p_fails_with_enotdir_when_a_component_is_a_file),
        FS_TEST(remove_tree_removes_links_not_their_targets),
        FS_TEST(remove_tree_on_a_symlink_to_a_directory_removes_only_the_link),
        FS_TEST(path_join_uses_exactly_one_slash),
        FS_TEST(self_dir_is_the_programs_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
