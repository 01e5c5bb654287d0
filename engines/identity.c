/*
 * identity (engine): Vault's identity/ API over the identity store in
 * src/identity.c — entities (by id and name), entity aliases, internal
 * groups with member entities and policies, and lookups. Every change
 * holds srv->identity_mu so the name and alias indexes stay true.
 */
#include "coffer/identity.h"

#include <stdlib.h>
#include <string.h>

#include "coffer/server.h"

#define CF_ID_NAME_MAX  256

/* ---- shared ---------------------------------------------------------- */

/* The rest of req->rest after `route`, or NULL when req->rest does not
 * start with route or nothing follows it. */
static const char *
cf_id_arg(const cf_req_t *req, const char *route)
{
    size_t  n = strlen(route);

    if (strncmp(req->rest, route, n) != 0 || req->rest[n] == '\0')
        return NULL;
    return req->rest + n;
}

/* Look "<kind>-name/<name>" up and load the record it names. */
static cf_err_t
cf_id_by_name(cf_server_t *srv, const char *kind, const char *name,
              json_t **out)
{
    char       idx_kind[32];
    json_t    *idx = NULL;
    cf_err_t   rc;

    *out = NULL;
    snprintf(idx_kind, sizeof(idx_kind), "%s-name", kind);
    if ((rc = cf_identity_get(srv, idx_kind, name, &idx)) != CF_OK)
        return rc;
    rc = cf_identity_get(srv, kind,
                         json_string_value(json_object_get(idx, "id")), out);
    json_decref(idx);
    return rc;
}

/* The record "<kind>/id/<id>" or "<kind>/name/<name>" names (owned);
 * *by_name says which form. CF_ERR_NOT_FOUND when there is none. */
static cf_err_t
cf_id_target(cf_req_t *req, const char *kind, json_t **rec, bool *by_name)
{
    char         route[32];
    const char  *arg;

    *rec = NULL;
    snprintf(route, sizeof(route), "%s/name/", kind);
    if ((arg = cf_id_arg(req, route)) != NULL) {
        *by_name = true;
        return cf_id_by_name(req->srv, kind, arg, rec);
    }
    *by_name = false;
    snprintf(route, sizeof(route), "%s/id/", kind);
    if ((arg = cf_id_arg(req, route)) == NULL)
        return CF_ERR_NOT_FOUND;
    return cf_identity_get(req->srv, kind, arg, rec);
}

static cf_err_t
cf_id_list(cf_req_t *req, const char *kind, bool names)
{
    cf_strlist_t  *l = NULL;
    json_t        *keys, *info, *r;
    size_t         i;
    cf_err_t       rc;

    if ((rc = cf_identity_list(req->srv, names ? (strcmp(kind, "entity")
                                                  == 0 ? "entity-name"
                                                       : "group-name")
                                               : kind, &l)) != CF_OK)
        return rc;
    if (l->len == 0) {
        cf_strlist_free(l);
        return cf_req_fail(req, CF_ERR_NOT_FOUND, "nothing to list");
    }
    keys = json_array();
    info = json_object();
    for (i = 0; i < l->len; i++) {
        json_array_append_new(keys, json_string(l->items[i]));
        r = NULL;
        if (!names && cf_identity_get(req->srv, kind, l->items[i], &r)
                      == CF_OK)
            json_object_set_new(info, l->items[i],
                                json_pack("{s:O}", "name",
                                          json_object_get(r, "name")));
        json_decref(r);
    }
    cf_strlist_free(l);
    return cf_req_reply_data(req, json_pack("{s:o, s:o}", "keys", keys,
                                            "key_info", info));
}

/* name, metadata (map of strings), policies (list), disabled from the
 * request into rec; 400 naming the field on bad input. */
static cf_err_t
cf_id_common_fields(cf_req_t *req, json_t *rec, bool entity)
{
    json_t      *v = NULL, *e;
    const char  *k;
    bool         b = false, has;
    cf_err_t     rc;

    if ((v = json_object_get(req->body, "metadata")) != NULL
        && !json_is_null(v)) {
        if (!json_is_object(v))
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'metadata' must be a map of strings");
        json_object_foreach(v, k, e) {
            if (!json_is_string(e))
                return cf_req_fail(req, CF_ERR_INVALID,
                                   "'metadata' must be a map of strings");
        }
        json_object_set(rec, "metadata", v);
    }
    if ((rc = cf_req_param_strlist(req, "policies", &v, &has)) != CF_OK)
        return rc;
    if (has)
        json_object_set_new(rec, "policies", v);
    if (entity) {
        if ((rc = cf_req_param_bool(req, "disabled", &b, &has)) != CF_OK)
            return rc;
        if (has)
            json_object_set_new(rec, "disabled", json_boolean(b));
    }
    return CF_OK;
}

/* Set rec's name to `name`, moving the "<kind>-name" index. Lock held. */
static cf_err_t
cf_id_rename(cf_req_t *req, const char *kind, json_t *rec, const char *name)
{
    char         idx_kind[32];
    const char  *old = json_string_value(json_object_get(rec, "name"));
    json_t      *idx, *other = NULL;
    cf_err_t     rc;

    if (old != NULL && strcmp(old, name) == 0)
        return CF_OK;
    snprintf(idx_kind, sizeof(idx_kind), "%s-name", kind);
    if (cf_identity_get(req->srv, idx_kind, name, &other) == CF_OK) {
        json_decref(other);
        return cf_req_fail(req, CF_ERR_INVALID, "%s name is already in use",
                           kind);
    }
    idx = json_pack("{s:O}", "id", json_object_get(rec, "id"));
    rc = cf_identity_put(req->srv, idx_kind, name, idx);
    json_decref(idx);
    if (rc == CF_OK && old != NULL)
        (void) cf_identity_del(req->srv, idx_kind, old);
    if (rc == CF_OK)
        json_object_set_new(rec, "name", json_string(name));
    return rc;
}

/* ---- entities -------------------------------------------------------- */

static json_t *
cf_id_entity_describe(cf_server_t *srv, const json_t *e)
{
    json_t  *out = json_deep_copy(e), *aliases = json_array(), *a, *id;
    json_t  *groups = json_array(), *g;
    cf_strlist_t *gl = NULL;
    size_t   i, j;

    json_array_foreach(json_object_get(e, "alias_ids"), i, id) {
        if (cf_identity_get(srv, "alias", json_string_value(id), &a)
            == CF_OK)
            json_array_append_new(aliases, a);
    }
    if (cf_identity_list(srv, "group", &gl) == CF_OK) {
        for (i = 0; i < gl->len; i++) {
            if (cf_identity_get(srv, "group", gl->items[i], &g) != CF_OK)
                continue;
            json_array_foreach(json_object_get(g, "member_entity_ids"), j,
                               id) {
                if (json_equal(id, json_object_get(e, "id")))
                    json_array_append_new(groups,
                                          json_string(gl->items[i]));
            }
            json_decref(g);
        }
        cf_strlist_free(gl);
    }
    json_object_del(out, "alias_ids");
    json_object_set_new(out, "aliases", aliases);
    json_object_set(out, "direct_group_ids", groups);
    json_object_set_new(out, "group_ids", groups);
    json_object_set_new(out, "inherited_group_ids", json_array());
    json_object_set_new(out, "namespace_id", json_string("root"));
    return out;
}

/* Create, or update the entity rec (NULL: create). Lock taken here. */
static cf_err_t
cf_id_entity_write(cf_req_t *req, json_t *rec)
{
    const char  *name = NULL;
    char         now[40];
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "name", &name, &has)) != CF_OK)
        return rc;
    if (name != NULL && (strlen(name) > CF_ID_NAME_MAX
                         || strchr(name, '/') != NULL))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid entity name");
    pthread_mutex_lock(&req->srv->identity_mu);
    if (rec == NULL && name != NULL && *name != '\0'
        && cf_id_by_name(req->srv, "entity", name, &rec) == CF_OK) {
        /* Vault: a create naming an existing entity updates it. */
    } else if (rec == NULL) {
        rc = cf_identity_entity_create(req->srv, name, NULL, NULL, false,
                                       &rec);
    } else {
        json_incref(rec);
        if (name != NULL && *name != '\0')
            rc = cf_id_rename(req, "entity", rec, name);
    }
    if (rc == CF_OK)
        rc = cf_id_common_fields(req, rec, true);
    if (rc == CF_OK) {
        cf_identity_now(now);
        json_object_set_new(rec, "last_update_time", json_string(now));
        rc = cf_identity_put(req->srv, "entity", json_string_value(
                             json_object_get(rec, "id")), rec);
    }
    pthread_mutex_unlock(&req->srv->identity_mu);
    if (rc == CF_OK)
        rc = cf_req_reply_data(req, json_pack("{s:O, s:O}", "id",
                               json_object_get(rec, "id"), "name",
                               json_object_get(rec, "name")));
    json_decref(rec);
    return rc;
}

static cf_err_t
cf_id_entity_delete(cf_req_t *req, json_t *e)
{
    json_t    *id, *a;
    char      *key;
    size_t     i;

    pthread_mutex_lock(&req->srv->identity_mu);
    json_array_foreach(json_object_get(e, "alias_ids"), i, id) {
        if (cf_identity_get(req->srv, "alias", json_string_value(id), &a)
            != CF_OK)
            continue;
        key = cf_identity_alias_key(req->srv,
                                    json_string_value(json_object_get(a,
                                        "mount_accessor")),
                                    json_string_value(json_object_get(a,
                                        "name")));
        if (key != NULL)
            (void) cf_identity_del(req->srv, "alias-key", key);
        free(key);
        (void) cf_identity_del(req->srv, "alias", json_string_value(id));
        json_decref(a);
    }
    (void) cf_identity_del(req->srv, "entity-name",
                           json_string_value(json_object_get(e, "name")));
    (void) cf_identity_del(req->srv, "entity",
                           json_string_value(json_object_get(e, "id")));
    pthread_mutex_unlock(&req->srv->identity_mu);
    return cf_req_reply_none(req);
}

static cf_err_t
cf_id_entity(cf_req_t *req)
{
    json_t      *e = NULL;
    bool         nm;
    cf_err_t     rc;

    if (strcmp(req->rest, "entity") == 0)
        return cf_id_entity_write(req, NULL);
    rc = cf_id_target(req, "entity", &e, &nm);
    if (rc == CF_ERR_NOT_FOUND) {
        if (req->op == CF_OP_DELETE)
            return cf_req_reply_none(req);
        if (req->op == CF_OP_READ)
            return cf_req_fail(req, CF_ERR_NOT_FOUND, "entity not found");
        if (nm)                         /* POST entity/name/<n> creates */
            return cf_id_entity_write(req, NULL);
        return cf_req_fail(req, CF_ERR_INVALID, "entity not found");
    }
    if (rc != CF_OK)
        return rc;
    if (req->op == CF_OP_READ)
        rc = cf_req_reply_data(req, cf_id_entity_describe(req->srv, e));
    else if (req->op == CF_OP_DELETE)
        rc = cf_id_entity_delete(req, e);
    else
        rc = cf_id_entity_write(req, e);
    json_decref(e);
    return rc;
}

static cf_err_t
cf_id_entity_list(cf_req_t *req)
{
    return cf_id_list(req, "entity", strstr(req->rest, "name") != NULL);
}

/* ---- aliases --------------------------------------------------------- */

static cf_err_t
cf_id_alias_create(cf_req_t *req)
{
    const char  *name = NULL, *cid = NULL, *acc = NULL;
    json_t      *ent = NULL, *a = NULL, *idx = NULL;
    char        *key;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "name", &name, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "canonical_id", &cid, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "mount_accessor", &acc, &has))
           != CF_OK)
        return rc;
    if (name == NULL || *name == '\0' || acc == NULL || *acc == '\0'
        || cid == NULL || *cid == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "name, canonical_id and "
                           "mount_accessor are required");
    if ((key = cf_identity_alias_key(req->srv, acc, name)) == NULL)
        return CF_ERR_NOMEM;
    pthread_mutex_lock(&req->srv->identity_mu);
    if (cf_identity_get(req->srv, "alias-key", key, &idx) == CF_OK)
        rc = cf_req_fail(req, CF_ERR_INVALID, "alias already exists for "
                         "that mount accessor and name");
    else if ((rc = cf_identity_get(req->srv, "entity", cid, &ent))
             == CF_ERR_NOT_FOUND)
        rc = cf_req_fail(req, CF_ERR_INVALID, "entity not found");
    if (rc == CF_OK)
        rc = cf_identity_alias_create(req->srv, ent, acc, name, NULL, &a);
    pthread_mutex_unlock(&req->srv->identity_mu);
    if (rc == CF_OK)
        rc = cf_req_reply_data(req, json_pack("{s:O, s:s}", "id",
                               json_object_get(a, "id"), "canonical_id",
                               cid));
    free(key);
    json_decref(idx);
    json_decref(ent);
    json_decref(a);
    return rc;
}

static cf_err_t
cf_id_alias(cf_req_t *req)
{
    const char  *id = cf_id_arg(req, "entity-alias/id/");
    json_t      *a = NULL, *e = NULL, *ids, *v;
    char        *key;
    size_t       i;
    cf_err_t     rc;

    if ((rc = cf_identity_get(req->srv, "alias", id, &a)) != CF_OK)
        return rc == CF_ERR_NOT_FOUND && req->op == CF_OP_DELETE
               ? cf_req_reply_none(req)
               : rc == CF_ERR_NOT_FOUND
               ? cf_req_fail(req, CF_ERR_NOT_FOUND, "alias not found") : rc;
    if (req->op == CF_OP_READ) {
        json_object_set_new(a, "namespace_id", json_string("root"));
        return cf_req_reply_data(req, a);
    }
    pthread_mutex_lock(&req->srv->identity_mu);
    key = cf_identity_alias_key(req->srv,
                                json_string_value(json_object_get(a,
                                    "mount_accessor")),
                                json_string_value(json_object_get(a,
                                    "name")));
    if (key != NULL)
        (void) cf_identity_del(req->srv, "alias-key", key);
    free(key);
    (void) cf_identity_del(req->srv, "alias", id);
    if (cf_identity_get(req->srv, "entity", json_string_value(
                        json_object_get(a, "canonical_id")), &e) == CF_OK) {
        ids = json_object_get(e, "alias_ids");
        json_array_foreach(ids, i, v) {
            if (strcmp(json_string_value(v), id) == 0) {
                json_array_remove(ids, i);
                break;
            }
        }
        (void) cf_identity_put(req->srv, "entity", json_string_value(
                               json_object_get(e, "id")), e);
    }
    pthread_mutex_unlock(&req->srv->identity_mu);
    json_decref(a);
    json_decref(e);
    return cf_req_reply_none(req);
}

static cf_err_t
cf_id_alias_list(cf_req_t *req)
{
    return cf_id_list(req, "alias", false);
}

/* ---- groups ---------------------------------------------------------- */

static cf_err_t
cf_id_group_write(cf_req_t *req, json_t *rec)
{
    const char  *name = NULL, *type = NULL;
    json_t      *members = NULL, *m, *ent;
    char         id[37], now[40];
    size_t       i;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "name", &name, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "type", &type, &has)) != CF_OK
        || (rc = cf_req_param_strlist(req, "member_entity_ids", &members,
                                      &has)) != CF_OK)
        return rc;
    if (type != NULL && strcmp(type, "internal") != 0 && *type != '\0') {
        json_decref(members);
        return cf_req_fail(req, CF_ERR_INVALID, "only internal groups are "
                           "supported");
    }
    if (name != NULL && (strlen(name) > CF_ID_NAME_MAX
                         || strchr(name, '/') != NULL)) {
        json_decref(members);
        return cf_req_fail(req, CF_ERR_INVALID, "invalid group name");
    }
    json_array_foreach(members, i, m) {
        if (cf_identity_get(req->srv, "entity", json_string_value(m), &ent)
            != CF_OK) {
            rc = cf_req_fail(req, CF_ERR_INVALID,
                             "member entity %.40s not found",
                             json_string_value(m));
            json_decref(members);
            return rc;
        }
        json_decref(ent);
    }
    pthread_mutex_lock(&req->srv->identity_mu);
    cf_identity_now(now);
    if (rec == NULL && name != NULL && *name != '\0'
        && cf_id_by_name(req->srv, "group", name, &rec) == CF_OK) {
        /* an existing name: update it */
    } else if (rec == NULL) {
        cf_uuid_new(id);
        rec = json_pack("{s:s, s:s, s:{}, s:[], s:[], s:s, s:s, s:s}",
                        "id", id, "name", "", "metadata", "policies",
                        "member_entity_ids", "type", "internal",
                        "creation_time", now, "last_update_time", now);
        if (rec == NULL)
            rc = CF_ERR_NOMEM;
        else
            rc = cf_id_rename(req, "group", rec, name && *name
                              ? name : id);
    } else {
        json_incref(rec);
        if (name != NULL && *name != '\0')
            rc = cf_id_rename(req, "group", rec, name);
    }
    if (rc == CF_OK)
        rc = cf_id_common_fields(req, rec, false);
    if (rc == CF_OK && members != NULL)
        json_object_set(rec, "member_entity_ids", members);
    if (rc == CF_OK) {
        json_object_set_new(rec, "last_update_time", json_string(now));
        rc = cf_identity_put(req->srv, "group", json_string_value(
                             json_object_get(rec, "id")), rec);
    }
    pthread_mutex_unlock(&req->srv->identity_mu);
    if (rc == CF_OK)
        rc = cf_req_reply_data(req, json_pack("{s:O, s:O}", "id",
                               json_object_get(rec, "id"), "name",
                               json_object_get(rec, "name")));
    json_decref(rec);
    json_decref(members);
    return rc;
}

static cf_err_t
cf_id_group(cf_req_t *req)
{
    json_t      *g = NULL;
    bool         nm;
    cf_err_t     rc;

    if (strcmp(req->rest, "group") == 0)
        return cf_id_group_write(req, NULL);
    rc = cf_id_target(req, "group", &g, &nm);
    if (rc == CF_ERR_NOT_FOUND) {
        if (req->op == CF_OP_DELETE)
            return cf_req_reply_none(req);
        if (req->op == CF_OP_READ || !nm)
            return cf_req_fail(req, CF_ERR_NOT_FOUND, "group not found");
        return cf_id_group_write(req, NULL);
    }
    if (rc != CF_OK)
        return rc;
    if (req->op == CF_OP_READ) {
        json_object_set_new(g, "namespace_id", json_string("root"));
        json_object_set_new(g, "member_group_ids", json_array());
        rc = cf_req_reply_data(req, g);
        return rc;
    }
    if (req->op == CF_OP_DELETE) {
        pthread_mutex_lock(&req->srv->identity_mu);
        (void) cf_identity_del(req->srv, "group-name",
                               json_string_value(json_object_get(g, "name")));
        (void) cf_identity_del(req->srv, "group",
                               json_string_value(json_object_get(g, "id")));
        pthread_mutex_unlock(&req->srv->identity_mu);
        json_decref(g);
        return cf_req_reply_none(req);
    }
    rc = cf_id_group_write(req, g);
    json_decref(g);
    return rc;
}

static cf_err_t
cf_id_group_list(cf_req_t *req)
{
    return cf_id_list(req, "group", strstr(req->rest, "name") != NULL);
}

/* ---- lookups ---------------------------------------------------------- */

static cf_err_t
cf_id_lookup(cf_req_t *req)
{
    bool         entity = strcmp(req->rest, "lookup/entity") == 0;
    const char  *id = NULL, *name = NULL, *an = NULL, *acc = NULL;
    json_t      *r = NULL, *idx = NULL, *a = NULL;
    char        *key;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "id", &id, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "name", &name, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "alias_name", &an, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "alias_mount_accessor", &acc, &has))
           != CF_OK)
        return rc;
    if (id != NULL)
        rc = cf_identity_get(req->srv, entity ? "entity" : "group", id, &r);
    else if (name != NULL)
        rc = cf_id_by_name(req->srv, entity ? "entity" : "group", name, &r);
    else if (entity && an != NULL && acc != NULL) {
        if ((key = cf_identity_alias_key(req->srv, acc, an)) == NULL)
            return CF_ERR_NOMEM;
        rc = cf_identity_get(req->srv, "alias-key", key, &idx);
        free(key);
        if (rc == CF_OK)
            rc = cf_identity_get(req->srv, "alias", json_string_value(
                                 json_object_get(idx, "id")), &a);
        if (rc == CF_OK)
            rc = cf_identity_get(req->srv, "entity", json_string_value(
                                 json_object_get(a, "canonical_id")), &r);
        json_decref(idx);
        json_decref(a);
    } else {
        return cf_req_fail(req, CF_ERR_INVALID, "missing lookup criteria");
    }
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_reply_none(req);  /* Vault: 204 when nothing */
    if (rc != CF_OK)
        return rc;
    if (entity) {
        rc = cf_req_reply_data(req, cf_id_entity_describe(req->srv, r));
        json_decref(r);
        return rc;
    }
    return cf_req_reply_data(req, r);
}

#define CF_RWD  (CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE)

static const cf_path_t  cf_identity_paths[] = {
    { "entity",            CF_OP_WRITE, cf_id_entity },
    { "entity/id",         CF_OP_LIST,  cf_id_entity_list },
    { "entity/id/",        CF_OP_LIST,  cf_id_entity_list },
    { "entity/id/+",       CF_RWD,      cf_id_entity },
    { "entity/name",       CF_OP_LIST,  cf_id_entity_list },
    { "entity/name/",      CF_OP_LIST,  cf_id_entity_list },
    { "entity/name/+",     CF_RWD,      cf_id_entity },
    { "entity-alias",      CF_OP_WRITE, cf_id_alias_create },
    { "entity-alias/id",   CF_OP_LIST,  cf_id_alias_list },
    { "entity-alias/id/",  CF_OP_LIST,  cf_id_alias_list },
    { "entity-alias/id/+", CF_OP_READ | CF_OP_DELETE, cf_id_alias },
    { "group",             CF_OP_WRITE, cf_id_group },
    { "group/id",          CF_OP_LIST,  cf_id_group_list },
    { "group/id/",         CF_OP_LIST,  cf_id_group_list },
    { "group/id/+",        CF_RWD,      cf_id_group },
    { "group/name",        CF_OP_LIST,  cf_id_group_list },
    { "group/name/",       CF_OP_LIST,  cf_id_group_list },
    { "group/name/+",      CF_RWD,      cf_id_group },
    { "lookup/entity",     CF_OP_WRITE, cf_id_lookup },
    { "lookup/group",      CF_OP_WRITE, cf_id_lookup },
    CF_PATH_END
};

const cf_engine_t  cf_identity_engine = {
    .name = "identity", .paths = cf_identity_paths, .singleton = true,
};
