/*
 * kubernetes: the Kubernetes auth method (Vault's auth/kubernetes).
 * config says how to check a service-account JWT: locally against
 * pem_keys, or by the cluster's TokenReview API at kubernetes_host (over
 * HTTPS with kubernetes_ca_cert, authenticated with token_reviewer_jwt or
 * else the caller's own JWT). role/<name> binds service account names and
 * namespaces (Vault's globs, "*" for any) to token_* settings; login
 * issues an orphan token whose metadata names the service account.
 *
 * View layout:
 *   config        the config (token_reviewer_jwt is kept, never read back)
 *   role/<name>   a role (names lowercased)
 *
 * When Coffer runs in a pod and disable_local_ca_jwt is false, the pod's
 * CA certificate and service-account token stand in for an unset
 * kubernetes_ca_cert and token_reviewer_jwt, as in Vault; they are read
 * at each login, so a rotated token is picked up.
 */
#include "coffer/kubernetes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/log.h"
#include "jwt_verify.h"

#define CF_KUBERNETES_FILE_MAX     (64 * 1024)
#define CF_KUBERNETES_SKEW         60      /* seconds of clock skew allowed */
#define CF_KUBERNETES_ISSUER       "kubernetes/serviceaccount"
#define CF_KUBERNETES_SA_PREFIX    "system:serviceaccount:"
#define CF_KUBERNETES_LOCAL_DIR \
    "/var/run/secrets/kubernetes.io/serviceaccount/"
#define CF_KUBERNETES_REVIEW_PATH \
    "/apis/authentication.k8s.io/v1/tokenreviews"

static const char *
cf_kubernetes_str(const json_t *o, const char *k)
{
    const char  *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* ---- config ----------------------------------------------------------- */

static cf_err_t
cf_kubernetes_config_read(cf_req_t *req)
{
    json_t    *cfg = NULL, *out, *keys;
    cf_err_t   rc;

    rc = cf_view_get_json(req, "config", &cfg);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_reply_data(req, NULL);
    if (rc != CF_OK)
        return rc;
    keys = json_object_get(cfg, "pem_keys");
    out = json_pack("{s:s, s:s, s:o, s:s, s:b, s:b, s:b}",
                    "kubernetes_host",
                    cf_kubernetes_str(cfg, "kubernetes_host"),
                    "kubernetes_ca_cert",
                    cf_kubernetes_str(cfg, "kubernetes_ca_cert"),
                    "pem_keys", keys != NULL ? json_deep_copy(keys)
                                             : json_array(),
                    "issuer", cf_kubernetes_str(cfg, "issuer"),
                    "disable_iss_validation",
                    json_is_true(json_object_get(cfg,
                                                 "disable_iss_validation")),
                    "disable_local_ca_jwt",
                    json_is_true(json_object_get(cfg,
                                                 "disable_local_ca_jwt")),
                    "token_reviewer_jwt_set",
                    *cf_kubernetes_str(cfg, "token_reviewer_jwt") != '\0');
    json_decref(cfg);
    return out != NULL ? cf_req_reply_data(req, out) : CF_ERR_NOMEM;
}

/* Write a new config, replacing the old one (as Vault does). */
static cf_err_t
cf_kubernetes_config_write(cf_req_t *req)
{
    static const char *const  strs[] = { "kubernetes_host",
        "kubernetes_ca_cert", "token_reviewer_jwt", "issuer", NULL };
    json_t      *cfg = json_object(), *keys = NULL, *e;
    const char  *s = NULL, *why = "";
    cf_jwt_t    *t = NULL;
    EVP_PKEY    *k;
    size_t       i;
    bool         has, b = false;
    cf_err_t     rc = CF_OK;

    if (cfg == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; strs[i] != NULL && rc == CF_OK; i++) {
        rc = cf_req_param_str(req, strs[i], &s, &has);
        json_object_set_new(cfg, strs[i], json_string(has ? s : ""));
    }
    if (rc != CF_OK
        || (rc = cf_req_param_strlist(req, "pem_keys", &keys, &has))
           != CF_OK)
        goto out;
    json_object_set_new(cfg, "pem_keys", keys != NULL ? keys : json_array());
    if ((rc = cf_req_param_bool(req, "disable_local_ca_jwt", &b, &has))
        != CF_OK)
        goto out;
    json_object_set_new(cfg, "disable_local_ca_jwt",
                        json_boolean(has && b));
    if ((rc = cf_req_param_bool(req, "disable_iss_validation", &b, &has))
        != CF_OK)
        goto out;
    json_object_set_new(cfg, "disable_iss_validation",
                        json_boolean(has ? b : true));

    if (*cf_kubernetes_str(cfg, "kubernetes_host") == '\0') {
        rc = cf_req_fail(req, CF_ERR_INVALID, "no host provided: "
                         "'kubernetes_host' is required");
        goto out;
    }
    s = cf_kubernetes_str(cfg, "kubernetes_ca_cert");
    if (*s != '\0' && !cf_jwt_pem_certs_ok(s)) {
        rc = cf_req_fail(req, CF_ERR_INVALID, "'kubernetes_ca_cert' is not "
                         "a PEM certificate bundle");
        goto out;
    }
    json_array_foreach(json_object_get(cfg, "pem_keys"), i, e) {
        if ((k = cf_jwt_pem_key(json_string_value(e))) == NULL) {
            rc = cf_req_fail(req, CF_ERR_INVALID, "'pem_keys' entry %zu is "
                             "not a PEM public key or certificate", i);
            goto out;
        }
        EVP_PKEY_free(k);
    }
    s = cf_kubernetes_str(cfg, "token_reviewer_jwt");
    if (*s != '\0' && cf_jwt_parse(s, &t, &why) != CF_OK) {
        rc = cf_req_fail(req, CF_ERR_INVALID,
                         "'token_reviewer_jwt' is not a JWT");
        goto out;
    }
    if ((rc = cf_view_put_json(req, "config", cfg)) == CF_OK)
        rc = cf_req_reply_none(req);
out:
    cf_jwt_free(t);
    json_decref(cfg);
    return rc;
}

static cf_err_t
cf_kubernetes_config(cf_req_t *req)
{
    return req->op == CF_OP_READ ? cf_kubernetes_config_read(req)
                                 : cf_kubernetes_config_write(req);
}

/* ---- roles ------------------------------------------------------------ */

/* Whether list (array of strings) is exactly ["*"]. */
static bool
cf_kubernetes_is_any(const json_t *list)
{
    return json_array_size(list) == 1
           && strcmp(json_string_value(json_array_get(list, 0)), "*") == 0;
}

/* Apply the request's role fields to role (create or update). */
static cf_err_t
cf_kubernetes_role_parse(cf_req_t *req, json_t *role)
{
    static const char *const  lists[] = { "bound_service_account_names",
        "bound_service_account_namespaces", NULL };
    const char  *s = NULL;
    json_t      *v = NULL;
    size_t       i;
    bool         has;
    cf_err_t     rc;

    for (i = 0; lists[i] != NULL; i++) {
        if ((rc = cf_req_param_strlist(req, lists[i], &v, &has)) != CF_OK)
            return rc;
        if (has)
            json_object_set_new(role, lists[i], v);
        if (json_array_size(json_object_get(role, lists[i])) == 0)
            return cf_req_fail(req, CF_ERR_INVALID, "'%s' must be set",
                               lists[i]);
    }
    if (cf_kubernetes_is_any(json_object_get(role, lists[0]))
        && cf_kubernetes_is_any(json_object_get(role, lists[1])))
        return cf_req_fail(req, CF_ERR_INVALID, "'%s' and '%s' can not "
                           "both be \"*\"", lists[0], lists[1]);
    if ((rc = cf_req_param_str(req, "audience", &s, &has)) != CF_OK)
        return rc;
    if (has)
        json_object_set_new(role, "audience", json_string(s));
    if ((rc = cf_req_param_str(req, "alias_name_source", &s, &has))
        != CF_OK)
        return rc;
    if (has && *s != '\0')
        json_object_set_new(role, "alias_name_source", json_string(s));
    s = cf_kubernetes_str(role, "alias_name_source");
    if (*s == '\0')
        json_object_set_new(role, "alias_name_source",
                            json_string("serviceaccount_uid"));
    else if (strcmp(s, "serviceaccount_uid") != 0
             && strcmp(s, "serviceaccount_name") != 0)
        return cf_req_fail(req, CF_ERR_INVALID, "'alias_name_source' must "
                           "be \"serviceaccount_uid\" or "
                           "\"serviceaccount_name\"");
    return CF_OK;
}

/* A role as Vault reads it back (without token_* fields). Owned. */
static json_t *
cf_kubernetes_role_describe(const json_t *role)
{
    return json_pack("{s:O, s:O, s:s, s:s}", "bound_service_account_names",
                     json_object_get(role, "bound_service_account_names"),
                     "bound_service_account_namespaces",
                     json_object_get(role,
                                     "bound_service_account_namespaces"),
                     "audience", cf_kubernetes_str(role, "audience"),
                     "alias_name_source",
                     cf_kubernetes_str(role, "alias_name_source"));
}

static cf_err_t
cf_kubernetes_role(cf_req_t *req)
{
    return cf_jwt_role_crud(req, cf_kubernetes_role_parse,
                            cf_kubernetes_role_describe);
}

/* ---- login ------------------------------------------------------------ */

/* The service account a login is for. Strings owned. */
typedef struct {
    char  *ns;
    char  *name;
    char  *uid;
    char  *secret;
} cf_kubernetes_sa_t;

static void
cf_kubernetes_sa_cleanup(cf_kubernetes_sa_t *sa)
{
    free(sa->ns);
    free(sa->name);
    free(sa->uid);
    free(sa->secret);
    memset(sa, 0, sizeof(*sa));
}

static char *
cf_kubernetes_dup(const json_t *v)
{
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

/* The service account a token's claims name: the legacy
 * "kubernetes.io/serviceaccount/..." claims of secret-based tokens, or
 * the nested "kubernetes.io" claim of projected (bound) tokens. */
static cf_err_t
cf_kubernetes_sa_from_claims(const json_t *c, cf_kubernetes_sa_t *sa)
{
    const json_t  *k = json_object_get(c, "kubernetes.io");
    const json_t  *acct = json_object_get(k, "serviceaccount");

    memset(sa, 0, sizeof(*sa));
    if (json_is_object(k)) {
        sa->ns = cf_kubernetes_dup(json_object_get(k, "namespace"));
        sa->name = cf_kubernetes_dup(json_object_get(acct, "name"));
        sa->uid = cf_kubernetes_dup(json_object_get(acct, "uid"));
        sa->secret = cf_kubernetes_dup(json_object_get(json_object_get(k,
                                                "secret"), "name"));
    } else {
        sa->ns = cf_kubernetes_dup(json_object_get(c,
                            "kubernetes.io/serviceaccount/namespace"));
        sa->name = cf_kubernetes_dup(json_object_get(c,
                   "kubernetes.io/serviceaccount/service-account.name"));
        sa->uid = cf_kubernetes_dup(json_object_get(c,
                  "kubernetes.io/serviceaccount/service-account.uid"));
        sa->secret = cf_kubernetes_dup(json_object_get(c,
                     "kubernetes.io/serviceaccount/secret.name"));
    }
    if (sa->ns == NULL || sa->name == NULL || sa->uid == NULL
        || sa->secret == NULL) {
        cf_kubernetes_sa_cleanup(sa);
        return CF_ERR_NOMEM;
    }
    return CF_OK;
}

/* A small local file (the pod's CA or token), or NULL. Owned; free with
 * cf_mem_free_str. */
static char *
cf_kubernetes_read_file(const char *path)
{
    FILE    *f = fopen(path, "rb");
    char    *s;
    size_t   n;

    if (f == NULL)
        return NULL;
    if ((s = calloc(1, CF_KUBERNETES_FILE_MAX + 1)) != NULL) {
        n = fread(s, 1, CF_KUBERNETES_FILE_MAX, f);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'
                         || s[n - 1] == ' '))
            s[--n] = '\0';
        if (n == 0 || !feof(f)) {
            cf_mem_free_str(s);
            s = NULL;
        }
    }
    fclose(f);
    return s;
}

/* Check the token locally against pem_keys. */
static bool
cf_kubernetes_local(const json_t *cfg, const json_t *role, const cf_jwt_t *t,
             const char **why)
{
    cf_jwt_times_t  lw = { CF_KUBERNETES_SKEW, 0, 0, false };
    const char     *iss = cf_kubernetes_str(cfg, "issuer");
    const char     *aud = cf_kubernetes_str(role, "audience");
    json_t         *bound;
    bool            ok;

    if (cf_jwt_verify_pems(t, json_object_get(cfg, "pem_keys"), NULL, why)
        != CF_OK
        || cf_jwt_check_times(t->claims, time(NULL), &lw, why) != CF_OK)
        return false;
    if (!json_is_true(json_object_get(cfg, "disable_iss_validation"))
        && strcmp(cf_kubernetes_str(t->claims, "iss"),
                  *iss != '\0' ? iss : CF_KUBERNETES_ISSUER) != 0) {
        *why = "iss does not match the configured issuer";
        return false;
    }
    if (*aud == '\0')
        return true;
    bound = json_pack("[s]", aud);
    ok = bound != NULL && cf_jwt_aud_has(t->claims, bound);
    json_decref(bound);
    *why = "aud does not hold the role's audience";
    return ok;
}

/* Ask the cluster's TokenReview API about jwt; on success sa holds the
 * account it names (secret name from the token's own claims, which must
 * name the same account if they name one). */
static bool
cf_kubernetes_review(cf_req_t *req, const json_t *cfg, const json_t *role,
              const char *jwt, const cf_jwt_t *t, cf_kubernetes_sa_t *sa,
              const char **why)
{
    const char     *aud = cf_kubernetes_str(role, "audience");
    const char     *host = cf_kubernetes_str(cfg, "kubernetes_host");
    const char     *user, *colon;
    const json_t   *st;
    cf_jwt_http_t   r = { NULL, NULL, NULL, NULL };
    cf_kubernetes_sa_t     claimed;
    json_t         *body = NULL, *resp = NULL;
    char           *url = NULL, *text = NULL, *local_ca = NULL;
    char           *local_jwt = NULL;
    bool            local, ok = false;
    long            status = 0;
    size_t          n = strlen(host);

    memset(sa, 0, sizeof(*sa));
    if (cf_kubernetes_sa_from_claims(t->claims, &claimed) != CF_OK)
        return false;
    while (n > 0 && host[n - 1] == '/')
        n--;
    local = !json_is_true(json_object_get(cfg, "disable_local_ca_jwt"));
    r.ca_pem = cf_kubernetes_str(cfg, "kubernetes_ca_cert");
    if (*r.ca_pem == '\0')
        r.ca_pem = local ? (local_ca = cf_kubernetes_read_file(
                                   CF_KUBERNETES_LOCAL_DIR "ca.crt"))
                         : NULL;
    r.bearer = cf_kubernetes_str(cfg, "token_reviewer_jwt");
    if (*r.bearer == '\0' && local)
        r.bearer = local_jwt = cf_kubernetes_read_file(
                                   CF_KUBERNETES_LOCAL_DIR "token");
    if (r.bearer == NULL || *r.bearer == '\0')
        r.bearer = jwt;                 /* the caller reviews itself */
    body = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion",
                     "authentication.k8s.io/v1", "kind", "TokenReview",
                     "spec", "token", jwt);
    if (body != NULL && *aud != '\0')
        json_object_set_new(json_object_get(body, "spec"), "audiences",
                            json_pack("[s]", aud));
    if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL
        || asprintf(&url, "%s%.*s" CF_KUBERNETES_REVIEW_PATH,
                    strstr(host, "://") != NULL ? "" : "https://", (int) n,
                    host) < 0) {
        url = NULL;
        *why = "out of memory";
        goto out;
    }
    r.url = url;
    r.body = text;
    if (cf_jwt_http(&r, &status, &resp, why) != CF_OK) {
        cf_log_warn("kubernetes", "TokenReview for %s failed: %s",
                    req->mount->path, *why);
        goto out;
    }
    st = json_object_get(resp, "status");
    user = json_string_value(json_object_get(json_object_get(st, "user"),
                                             "username"));
    if (status == 401 || status == 403) {
        *why = "TokenReview refused the reviewer (401/403)";
        goto out;
    }
    if ((status != 200 && status != 201) || !json_is_object(st)) {
        *why = "TokenReview answered with an unexpected status";
        goto out;
    }
    if (!json_is_true(json_object_get(st, "authenticated"))) {
        *why = "TokenReview: token not authenticated";
        goto out;
    }
    if (user == NULL || strncmp(user, CF_KUBERNETES_SA_PREFIX,
                                strlen(CF_KUBERNETES_SA_PREFIX)) != 0
        || (colon = strchr(user + strlen(CF_KUBERNETES_SA_PREFIX), ':'))
           == NULL) {
        *why = "TokenReview: user is not a service account";
        goto out;
    }
    if (*aud != '\0') {
        json_t *bound = json_pack("[s]", aud);
        json_t *wrap = json_pack("{s:O}", "aud",
                                 json_object_get(st, "audiences"));

        ok = bound != NULL && wrap != NULL && cf_jwt_aud_has(wrap, bound);
        json_decref(bound);
        json_decref(wrap);
        if (!ok) {
            *why = "TokenReview: audiences lack the role's audience";
            goto out;
        }
        ok = false;
    }
    user += strlen(CF_KUBERNETES_SA_PREFIX);
    sa->ns = strndup(user, (size_t) (colon - user));
    sa->name = strdup(colon + 1);
    sa->uid = cf_kubernetes_dup(json_object_get(json_object_get(st, "user"),
                                         "uid"));
    sa->secret = strdup(claimed.secret);
    if (sa->ns == NULL || sa->name == NULL || sa->uid == NULL
        || sa->secret == NULL) {
        *why = "out of memory";
        goto out;
    }
    if ((*claimed.ns != '\0' && strcmp(claimed.ns, sa->ns) != 0)
        || (*claimed.name != '\0' && strcmp(claimed.name, sa->name) != 0)) {
        *why = "the JWT's service account differs from TokenReview's";
        goto out;
    }
    ok = true;
out:
    if (!ok)
        cf_kubernetes_sa_cleanup(sa);
    cf_kubernetes_sa_cleanup(&claimed);
    cf_mem_free(text);          /* jansson's zeroing allocator: JWT */
    cf_mem_free_str(local_ca);
    cf_mem_free_str(local_jwt);
    free(url);
    json_decref(body);
    json_decref(resp);
    return ok;
}

/* Whether s matches one of the globs in list. */
static bool
cf_kubernetes_bound(const json_t *list, const char *s)
{
    json_t  *e;
    size_t   i;

    json_array_foreach(list, i, e) {
        if (cf_jwt_glob(json_string_value(e), s))
            return true;
    }
    return false;
}

/* Issue the login token for sa. Its entity alias is the account's uid,
 * or "<namespace>/<name>" when the role's alias_name_source says so. */
static cf_err_t
cf_kubernetes_issue(cf_req_t *req, const json_t *role, const char *rname,
                    const cf_kubernetes_sa_t *sa)
{
    json_t     *meta;
    char       *who = NULL, *alias = NULL;
    bool        by_name;
    cf_err_t    rc = CF_ERR_NOMEM;

    by_name = strcmp(cf_kubernetes_str(role, "alias_name_source"),
                     "serviceaccount_name") == 0;
    meta = json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", rname,
                     "service_account_name", sa->name,
                     "service_account_namespace", sa->ns,
                     "service_account_uid", sa->uid,
                     "service_account_secret_name", sa->secret);
    if (asprintf(&who, "%s-%s", sa->ns, sa->name) < 0)
        who = NULL;
    if (asprintf(&alias, "%s/%s", sa->ns, sa->name) < 0)
        alias = NULL;
    if (who != NULL && alias != NULL)
        rc = cf_jwt_role_issue(req, role, who, meta,
                               by_name ? alias : sa->uid);
    free(who);
    free(alias);
    json_decref(meta);
    return rc;
}

static cf_err_t
cf_kubernetes_login(cf_req_t *req)
{
    char                 rname[CF_JWT_ROLE_NAME_MAX + 1];
    const char          *name = NULL, *jwt = NULL, *why = "";
    json_t              *cfg = NULL, *role = NULL;
    cf_jwt_t            *t = NULL;
    cf_kubernetes_sa_t   sa = { NULL, NULL, NULL, NULL };
    bool                 has, ok;
    cf_err_t             rc;

    if ((rc = cf_req_param_str(req, "role", &name, &has)) != CF_OK
        || (rc = cf_req_param_str(req, "jwt", &jwt, &has)) != CF_OK)
        return rc;
    if (name == NULL || *name == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "missing role");
    if (jwt == NULL || *jwt == '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "missing jwt");
    rc = cf_view_get_json(req, "config", &cfg);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "could not load backend configuration");
    if (rc != CF_OK)
        return rc;
    rc = cf_jwt_role_load(req, name, rname, &role);
    if (rc == CF_ERR_NOT_FOUND) {
        rc = cf_jwt_login_failed(req, "kubernetes", "role not found");
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    if ((rc = cf_jwt_parse(jwt, &t, &why)) != CF_OK) {
        rc = rc == CF_ERR_NOMEM ? rc
                                : cf_jwt_login_failed(req, "kubernetes", why);
        goto out;
    }
    if (json_array_size(json_object_get(cfg, "pem_keys")) > 0)
        ok = cf_kubernetes_local(cfg, role, t, &why)
             && cf_kubernetes_sa_from_claims(t->claims, &sa) == CF_OK;
    else
        ok = cf_kubernetes_review(req, cfg, role, jwt, t, &sa, &why);
    if (ok && (*sa.ns == '\0' || *sa.name == '\0')) {
        why = "token names no service account";
        ok = false;
    }
    if (ok && !cf_kubernetes_bound(json_object_get(role,
                                   "bound_service_account_names"),
                                   sa.name)) {
        why = "service account name is not bound to the role";
        ok = false;
    }
    if (ok && !cf_kubernetes_bound(json_object_get(role,
                                   "bound_service_account_namespaces"),
                                   sa.ns)) {
        why = "service account namespace is not bound to the role";
        ok = false;
    }
    if (ok && *sa.uid == '\0' && strcmp(cf_kubernetes_str(role,
                                        "alias_name_source"),
                                        "serviceaccount_uid") == 0) {
        why = "no service account uid for the alias name";
        ok = false;
    }
    rc = ok ? cf_kubernetes_issue(req, role, rname, &sa)
            : cf_jwt_login_failed(req, "kubernetes", why);
out:
    cf_kubernetes_sa_cleanup(&sa);
    cf_jwt_free(t);
    json_decref(role);
    json_decref(cfg);
    return rc;
}

static const cf_path_t  cf_kubernetes_paths[] = {
    { "config",   CF_OP_READ | CF_OP_WRITE,    cf_kubernetes_config },
    { "role",     CF_OP_LIST,                  cf_jwt_role_list },
    { "role/",    CF_OP_LIST,                  cf_jwt_role_list },
    { "role/+",   CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE,
                                               cf_kubernetes_role },
    { "login",    CF_OP_WRITE,                 cf_kubernetes_login },
    CF_PATH_END
};

static const char *const  cf_kubernetes_unauth[] = { "login", NULL };

const cf_engine_t  cf_kubernetes_engine = {
    .name = "kubernetes", .paths = cf_kubernetes_paths, .is_auth = true,
    .unauthenticated = cf_kubernetes_unauth,
};
