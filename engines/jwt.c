/*
 * jwt: the JWT auth method (Vault's auth/jwt). config names where the
 * signing keys come from (PEM keys, a JWKS URL, or OIDC discovery);
 * role/<name> binds audiences, subject and claims to token_* settings;
 * login checks a signed JWT against a role and issues an orphan token.
 *
 * View layout:
 *   config        the config (oidc_client_secret is kept, never read back)
 *   cache         {"jwks": key set, "issuer": discovered issuer or absent,
 *                  "fetched", "fetched_ms": unix time}: the keys fetched from
 *                  the discovery document's jwks_uri. Written when config
 *                  is, and again when a token names a kid the set does not
 *                  hold (one refetch per login, at most one every
 *                  CF_JWT_REFETCH_MIN_MS).
 *   role/<name>   a role (names lowercased)
 * Only roles of role_type "jwt" can log in: the browser OIDC flow (role
 * type "oidc", oidc/auth_url, oidc/callback) is not supported.
 */
#include "coffer/jwt.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/log.h"
#include "jwt_verify.h"

/* Vault's leeway defaults, used when a role says 0; -1 turns one off. */
#define CF_JWT_SKEW_DEFAULT  60
#define CF_JWT_EXP_DEFAULT   150
#define CF_JWT_NBF_DEFAULT   150

/* String fields of config, read back as given. */
static const char *const  cf_jwt_config_strs[] = {
    "oidc_discovery_url", "oidc_discovery_ca_pem", "oidc_client_id",
    "oidc_response_mode", "jwks_url", "jwks_ca_pem", "bound_issuer",
    "default_role", NULL
};

/* List fields of config. */
static const char *const  cf_jwt_config_lists[] = {
    "jwt_validation_pubkeys", "jwt_supported_algs", "oidc_response_types",
    NULL
};

static bool
cf_jwt_has_str(const json_t *o, const char *k)
{
    const char  *s = json_string_value(json_object_get(o, k));

    return s != NULL && *s != '\0';
}

static const char *
cf_jwt_str(const json_t *o, const char *k)
{
    const char  *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* ---- key set fetching ------------------------------------------------- */

/* Milliseconds between two fetches caused by an unknown kid. */
#define CF_JWT_REFETCH_MIN_MS  1000

static int64_t
cf_jwt_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* GET url as a JSON object; CF_ERR_UNAVAILABLE (with *why) otherwise. */
static cf_err_t
cf_jwt_get_json(const char *url, const char *ca, json_t **out,
                const char **why)
{
    cf_jwt_http_t  r = { url, ca, NULL, NULL };
    json_t        *doc = NULL;
    long           status;
    cf_err_t       rc;

    *out = NULL;
    if ((rc = cf_jwt_http(&r, &status, &doc, why)) != CF_OK)
        return rc == CF_ERR_TOO_LARGE ? CF_ERR_UNAVAILABLE : rc;
    if (status != 200 || !json_is_object(doc)) {
        *why = status != 200 ? "unexpected HTTP status"
                             : "response is not a JSON object";
        json_decref(doc);
        return CF_ERR_UNAVAILABLE;
    }
    *out = doc;
    return CF_OK;
}

/* Fetch the key set cfg points to: jwks_url, or the jwks_uri of the
 * discovery document at oidc_discovery_url (whose "issuer" must be that
 * URL, as OIDC discovery requires). *cache: the "cache" entry (owned). */
static cf_err_t
cf_jwt_fetch(const json_t *cfg, json_t **cache, const char **why)
{
    const char  *disc = cf_jwt_str(cfg, "oidc_discovery_url"), *uri, *ca;
    json_t      *doc = NULL, *jwks = NULL;
    char        *url = NULL;
    size_t       n;
    cf_err_t     rc;

    *cache = NULL;
    if (*disc != '\0') {
        ca = cf_jwt_str(cfg, "oidc_discovery_ca_pem");
        n = strlen(disc);
        while (n > 0 && disc[n - 1] == '/')
            n--;
        if (asprintf(&url, "%.*s/.well-known/openid-configuration", (int) n,
                     disc) < 0)
            return CF_ERR_NOMEM;
        rc = cf_jwt_get_json(url, ca, &doc, why);
        free(url);
        if (rc != CF_OK)
            return rc;
        uri = json_string_value(json_object_get(doc, "jwks_uri"));
        if (strcmp(cf_jwt_str(doc, "issuer"), disc) != 0) {
            *why = "discovery document's issuer is not oidc_discovery_url";
            rc = CF_ERR_INVALID;
        } else if (uri == NULL) {
            *why = "discovery document has no jwks_uri";
            rc = CF_ERR_INVALID;
        }
    } else {
        ca = cf_jwt_str(cfg, "jwks_ca_pem");
        uri = cf_jwt_str(cfg, "jwks_url");
        rc = CF_OK;
    }
    if (rc == CF_OK && (rc = cf_jwt_get_json(uri, ca, &jwks, why)) == CF_OK
        && (rc = cf_jwt_jwks_check(jwks, why)) == CF_OK) {
        *cache = json_pack("{s:O, s:I, s:I}", "jwks", jwks, "fetched",
                           (json_int_t) time(NULL), "fetched_ms",
                           (json_int_t) cf_jwt_now_ms());
        if (*cache == NULL)
            rc = CF_ERR_NOMEM;
        else if (doc != NULL)
            json_object_set(*cache, "issuer", json_object_get(doc,
                                                              "issuer"));
    }
    json_decref(doc);
    json_decref(jwks);
    return rc;
}

/* ---- config ----------------------------------------------------------- */

static cf_err_t
cf_jwt_config_read(cf_req_t *req)
{
    json_t      *cfg = NULL, *out;
    size_t       i;
    cf_err_t     rc;

    rc = cf_view_get_json(req, "config", &cfg);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_reply_data(req, NULL);
    if (rc != CF_OK)
        return rc;
    out = json_object();
    for (i = 0; cf_jwt_config_strs[i] != NULL; i++)
        json_object_set_new(out, cf_jwt_config_strs[i],
                            json_string(cf_jwt_str(cfg,
                                                   cf_jwt_config_strs[i])));
    for (i = 0; cf_jwt_config_lists[i] != NULL; i++) {
        json_t *l = json_object_get(cfg, cf_jwt_config_lists[i]);

        json_object_set_new(out, cf_jwt_config_lists[i],
                            l != NULL ? json_deep_copy(l) : json_array());
    }
    json_object_set(out, "provider_config",
                    json_object_get(cfg, "provider_config"));
    json_object_set_new(out, "namespace_in_state",
                        json_boolean(json_is_true(json_object_get(cfg,
                                                  "namespace_in_state"))));
    json_object_set_new(out, "jwks_pairs", json_array());
    json_decref(cfg);
    return cf_req_reply_data(req, out);
}

/* Check the fields of a new config; 400 naming the field. */
static cf_err_t
cf_jwt_config_check(cf_req_t *req, const json_t *cfg)
{
    static const char *const  cas[] = { "oidc_discovery_ca_pem",
                                        "jwks_ca_pem", NULL };
    const char  *mode = cf_jwt_str(cfg, "oidc_response_mode");
    json_t      *e;
    EVP_PKEY    *k;
    size_t       i;
    int          methods = 0;

    methods += cf_jwt_has_str(cfg, "oidc_discovery_url");
    methods += cf_jwt_has_str(cfg, "jwks_url");
    methods += json_array_size(json_object_get(cfg,
                                               "jwt_validation_pubkeys")) > 0;
    if (methods != 1)
        return cf_req_fail(req, CF_ERR_INVALID, "exactly one of "
                           "'jwt_validation_pubkeys', 'jwks_url' or "
                           "'oidc_discovery_url' must be set");
    for (i = 0; cas[i] != NULL; i++) {
        if (cf_jwt_has_str(cfg, cas[i])
            && !cf_jwt_pem_certs_ok(cf_jwt_str(cfg, cas[i])))
            return cf_req_fail(req, CF_ERR_INVALID, "'%s' is not a PEM "
                               "certificate bundle", cas[i]);
    }
    json_array_foreach(json_object_get(cfg, "jwt_validation_pubkeys"), i,
                       e) {
        if ((k = cf_jwt_pem_key(json_string_value(e))) == NULL)
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'jwt_validation_pubkeys' entry %zu is not a "
                               "PEM public key or certificate", i);
        EVP_PKEY_free(k);
    }
    json_array_foreach(json_object_get(cfg, "jwt_supported_algs"), i, e) {
        if (!cf_jwt_alg_known(json_string_value(e)))
            return cf_req_fail(req, CF_ERR_INVALID,
                               "'jwt_supported_algs' entry %zu is not a "
                               "supported signing algorithm", i);
    }
    if (*mode != '\0' && strcmp(mode, "query") != 0
        && strcmp(mode, "form_post") != 0)
        return cf_req_fail(req, CF_ERR_INVALID, "'oidc_response_mode' must "
                           "be \"query\" or \"form_post\"");
    return CF_OK;
}

/* Write a new config, replacing the old one (Vault's config is whole).
 * The keys it names are fetched now: a URL that gives no key set is a
 * 400, as in Vault. */
static cf_err_t
cf_jwt_config_write(cf_req_t *req)
{
    json_t       *cfg = json_object(), *list = NULL, *cache = NULL, *v;
    const char   *s = NULL, *why = "";
    bool          has, b = false;
    size_t        i;
    cf_err_t      rc;

    if (cfg == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; cf_jwt_config_strs[i] != NULL; i++) {
        if ((rc = cf_req_param_str(req, cf_jwt_config_strs[i], &s, &has))
            != CF_OK)
            goto out;
        if (has)
            json_object_set_new(cfg, cf_jwt_config_strs[i], json_string(s));
    }
    if ((rc = cf_req_param_str(req, "oidc_client_secret", &s, &has))
        != CF_OK)
        goto out;
    if (has)
        json_object_set_new(cfg, "oidc_client_secret", json_string(s));
    for (i = 0; cf_jwt_config_lists[i] != NULL; i++) {
        if ((rc = cf_req_param_strlist(req, cf_jwt_config_lists[i], &list,
                                       &has)) != CF_OK)
            goto out;
        if (has)
            json_object_set_new(cfg, cf_jwt_config_lists[i], list);
    }
    v = json_object_get(req->body, "provider_config");
    if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "'provider_config' must be a map");
        goto out;
    }
    json_object_set_new(cfg, "provider_config",
                        json_is_object(v) ? json_deep_copy(v)
                                          : json_object());
    if ((rc = cf_req_param_bool(req, "namespace_in_state", &b, &has))
        != CF_OK)
        goto out;
    json_object_set_new(cfg, "namespace_in_state",
                        json_boolean(has ? b : true));
    if (json_array_size(json_object_get(req->body, "jwks_pairs")) > 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "'jwks_pairs' is not supported; use 'jwks_url'");
        goto out;
    }
    if ((rc = cf_jwt_config_check(req, cfg)) != CF_OK)
        goto out;
    if (json_array_size(json_object_get(cfg, "jwt_validation_pubkeys"))
        == 0) {
        rc = cf_jwt_fetch(cfg, &cache, &why);
        if (rc == CF_ERR_UNAVAILABLE || rc == CF_ERR_INVALID) {
            rc = cf_req_fail(req, CF_ERR_INVALID, "error checking %s: %s",
                             cf_jwt_has_str(cfg, "jwks_url")
                             ? "'jwks_url'" : "'oidc_discovery_url'", why);
            goto out;
        }
        if (rc != CF_OK)
            goto out;
    }
    if ((rc = cf_view_put_json(req, "config", cfg)) != CF_OK)
        goto out;
    rc = cache != NULL ? cf_view_put_json(req, "cache", cache)
                       : cf_view_delete(req, "cache");
    if (rc == CF_ERR_NOT_FOUND)
        rc = CF_OK;
    if (rc == CF_OK)
        rc = cf_req_reply_none(req);
out:
    json_decref(cache);
    json_decref(cfg);
    return rc;
}

static cf_err_t
cf_jwt_config(cf_req_t *req)
{
    return req->op == CF_OP_READ ? cf_jwt_config_read(req)
                                 : cf_jwt_config_write(req);
}

/* ---- roles ------------------------------------------------------------ */

/* A leeway: a duration, or -1 (as a number or string) for "off". */
static cf_err_t
cf_jwt_param_leeway(cf_req_t *req, const char *name, json_t *role)
{
    json_t    *v = json_object_get(req->body, name);
    int64_t    secs = 0;
    bool       has;
    cf_err_t   rc;

    if ((json_is_integer(v) && json_integer_value(v) == -1)
        || (json_is_string(v) && strcmp(json_string_value(v), "-1") == 0)) {
        json_object_set_new(role, name, json_integer(-1));
        return CF_OK;
    }
    if ((rc = cf_req_param_duration(req, name, &secs, &has)) != CF_OK)
        return rc;
    if (has)
        json_object_set_new(role, name, json_integer(secs));
    return CF_OK;
}

/* A map parameter: a JSON object, or a JSON string holding one (what the
 * vault CLI sends). *out owned; NULL when not given. */
static cf_err_t
cf_jwt_param_map(cf_req_t *req, const char *name, json_t **out)
{
    json_t        *v = json_object_get(req->body, name), *m = NULL;
    json_error_t   jerr;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return CF_OK;
    if (json_is_string(v))
        m = json_loads(json_string_value(v), 0, &jerr);
    else if (json_is_object(v))
        m = json_deep_copy(v);
    if (!json_is_object(m)) {
        json_decref(m);
        return cf_req_fail(req, CF_ERR_INVALID, "'%s' must be a map", name);
    }
    *out = m;
    return CF_OK;
}

/* bound_claims values: scalars, or lists of scalars; globs need strings. */
static cf_err_t
cf_jwt_bound_claims_check(cf_req_t *req, const json_t *bc, bool glob)
{
    const char  *k;
    json_t      *v, *e;
    size_t       i;
    bool         ok;

    json_object_foreach((json_t *) bc, k, v) {
        ok = json_is_array(v) ? json_array_size(v) > 0 : true;
        if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                ok = ok && (glob ? json_is_string(e)
                                 : cf_jwt_scalar_ok(e));
            }
        } else {
            ok = glob ? json_is_string(v) : cf_jwt_scalar_ok(v);
        }
        if (!ok)
            return cf_req_fail(req, CF_ERR_INVALID, "'bound_claims' value "
                               "of claim \"%.64s\" must be %s", k, glob
                               ? "a string or a list of strings (glob)"
                               : "a string, number, boolean or a list of "
                                 "them");
    }
    return CF_OK;
}

/* claim_mappings: claim -> metadata key, strings, each key once, and
 * never "role" (the login sets it to the role's name). */
static cf_err_t
cf_jwt_claim_mappings_check(cf_req_t *req, const json_t *cm)
{
    const char  *k, *k2;
    json_t      *v, *v2;

    json_object_foreach((json_t *) cm, k, v) {
        if (!json_is_string(v) || *json_string_value(v) == '\0')
            return cf_req_fail(req, CF_ERR_INVALID, "'claim_mappings' "
                               "values must be metadata key names");
        if (strcmp(json_string_value(v), "role") == 0)
            return cf_req_fail(req, CF_ERR_INVALID, "'claim_mappings' "
                               "cannot map to the metadata key \"role\"");
        json_object_foreach((json_t *) cm, k2, v2) {
            if (k2 != k && json_equal(v, v2))
                return cf_req_fail(req, CF_ERR_INVALID, "'claim_mappings' "
                                   "maps two claims to one metadata key");
        }
    }
    return CF_OK;
}

typedef enum { CF_JWT_F_STR, CF_JWT_F_LIST, CF_JWT_F_BOOL } cf_jwt_ftype_t;

static const struct {
    const char      *name;
    cf_jwt_ftype_t   type;
} cf_jwt_role_fields[] = {
    { "role_type", CF_JWT_F_STR },
    { "bound_audiences", CF_JWT_F_LIST },
    { "bound_subject", CF_JWT_F_STR },
    { "bound_claims_type", CF_JWT_F_STR },
    { "user_claim", CF_JWT_F_STR },
    { "user_claim_json_pointer", CF_JWT_F_BOOL },
    { "groups_claim", CF_JWT_F_STR },
    { "oidc_scopes", CF_JWT_F_LIST },
    { "allowed_redirect_uris", CF_JWT_F_LIST },
    { "verbose_oidc_logging", CF_JWT_F_BOOL },
};

#define CF_JWT_NFIELDS  (sizeof(cf_jwt_role_fields) \
                         / sizeof(cf_jwt_role_fields[0]))

/* Apply the request's role fields to role (create or update). */
static cf_err_t
cf_jwt_role_parse(cf_req_t *req, json_t *role)
{
    static const char *const  leeways[] = { "clock_skew_leeway",
        "expiration_leeway", "not_before_leeway", NULL };
    const char  *s = NULL, *type;
    json_t      *v = NULL;
    int64_t      secs = 0;
    size_t       i;
    bool         has, b = false, glob;
    cf_err_t     rc = CF_OK;

    for (i = 0; i < CF_JWT_NFIELDS && rc == CF_OK; i++) {
        const char *f = cf_jwt_role_fields[i].name;

        switch (cf_jwt_role_fields[i].type) {
        case CF_JWT_F_STR:
            if ((rc = cf_req_param_str(req, f, &s, &has)) == CF_OK && has)
                json_object_set_new(role, f, json_string(s));
            break;
        case CF_JWT_F_LIST:
            if ((rc = cf_req_param_strlist(req, f, &v, &has)) == CF_OK
                && has)
                json_object_set_new(role, f, v);
            break;
        case CF_JWT_F_BOOL:
            if ((rc = cf_req_param_bool(req, f, &b, &has)) == CF_OK && has)
                json_object_set_new(role, f, json_boolean(b));
            break;
        }
    }
    for (i = 0; leeways[i] != NULL && rc == CF_OK; i++)
        rc = cf_jwt_param_leeway(req, leeways[i], role);
    if (rc == CF_OK
        && (rc = cf_req_param_duration(req, "max_age", &secs, &has))
           == CF_OK && has)
        json_object_set_new(role, "max_age", json_integer(secs));
    if (rc == CF_OK && (rc = cf_jwt_param_map(req, "bound_claims", &v))
                       == CF_OK && v != NULL)
        json_object_set_new(role, "bound_claims", v);
    if (rc == CF_OK && (rc = cf_jwt_param_map(req, "claim_mappings", &v))
                       == CF_OK && v != NULL)
        json_object_set_new(role, "claim_mappings", v);
    if (rc != CF_OK)
        return rc;

    if (!cf_jwt_has_str(role, "role_type"))
        json_object_set_new(role, "role_type", json_string("oidc"));
    type = cf_jwt_str(role, "role_type");
    if (strcmp(type, "jwt") != 0 && strcmp(type, "oidc") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'role_type' must be \"jwt\" or \"oidc\"");
    if (!cf_jwt_has_str(role, "bound_claims_type"))
        json_object_set_new(role, "bound_claims_type",
                            json_string("string"));
    s = cf_jwt_str(role, "bound_claims_type");
    if (strcmp(s, "string") != 0 && strcmp(s, "glob") != 0)
        return cf_req_fail(req, CF_ERR_INVALID, "'bound_claims_type' must "
                           "be \"string\" or \"glob\"");
    glob = strcmp(s, "glob") == 0;
    if ((rc = cf_jwt_bound_claims_check(req, json_object_get(role,
                                        "bound_claims"), glob)) != CF_OK
        || (rc = cf_jwt_claim_mappings_check(req, json_object_get(role,
                                             "claim_mappings"))) != CF_OK)
        return rc;
    if (!cf_jwt_has_str(role, "user_claim"))
        return cf_req_fail(req, CF_ERR_INVALID, "a 'user_claim' must be "
                           "set");
    if (strcmp(type, "oidc") == 0) {
        if (json_array_size(json_object_get(role, "allowed_redirect_uris"))
            == 0)
            return cf_req_fail(req, CF_ERR_INVALID, "'allowed_redirect_uris'"
                               " must be set for an oidc role (role_type "
                               "defaults to \"oidc\"; set role_type=jwt for "
                               "JWT login)");
    } else if (json_array_size(json_object_get(role, "bound_audiences")) == 0
               && !cf_jwt_has_str(role, "bound_subject")
               && json_object_size(json_object_get(role, "bound_claims"))
                  == 0) {
        return cf_req_fail(req, CF_ERR_INVALID, "must have at least one "
                           "bound constraint (bound_audiences, "
                           "bound_subject or bound_claims) for a jwt role");
    }
    return CF_OK;
}

/* A role as Vault reads it back (without token_* fields). Owned. */
static json_t *
cf_jwt_role_describe(const json_t *role)
{
    static const char *const  ints[] = { "clock_skew_leeway",
        "expiration_leeway", "not_before_leeway", "max_age", NULL };
    json_t  *out = json_object(), *v;
    size_t   i;

    for (i = 0; i < CF_JWT_NFIELDS; i++) {
        const char *f = cf_jwt_role_fields[i].name;

        v = json_object_get(role, f);
        switch (cf_jwt_role_fields[i].type) {
        case CF_JWT_F_STR:
            json_object_set_new(out, f, json_string(cf_jwt_str(role, f)));
            break;
        case CF_JWT_F_LIST:
            json_object_set_new(out, f, v != NULL ? json_deep_copy(v)
                                                  : json_array());
            break;
        case CF_JWT_F_BOOL:
            json_object_set_new(out, f, json_boolean(json_is_true(v)));
            break;
        }
    }
    for (i = 0; ints[i] != NULL; i++)
        json_object_set_new(out, ints[i], json_integer(json_integer_value(
                                json_object_get(role, ints[i]))));
    v = json_object_get(role, "bound_claims");
    json_object_set_new(out, "bound_claims",
                        v != NULL ? json_deep_copy(v) : json_null());
    v = json_object_get(role, "claim_mappings");
    json_object_set_new(out, "claim_mappings",
                        v != NULL ? json_deep_copy(v) : json_null());
    return out;
}

static cf_err_t
cf_jwt_role(cf_req_t *req)
{
    return cf_jwt_role_crud(req, cf_jwt_role_parse, cf_jwt_role_describe);
}

/* ---- login ------------------------------------------------------------ */

/* Verify t's signature with the keys cfg names. *issuer: the issuer the
 * discovery document gave (owned copy) or NULL. */
static cf_err_t
cf_jwt_login_verify(cf_req_t *req, const json_t *cfg, const cf_jwt_t *t,
                    char **issuer, const char **why)
{
    const json_t  *algs = json_object_get(cfg, "jwt_supported_algs");
    json_t        *cache = NULL, *fresh = NULL;
    bool           fetched = false;
    cf_err_t       rc;

    *issuer = NULL;
    if (json_array_size(json_object_get(cfg, "jwt_validation_pubkeys")) > 0)
        return cf_jwt_verify_pems(t, json_object_get(cfg,
                                  "jwt_validation_pubkeys"), algs, why);
    rc = cf_view_get_json(req, "cache", &cache);
    if (rc == CF_ERR_NOT_FOUND) {
        rc = cf_jwt_fetch(cfg, &cache, why);
        fetched = true;
        if (rc == CF_OK)
            (void) cf_view_put_json(req, "cache", cache);
    }
    if (rc != CF_OK)
        goto out;
    rc = cf_jwt_verify_jwks(t, json_object_get(cache, "jwks"), algs, why);
    /* A kid we do not know: the issuer may have rotated its keys. At most
     * one refetch per CF_JWT_REFETCH_MIN_MS: logins need no token,
     * so anyone could otherwise make us fetch on every request. */
    if (rc == CF_ERR_NOT_FOUND && !fetched
        && cf_jwt_now_ms() - (int64_t) json_integer_value(
               json_object_get(cache, "fetched_ms"))
           >= CF_JWT_REFETCH_MIN_MS) {
        cf_log_debug("jwt", "unknown kid on %s: fetching the key set again",
                     req->mount->path);
        rc = cf_jwt_fetch(cfg, &fresh, why);
        fetched = true;
        if (rc != CF_OK)
            goto out;
        (void) cf_view_put_json(req, "cache", fresh);
        json_decref(cache);
        cache = fresh;
            rc = cf_jwt_verify_jwks(t, json_object_get(cache, "jwks"), algs,
                                why);
    }
    if (rc == CF_OK && json_is_string(json_object_get(cache, "issuer"))
        && (*issuer = strdup(cf_jwt_str(cache, "issuer"))) == NULL)
        rc = CF_ERR_NOMEM;
out:
    if (fetched && (rc == CF_ERR_UNAVAILABLE || rc == CF_ERR_INVALID))
        cf_log_warn("jwt", "fetching the key set for %s failed: %s",
                    req->mount->path, *why);
    json_decref(cache);
    return rc;
}

/* Whether one claim value matches one bound value. */
static bool
cf_jwt_value_match(const json_t *want, const json_t *got, bool glob)
{
    char  *w, *g;
    bool   ok;

    if (glob)
        return json_is_string(want) && json_is_string(got)
               && cf_jwt_glob(json_string_value(want),
                              json_string_value(got));
    w = cf_jwt_scalar_str(want);
    g = cf_jwt_scalar_str(got);
    ok = w != NULL && g != NULL && strcmp(w, g) == 0;
    free(w);
    free(g);
    return ok;
}

/* Every bound claim is present and one of its values matches one of the
 * claim's values (a claim or a bound value may be a list). */
static bool
cf_jwt_bound_claims_ok(const json_t *claims, const json_t *bound,
                       bool glob, const char **why)
{
    const char  *k;
    json_t      *want, *got, *w, *g;
    size_t       i, j, nw, ng;
    bool         hit;

    json_object_foreach((json_t *) bound, k, want) {
        got = cf_jwt_claim(claims, k);
        hit = false;
        nw = json_is_array(want) ? json_array_size(want) : 1;
        ng = json_is_array(got) ? json_array_size(got) : 1;
        for (i = 0; got != NULL && i < nw && !hit; i++) {
            w = json_is_array(want) ? json_array_get(want, i) : want;
            for (j = 0; j < ng && !hit; j++) {
                g = json_is_array(got) ? json_array_get(got, j) : got;
                hit = cf_jwt_value_match(w, g, glob);
            }
        }
        if (!hit) {
            *why = "a bound claim is missing or does not match";
            return false;
        }
    }
    return true;
}

/* Token metadata: "role" and the claim_mappings. *meta owned. */
static cf_err_t
cf_jwt_login_meta(const json_t *role, const char *name,
                  const json_t *claims, json_t **meta, const char **why)
{
    const char  *k;
    json_t      *v, *m;
    char        *s;

    *meta = NULL;
    if ((m = json_pack("{s:s}", "role", name)) == NULL)
        return CF_ERR_NOMEM;
    json_object_foreach(json_object_get(role, "claim_mappings"), k, v) {
        json_t *c = cf_jwt_claim(claims, k);

        if (c == NULL)
            continue;                   /* absent claims are skipped */
        if ((s = cf_jwt_scalar_str(c)) == NULL) {
            json_decref(m);
            *why = "a mapped claim is not a string, number or boolean";
            return CF_ERR_CRYPTO;
        }
        json_object_set_new(m, json_string_value(v), json_string(s));
        free(s);
    }
    *meta = m;
    return CF_OK;
}

/* groups_claim, when set, must be a list of strings (or one string). The
 * identity groups it names are not made yet: see the report in issue 4. */
static bool
cf_jwt_groups_ok(const json_t *role, const json_t *claims, const char **why)
{
    const char  *gc = cf_jwt_str(role, "groups_claim");
    json_t      *g, *e;
    size_t       i;

    if (*gc == '\0')
        return true;
    g = cf_jwt_claim(claims, gc);
    *why = "groups claim is missing or not a list of strings";
    if (json_is_string(g))
        return true;
    if (!json_is_array(g))
        return false;
    json_array_foreach(g, i, e) {
        if (!json_is_string(e))
            return false;
    }
    return true;
}

/* Check the claims of a verified token against role and cfg. */
static bool
cf_jwt_claims_ok(const json_t *cfg, const json_t *role, const json_t *c,
                 const char *disc_issuer, const char **why)
{
    int64_t          skew, exp, nbf;
    cf_jwt_times_t   lw;
    const json_t    *aud = json_object_get(role, "bound_audiences");
    const char      *iss = json_string_value(json_object_get(c, "iss"));

    skew = json_integer_value(json_object_get(role, "clock_skew_leeway"));
    exp = json_integer_value(json_object_get(role, "expiration_leeway"));
    nbf = json_integer_value(json_object_get(role, "not_before_leeway"));
    lw.skew = skew == 0 ? CF_JWT_SKEW_DEFAULT : skew < 0 ? 0 : skew;
    lw.exp = exp == 0 ? CF_JWT_EXP_DEFAULT : exp < 0 ? 0 : exp;
    lw.nbf = nbf == 0 ? CF_JWT_NBF_DEFAULT : nbf < 0 ? 0 : nbf;
    lw.require_exp = true;
    if (cf_jwt_check_times(c, time(NULL), &lw, why) != CF_OK)
        return false;
    *why = "iss does not match";
    if (disc_issuer != NULL && (iss == NULL || strcmp(iss, disc_issuer)))
        return false;
    if (cf_jwt_has_str(cfg, "bound_issuer")
        && (iss == NULL || strcmp(iss, cf_jwt_str(cfg, "bound_issuer"))))
        return false;
    *why = "aud does not match the role's bound_audiences";
    if (json_array_size(aud) > 0 ? !cf_jwt_aud_has(c, aud)
                                 : json_object_get(c, "aud") != NULL)
        return false;
    *why = "sub does not match the role's bound_subject";
    if (cf_jwt_has_str(role, "bound_subject")
        && strcmp(cf_jwt_str(c, "sub"), cf_jwt_str(role, "bound_subject")))
        return false;
    if (!cf_jwt_bound_claims_ok(c, json_object_get(role, "bound_claims"),
                                strcmp(cf_jwt_str(role, "bound_claims_type"),
                                       "glob") == 0, why))
        return false;
    return cf_jwt_groups_ok(role, c, why);
}

static cf_err_t
cf_jwt_login(cf_req_t *req)
{
    char         rname[CF_JWT_ROLE_NAME_MAX + 1];
    const char  *name = NULL, *jwt = NULL, *why = "", *uc;
    json_t      *cfg = NULL, *role = NULL, *meta = NULL, *user;
    cf_jwt_t    *t = NULL;
    char        *issuer = NULL, *alias = NULL;
    bool         has;
    cf_err_t     rc;

    if ((rc = cf_req_param_str(req, "role", &name, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "jwt", &jwt, &has)) != CF_OK)
        return rc;
    if (jwt == NULL || *jwt == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "missing jwt");
    rc = cf_view_get_json(req, "config", &cfg);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "could not load configuration");
    if (rc != CF_OK)
        return rc;
    if (name == NULL || *name == '\0')
        name = cf_jwt_str(cfg, "default_role");
    if (*name == '\0') {
        rc = cf_req_fail(req, CF_ERR_INVALID, "missing role");
        goto out;
    }
    rc = cf_jwt_role_load(req, name, rname, &role);
    if (rc == CF_ERR_NOT_FOUND) {
        rc = cf_jwt_login_failed(req, "jwt", "role not found");
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    if (strcmp(cf_jwt_str(role, "role_type"), "jwt") != 0) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "role with oidc role_type is "
                         "not allowed: the OIDC browser flow is not "
                         "supported");
        goto out;
    }
    rc = cf_jwt_parse(jwt, &t, &why);
    if (rc == CF_OK)
        rc = cf_jwt_login_verify(req, cfg, t, &issuer, &why);
    if (rc == CF_ERR_NOMEM || rc == CF_ERR_STORAGE || rc == CF_ERR_INTERNAL)
        goto out;
    if (rc != CF_OK || !cf_jwt_claims_ok(cfg, role, t->claims, issuer,
                                         &why)) {
        rc = cf_jwt_login_failed(req, "jwt", why);
        goto out;
    }
    uc = cf_jwt_str(role, "user_claim");
    user = json_is_true(json_object_get(role, "user_claim_json_pointer"))
           ? cf_jwt_claim(t->claims, uc) : json_object_get(t->claims, uc);
    if (json_is_string(user) ? *json_string_value(user) == '\0'
                             : !json_is_integer(user)) {
        rc = cf_jwt_login_failed(req, "jwt", "user claim is missing or not "
                                 "a string");
        goto out;
    }
    if ((alias = cf_jwt_scalar_str(user)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    rc = cf_jwt_login_meta(role, rname, t->claims, &meta, &why);
    if (rc == CF_ERR_CRYPTO)
        rc = cf_jwt_login_failed(req, "jwt", why);
    if (rc == CF_OK)
        rc = cf_jwt_role_issue(req, role, alias, meta, alias);
out:
    free(alias);
    free(issuer);
    cf_jwt_free(t);
    json_decref(meta);
    json_decref(role);
    json_decref(cfg);
    return rc;
}

/* oidc/auth_url and oidc/callback: the browser flow is not supported. */
static cf_err_t
cf_jwt_oidc(cf_req_t *req)
{
    return cf_req_fail(req, CF_ERR_INVALID, "the OIDC browser flow is not "
                       "supported; log in with a JWT at login");
}

static const cf_path_t  cf_jwt_paths[] = {
    { "config",         CF_OP_READ | CF_OP_WRITE,    cf_jwt_config },
    { "role",           CF_OP_LIST,                  cf_jwt_role_list },
    { "role/",          CF_OP_LIST,                  cf_jwt_role_list },
    { "role/+",         CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE,
                                                     cf_jwt_role },
    { "login",          CF_OP_WRITE,                 cf_jwt_login },
    { "oidc/auth_url",  CF_OP_WRITE,                 cf_jwt_oidc },
    { "oidc/callback",  CF_OP_READ | CF_OP_WRITE,    cf_jwt_oidc },
    CF_PATH_END
};

static const char *const  cf_jwt_unauth[] = {
    "login", "oidc/auth_url", "oidc/callback", NULL
};

const cf_engine_t  cf_jwt_engine = {
    .name = "jwt", .paths = cf_jwt_paths, .is_auth = true,
    .unauthenticated = cf_jwt_unauth,
};
