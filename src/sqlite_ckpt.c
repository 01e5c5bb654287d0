/*
 * sqlite_ckpt: the checkpoint thread (see sqlite_ckpt.h).
 */
#include "sqlite_ckpt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "coffer/log.h"

/* SQLite's own default threshold (wal_autocheckpoint), in pages. */
#define CF_SQLITE_CKPT_PAGES  1000

struct cf_sqlite_ckpt_s {
    sqlite3          *writer;       /* borrowed: its hook points here */
    sqlite3          *db;           /* ours, used by the thread only */
    pthread_t         thread;
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
    bool              pending;
    bool              stop;
};

/* sqlite3_wal_hook: runs after each commit on the committing thread,
 * with the WAL's size in pages. Only a flag and a signal here. */
static int
cf_sqlite_ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    cf_sqlite_ckpt_t  *c = arg;

    (void) db; (void) name;
    if (pages >= CF_SQLITE_CKPT_PAGES) {
        pthread_mutex_lock(&c->lock);
        if (!c->pending) {
            c->pending = true;
            pthread_cond_signal(&c->cond);
        }
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static void *
cf_sqlite_ckpt_main(void *arg)
{
    cf_sqlite_ckpt_t  *c = arg;
    int                log_pages, done_pages, src;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->pending && !c->stop)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->stop)
            break;
        c->pending = false;
        pthread_mutex_unlock(&c->lock);
        src = sqlite3_wal_checkpoint_v2(c->db, "main",
                                        SQLITE_CHECKPOINT_PASSIVE,
                                        &log_pages, &done_pages);
        if (src != SQLITE_OK && src != SQLITE_BUSY)
            cf_log_error("storage", "WAL checkpoint failed: %s (%d)",
                         sqlite3_errmsg(c->db), src);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

cf_err_t
cf_sqlite_ckpt_start(sqlite3 *writer, const char *file,
                     cf_sqlite_ckpt_t **out)
{
    cf_sqlite_ckpt_t  *c;

    *out = NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return CF_ERR_NOMEM;
    c->writer = writer;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (sqlite3_open_v2(file, &c->db, SQLITE_OPEN_READWRITE
                        | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK
        || sqlite3_exec(c->db, "PRAGMA busy_timeout=5000", NULL, NULL, NULL)
           != SQLITE_OK
        || sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL,
                        NULL) != SQLITE_OK
        || sqlite3_exec(writer, "PRAGMA wal_autocheckpoint=0", NULL, NULL,
                        NULL) != SQLITE_OK) {
        cf_log_error("storage", "cannot set up checkpoints for %s: %s", file,
                     c->db != NULL ? sqlite3_errmsg(c->db) : "no memory");
        sqlite3_close(c->db);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return CF_ERR_CONFIG;
    }
    if (pthread_create(&c->thread, NULL, cf_sqlite_ckpt_main, c) != 0) {
        sqlite3_close(c->db);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return CF_ERR_INTERNAL;
    }
    /* Last: from here on commits wake the thread. */
    sqlite3_wal_hook(writer, cf_sqlite_ckpt_hook, c);
    *out = c;
    return CF_OK;
}

void
cf_sqlite_ckpt_stop(cf_sqlite_ckpt_t *c)
{
    if (c == NULL)
        return;
    sqlite3_wal_hook(c->writer, NULL, NULL);
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
