/*
 * storage_sqlite: the embedded storage backend.
 *
 * One SQLite file in WAL mode. WAL lets readers run beside the writer,
 * hence a small pool: one writer connection guarded by a mutex (SQLite
 * allows one writer at a time anyway) and a few query-only connections
 * handed out under a mutex + condvar. Each connection keeps its prepared
 * statements and is used by one thread at a time, so the connections are
 * opened without SQLite's own mutex.
 *
 * Durability is split from commit: synchronous=NORMAL, so a COMMIT only
 * writes its frames to the WAL, and a syncer thread fdatasyncs the WAL on
 * demand (see syncer.h). WAL frames are appended in commit order and
 * SQLite's recovery stops at the first frame that fails its checksum, so
 * one fdatasync makes every earlier commit durable at once. With
 * synchronous=FULL each request thread sat through its own fsync; now a
 * request thread commits and moves on, and the HTTP layer holds only the
 * response until the syncer reports the commit durable. Checkpoints run on
 * their own thread (sqlite_ckpt.h) and still sync the WAL before and the
 * database after, as NORMAL does.
 */
#include "coffer/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coffer/log.h"
#include "sqlite_ckpt.h"

#define CF_SQLITE_PATH_MAX      4096
#define CF_SQLITE_READERS       4
#define CF_SQLITE_BUSY_MS       5000

typedef enum {
    CF_SQLITE_GET = 0,
    CF_SQLITE_PUT,
    CF_SQLITE_DEL,
    CF_SQLITE_RANGE,            /* path >= ?1 AND path < ?2 */
    CF_SQLITE_TAIL,             /* path >= ?1 (no upper bound) */
    CF_SQLITE_DEL_RANGE,        /* delete path >= ?1 AND path < ?2 */
    CF_SQLITE__NSTMT
} cf_storage_sqlite_stmt_t;

static const char *const  cf_storage_sqlite_sql[CF_SQLITE__NSTMT] = {
    [CF_SQLITE_GET]   = "SELECT value FROM entries WHERE path = ?1",
    [CF_SQLITE_PUT]   = "INSERT OR REPLACE INTO entries(path, value) "
                        "VALUES (?1, ?2)",
    [CF_SQLITE_DEL]   = "DELETE FROM entries WHERE path = ?1",
    /* Only the path column: a list must not read descendants' values. */
    [CF_SQLITE_RANGE] = "SELECT path FROM entries WHERE path >= ?1 "
                        "AND path < ?2 ORDER BY path",
    [CF_SQLITE_TAIL]  = "SELECT path FROM entries WHERE path >= ?1 "
                        "ORDER BY path",
    [CF_SQLITE_DEL_RANGE] = "DELETE FROM entries WHERE path >= ?1 "
                            "AND path < ?2",
};

typedef struct {
    sqlite3       *db;
    sqlite3_stmt  *stmt[CF_SQLITE__NSTMT];
} cf_storage_sqlite_conn_t;

/* One put or delete waiting for the group commit. Lives on the stack of
 * the thread that submitted it, which waits until `done`. */
typedef struct cf_storage_sqlite_op_s {
    bool                              del;
    const char                       *path;
    const void                       *val;
    size_t                            len;
    cf_err_t                          rc;
    bool                              done;
    struct cf_storage_sqlite_op_s    *next;
} cf_storage_sqlite_op_t;

typedef struct {
    cf_storage_t               base;    /* first: cf_storage_t * casts */

    /* Serialises every write; guards `writer`. */
    pthread_mutex_t            wlock;
    cf_storage_sqlite_conn_t   writer;

    /* Group commit: puts and deletes queue here; one thread at a time
     * (the leader) runs everything queued in one transaction, so
     * concurrent writers share one fsync. qlock guards the queue and
     * `leading`; qcond signals a finished batch. */
    pthread_mutex_t            qlock;
    pthread_cond_t             qcond;
    cf_storage_sqlite_op_t    *qhead;
    cf_storage_sqlite_op_t   **qtail;
    bool                       leading;

    /* Reader pool: plock guards `busy`; pcond signals a release. */
    pthread_mutex_t            plock;
    pthread_cond_t             pcond;
    cf_storage_sqlite_conn_t   readers[CF_SQLITE_READERS];
    bool                       busy[CF_SQLITE_READERS];

    /* The WAL file, opened read-only for fdatasync by the syncer. Our
     * connections stay open, so SQLite never unlinks it under us. */
    int                        wal_fd;

    /* Checkpoints, off the writers' path (sqlite_ckpt.h). */
    cf_sqlite_ckpt_t          *ckpt;
} cf_storage_sqlite_t;

/*
 * The one place an SQLite result code becomes a cf_err_t. Logs the cause
 * with the path (never a value).
 */
static cf_err_t
cf_storage_sqlite_err(sqlite3 *db, int src, const char *op, const char *path)
{
    /* src may be ours (a synthesised TOOBIG/NOMEM), not the db's last. */
    cf_log_error("storage", "sqlite %s '%s': %s (%d)", op,
                 path != NULL ? path : "",
                 db != NULL && sqlite3_errcode(db) == src
                 ? sqlite3_errmsg(db) : sqlite3_errstr(src), src);
    if ((src & 0xff) == SQLITE_NOMEM)
        return CF_ERR_NOMEM;
    if ((src & 0xff) == SQLITE_TOOBIG)
        return CF_ERR_TOO_LARGE;
    return CF_ERR_STORAGE;
}

static cf_err_t
cf_storage_sqlite_check_path(const char *path, bool allow_empty)
{
    size_t  len;

    if (path == NULL)
        return CF_ERR_INVALID;
    len = strnlen(path, CF_SQLITE_PATH_MAX + 1);
    if (len > CF_SQLITE_PATH_MAX || (len == 0 && !allow_empty))
        return CF_ERR_INVALID;
    return CF_OK;
}

static void
cf_storage_sqlite_conn_close(cf_storage_sqlite_conn_t *c)
{
    size_t  i;

    for (i = 0; i < CF_SQLITE__NSTMT; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
    if (c->db != NULL)
        sqlite3_close(c->db);
    c->db = NULL;
}

/* Run a pragma or DDL statement; rows, if any, are ignored. */
static int
cf_storage_sqlite_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static cf_err_t
cf_storage_sqlite_wal(sqlite3 *db, const char *file)
{
    sqlite3_stmt  *st = NULL;
    const char    *mode;
    cf_err_t       rc = CF_ERR_CONFIG;

    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL)
        != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        cf_log_error("storage", "cannot set WAL mode on %s: %s", file,
                     sqlite3_errmsg(db));
        goto out;
    }
    mode = (const char *) sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0) {
        /* An in-memory or odd VFS file would silently lose durability. */
        cf_log_error("storage", "%s: journal mode is '%s', not wal", file,
                     mode != NULL ? mode : "?");
        goto out;
    }
    rc = CF_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

/*
 * Open one connection with its pragmas and prepared statements. The
 * writer also sets WAL mode and creates the table; readers come after it
 * and are query-only.
 */
static cf_err_t
cf_storage_sqlite_conn_open(cf_storage_sqlite_conn_t *c, const char *file,
                            bool writer)
{
    char      sql[64];
    size_t    i;
    int       src;
    cf_err_t  rc = CF_ERR_CONFIG;

    src = sqlite3_open_v2(file, &c->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                          | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        cf_log_error("storage", "cannot open %s: %s", file,
                     c->db != NULL ? sqlite3_errmsg(c->db)
                     : sqlite3_errstr(src));
        goto out;
    }
    snprintf(sql, sizeof(sql), "PRAGMA busy_timeout=%d", CF_SQLITE_BUSY_MS);
    if (cf_storage_sqlite_exec(c->db, sql) != SQLITE_OK)
        goto fail;
    if (writer) {
        if ((rc = cf_storage_sqlite_wal(c->db, file)) != CF_OK)
            goto out;
        rc = CF_ERR_CONFIG;
        if (cf_storage_sqlite_exec(c->db, "PRAGMA synchronous=NORMAL")
            != SQLITE_OK
            || cf_storage_sqlite_exec(c->db,
                   "CREATE TABLE IF NOT EXISTS entries("
                   "path TEXT PRIMARY KEY, value BLOB NOT NULL)")
            != SQLITE_OK)
            goto fail;
    } else if (cf_storage_sqlite_exec(c->db, "PRAGMA query_only=ON")
               != SQLITE_OK) {
        goto fail;
    }
    for (i = 0; i < CF_SQLITE__NSTMT; i++) {
        if (sqlite3_prepare_v3(c->db, cf_storage_sqlite_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &c->stmt[i],
                               NULL) != SQLITE_OK)
            goto fail;
    }
    rc = CF_OK;
    goto out;
fail:
    cf_log_error("storage", "cannot set up %s: %s", file,
                 sqlite3_errmsg(c->db));
out:
    if (rc != CF_OK)
        cf_storage_sqlite_conn_close(c);
    return rc;
}

static cf_storage_sqlite_conn_t *
cf_storage_sqlite_reader_take(cf_storage_sqlite_t *s)
{
    cf_storage_sqlite_conn_t  *c = NULL;
    size_t                     i;

    pthread_mutex_lock(&s->plock);
    for (;;) {
        for (i = 0; i < CF_SQLITE_READERS; i++) {
            if (!s->busy[i]) {
                s->busy[i] = true;
                c = &s->readers[i];
                break;
            }
        }
        if (c != NULL)
            break;
        pthread_cond_wait(&s->pcond, &s->plock);
    }
    pthread_mutex_unlock(&s->plock);
    return c;
}

static void
cf_storage_sqlite_reader_give(cf_storage_sqlite_t *s,
                              cf_storage_sqlite_conn_t *c)
{
    pthread_mutex_lock(&s->plock);
    s->busy[c - s->readers] = false;
    pthread_cond_signal(&s->pcond);
    pthread_mutex_unlock(&s->plock);
}

static cf_err_t
cf_storage_sqlite_get(cf_storage_t *st, const char *path, cf_buf_t **out)
{
    cf_storage_sqlite_t       *s = (cf_storage_sqlite_t *) st;
    cf_storage_sqlite_conn_t  *c;
    sqlite3_stmt              *q;
    const void                *val;
    int                        src;
    cf_err_t                   rc;

    *out = NULL;
    if ((rc = cf_storage_sqlite_check_path(path, false)) != CF_OK)
        return rc;
    c = cf_storage_sqlite_reader_take(s);
    q = c->stmt[CF_SQLITE_GET];
    src = sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = CF_ERR_NOT_FOUND;
    } else if (src == SQLITE_ROW) {
        val = sqlite3_column_blob(q, 0);
        *out = cf_buf_new_copy(val != NULL ? val : "",
                               (size_t) sqlite3_column_bytes(q, 0));
        rc = *out != NULL ? CF_OK : CF_ERR_NOMEM;
    } else {
        rc = cf_storage_sqlite_err(c->db, src, "get", path);
    }
    /* Reset ends the read transaction so the next read sees new commits. */
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    cf_storage_sqlite_reader_give(s, c);
    return rc;
}

/* Run one put or delete on the writer connection (wlock held). */
static cf_err_t
cf_storage_sqlite_step_op(cf_storage_sqlite_t *s, cf_storage_sqlite_op_t *op)
{
    sqlite3_stmt  *q = s->writer.stmt[op->del ? CF_SQLITE_DEL
                                              : CF_SQLITE_PUT];
    int            src;
    cf_err_t       rc;

    src = sqlite3_bind_text(q, 1, op->path, -1, SQLITE_STATIC);
    /* Non-NULL pointer even for len 0: a NULL one would bind SQL NULL. */
    if (src == SQLITE_OK && !op->del)
        src = sqlite3_bind_blob(q, 2, op->val != NULL ? op->val : "",
                                (int) op->len, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_step(q);
    rc = src == SQLITE_DONE ? CF_OK
         : cf_storage_sqlite_err(s->writer.db, src,
                                 op->del ? "delete" : "put", op->path);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc;
}

/* Run a batch: alone in autocommit, several in one transaction. All or
 * nothing: a failure of any statement or of the commit fails every op of
 * the batch. Each commit is counted for the syncer. */
static void
cf_storage_sqlite_run_batch(cf_storage_sqlite_t *s,
                            cf_storage_sqlite_op_t *batch)
{
    cf_storage_sqlite_op_t  *op;
    cf_err_t                 rc = CF_OK;
    int                      src;

    pthread_mutex_lock(&s->wlock);
    if (cf_syncer_failed(s->base.syncer)) {
        rc = CF_ERR_STORAGE;        /* the disk's state is unknown */
        goto out;
    }
    if (batch->next == NULL) {
        batch->rc = cf_storage_sqlite_step_op(s, batch);
        if (batch->rc == CF_OK)
            cf_syncer_committed(s->base.syncer);
        pthread_mutex_unlock(&s->wlock);
        return;
    }
    src = cf_storage_sqlite_exec(s->writer.db, "BEGIN IMMEDIATE");
    if (src != SQLITE_OK)
        rc = cf_storage_sqlite_err(s->writer.db, src, "begin", "");
    for (op = batch; rc == CF_OK && op != NULL; op = op->next)
        rc = cf_storage_sqlite_step_op(s, op);
    if (rc == CF_OK) {
        src = cf_storage_sqlite_exec(s->writer.db, "COMMIT");
        if (src != SQLITE_OK)
            rc = cf_storage_sqlite_err(s->writer.db, src, "commit", "");
    }
    if (rc == CF_OK)
        cf_syncer_committed(s->base.syncer);
    else
        (void) cf_storage_sqlite_exec(s->writer.db, "ROLLBACK");
out:
    for (op = batch; op != NULL; op = op->next)
        op->rc = rc;
    pthread_mutex_unlock(&s->wlock);
}

/* Queue the ops first..last (already linked through next, last->next
 * NULL; they commit together) and return once they are committed (or
 * failed): either another thread's batch carried them, or this thread
 * leads the next batch. */
static cf_err_t
cf_storage_sqlite_submit(cf_storage_sqlite_t *s, cf_storage_sqlite_op_t *op,
                         cf_storage_sqlite_op_t *last)
{
    cf_storage_sqlite_op_t  *batch, *o;

    for (o = op; o != NULL; o = o->next)
        o->done = false;
    pthread_mutex_lock(&s->qlock);
    *s->qtail = op;
    s->qtail = &last->next;
    while (!op->done) {
        if (s->leading) {
            pthread_cond_wait(&s->qcond, &s->qlock);
            continue;
        }
        s->leading = true;
        batch = s->qhead;
        s->qhead = NULL;
        s->qtail = &s->qhead;
        pthread_mutex_unlock(&s->qlock);
        cf_storage_sqlite_run_batch(s, batch);
        pthread_mutex_lock(&s->qlock);
        for (o = batch; o != NULL; o = o->next)
            o->done = true;
        s->leading = false;
        pthread_cond_broadcast(&s->qcond);
    }
    pthread_mutex_unlock(&s->qlock);
    return op->rc;
}

static cf_err_t
cf_storage_sqlite_put(cf_storage_t *st, const char *path, const void *val,
                      size_t len)
{
    cf_storage_sqlite_op_t  op = { .path = path, .val = val, .len = len };
    cf_err_t                rc;

    if ((rc = cf_storage_sqlite_check_path(path, false)) != CF_OK)
        return rc;
    if (val == NULL && len > 0)
        return CF_ERR_INVALID;
    if (len > INT_MAX)
        return CF_ERR_TOO_LARGE;
    return cf_storage_sqlite_submit((cf_storage_sqlite_t *) st, &op, &op);
}

static cf_err_t
cf_storage_sqlite_put_many(cf_storage_t *st, size_t n,
                           const char *const *paths, const void *const *vals,
                           const size_t *lens)
{
    cf_storage_sqlite_op_t  *ops;
    size_t                   i;
    cf_err_t                 rc = CF_OK;

    if (n == 0)
        return CF_OK;
    for (i = 0; i < n && rc == CF_OK; i++) {
        if ((rc = cf_storage_sqlite_check_path(paths[i], false)) == CF_OK
            && ((vals[i] == NULL && lens[i] > 0) || lens[i] > INT_MAX))
            rc = CF_ERR_INVALID;
    }
    if (rc != CF_OK)
        return rc;
    if ((ops = calloc(n, sizeof(*ops))) == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        ops[i].path = paths[i];
        ops[i].val = vals[i];
        ops[i].len = lens[i];
        ops[i].next = i + 1 < n ? &ops[i + 1] : NULL;
    }
    /* The batch runs all of a chain or fails all of it: one rc. */
    rc = cf_storage_sqlite_submit((cf_storage_sqlite_t *) st, &ops[0],
                                  &ops[n - 1]);
    free(ops);
    return rc;
}

static cf_err_t
cf_storage_sqlite_del(cf_storage_t *st, const char *path)
{
    cf_storage_sqlite_op_t  op = { .del = true, .path = path };
    cf_err_t                rc;

    if ((rc = cf_storage_sqlite_check_path(path, false)) != CF_OK)
        return rc;
    return cf_storage_sqlite_submit((cf_storage_sqlite_t *) st, &op, &op);
}

/*
 * Smallest string greater than every string that starts with key[0..len):
 * drop trailing 0xff bytes and increment the last one. false when there is
 * none (key empty or all 0xff), meaning "no upper bound".
 */
static bool
cf_storage_sqlite_upper(char *key, size_t len)
{
    while (len > 0 && (unsigned char) key[len - 1] == 0xff)
        len--;
    if (len == 0)
        return false;
    key[len - 1] = (char) ((unsigned char) key[len - 1] + 1);
    key[len] = '\0';
    return true;
}

/*
 * Range-scan [lo, upper(prefix)) on connection c. On a child folder
 * "name/" the scan restarts at upper(prefix + "name/"), so a folder with a
 * million descendants costs one row, not a million.
 */
static cf_err_t
cf_storage_sqlite_list_conn(cf_storage_sqlite_conn_t *c, const char *prefix,
                            cf_strlist_t *l)
{
    char          *lo = NULL, *hi = NULL;
    const char    *row, *slash;
    sqlite3_stmt  *q;
    size_t         plen = strlen(prefix), clen;
    bool           bounded;
    int            src;
    cf_err_t       rc = CF_ERR_NOMEM;

    /* Both keys hold at most a stored path's first CF_SQLITE_PATH_MAX
     * bytes. */
    if ((lo = malloc(CF_SQLITE_PATH_MAX + 1)) == NULL
        || (hi = malloc(CF_SQLITE_PATH_MAX + 1)) == NULL)
        goto out;
    memcpy(lo, prefix, plen + 1);
    memcpy(hi, prefix, plen + 1);
    bounded = cf_storage_sqlite_upper(hi, plen);
    q = c->stmt[bounded ? CF_SQLITE_RANGE : CF_SQLITE_TAIL];
    src = sqlite3_bind_text(q, 1, lo, -1, SQLITE_TRANSIENT);
    if (src == SQLITE_OK && bounded)
        src = sqlite3_bind_text(q, 2, hi, -1, SQLITE_TRANSIENT);
    while (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
        src = SQLITE_OK;
        if ((row = (const char *) sqlite3_column_text(q, 0)) == NULL) {
            src = SQLITE_NOMEM;
            break;
        }
        if (row[plen] == '\0')                 /* the prefix itself */
            continue;
        if ((slash = strchr(row + plen, '/')) == NULL) {
            if (cf_strlist_add(l, row + plen) != CF_OK) {
                src = SQLITE_NOMEM;
                break;
            }
            continue;
        }
        clen = (size_t) (slash - row) + 1;
        if (clen > CF_SQLITE_PATH_MAX) {
            src = SQLITE_TOOBIG;
            break;
        }
        if (cf_strlist_add_take(l, strndup(row + plen, clen - plen))
            != CF_OK) {
            src = SQLITE_NOMEM;
            break;
        }
        /* Skip the folder's subtree: restart just past "name/". */
        memcpy(lo, row, clen);
        cf_storage_sqlite_upper(lo, clen);      /* '/' -> '0' */
        sqlite3_reset(q);
        src = sqlite3_bind_text(q, 1, lo, -1, SQLITE_TRANSIENT);
    }
    if (src == SQLITE_DONE)
        rc = CF_OK;
    else if (src == SQLITE_NOMEM)
        rc = CF_ERR_NOMEM;
    else
        rc = cf_storage_sqlite_err(c->db, src, "list", prefix);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
out:
    free(lo);
    free(hi);
    return rc;
}

static cf_err_t
cf_storage_sqlite_list(cf_storage_t *st, const char *prefix,
                       cf_strlist_t **out)
{
    cf_storage_sqlite_t       *s = (cf_storage_sqlite_t *) st;
    cf_storage_sqlite_conn_t  *c;
    cf_strlist_t              *l = NULL;
    size_t                     plen;
    cf_err_t                   rc;

    *out = NULL;
    if ((rc = cf_storage_sqlite_check_path(prefix, true)) != CF_OK)
        goto out;
    plen = strlen(prefix);
    if (plen > 0 && prefix[plen - 1] != '/') {
        rc = CF_ERR_INVALID;
        goto out;
    }
    if ((l = cf_strlist_new()) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    c = cf_storage_sqlite_reader_take(s);
    rc = cf_storage_sqlite_list_conn(c, prefix, l);
    cf_storage_sqlite_reader_give(s, c);
    if (rc != CF_OK)
        goto out;
    /* Rows come in path order, which is already child order; this only
     * guards the contract. */
    cf_strlist_sort_unique(l);
    *out = l;
    l = NULL;
out:
    cf_strlist_free(l);
    return rc;
}

static cf_err_t
cf_storage_sqlite_del_prefix(cf_storage_t *st, const char *prefix)
{
    cf_storage_sqlite_t  *s = (cf_storage_sqlite_t *) st;
    sqlite3_stmt         *q;
    char                 *hi;
    size_t                plen = strlen(prefix);
    int                   src;
    cf_err_t              rc;

    if ((rc = cf_storage_sqlite_check_path(prefix, true)) != CF_OK)
        return rc;
    if (plen == 0 || prefix[plen - 1] != '/')
        return CF_ERR_INVALID;
    if ((hi = strdup(prefix)) == NULL)
        return CF_ERR_NOMEM;
    cf_storage_sqlite_upper(hi, plen);          /* "a/" -> "a0" */
    pthread_mutex_lock(&s->wlock);
    if (cf_syncer_failed(s->base.syncer)) {
        pthread_mutex_unlock(&s->wlock);
        free(hi);
        return CF_ERR_STORAGE;
    }
    q = s->writer.stmt[CF_SQLITE_DEL_RANGE];
    src = sqlite3_bind_text(q, 1, prefix, -1, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_bind_text(q, 2, hi, -1, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_step(q);
    rc = src == SQLITE_DONE ? CF_OK
         : cf_storage_sqlite_err(s->writer.db, src, "delete prefix", prefix);
    if (rc == CF_OK)
        cf_syncer_committed(s->base.syncer);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    pthread_mutex_unlock(&s->wlock);
    free(hi);
    return rc;
}

static void
cf_storage_sqlite_close(cf_storage_t *st)
{
    cf_storage_sqlite_t  *s = (cf_storage_sqlite_t *) st;
    size_t                i;

    cf_sqlite_ckpt_stop(s->ckpt);       /* before the writer closes */
    cf_syncer_free(s->base.syncer);     /* syncs what is outstanding */
    if (s->wal_fd >= 0)
        close(s->wal_fd);
    for (i = 0; i < CF_SQLITE_READERS; i++)
        cf_storage_sqlite_conn_close(&s->readers[i]);
    /* Writer last: closing the last connection checkpoints the WAL. */
    cf_storage_sqlite_conn_close(&s->writer);
    pthread_cond_destroy(&s->pcond);
    pthread_mutex_destroy(&s->plock);
    pthread_mutex_destroy(&s->wlock);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->qlock);
    free(s);
}

/* The syncer's sync: flush the WAL, and with it every commit so far. */
static cf_err_t
cf_storage_sqlite_sync(void *arg)
{
    cf_storage_sqlite_t  *s = arg;

    if (fdatasync(s->wal_fd) != 0) {
        cf_log_error("storage", "fdatasync of the WAL failed: %s",
                     strerror(errno));
        return CF_ERR_STORAGE;
    }
    return CF_OK;
}

/* fsync the directory holding file, so the database and WAL files' own
 * entries are durable before any commit in them is reported durable. */
static cf_err_t
cf_storage_sqlite_sync_dir(const char *file)
{
    char        dir[CF_SQLITE_PATH_MAX + 1];
    const char *slash = strrchr(file, '/');
    size_t      n;
    int         fd;
    cf_err_t    rc = CF_OK;

    if (slash == NULL) {
        strcpy(dir, ".");
    } else {
        n = slash == file ? 1 : (size_t) (slash - file);
        if (n > CF_SQLITE_PATH_MAX)
            return CF_ERR_CONFIG;
        memcpy(dir, file, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        cf_log_error("storage", "cannot sync directory %s: %s", dir,
                     strerror(errno));
        rc = CF_ERR_CONFIG;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Open the WAL for the syncer and start it. The writer's WAL pragma has
 * created the file by now; O_CREAT only guards a VFS that defers it. */
static cf_err_t
cf_storage_sqlite_syncer_start(cf_storage_sqlite_t *s, const char *path)
{
    const char  *wal;

    wal = sqlite3_filename_wal(sqlite3_db_filename(s->writer.db, "main"));
    if (wal == NULL || *wal == '\0') {
        cf_log_error("storage", "%s: no WAL file name", path);
        return CF_ERR_CONFIG;
    }
    s->wal_fd = open(wal, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (s->wal_fd < 0) {
        cf_log_error("storage", "cannot open %s: %s", wal, strerror(errno));
        return CF_ERR_CONFIG;
    }
    if (cf_storage_sqlite_sync_dir(path) != CF_OK
        || cf_storage_sqlite_sync(s) != CF_OK)
        return CF_ERR_CONFIG;
    return cf_syncer_new(cf_storage_sqlite_sync, s, &s->base.syncer);
}

static const cf_storage_ops_t  cf_storage_sqlite_ops = {
    .name = "sqlite",
    .get = cf_storage_sqlite_get,
    .put = cf_storage_sqlite_put,
    .del = cf_storage_sqlite_del,
    .list = cf_storage_sqlite_list,
    .del_prefix = cf_storage_sqlite_del_prefix,
    .put_many = cf_storage_sqlite_put_many,
    .close = cf_storage_sqlite_close,
};

cf_err_t
cf_storage_sqlite_open(const char *path, cf_storage_t **out)
{
    cf_storage_sqlite_t  *s = NULL;
    size_t                i;
    int                   fd;
    cf_err_t              rc = CF_ERR_CONFIG;

    *out = NULL;
    if (path == NULL || *path == '\0') {
        cf_log_error("storage", "sqlite: no database path");
        return CF_ERR_CONFIG;
    }
    /* Create the file ourselves so it is 0600 from the first byte; SQLite
     * gives its -wal and -shm files the same mode. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        cf_log_error("storage", "cannot open %s: %s", path,
                     strerror(errno));
        return CF_ERR_CONFIG;
    }
    close(fd);
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return CF_ERR_NOMEM;
    s->base.ops = &cf_storage_sqlite_ops;
    s->wal_fd = -1;
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    s->qtail = &s->qhead;
    pthread_mutex_init(&s->plock, NULL);
    pthread_cond_init(&s->pcond, NULL);
    if ((rc = cf_storage_sqlite_conn_open(&s->writer, path, true)) != CF_OK)
        goto out;
    for (i = 0; i < CF_SQLITE_READERS; i++) {
        rc = cf_storage_sqlite_conn_open(&s->readers[i], path, false);
        if (rc != CF_OK)
            goto out;
    }
    if ((rc = cf_storage_sqlite_syncer_start(s, path)) != CF_OK
        || (rc = cf_sqlite_ckpt_start(s->writer.db, path, &s->ckpt))
           != CF_OK)
        goto out;
    *out = &s->base;
out:
    if (rc != CF_OK)
        cf_storage_sqlite_close(&s->base);
    return rc;
}
