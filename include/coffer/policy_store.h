/*
 * policy_store: ACL policies kept behind the barrier, a cache of parsed
 * policies, and the ACL of a set of policy names (see policy.h for the
 * policy language and the check itself).
 */
#ifndef COFFER_POLICY_STORE_H
#define COFFER_POLICY_STORE_H

#include <jansson.h>

#include "coffer/err.h"
#include "coffer/policy.h"
#include "coffer/server.h"

/* The policy named name (case-insensitive), parsed: from the cache, or
 * storage, or the built-in root/default. CF_ERR_NOT_FOUND when there is
 * none. *out: a reference (cf_policy_free). */
cf_err_t cf_policy_store_get(cf_server_t *srv, const char *name,
                             cf_policy_t **out);

/* The ACL of policy names plus extra names (JSON arrays of strings; extra
 * may be NULL), templates rendered with identity (may be NULL); names
 * with no policy grant nothing. *out owned (cf_acl_free). */
cf_err_t cf_policy_store_acl(cf_server_t *srv, const json_t *names,
                             const json_t *extra, const json_t *identity,
                             cf_acl_t **out);

/* The ACL of a token entry: its policies, and when it has an entity the
 * entity's and groups' policies with identity templating.
 * CF_ERR_PERMISSION when its entity is disabled. */
cf_err_t cf_policy_store_token_acl(cf_server_t *srv, const json_t *entry,
                                   cf_acl_t **out);

/* The server's cache of parsed policies (srv->policies). */
cf_err_t cf_policy_cache_new(cf_policy_cache_t **out);
void cf_policy_cache_free(cf_policy_cache_t *c);       /* NULL-safe */

/* Drop every cached policy (after a change, and at seal). */
void cf_policy_store_flush(cf_server_t *srv);

#endif
