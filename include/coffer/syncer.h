/*
 * syncer: turns "committed" into "durable" off the request threads.
 *
 * A storage backend whose commits return before they are on disk (SQLite
 * in WAL mode with synchronous=NORMAL) numbers each commit with
 * cf_syncer_committed(). Whoever is about to acknowledge something takes
 * a mark (cf_syncer_mark: every commit made so far) and waits until the
 * mark is durable: blocking (cf_syncer_wait) or, on the HTTP path, with a
 * waiter that the syncer's thread calls back (cf_syncer_when), so no
 * request thread sits through an fsync. The thread runs the backend's
 * sync function only while someone waits, and one sync covers every
 * commit made before it started.
 *
 * A failed sync is final: the data's state on disk is unknown, so every
 * waiter, then and later, gets CF_ERR_STORAGE, and the backend is told
 * (cf_syncer_failed) to refuse further writes.
 *
 * Thread-safe. Owns one thread and its lock (`lock`, taken after the
 * storage backend's own locks, never held across the sync call).
 */
#ifndef COFFER_SYNCER_H
#define COFFER_SYNCER_H

#include <stdbool.h>
#include <stdint.h>

#include "coffer/err.h"

typedef struct cf_syncer_s cf_syncer_t;

/* Makes everything written so far durable; CF_OK or CF_ERR_STORAGE. */
typedef cf_err_t (*cf_syncer_sync_fn)(void *arg);

/* One wait for durability, owned by the caller and alive until `fn`
 * runs. fn runs exactly once with CF_OK (durable) or CF_ERR_STORAGE, on
 * the syncer's thread or, when the answer is already known, on the
 * caller's, inside cf_syncer_when. */
typedef struct cf_syncer_waiter_s {
    uint64_t                      mark;
    void                        (*fn)(void *arg, cf_err_t rc);
    void                         *arg;
    struct cf_syncer_waiter_s    *next;         /* syncer's list */
} cf_syncer_waiter_t;

/* Start the syncer thread. sync(arg) is called from it only. */
cf_err_t cf_syncer_new(cf_syncer_sync_fn sync, void *arg, cf_syncer_t **out);

/* Sync what is outstanding, answer every waiter, stop and free the
 * thread. NULL-safe. */
void cf_syncer_free(cf_syncer_t *s);

/* A commit has returned: count it. Called by the backend, after the
 * commit's data is written, with the backend's write lock held. */
void cf_syncer_committed(cf_syncer_t *s);

/* A mark covering every commit counted so far. */
uint64_t cf_syncer_mark(cf_syncer_t *s);

/* true when every commit up to mark is durable (false after a failure). */
bool cf_syncer_is_durable(cf_syncer_t *s, uint64_t mark);

/* Call w->fn once w->mark is durable (w->mark, fn and arg set by the
 * caller). */
void cf_syncer_when(cf_syncer_t *s, cf_syncer_waiter_t *w);

/* Block until mark is durable. CF_OK or CF_ERR_STORAGE. */
cf_err_t cf_syncer_wait(cf_syncer_t *s, uint64_t mark);

/* true once a sync has failed. */
bool cf_syncer_failed(cf_syncer_t *s);

#endif
