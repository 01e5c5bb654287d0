/*
 * sqlite_ckpt: WAL checkpoints for storage_sqlite, on their own thread.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses the
 * threshold, on that request's thread and under the storage write lock:
 * copying ~1000 pages into the database file and syncing it stalls every
 * writer for tens of milliseconds. This module turns the automatic one
 * off and has a thread with its own connection run a PASSIVE checkpoint
 * (readers and the writer carry on beside it) whenever a commit leaves
 * the WAL over the threshold. As with synchronous=NORMAL, the checkpoint
 * syncs the WAL before copying and the database after.
 *
 * Internal to storage_sqlite.c. Thread-safe: the hook may run on any
 * thread that commits; `lock` guards pending and stop.
 */
#ifndef COFFER_SQLITE_CKPT_H
#define COFFER_SQLITE_CKPT_H

#include <sqlite3.h>

#include "coffer/err.h"

typedef struct cf_sqlite_ckpt_s cf_sqlite_ckpt_t;

/* Open a connection to file, hook the writer connection's commits and
 * start the thread. The writer must outlive cf_sqlite_ckpt_stop.
 * CF_ERR_CONFIG naming the file when the connection cannot be made. */
cf_err_t cf_sqlite_ckpt_start(sqlite3 *writer, const char *file,
                              cf_sqlite_ckpt_t **out);

/* Unhook the writer, stop the thread, close the connection. NULL-safe. */
void cf_sqlite_ckpt_stop(cf_sqlite_ckpt_t *c);

#endif
