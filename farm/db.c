/* farm/db.c - the master's state in SQLite (WAL): jobs, units, agents, blocklist. Every
 * change is written in the transaction of the request that made it, so a master killed
 * at any moment restarts into a state it had acknowledged. Memory is the working copy;
 * farm_db_load() rebuilds it on start. */
#include "farm/farm_internal.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION "1"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " id INTEGER PRIMARY KEY, type TEXT NOT NULL, priority INTEGER NOT NULL,"
    " state INTEGER NOT NULL, spec TEXT NOT NULL, callback_url TEXT, error TEXT,"
    " created_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL DEFAULT 0,"
    " cache_hits INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,"
    " callback_pending INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS units("
    " id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " state INTEGER NOT NULL, spec TEXT NOT NULL, deps TEXT NOT NULL,"
    " action_digest TEXT, action TEXT, attempts INTEGER NOT NULL,"
    " max_attempts INTEGER NOT NULL, not_before_ms INTEGER NOT NULL,"
    " agent_id INTEGER NOT NULL, epoch INTEGER NOT NULL, lease_expires_ms INTEGER NOT NULL,"
    " cached INTEGER NOT NULL, exit_code INTEGER NOT NULL, result TEXT, error TEXT,"
    " queued_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS units_by_job ON units(job_id, idx);"
    "CREATE TABLE IF NOT EXISTS agents("
    " id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, name TEXT NOT NULL, info TEXT NOT NULL,"
    " slots INTEGER NOT NULL, registered_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
    " units_done INTEGER NOT NULL, units_failed INTEGER NOT NULL,"
    " admin_drained INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS blocklist(agent_id INTEGER NOT NULL, job_id INTEGER NOT NULL,"
    " failures INTEGER NOT NULL, PRIMARY KEY(agent_id, job_id));";

enum stmt_id {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_INSERT_JOB, ST_SAVE_JOB, ST_INSERT_UNIT, ST_SAVE_UNIT,
    ST_INSERT_AGENT, ST_SAVE_AGENT, ST_SAVE_BLOCK, ST_SAVE_JOB_SPEC, ST_SAVE_UNIT_SPEC,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_INSERT_JOB] = "INSERT INTO jobs(type, priority, state, spec, callback_url, created_ms)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_SAVE_JOB] = "UPDATE jobs SET state=?2, error=?3, finished_ms=?4, cache_hits=?5,"
                    " retries=?6, callback_pending=?7, priority=?8 WHERE id=?1",
    [ST_INSERT_UNIT] = "INSERT INTO units(job_id, idx, state, spec, deps, attempts, max_attempts,"
                       " not_before_ms, agent_id, epoch, lease_expires_ms, cached, exit_code,"
                       " queued_ms, started_ms, finished_ms)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6, 0, 0, 0, 0, 0, -1, 0, 0, 0)",
    [ST_SAVE_UNIT] = "UPDATE units SET state=?2, action_digest=?3, action=?4, attempts=?5,"
                     " not_before_ms=?6, agent_id=?7, epoch=?8, lease_expires_ms=?9, cached=?10,"
                     " exit_code=?11, result=?12, error=?13, queued_ms=?14, started_ms=?15,"
                     " finished_ms=?16 WHERE id=?1",
    [ST_INSERT_AGENT] = "INSERT INTO agents(key, name, info, slots, registered_ms, last_seen_ms,"
                        " units_done, units_failed, admin_drained)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_SAVE_AGENT] = "UPDATE agents SET name=?2, info=?3, slots=?4, last_seen_ms=?5,"
                      " units_done=?6, units_failed=?7, admin_drained=?8 WHERE id=?1",
    [ST_SAVE_BLOCK] = "INSERT OR REPLACE INTO blocklist(agent_id, job_id, failures)"
                      " VALUES(?1, ?2, ?3)",
    [ST_SAVE_JOB_SPEC] = "UPDATE jobs SET spec=?2 WHERE id=?1",
    [ST_SAVE_UNIT_SPEC] = "UPDATE units SET spec=?2 WHERE id=?1",
};

_Static_assert(ST_COUNT <= FARM_DB_STMTS, "farm.stmt[] is too small");
#define stmts (f->stmt)

static int db_error(struct farm *f, const char *what)
{
    udcs_log_error("farm: database %s failed: %s", what, sqlite3_errmsg(f->db));
    return -EIO;
}

/* Run a prepared statement to completion and reset it. */
static int step(struct farm *f, enum stmt_id id)
{
    int rc = sqlite3_step(stmts[id]);
    sqlite3_reset(stmts[id]);
    sqlite3_clear_bindings(stmts[id]);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_error(f, stmt_sql[id]);
    return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* Columns added after a table was first made: a state written by an older master gets
 * them (with their defaults) on open. */
static int add_missing_columns(struct farm *f)
{
    static const struct { const char *table, *column, *decl; } added[] = {
        { "agents", "admin_drained", "INTEGER NOT NULL DEFAULT 0" },
    };
    for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
        char sql[256];
        sqlite3_stmt *s;
        snprintf(sql, sizeof(sql), "SELECT %s FROM %s LIMIT 0", added[i].column, added[i].table);
        if (sqlite3_prepare_v2(f->db, sql, -1, &s, NULL) == SQLITE_OK) {
            sqlite3_finalize(s);
            continue;
        }
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", added[i].table,
                 added[i].column, added[i].decl);
        if (sqlite3_exec(f->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return db_error(f, sql);
    }
    return 0;
}

int farm_db_open(struct farm *f, const char *path)
{
    if (sqlite3_open_v2(path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        udcs_log_error("farm: cannot open the state database %s: %s", path,
                       f->db ? sqlite3_errmsg(f->db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(f->db, 5000);
    char *err = NULL;
    /* WAL: readers never block the writer; NORMAL: a committed transaction survives the
     * process being killed (only a power loss may drop the last ones). */
    if (sqlite3_exec(f->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     &err) != SQLITE_OK ||
        sqlite3_exec(f->db, schema, NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(f->db, "INSERT OR IGNORE INTO meta VALUES('schema', '" SCHEMA_VERSION "')",
                     NULL, NULL, &err) != SQLITE_OK) {
        udcs_log_error("farm: setting up %s failed: %s", path, err ? err : "?");
        sqlite3_free(err);
        return -EIO;
    }
    if (add_missing_columns(f) < 0)
        return -EIO;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v2(f->db, stmt_sql[i], -1, &stmts[i], NULL) != SQLITE_OK)
            return db_error(f, "prepare");
    return 0;
}

void farm_db_close(struct farm *f)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(stmts[i]);
        stmts[i] = NULL;
    }
    if (f->db)
        sqlite3_close(f->db);
    f->db = NULL;
}

int farm_db_begin(struct farm *f)
{
    return step(f, ST_BEGIN);
}

int farm_db_commit(struct farm *f)
{
    int rc = step(f, ST_COMMIT);
    if (rc < 0)
        step(f, ST_ROLLBACK);
    return rc;
}

int farm_db_insert_job(struct farm *f, struct job *j)
{
    sqlite3_stmt *s = stmts[ST_INSERT_JOB];
    char *spec = json_dumps(j->spec, JSON_COMPACT);
    bind_text(s, 1, j->type);
    sqlite3_bind_int(s, 2, j->priority);
    sqlite3_bind_int(s, 3, (int)j->state);
    bind_text(s, 4, spec ? spec : "{}");
    bind_text(s, 5, j->callback_url);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)j->created_ms);
    int rc = step(f, ST_INSERT_JOB);
    free(spec);
    if (rc == 0)
        j->id = sqlite3_last_insert_rowid(f->db);
    return rc;
}

int farm_db_save_job(struct farm *f, const struct job *j)
{
    sqlite3_stmt *s = stmts[ST_SAVE_JOB];
    sqlite3_bind_int64(s, 1, j->id);
    sqlite3_bind_int(s, 2, (int)j->state);
    bind_text(s, 3, j->error);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)j->finished_ms);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)j->cache_hits);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)j->retries);
    sqlite3_bind_int(s, 7, j->callback_pending);
    sqlite3_bind_int(s, 8, j->priority);
    return step(f, ST_SAVE_JOB);
}

int farm_db_save_specs(struct farm *f, const struct job *j)
{
    char *spec = json_dumps(j->spec, JSON_COMPACT);
    if (!spec)
        return -ENOMEM;
    sqlite3_stmt *s = stmts[ST_SAVE_JOB_SPEC];
    sqlite3_bind_int64(s, 1, j->id);
    bind_text(s, 2, spec);
    int rc = step(f, ST_SAVE_JOB_SPEC);
    free(spec);
    for (size_t i = 0; rc == 0 && i < j->n_units; i++) {
        s = stmts[ST_SAVE_UNIT_SPEC];
        sqlite3_bind_int64(s, 1, j->units[i]->id);
        bind_text(s, 2, j->units[i]->spec);
        rc = step(f, ST_SAVE_UNIT_SPEC);
    }
    return rc;
}

static char *deps_text(const struct unit *u)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < u->n_deps; i++)
        json_array_append_new(a, json_integer(u->deps[i]));
    char *t = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return t;
}

int farm_db_insert_unit(struct farm *f, struct unit *u)
{
    sqlite3_stmt *s = stmts[ST_INSERT_UNIT];
    const char *spec = u->spec;
    char *deps = deps_text(u);
    int rc = spec && deps ? 0 : -ENOMEM;
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, u->job->id);
        sqlite3_bind_int(s, 2, u->index);
        sqlite3_bind_int(s, 3, (int)u->state);
        bind_text(s, 4, spec);
        bind_text(s, 5, deps);
        sqlite3_bind_int(s, 6, u->max_attempts);
        rc = step(f, ST_INSERT_UNIT);
    }
    free(deps);
    if (rc == 0)
        u->id = sqlite3_last_insert_rowid(f->db);
    return rc;
}

int farm_db_save_unit(struct farm *f, const struct unit *u)
{
    sqlite3_stmt *s = stmts[ST_SAVE_UNIT];
    char hex[CAS_HEX_LEN + 1];
    sqlite3_bind_int64(s, 1, u->id);
    sqlite3_bind_int(s, 2, (int)u->state);
    bind_text(s, 3, u->has_action ? cas_digest_hex(&u->action_digest, hex) : NULL);
    bind_text(s, 4, u->action_json);
    sqlite3_bind_int(s, 5, u->attempts);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)u->not_before_ms);
    sqlite3_bind_int64(s, 7, u->agent_id);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)u->epoch);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)u->lease_expires_ms);
    sqlite3_bind_int(s, 10, u->cached);
    sqlite3_bind_int(s, 11, u->exit_code);
    bind_text(s, 12, u->result_json);
    bind_text(s, 13, u->error);
    sqlite3_bind_int64(s, 14, (sqlite3_int64)u->queued_ms);
    sqlite3_bind_int64(s, 15, (sqlite3_int64)u->started_ms);
    sqlite3_bind_int64(s, 16, (sqlite3_int64)u->finished_ms);
    return step(f, ST_SAVE_UNIT);
}

int farm_db_save_agent(struct farm *f, struct agent *a)
{
    char *info = json_dumps(a->info, JSON_COMPACT | JSON_SORT_KEYS);
    if (!info)
        return -ENOMEM;
    int rc;
    if (a->id == 0) {
        sqlite3_stmt *s = stmts[ST_INSERT_AGENT];
        bind_text(s, 1, a->key);
        bind_text(s, 2, a->name);
        bind_text(s, 3, info);
        sqlite3_bind_int(s, 4, a->slots);
        sqlite3_bind_int64(s, 5, (sqlite3_int64)a->registered_ms);
        sqlite3_bind_int64(s, 6, (sqlite3_int64)a->last_seen_ms);
        sqlite3_bind_int64(s, 7, (sqlite3_int64)a->units_done);
        sqlite3_bind_int64(s, 8, (sqlite3_int64)a->units_failed);
        sqlite3_bind_int(s, 9, a->admin_drained);
        rc = step(f, ST_INSERT_AGENT);
        if (rc == 0)
            a->id = sqlite3_last_insert_rowid(f->db);
    } else {
        sqlite3_stmt *s = stmts[ST_SAVE_AGENT];
        sqlite3_bind_int64(s, 1, a->id);
        bind_text(s, 2, a->name);
        bind_text(s, 3, info);
        sqlite3_bind_int(s, 4, a->slots);
        sqlite3_bind_int64(s, 5, (sqlite3_int64)a->last_seen_ms);
        sqlite3_bind_int64(s, 6, (sqlite3_int64)a->units_done);
        sqlite3_bind_int64(s, 7, (sqlite3_int64)a->units_failed);
        sqlite3_bind_int(s, 8, a->admin_drained);
        rc = step(f, ST_SAVE_AGENT);
    }
    free(info);
    return rc;
}

int farm_db_save_blocklist(struct farm *f, const struct agent *a, int64_t job_id, int failures)
{
    sqlite3_stmt *s = stmts[ST_SAVE_BLOCK];
    sqlite3_bind_int64(s, 1, a->id);
    sqlite3_bind_int64(s, 2, job_id);
    sqlite3_bind_int(s, 3, failures);
    return step(f, ST_SAVE_BLOCK);
}

/* ---- loading -------------------------------------------------------------------------------- */

static char *column_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

static json_t *column_json(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? json_loads((const char *)t, 0, NULL) : NULL;
}

static int load_jobs(struct farm *f)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(f->db, "SELECT id, type, priority, state, spec, callback_url, error,"
                                  " created_ms, finished_ms, cache_hits, retries, callback_pending"
                                  " FROM jobs ORDER BY id", -1, &s, NULL) != SQLITE_OK)
        return db_error(f, "loading jobs");
    int rc = 0, r;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct job *j = calloc(1, sizeof(*j));
        if (!j) {
            rc = -ENOMEM;
            break;
        }
        j->id = sqlite3_column_int64(s, 0);
        j->type = column_text(s, 1);
        j->priority = sqlite3_column_int(s, 2);
        j->state = (enum job_state)sqlite3_column_int(s, 3);
        j->spec = column_json(s, 4);
        j->callback_url = column_text(s, 5);
        j->error = column_text(s, 6);
        j->created_ms = (uint64_t)sqlite3_column_int64(s, 7);
        j->finished_ms = (uint64_t)sqlite3_column_int64(s, 8);
        j->cache_hits = (size_t)sqlite3_column_int64(s, 9);
        j->retries = (size_t)sqlite3_column_int64(s, 10);
        j->callback_pending = sqlite3_column_int(s, 11);
        j->event_state = j->state;   /* nothing new to announce */
        rc = farm_add_job(f, j);
    }
    sqlite3_finalize(s);
    return rc;
}

static int parse_deps(struct unit *u, const char *text)
{
    json_t *a = json_loads(text ? text : "[]", 0, NULL);
    size_t n = json_array_size(a);
    u->deps = n ? calloc(n, sizeof(*u->deps)) : NULL;
    if (n && !u->deps) {
        json_decref(a);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        u->deps[i] = json_integer_value(json_array_get(a, i));
    u->n_deps = n;
    json_decref(a);
    return 0;
}

static int load_units(struct farm *f)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(f->db, "SELECT id, job_id, idx, state, spec, deps, action_digest,"
                                  " action, attempts, max_attempts, not_before_ms, agent_id,"
                                  " epoch, lease_expires_ms, cached, exit_code, result, error,"
                                  " queued_ms, started_ms, finished_ms FROM units ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_error(f, "loading units");
    int rc = 0, r;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct unit *u = calloc(1, sizeof(*u));
        struct job *j = farm_job(f, sqlite3_column_int64(s, 1));
        if (!u || !j) {
            free(u);
            rc = u ? -EIO : -ENOMEM;
            break;
        }
        u->id = sqlite3_column_int64(s, 0);
        u->job = j;
        u->index = sqlite3_column_int(s, 2);
        u->state = (enum unit_state)sqlite3_column_int(s, 3);
        u->spec = column_text(s, 4);
        rc = parse_deps(u, (const char *)sqlite3_column_text(s, 5));
        const unsigned char *digest = sqlite3_column_text(s, 6);
        if (digest && cas_digest_parse((const char *)digest, &u->action_digest, NULL) == 0)
            u->has_action = 1;
        u->action_json = column_text(s, 7);
        u->attempts = sqlite3_column_int(s, 8);
        u->max_attempts = sqlite3_column_int(s, 9);
        u->not_before_ms = (uint64_t)sqlite3_column_int64(s, 10);
        u->agent_id = sqlite3_column_int64(s, 11);
        u->epoch = (uint64_t)sqlite3_column_int64(s, 12);
        u->lease_expires_ms = (uint64_t)sqlite3_column_int64(s, 13);
        u->cached = sqlite3_column_int(s, 14);
        u->exit_code = sqlite3_column_int(s, 15);
        u->result_json = column_text(s, 16);
        u->error = column_text(s, 17);
        u->queued_ms = (uint64_t)sqlite3_column_int64(s, 18);
        u->started_ms = (uint64_t)sqlite3_column_int64(s, 19);
        u->finished_ms = (uint64_t)sqlite3_column_int64(s, 20);
        if (!u->spec) {
            rc = -EIO;
            udcs_log_error("farm: unit %lld has an unreadable spec in the database",
                           (long long)u->id);
        }
        if (rc == 0)
            rc = farm_add_unit(f, u);
    }
    sqlite3_finalize(s);
    return rc;
}

static int load_agents(struct farm *f)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(f->db, "SELECT id, key, name, info, slots, registered_ms,"
                                  " last_seen_ms, units_done, units_failed, admin_drained FROM agents"
                                  " ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return db_error(f, "loading agents");
    int rc = 0, r;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct agent *a = calloc(1, sizeof(*a));
        if (!a) {
            rc = -ENOMEM;
            break;
        }
        a->id = sqlite3_column_int64(s, 0);
        a->key = column_text(s, 1);
        a->name = column_text(s, 2);
        a->info = column_json(s, 3);
        a->slots = sqlite3_column_int(s, 4);
        a->registered_ms = (uint64_t)sqlite3_column_int64(s, 5);
        a->last_seen_ms = (uint64_t)sqlite3_column_int64(s, 6);
        a->units_done = (uint64_t)sqlite3_column_int64(s, 7);
        a->units_failed = (uint64_t)sqlite3_column_int64(s, 8);
        a->admin_drained = sqlite3_column_int(s, 9);
        a->state = AGENT_LOST;   /* until it is heard from again */
        a->event_state = a->state;
        a->event_drained = a->admin_drained;
        a->cpu = NAN;
        if (!a->info)
            a->info = json_object();
        rc = farm_add_agent(f, a);
    }
    sqlite3_finalize(s);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(f->db, "SELECT agent_id, job_id, failures FROM blocklist", -1, &s,
                           NULL) != SQLITE_OK)
        return db_error(f, "loading the blocklist");
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct agent *a = farm_agent(f, sqlite3_column_int64(s, 0));
        if (!a)
            continue;
        struct blocked *b = realloc(a->blocked, (a->n_blocked + 1) * sizeof(*b));
        if (!b) {
            rc = -ENOMEM;
            break;
        }
        a->blocked = b;
        a->blocked[a->n_blocked].job_id = sqlite3_column_int64(s, 1);
        a->blocked[a->n_blocked].failures = sqlite3_column_int(s, 2);
        a->n_blocked++;
    }
    sqlite3_finalize(s);
    return rc;
}

int farm_db_load(struct farm *f)
{
    int rc = load_jobs(f);
    if (rc == 0)
        rc = load_units(f);
    if (rc == 0)
        rc = load_agents(f);
    return rc;
}
