/*
 * policy_store: ACL policies kept behind the barrier ("sys/policy/<name>"
 * holds {"name", "policy"}), a cache of parsed policies, the ACL of a
 * token, and the sys/policies/acl, sys/policy and sys/capabilities*
 * routes. "root" is built in and immutable; "default" is written from
 * Vault's text on first use and may be changed but not deleted.
 *
 * The cache (srv->policies) maps name -> parsed policy and is emptied by
 * every change and at seal, so a change takes effect on the next request.
 */
#include "coffer/policy_store.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/barrier.h"
#include "coffer/identity.h"
#include "coffer/log.h"
#include "coffer/server.h"
#include "coffer/token.h"
#include "sys_internal.h"

#define CF_POLICY_NAME_MAX   128
#define CF_POLICY_TEXT_MAX   (1024 * 1024)
#define CF_POLICY_CACHE_MAX  256
#define CF_POLICY_PREFIX     "sys/policy/"

/* A cached parsed policy (key "p:<name>") or ACL of a set of policy
 * names (key "a:<name>\n<name>..."): exactly one of the two is set. */
typedef struct {
    char         *key;
    cf_policy_t  *policy;
    cf_acl_t     *acl;
} cf_policy_slot_t;

struct cf_policy_cache_s {
    pthread_rwlock_t   lock;
    uint64_t           gen;         /* bumped by every flush; lock */
    cf_policy_slot_t   slots[CF_POLICY_CACHE_MAX];
    size_t             n;
};

cf_err_t
cf_policy_cache_new(cf_policy_cache_t **out)
{
    if ((*out = calloc(1, sizeof(**out))) == NULL)
        return CF_ERR_NOMEM;
    pthread_rwlock_init(&(*out)->lock, NULL);
    return CF_OK;
}

/* Drop every entry; lock held (or the cache is being freed). */
static void
cf_policy_cache_clear_locked(cf_policy_cache_t *c)
{
    size_t  i;

    c->gen++;
    for (i = 0; i < c->n; i++) {
        free(c->slots[i].key);
        cf_policy_free(c->slots[i].policy);
        cf_acl_free(c->slots[i].acl);
    }
    c->n = 0;
}

void
cf_policy_store_flush(cf_server_t *srv)
{
    cf_policy_cache_t  *c = srv->policies;

    pthread_rwlock_wrlock(&c->lock);
    cf_policy_cache_clear_locked(c);
    pthread_rwlock_unlock(&c->lock);
}

void
cf_policy_cache_free(cf_policy_cache_t *c)
{
    if (c == NULL)
        return;
    cf_policy_cache_clear_locked(c);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

/* The entry under key: *policy or *acl (whichever it holds) gets a new
 * reference; both NULL on a miss. *gen gets the generation to hand to
 * cf_policy_cache_put after a miss. */
static void
cf_policy_cache_get(cf_policy_cache_t *c, const char *key,
                    cf_policy_t **policy, cf_acl_t **acl, uint64_t *gen)
{
    size_t  i;

    *policy = NULL;
    *acl = NULL;
    pthread_rwlock_rdlock(&c->lock);
    *gen = c->gen;
    for (i = 0; i < c->n; i++) {
        if (strcmp(c->slots[i].key, key) == 0) {
            if (c->slots[i].policy != NULL)
                *policy = cf_policy_ref(c->slots[i].policy);
            else
                *acl = cf_acl_ref(c->slots[i].acl);
            break;
        }
    }
    pthread_rwlock_unlock(&c->lock);
}

/* Remember policy or acl (one of them) under key unless a flush came
 * after gen (what it was built from may be stale); a full cache just
 * stops remembering. */
static void
cf_policy_cache_put(cf_policy_cache_t *c, const char *key,
                    cf_policy_t *policy, cf_acl_t *acl, uint64_t gen)
{
    char  *k;

    pthread_rwlock_wrlock(&c->lock);
    if (c->gen == gen && c->n < CF_POLICY_CACHE_MAX
        && (k = strdup(key)) != NULL) {
        c->slots[c->n].key = k;
        c->slots[c->n].policy = policy != NULL ? cf_policy_ref(policy)
                                               : NULL;
        c->slots[c->n].acl = policy == NULL ? cf_acl_ref(acl) : NULL;
        c->n++;
    }
    pthread_rwlock_unlock(&c->lock);
}

/* Lowercased, validated name into buf; false for junk. */
static bool
cf_policy_clean_name(const char *in, char buf[CF_POLICY_NAME_MAX + 1])
{
    size_t  i, n = strlen(in);

    if (n == 0 || n > CF_POLICY_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) in[i];

        if (c < 0x21 || c == '/' || c == '*' || c == '+' || c > 0x7e)
            return false;
        buf[i] = (char) tolower(c);
    }
    buf[n] = '\0';
    return true;
}

static cf_err_t
cf_policy_store_text(cf_server_t *srv, const char *name, char **text)
{
    char           path[200];
    json_t        *doc = NULL;
    const char    *t;
    cf_err_t       rc;

    *text = NULL;
    snprintf(path, sizeof(path), CF_POLICY_PREFIX "%s", name);
    rc = cf_barrier_get_json(srv->barrier, path, &doc);
    if (rc == CF_ERR_NOT_FOUND && strcmp(name, CF_POLICY_DEFAULT) == 0)
        return (*text = strdup(cf_policy_default_text)) != NULL
               ? CF_OK : CF_ERR_NOMEM;
    if (rc != CF_OK)
        return rc;
    if ((t = json_string_value(json_object_get(doc, "policy"))) == NULL)
        rc = CF_ERR_INTEGRITY;
    else if ((*text = strdup(t)) == NULL)
        rc = CF_ERR_NOMEM;
    json_decref(doc);
    return rc;
}

cf_err_t
cf_policy_store_get(cf_server_t *srv, const char *name, cf_policy_t **out)
{
    char       clean[CF_POLICY_NAME_MAX + 1], key[CF_POLICY_NAME_MAX + 3];
    char      *text = NULL, err[256];
    cf_acl_t  *acl;
    uint64_t   gen;
    cf_err_t   rc;

    *out = NULL;
    if (!cf_policy_clean_name(name, clean))
        return CF_ERR_NOT_FOUND;
    snprintf(key, sizeof(key), "p:%s", clean);
    cf_policy_cache_get(srv->policies, key, out, &acl, &gen);
    if (*out != NULL)
        return CF_OK;
    if (strcmp(clean, CF_POLICY_ROOT) == 0)
        rc = cf_policy_parse(CF_POLICY_ROOT, "", 0, out, err, sizeof(err));
    else if (strcmp(clean, CF_POLICY_RESPONSE_WRAPPING) == 0)
        rc = cf_policy_parse(clean, cf_policy_response_wrapping_text,
                             strlen(cf_policy_response_wrapping_text), out,
                             err, sizeof(err));
    else if ((rc = cf_policy_store_text(srv, clean, &text)) == CF_OK)
        rc = cf_policy_parse(clean, text, strlen(text), out, err,
                             sizeof(err));
    if (rc == CF_ERR_INVALID) {
        cf_log_error("policy", "stored policy %s does not parse: %s",
                     clean, err);
        rc = CF_ERR_INTEGRITY;
    }
    free(text);
    if (rc == CF_OK)
        cf_policy_cache_put(srv->policies, key, *out, NULL, gen);
    return rc;
}

/* Load each name of names into ps (up to cap); names with no policy
 * grant nothing. */
static cf_err_t
cf_policy_store_load(cf_server_t *srv, const json_t *names,
                     cf_policy_t **ps, size_t cap, size_t *n)
{
    json_t    *e;
    size_t     i;
    cf_err_t   rc;

    json_array_foreach(names, i, e) {
        if (*n == cap || !json_is_string(e))
            break;
        rc = cf_policy_store_get(srv, json_string_value(e), &ps[*n]);
        if (rc == CF_ERR_NOT_FOUND)
            continue;
        if (rc != CF_OK)
            return rc;
        (*n)++;
    }
    return CF_OK;
}

cf_err_t
cf_policy_store_acl(cf_server_t *srv, const json_t *names,
                    const json_t *extra, const json_t *identity,
                    cf_acl_t **out)
{
    cf_policy_t  *ps[128];
    size_t        i, n = 0;
    cf_err_t      rc;

    *out = NULL;
    rc = cf_policy_store_load(srv, names, ps, 64, &n);
    if (rc == CF_OK && extra != NULL)
        rc = cf_policy_store_load(srv, extra, ps, 128, &n);
    if (rc == CF_OK
        && (*out = cf_acl_new_identity((const cf_policy_t *const *) ps, n,
                                       identity)) == NULL)
        rc = CF_ERR_NOMEM;
    for (i = 0; i < n; i++)
        cf_policy_free(ps[i]);
    return rc;
}

/* The ACL of a token without an entity depends only on its policy
 * names: cached under them, dropped with every policy change. */
static cf_err_t
cf_policy_store_names_acl(cf_server_t *srv, const json_t *names,
                          cf_acl_t **out)
{
    cf_policy_t  *unused;
    json_t       *e;
    char          key[2048];
    size_t        i, o = 2;
    uint64_t      gen;
    cf_err_t      rc;

    memcpy(key, "a:", 3);
    json_array_foreach(names, i, e) {
        const char *n = json_string_value(e);

        if (n == NULL || o + strlen(n) + 2 > sizeof(key))
            return cf_policy_store_acl(srv, names, NULL, NULL, out);
        o += (size_t) snprintf(key + o, sizeof(key) - o, "%s\n", n);
    }
    cf_policy_cache_get(srv->policies, key, &unused, out, &gen);
    if (*out != NULL)
        return CF_OK;
    cf_policy_free(unused);             /* (a policy never has "a:" keys) */
    rc = cf_policy_store_acl(srv, names, NULL, NULL, out);
    if (rc == CF_OK)
        cf_policy_cache_put(srv->policies, key, NULL, *out, gen);
    return rc;
}

cf_err_t
cf_policy_store_token_acl(cf_server_t *srv, const json_t *entry,
                          cf_acl_t **out)
{
    const char  *eid = json_string_value(json_object_get(entry,
                                                         "entity_id"));
    json_t      *extra = NULL, *ident = NULL;
    cf_err_t     rc;

    *out = NULL;
    if (eid != NULL && *eid != '\0') {
        /* Entity policies and templates change with identity: built per
         * request from the identity cache. */
        if ((rc = cf_identity_for_acl(srv, eid, &extra, &ident)) == CF_OK)
            rc = cf_policy_store_acl(srv, json_object_get(entry,
                                                          "policies"),
                                     extra, ident, out);
        json_decref(extra);
        json_decref(ident);
        return rc;
    }
    return cf_policy_store_names_acl(srv, json_object_get(entry,
                                                          "policies"), out);
}

/* ---- routes ------------------------------------------------------------ */

/* The policy name after `route` in req->rest, cleaned; 400 on junk. */
static cf_err_t
cf_policy_route_name(cf_req_t *req, const char *route,
                     char buf[CF_POLICY_NAME_MAX + 1])
{
    if (!cf_policy_clean_name(req->rest + strlen(route), buf))
        return cf_req_fail(req, CF_ERR_INVALID, "invalid policy name");
    return CF_OK;
}

static cf_err_t
cf_policy_route_read(cf_req_t *req, const char *name, bool legacy)
{
    char      *text = NULL;
    cf_err_t   rc;

    if (strcmp(name, CF_POLICY_ROOT) == 0)
        text = strdup("");
    else if ((rc = cf_policy_store_text(req->srv, name, &text)) != CF_OK)
        return rc == CF_ERR_NOT_FOUND
               ? cf_req_fail(req, CF_ERR_NOT_FOUND, "policy not found")
               : rc;
    if (text == NULL)
        return CF_ERR_NOMEM;
    rc = legacy
         ? cf_req_reply_data_top(req, json_pack("{s:s, s:s}", "name", name,
                                                "rules", text))
         : cf_req_reply_data(req, json_pack("{s:s, s:s}", "name", name,
                                            "policy", text));
    free(text);
    return rc;
}

static cf_err_t
cf_policy_route_write(cf_req_t *req, const char *name, bool legacy)
{
    const char   *text = NULL;
    char          path[200], err[256], *dec = NULL;
    cf_policy_t  *p = NULL;
    cf_buf_t     *b = NULL;
    json_t       *doc;
    bool          has;
    cf_err_t      rc;

    if (strcmp(name, CF_POLICY_ROOT) == 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "cannot update \"root\" policy");
    rc = cf_req_param_str(req, "policy", &text, &has);
    if (rc == CF_OK && text == NULL && legacy)
        rc = cf_req_param_str(req, "rules", &text, &has);
    if (rc != CF_OK)
        return rc;
    if (text == NULL || *text == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "'policy' parameter not "
                           "supplied or empty");
    if (strlen(text) > CF_POLICY_TEXT_MAX)
        return cf_req_fail(req, CF_ERR_INVALID, "policy too large");
    /* Vault accepts the policy base64-encoded as well. */
    if (strchr(text, '{') == NULL && cf_b64_decode(text, &b) == CF_OK) {
        if ((dec = strndup((const char *) b->data, b->len)) != NULL)
            text = dec;
        cf_buf_free(b);
    }
    rc = cf_policy_parse(name, text, strlen(text), &p, err, sizeof(err));
    if (rc == CF_ERR_INVALID) {
        rc = cf_req_fail(req, rc, "failed to parse policy: %s", err);
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    doc = json_pack("{s:s, s:s}", "name", name, "policy", text);
    if (doc == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    snprintf(path, sizeof(path), CF_POLICY_PREFIX "%s", name);
    rc = cf_barrier_put_json(req->srv->barrier, path, doc);
    json_decref(doc);
    cf_policy_store_flush(req->srv);
    if (rc == CF_OK)
        rc = cf_req_reply_none(req);
out:
    cf_policy_free(p);
    free(dec);
    return rc;
}

static cf_err_t
cf_policy_route_delete(cf_req_t *req, const char *name)
{
    char      path[200];
    cf_err_t  rc;

    if (strcmp(name, CF_POLICY_ROOT) == 0
        || strcmp(name, CF_POLICY_DEFAULT) == 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "cannot delete \"%s\" policy", name);
    snprintf(path, sizeof(path), CF_POLICY_PREFIX "%s", name);
    rc = cf_barrier_delete(req->srv->barrier, path);
    cf_policy_store_flush(req->srv);
    return rc == CF_OK ? cf_req_reply_none(req) : rc;
}

/* Stored names plus the built-ins, sorted. */
static cf_err_t
cf_policy_names(cf_req_t *req, json_t **out)
{
    cf_strlist_t  *l = NULL;
    size_t         i;
    cf_err_t       rc;

    *out = NULL;
    if ((rc = cf_barrier_list(req->srv->barrier, CF_POLICY_PREFIX, &l))
        != CF_OK)
        return rc;
    if ((rc = cf_strlist_add(l, CF_POLICY_DEFAULT)) != CF_OK
        || (rc = cf_strlist_add(l, CF_POLICY_ROOT)) != CF_OK) {
        cf_strlist_free(l);
        return rc;
    }
    cf_strlist_sort_unique(l);
    *out = json_array();
    for (i = 0; *out != NULL && i < l->len; i++)
        json_array_append_new(*out, json_string(l->items[i]));
    cf_strlist_free(l);
    return *out != NULL ? CF_OK : CF_ERR_NOMEM;
}

cf_err_t
cf_sys_policies_acl(cf_req_t *req)
{
    char      name[CF_POLICY_NAME_MAX + 1];
    json_t   *names;
    cf_err_t  rc;

    if (req->op == CF_OP_LIST || strcmp(req->rest, "policies/acl") == 0
        || strcmp(req->rest, "policies/acl/") == 0) {
        if (req->op != CF_OP_LIST && req->op != CF_OP_READ)
            return cf_req_fail(req, CF_ERR_METHOD, "unsupported operation");
        if ((rc = cf_policy_names(req, &names)) != CF_OK)
            return rc;
        return cf_req_reply_data(req, json_pack("{s:o}", "keys", names));
    }
    if ((rc = cf_policy_route_name(req, "policies/acl/", name)) != CF_OK)
        return rc;
    if (req->op == CF_OP_READ)
        return cf_policy_route_read(req, name, false);
    if (req->op == CF_OP_DELETE)
        return cf_policy_route_delete(req, name);
    return cf_policy_route_write(req, name, false);
}

/* Legacy sys/policy and sys/policy/<name> ("rules" instead of "policy";
 * the list answers both "policies" and "keys", at the top level too). */
cf_err_t
cf_sys_policy_legacy(cf_req_t *req)
{
    char      name[CF_POLICY_NAME_MAX + 1];
    json_t   *names;
    cf_err_t  rc;

    if (strcmp(req->rest, "policy") == 0
        || strcmp(req->rest, "policy/") == 0) {
        if ((rc = cf_policy_names(req, &names)) != CF_OK)
            return rc;
        return cf_req_reply_data_top(req, json_pack("{s:O, s:o}",
                                     "policies", names, "keys", names));
    }
    if ((rc = cf_policy_route_name(req, "policy/", name)) != CF_OK)
        return rc;
    if (req->op == CF_OP_READ)
        return cf_policy_route_read(req, name, true);
    if (req->op == CF_OP_DELETE)
        return cf_policy_route_delete(req, name);
    return cf_policy_route_write(req, name, true);
}

/* caps sorted by name, as Vault's Core.Capabilities returns them. */
static void
cf_policy_sort_caps(json_t *caps)
{
    size_t  i, j, n = json_array_size(caps);

    for (i = 1; i < n; i++) {
        for (j = i; j > 0 && strcmp(json_string_value(json_array_get(caps,
                                                                j - 1)),
                                    json_string_value(json_array_get(caps,
                                                                j))) > 0;
             j--) {
            json_t *a = json_incref(json_array_get(caps, j - 1));

            json_array_set(caps, j - 1, json_array_get(caps, j));
            json_array_set_new(caps, j, a);
        }
    }
}

/* sys/capabilities (token + paths), -self (paths), -accessor. */
cf_err_t
cf_sys_capabilities(cf_req_t *req)
{
    const char  *which = req->rest + strlen("capabilities");
    const char  *tok = NULL, *acc = NULL;
    json_t      *paths = NULL, *entry = NULL, *out, *e, *caps;
    cf_acl_t    *acl = NULL;
    char        *th = NULL;
    size_t       i;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_strlist(req, "paths", &paths, &has)) != CF_OK)
        return rc;
    if (!has && (rc = cf_req_param_strlist(req, "path", &paths, &has))
                != CF_OK)
        return rc;
    if (json_array_size(paths) == 0) {
        json_decref(paths);
        return cf_req_fail(req, CF_ERR_INVALID, "missing paths");
    }
    if (strcmp(which, "-self") == 0) {
        entry = json_incref(req->token->entry);
    } else if (strcmp(which, "-accessor") == 0) {
        if ((rc = cf_req_param_str(req, "accessor", &acc, &has)) == CF_OK
            && (rc = cf_token_by_accessor(req->srv, acc, &th)) == CF_OK)
            rc = cf_token_load(req->srv, th, &entry);
    } else {
        if ((rc = cf_req_param_str(req, "token", &tok, &has)) == CF_OK
            && (rc = cf_token_hmac_of(req->srv, tok, &th)) == CF_OK)
            rc = cf_token_load(req->srv, th, &entry);
    }
    free(th);
    if (rc == CF_ERR_NOT_FOUND)
        rc = cf_req_fail(req, CF_ERR_INVALID, "invalid token");
    if (rc != CF_OK)
        goto out;
    if ((rc = cf_policy_store_token_acl(req->srv, entry, &acl)) != CF_OK)
        goto out;
    out = json_object();
    json_array_foreach(paths, i, e) {
        if ((caps = cf_acl_capabilities(acl, json_string_value(e)))
            == NULL) {
            json_decref(out);
            rc = CF_ERR_NOMEM;
            goto out;
        }
        cf_policy_sort_caps(caps);
        json_object_set_new(out, json_string_value(e), caps);
    }
    /* One path: Vault also answers "capabilities" for old clients. */
    if (json_array_size(paths) == 1)
        json_object_set(out, "capabilities",
                        json_object_get(out, json_string_value(
                                        json_array_get(paths, 0))));
    rc = cf_req_reply_data_top(req, out);
out:
    cf_acl_free(acl);
    json_decref(entry);
    json_decref(paths);
    return rc;
}
