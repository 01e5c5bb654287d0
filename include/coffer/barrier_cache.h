/*
 * barrier_cache: decrypted entries the barrier may keep in memory.
 *
 * Hot request paths read the same few entries over and over (a PKI role,
 * its issuer, config/urls), each read a storage lookup plus a decrypt on
 * the token. Engines name the entries that are settings, not secrets
 * (cf_engine_t.cached); the barrier answers those from here. Absent
 * entries are remembered too.
 *
 * Coherence within the process: every barrier write or delete calls
 * cf_bcache_forget* after the storage change, and a reader fills the
 * cache only if no forget touched its path's bucket since the reader's
 * lookup missed (the generation it got from cf_bcache_lookup). So a
 * reader that read the old value while a writer changed it cannot leave
 * the old value behind. Coherence is within this process only: a storage
 * backend written by another node too (none exists yet) would need that
 * node's writes to forget here as well.
 *
 * Bounded: at most `max` entries; a fill that would exceed it empties the
 * cache first. Values are copied in and out and zeroed when dropped.
 * Thread-safe: one mutex (`lock`), held only for memory work.
 */
#ifndef COFFER_BARRIER_CACHE_H
#define COFFER_BARRIER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "coffer/err.h"
#include "coffer/mem.h"

typedef struct cf_bcache_s cf_bcache_t;

cf_err_t cf_bcache_new(size_t max, cf_bcache_t **out);

/* Drops (and zeroes) every value. NULL-safe. */
void cf_bcache_free(cf_bcache_t *c);

/* Hit: true, with *out a copy of the value (caller frees) or NULL for a
 * path known to be absent. Miss: false, *out NULL, *gen set for
 * cf_bcache_fill. A hit whose copy cannot be made counts as a miss. */
bool cf_bcache_lookup(cf_bcache_t *c, const char *path, cf_buf_t **out,
                      uint64_t *gen);

/* The same hit or miss, as JSON: *out a deep copy of the value parsed
 * (once, then kept beside the bytes), NULL for an absent path. A value
 * that does not parse, or a copy that cannot be made, is a miss. */
bool cf_bcache_lookup_json(cf_bcache_t *c, const char *path, json_t **out,
                           uint64_t *gen);

/* Remember path's value (val NULL: absent) unless path was forgotten
 * since the lookup that returned gen. Best effort: out of memory just
 * does not remember. */
void cf_bcache_fill(cf_bcache_t *c, const char *path, const void *val,
                    size_t len, uint64_t gen);

/* path changed or went away. */
void cf_bcache_forget(cf_bcache_t *c, const char *path);

/* Every path that starts with prefix changed or went away. */
void cf_bcache_forget_prefix(cf_bcache_t *c, const char *prefix);

/* Everything: seal. */
void cf_bcache_clear(cf_bcache_t *c);

#endif
