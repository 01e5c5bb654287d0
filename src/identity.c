/*
 * identity: the identity store's records and the two things the rest of
 * the server needs from them — the entity of a login, and the policies
 * and template data of a token's entity. The HTTP side is
 * engines/identity.c. Layout and locking: include/coffer/identity.h.
 */
#include "coffer/identity.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/barrier.h"
#include "coffer/log.h"
#include "coffer/token.h"

#define CF_ID_PATH_MAX  1024

static void cf_identity_changed(cf_server_t *srv);

cf_err_t
cf_identity_get(cf_server_t *srv, const char *kind, const char *key,
                json_t **out)
{
    char  path[CF_ID_PATH_MAX];

    *out = NULL;
    if ((size_t) snprintf(path, sizeof(path), "sys/identity/%s/%s", kind,
                          key) >= sizeof(path))
        return CF_ERR_NOT_FOUND;
    return cf_barrier_get_json(srv->barrier, path, out);
}

cf_err_t
cf_identity_put(cf_server_t *srv, const char *kind, const char *key,
                const json_t *v)
{
    char      path[CF_ID_PATH_MAX];
    cf_err_t  rc;

    if ((size_t) snprintf(path, sizeof(path), "sys/identity/%s/%s", kind,
                          key) >= sizeof(path))
        return CF_ERR_INVALID;
    /* Before and after: a lookup that read the old record between the
     * two cannot cache it (its generation moved on). */
    cf_identity_changed(srv);
    rc = cf_barrier_put_json(srv->barrier, path, v);
    cf_identity_changed(srv);
    return rc;
}

cf_err_t
cf_identity_del(cf_server_t *srv, const char *kind, const char *key)
{
    char      path[CF_ID_PATH_MAX];
    cf_err_t  rc;

    if ((size_t) snprintf(path, sizeof(path), "sys/identity/%s/%s", kind,
                          key) >= sizeof(path))
        return CF_OK;
    cf_identity_changed(srv);
    rc = cf_barrier_delete(srv->barrier, path);
    cf_identity_changed(srv);
    return rc;
}

cf_err_t
cf_identity_list(cf_server_t *srv, const char *kind, cf_strlist_t **out)
{
    char  path[128];

    snprintf(path, sizeof(path), "sys/identity/%s/", kind);
    return cf_barrier_list(srv->barrier, path, out);
}

/* The HMAC (token HMAC key, on the HSM) of "<accessor>\n<name>": alias
 * names may be credentials (an AppRole role_id) and storage paths are
 * not encrypted. */
char *
cf_identity_alias_key(cf_server_t *srv, const char *accessor,
                      const char *name)
{
    char  *s = NULL, *h = NULL;

    if (asprintf(&s, "%s\n%s", accessor, name) < 0)
        return NULL;
    if (cf_token_hmac_of(srv, s, &h) != CF_OK)
        h = NULL;
    cf_mem_free_str(s);
    return h;
}

void
cf_identity_now(char buf[40])
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    cf_time_rfc3339(&ts, buf);
}

cf_err_t
cf_identity_entity_create(cf_server_t *srv, const char *name,
                          json_t *metadata, json_t *policies, bool disabled,
                          json_t **out)
{
    char       id[37], gen[64], now[40];
    json_t    *e, *idx;
    cf_err_t   rc;

    *out = NULL;
    cf_uuid_new(id);
    if (name == NULL || *name == '\0') {
        snprintf(gen, sizeof(gen), "entity_%.8s", id);
        name = gen;
    }
    cf_identity_now(now);
    /* "o" steals: fresh objects or copies, never the caller's. */
    e = json_pack("{s:s, s:s, s:o, s:o, s:b, s:[], s:s, s:s}", "id", id,
                  "name", name, "metadata", metadata
                                            ? json_deep_copy(metadata)
                                            : json_object(),
                  "policies", policies ? json_deep_copy(policies)
                                       : json_array(),
                  "disabled", disabled, "alias_ids",
                  "creation_time", now, "last_update_time", now);
    idx = json_pack("{s:s}", "id", id);
    if (e == NULL || idx == NULL) {
        json_decref(e);
        json_decref(idx);
        return CF_ERR_NOMEM;
    }
    if ((rc = cf_identity_put(srv, "entity-name", name, idx)) == CF_OK)
        rc = cf_identity_put(srv, "entity", id, e);
    json_decref(idx);
    if (rc != CF_OK) {
        json_decref(e);
        return rc;
    }
    *out = e;
    return CF_OK;
}

cf_err_t
cf_identity_alias_create(cf_server_t *srv, json_t *entity,
                         const char *accessor, const char *name,
                         const json_t *meta, json_t **out)
{
    char       id[37], now[40], *key;
    json_t    *a, *idx;
    cf_err_t   rc;

    *out = NULL;
    if ((key = cf_identity_alias_key(srv, accessor, name)) == NULL)
        return CF_ERR_NOMEM;
    cf_uuid_new(id);
    cf_identity_now(now);
    a = json_pack("{s:s, s:s, s:O, s:s, s:o, s:s, s:s}", "id", id,
                  "name", name, "canonical_id",
                  json_object_get(entity, "id"), "mount_accessor", accessor,
                  "metadata", meta ? json_deep_copy(meta) : json_object(),
                  "creation_time", now, "last_update_time", now);
    idx = json_pack("{s:s}", "id", id);
    rc = a != NULL && idx != NULL ? CF_OK : CF_ERR_NOMEM;
    if (rc == CF_OK)
        rc = cf_identity_put(srv, "alias", id, a);
    if (rc == CF_OK)
        rc = cf_identity_put(srv, "alias-key", key, idx);
    if (rc == CF_OK) {
        json_array_append_new(json_object_get(entity, "alias_ids"),
                              json_string(id));
        rc = cf_identity_put(srv, "entity",
                             json_string_value(json_object_get(entity,
                                                               "id")),
                             entity);
    }
    free(key);
    json_decref(idx);
    if (rc != CF_OK) {
        json_decref(a);
        return rc;
    }
    *out = a;
    return CF_OK;
}

cf_err_t
cf_identity_login(cf_server_t *srv, const char *mount_accessor,
                  const char *alias_name, const json_t *meta,
                  char entity_id[37])
{
    json_t    *idx = NULL, *alias = NULL, *ent = NULL;
    char      *key;
    cf_err_t   rc;

    entity_id[0] = '\0';
    key = cf_identity_alias_key(srv, mount_accessor, alias_name);
    if (key == NULL)
        return CF_ERR_NOMEM;
    pthread_mutex_lock(&srv->identity_mu);
    rc = cf_identity_get(srv, "alias-key", key, &idx);
    if (rc == CF_OK) {
        rc = cf_identity_get(srv, "alias",
                             json_string_value(json_object_get(idx, "id")),
                             &alias);
        if (rc == CF_OK)
            rc = cf_identity_get(srv, "entity", json_string_value(
                                 json_object_get(alias, "canonical_id")),
                                 &ent);
        if (rc == CF_OK && meta != NULL
            && !json_equal(json_object_get(alias, "metadata"),
                           (json_t *) meta)) {
            json_object_set(alias, "metadata", (json_t *) meta);
            rc = cf_identity_put(srv, "alias", json_string_value(
                                 json_object_get(alias, "id")), alias);
        }
    } else if (rc == CF_ERR_NOT_FOUND) {
        /* First login: a new entity with this alias. */
        rc = cf_identity_entity_create(srv, NULL, NULL, NULL, false, &ent);
        if (rc == CF_OK)
            rc = cf_identity_alias_create(srv, ent, mount_accessor,
                                          alias_name, meta, &alias);
    }
    pthread_mutex_unlock(&srv->identity_mu);
    if (rc == CF_OK && json_is_true(json_object_get(ent, "disabled")))
        rc = CF_ERR_PERMISSION;
    if (rc == CF_OK)
        snprintf(entity_id, 37, "%s",
                 json_string_value(json_object_get(ent, "id")));
    free(key);
    json_decref(idx);
    json_decref(alias);
    json_decref(ent);
    return rc;
}

/* Every group that lists entity_id as a member (a scan: groups are few
 * and this runs only for tokens that have an entity). */
static cf_err_t
cf_identity_groups_of(cf_server_t *srv, const char *entity_id,
                      json_t *groups)
{
    cf_strlist_t  *ids = NULL;
    json_t        *g, *m;
    size_t         i, j;
    cf_err_t       rc;

    if ((rc = cf_identity_list(srv, "group", &ids)) != CF_OK)
        return rc;
    for (i = 0; i < ids->len; i++) {
        if (cf_identity_get(srv, "group", ids->items[i], &g) != CF_OK)
            continue;
        json_array_foreach(json_object_get(g, "member_entity_ids"), j, m) {
            if (json_is_string(m)
                && strcmp(json_string_value(m), entity_id) == 0) {
                json_array_append(groups, g);
                break;
            }
        }
        json_decref(g);
    }
    cf_strlist_free(ids);
    return CF_OK;
}

static cf_err_t
cf_identity_for_acl_load(cf_server_t *srv, const char *entity_id,
                         json_t **policies, json_t **ident)
{
    json_t    *ent = NULL, *aliases, *groups, *a, *g, *p, *pol;
    size_t     i, j;
    cf_err_t   rc;

    *policies = json_array();
    *ident = json_object();
    if (*policies == NULL || *ident == NULL)
        return CF_ERR_NOMEM;
    rc = cf_identity_get(srv, "entity", entity_id, &ent);
    if (rc == CF_ERR_NOT_FOUND)
        return CF_OK;                   /* deleted entity: nothing extra */
    if (rc != CF_OK)
        return rc;
    if (json_is_true(json_object_get(ent, "disabled"))) {
        json_decref(ent);
        return CF_ERR_PERMISSION;
    }
    json_array_extend(*policies, json_object_get(ent, "policies"));
    aliases = json_array();
    json_array_foreach(json_object_get(ent, "alias_ids"), i, p) {
        if (cf_identity_get(srv, "alias", json_string_value(p), &a)
            == CF_OK)
            json_array_append_new(aliases, a);
    }
    groups = json_array();
    (void) cf_identity_groups_of(srv, entity_id, groups);
    json_array_foreach(groups, i, g) {
        json_array_foreach(json_object_get(g, "policies"), j, pol)
            json_array_append(*policies, pol);
    }
    json_object_set_new(*ident, "entity",
                        json_pack("{s:O, s:O, s:O, s:o}",
                                  "id", json_object_get(ent, "id"),
                                  "name", json_object_get(ent, "name"),
                                  "metadata",
                                  json_object_get(ent, "metadata"),
                                  "aliases", aliases));
    json_object_set_new(*ident, "groups", groups);
    json_decref(ent);
    return CF_OK;
}

/* ---- the ACL data of an entity, cached --------------------------------
 * Every request of a token with an entity needs the entity's and its
 * groups' policies and template data: several storage reads (each an
 * HSM decrypt) and a scan of the groups. The cache keeps them per entity
 * and is invalidated wholesale by a generation counter that every
 * identity write bumps, so a change applies on the next request. */

#define CF_IDENTITY_CACHE_SLOTS  256        /* power of two */

typedef struct {
    char       entity_id[37];
    uint64_t   gen;
    bool       used;
    bool       disabled;
    json_t    *policies;
    json_t    *ident;
} cf_identity_slot_t;

struct cf_identity_cache_s {
    _Atomic uint64_t     gen;
    pthread_rwlock_t     lock;
    cf_identity_slot_t   slots[CF_IDENTITY_CACHE_SLOTS];
};

/* Any identity write makes every cached entry stale. */
static void
cf_identity_changed(cf_server_t *srv)
{
    atomic_fetch_add(&srv->identities->gen, 1);
}

cf_err_t
cf_identity_cache_new(cf_identity_cache_t **out)
{
    if ((*out = calloc(1, sizeof(**out))) == NULL)
        return CF_ERR_NOMEM;
    pthread_rwlock_init(&(*out)->lock, NULL);
    return CF_OK;
}

static void
cf_identity_slot_clear(cf_identity_slot_t *s)
{
    json_decref(s->policies);
    json_decref(s->ident);
    memset(s, 0, sizeof(*s));
}

void
cf_identity_cache_clear(cf_identity_cache_t *c)
{
    size_t  i;

    atomic_fetch_add(&c->gen, 1);
    pthread_rwlock_wrlock(&c->lock);
    for (i = 0; i < CF_IDENTITY_CACHE_SLOTS; i++)
        cf_identity_slot_clear(&c->slots[i]);
    pthread_rwlock_unlock(&c->lock);
}

void
cf_identity_cache_free(cf_identity_cache_t *c)
{
    if (c == NULL)
        return;
    cf_identity_cache_clear(c);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

static size_t
cf_identity_slot_of(const char *id)
{
    uint32_t  h = 2166136261u;

    for (; *id != '\0'; id++)
        h = (h ^ (unsigned char) *id) * 16777619u;
    return h & (CF_IDENTITY_CACHE_SLOTS - 1);
}

cf_err_t
cf_identity_for_acl(cf_server_t *srv, const char *entity_id,
                    json_t **policies, json_t **ident)
{
    cf_identity_cache_t  *c = srv->identities;
    cf_identity_slot_t   *s = &c->slots[cf_identity_slot_of(entity_id)];
    uint64_t              gen = atomic_load(&c->gen);
    bool                  hit = false, disabled = false;
    cf_err_t              rc;

    *policies = NULL;
    *ident = NULL;
    pthread_rwlock_rdlock(&c->lock);
    if (s->used && s->gen == gen && strcmp(s->entity_id, entity_id) == 0) {
        hit = true;
        disabled = s->disabled;
        if (!disabled) {
            *policies = json_deep_copy(s->policies);
            *ident = json_deep_copy(s->ident);
        }
    }
    pthread_rwlock_unlock(&c->lock);
    if (hit) {
        if (disabled)
            return CF_ERR_PERMISSION;
        return *policies != NULL && *ident != NULL ? CF_OK : CF_ERR_NOMEM;
    }
    rc = cf_identity_for_acl_load(srv, entity_id, policies, ident);
    if ((rc != CF_OK && rc != CF_ERR_PERMISSION)
        || strlen(entity_id) >= sizeof(s->entity_id))
        return rc;
    pthread_rwlock_wrlock(&c->lock);
    if (atomic_load(&c->gen) == gen) {  /* nothing changed meanwhile */
        cf_identity_slot_clear(s);
        snprintf(s->entity_id, sizeof(s->entity_id), "%s", entity_id);
        s->gen = gen;
        s->used = true;
        s->disabled = rc == CF_ERR_PERMISSION;
        if (!s->disabled) {
            s->policies = json_deep_copy(*policies);
            s->ident = json_deep_copy(*ident);
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}
