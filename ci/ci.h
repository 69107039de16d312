/* ci/ci.h - `udcs ci`: cached CI pipeline steps keyed by git trees (libgit2), the
 * outputs kept as one archive blob (libarchive) in the store, `affected` from a tree
 * diff, the store as one cache file, and reports (JUnit XML, JSON). docs/CI.md is the
 * user's reference. Knows the store (cas/) and the client's settings; not the farm. */
#ifndef UDCS_CI_H
#define UDCS_CI_H

struct client;

/* `udcs ci SUBCOMMAND ARGS...`: argv[0] is the subcommand (step, affected, cache,
 * report). Uses the client's settings (cache_dir) from `c`. Returns the exit status:
 * for `step`, the step's own exit status (run or replayed); otherwise UDCS_EXIT_OK,
 * UDCS_EXIT_FAILED or UDCS_EXIT_USAGE, having said what went wrong. */
int ci_main(struct client *c, int argc, char **argv);

#endif
