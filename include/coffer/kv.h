/*
 * kv: the key/value secrets engine, versions 1 and 2 (Vault's "kv" type).
 *
 * One engine, one paths table; the mount's options.version ("2" for KV
 * v2, absent or "1" for KV v1) picks the behaviour per request. Storage
 * layout (inside the mount's barrier view) and locking are described in
 * engines/kv.h. Thread-safe: handlers run on any thread; writers of one
 * key are serialised by a striped mutex table.
 */
#ifndef COFFER_KV_H
#define COFFER_KV_H

#include "coffer/engine.h"

extern const cf_engine_t  cf_kv_engine;

#endif
