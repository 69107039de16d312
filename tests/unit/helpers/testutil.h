/* tests/unit/helpers/testutil.h - small helpers the unit tests share: fresh temporary
 * directories, files with known bytes, and reading files back. */
#ifndef UDCS_TESTS_TESTUTIL_H
#define UDCS_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A new empty directory under $TMPDIR (or /tmp); the caller frees the path and removes
 * the tree with test_rmtree(). Aborts the test program on failure. */
char *test_tmpdir(const char *tag);
void test_rmtree(char *dir);   /* also frees `dir` */

/* `len` bytes from a seeded generator: the same seed gives the same bytes. `text` makes
 * them compressible (words and spaces) instead of random. */
void test_fill(void *buf, size_t len, uint64_t seed, int text);

/* Write / read a whole file; abort on failure. test_read_file's result is malloc()ed. */
void test_write_file(const char *path, const void *data, size_t len);
void *test_read_file(const char *path, size_t *len);

/* Flip the bits of the byte at `at` in the file at `path` (made writable first: stored
 * blobs are read-only), to damage it as a bad disk would. Aborts on failure. */
void test_flip_byte(const char *path, long at);

/* Whether the file at `path` holds exactly `len` bytes equal to `data`. */
int test_file_is(const char *path, const void *data, size_t len);

/* Path of a UDCS binary: $UDCS_BIN/name. Static buffer. */
const char *test_bin(const char *name);

#endif
