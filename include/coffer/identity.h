/*
 * identity: entities, their aliases (one per auth mount and login name)
 * and groups, kept behind the barrier under "sys/identity/"; what logins
 * and the ACL need from them; and the identity/ engine that serves them.
 *
 * Storage:
 *   sys/identity/entity/<id>              entity (name, metadata, policies,
 *                                         disabled, alias ids, times)
 *   sys/identity/entity-name/<name>       {"id"}
 *   sys/identity/alias/<id>               alias (name, canonical_id,
 *                                         mount_accessor, metadata, times)
 *   sys/identity/alias-key/<hmac>         {"id"}   (HMAC of acc + name)
 *   sys/identity/group/<id>               group (name, policies, metadata,
 *                                         member_entity_ids)
 *   sys/identity/group-name/<name>        {"id"}
 * Every change holds srv->identity_mu: the indexes stay consistent.
 */
#ifndef COFFER_IDENTITY_H
#define COFFER_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>

#include "coffer/engine.h"
#include "coffer/err.h"
#include "coffer/server.h"

/* The entity of a login through mount (accessor) as alias_name: found by
 * its alias, or created with a new entity. Alias metadata is replaced by
 * meta (may be NULL). *entity_id (37 bytes) filled on CF_OK.
 * CF_ERR_PERMISSION when the entity is disabled. */
cf_err_t cf_identity_login(cf_server_t *srv, const char *mount_accessor,
                           const char *alias_name, const json_t *meta,
                           char entity_id[37]);

/* The server's cache of entity ACL data (srv->identities): invalidated
 * by every identity write, cleared at seal. */
cf_err_t cf_identity_cache_new(cf_identity_cache_t **out);
void cf_identity_cache_clear(cf_identity_cache_t *c);
void cf_identity_cache_free(cf_identity_cache_t *c);       /* NULL-safe */

/* For the ACL of a token whose entity is entity_id (cached): *policies gets the
 * entity's and its groups' policy names (array), *ident the identity
 * object policy templates read (see policy.h). Both owned.
 * CF_ERR_PERMISSION when the entity is disabled; an entity that no longer
 * exists gives empty results. */
cf_err_t cf_identity_for_acl(cf_server_t *srv, const char *entity_id,
                             json_t **policies, json_t **ident);

/* ---- the store, for engines/identity.c ------------------------------
 * kind is "entity", "entity-name", "alias", "alias-key", "group" or
 * "group-name". Callers that change records hold srv->identity_mu. */
cf_err_t cf_identity_get(cf_server_t *srv, const char *kind,
                         const char *key, json_t **out);
cf_err_t cf_identity_put(cf_server_t *srv, const char *kind,
                         const char *key, const json_t *v);
cf_err_t cf_identity_del(cf_server_t *srv, const char *kind,
                         const char *key);
cf_err_t cf_identity_list(cf_server_t *srv, const char *kind,
                          cf_strlist_t **out);

/* The "alias-key" of (mount accessor, alias name): an HMAC on the HSM,
 * so no alias name reaches a storage path; malloc'd, NULL on failure. */
char *cf_identity_alias_key(cf_server_t *srv, const char *accessor,
                            const char *name);

/* Now, RFC 3339 with nanoseconds. */
void cf_identity_now(char buf[40]);

/* A new entity (name NULL: "entity_<8 hex>"); metadata/policies may be
 * NULL. *out: the record (owned). Lock held. */
cf_err_t cf_identity_entity_create(cf_server_t *srv, const char *name,
                                   json_t *metadata, json_t *policies,
                                   bool disabled, json_t **out);

/* A new alias of entity (whose alias_ids is updated and stored). *out:
 * the alias record (owned). Lock held. */
cf_err_t cf_identity_alias_create(cf_server_t *srv, json_t *entity,
                                  const char *accessor, const char *name,
                                  const json_t *meta, json_t **out);

/* The identity/ engine (singleton mount). */
extern const cf_engine_t  cf_identity_engine;

#endif
