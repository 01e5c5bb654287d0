/*
 * storage: the physical key/value store of barrier-encrypted blobs.
 *
 * A backend implements cf_storage_ops_t; callers use the cf_storage_*
 * wrappers. Paths are UTF-8 strings without a leading '/'. Values are
 * opaque bytes. Backends are thread-safe (each keeps its own connection
 * pool or lock).
 *
 * Durability: a put/delete returns once it is committed, which means
 * readers see it. It may not yet be on disk. Take a mark
 * (cf_storage_mark) after the change and have it made durable
 * (cf_storage_sync, or cf_storage_when_durable without blocking) before
 * anything outside the process learns of the change: an HTTP response, a
 * printed token, an HSM object destroyed because its entry is gone.
 * Commits become durable in commit order. A backend without a syncer is
 * durable at commit.
 */
#ifndef COFFER_STORAGE_H
#define COFFER_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coffer/err.h"
#include "coffer/mem.h"
#include "coffer/syncer.h"

typedef struct cf_storage_s cf_storage_t;

typedef struct {
    const char *name;                           /* "sqlite", "postgresql" */
    /* CF_ERR_NOT_FOUND when absent; *out owned by the caller. */
    cf_err_t  (*get)(cf_storage_t *s, const char *path, cf_buf_t **out);
    cf_err_t  (*put)(cf_storage_t *s, const char *path,
                     const void *val, size_t len);
    /* Deleting an absent path is CF_OK. */
    cf_err_t  (*del)(cf_storage_t *s, const char *path);
    /* Immediate children of prefix (which is "" or ends in '/'), sorted;
     * a child with descendants appears once as "name/". Empty list (not an
     * error) when nothing matches. *out owned by the caller. */
    cf_err_t  (*list)(cf_storage_t *s, const char *prefix,
                      cf_strlist_t **out);
    /* Put n entries in one durable transaction: all or none. */
    cf_err_t  (*put_many)(cf_storage_t *s, size_t n,
                          const char *const *paths,
                          const void *const *vals, const size_t *lens);
    /* Delete every path that starts with prefix (non-empty, ends in '/')
     * in one durable transaction: disabling a mount must not cost one
     * fsync per entry. */
    cf_err_t  (*del_prefix)(cf_storage_t *s, const char *prefix);
    void      (*close)(cf_storage_t *s);
} cf_storage_ops_t;

struct cf_storage_s {
    const cf_storage_ops_t  *ops;
    cf_syncer_t             *syncer;    /* NULL: durable at commit */
};

/* Open (creating if needed) a SQLite database file: WAL,
 * synchronous=NORMAL with a syncer that fdatasyncs the WAL, table
 * entries(path TEXT PRIMARY KEY, value BLOB). CF_ERR_CONFIG naming the
 * path when it cannot be opened. */
cf_err_t cf_storage_sqlite_open(const char *path, cf_storage_t **out);

static inline cf_err_t
cf_storage_get(cf_storage_t *s, const char *path, cf_buf_t **out)
{
    return s->ops->get(s, path, out);
}

static inline cf_err_t
cf_storage_put(cf_storage_t *s, const char *path, const void *v, size_t n)
{
    return s->ops->put(s, path, v, n);
}

static inline cf_err_t
cf_storage_delete(cf_storage_t *s, const char *path)
{
    return s->ops->del(s, path);
}

static inline cf_err_t
cf_storage_list(cf_storage_t *s, const char *prefix, cf_strlist_t **out)
{
    return s->ops->list(s, prefix, out);
}

static inline cf_err_t
cf_storage_put_many(cf_storage_t *s, size_t n, const char *const *paths,
                    const void *const *vals, const size_t *lens)
{
    return s->ops->put_many(s, n, paths, vals, lens);
}

static inline cf_err_t
cf_storage_delete_prefix(cf_storage_t *s, const char *prefix)
{
    return s->ops->del_prefix(s, prefix);
}

/* A mark covering every change committed so far. */
static inline uint64_t
cf_storage_mark(cf_storage_t *s)
{
    return s->syncer != NULL ? cf_syncer_mark(s->syncer) : 0;
}

/* true when every change up to mark is durable. Never blocks. */
static inline bool
cf_storage_is_durable(cf_storage_t *s, uint64_t mark)
{
    return s->syncer == NULL || cf_syncer_is_durable(s->syncer, mark);
}

/* Call w->fn(w->arg, rc) once w->mark is durable (CF_OK) or cannot be
 * (CF_ERR_STORAGE): later from the syncer's thread, or at once on this
 * one. w is the caller's and must live until fn runs. */
static inline void
cf_storage_when_durable(cf_storage_t *s, cf_syncer_waiter_t *w)
{
    if (s->syncer != NULL)
        cf_syncer_when(s->syncer, w);
    else
        w->fn(w->arg, CF_OK);
}

/* Block until every change committed so far is durable. CF_OK or
 * CF_ERR_STORAGE. */
static inline cf_err_t
cf_storage_sync(cf_storage_t *s)
{
    return s->syncer != NULL
           ? cf_syncer_wait(s->syncer, cf_syncer_mark(s->syncer)) : CF_OK;
}

/* NULL-safe. Makes every committed change durable first. */
static inline void
cf_storage_close(cf_storage_t *s)
{
    if (s != NULL)
        s->ops->close(s);
}

#endif
