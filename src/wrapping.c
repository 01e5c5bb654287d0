/*
 * wrapping: Vault's response wrapping. A request sent with
 * X-Vault-Wrap-TTL gets, instead of its response, a single-use wrapping
 * token whose cubbyhole ("response") holds that response; sys/wrapping/
 * wrap wraps the request's own data; unwrap hands the response back once
 * and revokes the token; lookup and rewrap work on the token.
 *
 * A wrapping token has only the built-in "response-wrapping" policy and
 * the wrap TTL. Single use: the response is taken (read + delete) under
 * srv->wrap_mu, so of two racing unwraps exactly one gets it.
 */
#include "coffer/wrapping.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/config.h"
#include "coffer/cubbyhole.h"
#include "coffer/log.h"
#include "coffer/policy.h"
#include "coffer/server.h"
#include "coffer/token.h"

#define CF_WRAP_KEY       "response"
#define CF_WRAP_MAX_TTL   (30L * 24 * 3600)   /* Vault caps wrap TTLs too */

static bool
cf_wrap_is_wrapping_token(const json_t *entry)
{
    const json_t  *pol = json_object_get(entry, "policies");

    return json_array_size(pol) == 1
           && strcmp(json_string_value(json_array_get(pol, 0)),
                     CF_POLICY_RESPONSE_WRAPPING) == 0;
}

/* Make a wrapping token holding `stored` and return its wrap_info. */
static cf_err_t
cf_wrap_store(cf_req_t *req, int64_t ttl, const char *creation_path,
              const json_t *stored, const char *wrapped_accessor,
              json_t **wrap_info)
{
    cf_token_params_t  p = { 0 };
    json_t            *entry = NULL;
    char              *token = NULL, *th = NULL, when[40];
    struct timespec    ts = { 0, 0 };
    cf_err_t           rc;

    *wrap_info = NULL;
    if ((p.policies = json_pack("[s]", CF_POLICY_RESPONSE_WRAPPING))
        == NULL)
        return CF_ERR_NOMEM;
    p.ttl = ttl;
    p.path = creation_path;
    p.display_name = "response-wrapping";
    rc = cf_token_create(req->srv, &p, &token, &th, &entry);
    json_decref(p.policies);
    if (rc != CF_OK)
        return rc;
    if ((rc = cf_cubbyhole_put_json(req->srv, th, CF_WRAP_KEY, stored))
        != CF_OK) {
        (void) cf_token_revoke(req->srv, th, true);
        goto out;
    }
    ts.tv_sec = (time_t) json_integer_value(json_object_get(entry,
                                                        "creation_time"));
    cf_time_rfc3339(&ts, when);
    *wrap_info = json_pack("{s:s, s:O, s:I, s:s, s:s}", "token", token,
                           "accessor", json_object_get(entry, "accessor"),
                           "ttl", (json_int_t) ttl, "creation_time", when,
                           "creation_path", creation_path);
    if (*wrap_info == NULL)
        rc = CF_ERR_NOMEM;
    else if (wrapped_accessor != NULL)
        json_object_set_new(*wrap_info, "wrapped_accessor",
                            json_string(wrapped_accessor));
out:
    cf_mem_free_str(token);
    free(th);
    json_decref(entry);
    return rc;
}

cf_err_t
cf_wrap_parse_ttl(cf_req_t *req, const char *header)
{
    long  secs;

    if (header == NULL || *header == '\0')
        return CF_OK;
    if (cf_config_parse_duration(header, &secs) != CF_OK || secs <= 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "invalid wrap TTL in X-Vault-Wrap-TTL");
    if (secs > CF_WRAP_MAX_TTL)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "wrap TTL is longer than the maximum (720h)");
    req->wrap_ttl = secs;
    return CF_OK;
}

cf_err_t
cf_wrap_response(cf_req_t *req)
{
    json_t      *stored, *info = NULL, *env;
    const char  *acc = NULL;
    cf_err_t     rc;

    if (req->resp == NULL || req->errors != NULL || req->raw != NULL)
        return CF_OK;                   /* nothing to wrap */
    stored = req->resp;
    acc = json_string_value(json_object_get(json_object_get(stored, "auth"),
                                            "accessor"));
    rc = cf_wrap_store(req, req->wrap_ttl, req->path, stored, acc, &info);
    if (rc != CF_OK)
        return cf_req_fail(req, rc, "could not wrap the response");
    env = json_pack("{s:s, s:s, s:b, s:i, s:n, s:o, s:n, s:n}",
                    "request_id", req->request_id, "lease_id", "",
                    "renewable", 0, "lease_duration", 0, "data",
                    "wrap_info", info, "warnings", "auth");
    if (env == NULL)
        return CF_ERR_NOMEM;
    json_decref(req->resp);
    req->resp = env;
    req->status = 200;
    return CF_OK;
}

/* ---- the sys/wrapping routes ---------------------------------------- */

cf_err_t
cf_sys_wrapping_wrap(cf_req_t *req)
{
    if (req->wrap_ttl <= 0)
        return cf_req_fail(req, CF_ERR_INVALID, "must specify wrapping "
                           "information (X-Vault-Wrap-TTL)");
    if (json_object_size(req->body) == 0)
        return cf_req_fail(req, CF_ERR_INVALID, "no data to wrap");
    /* The pipeline wraps this reply on the way out. */
    return cf_req_reply_data(req, json_deep_copy(req->body));
}

/* The id HMAC of the wrapping token the request names: its "token"
 * parameter, else the request's own token. */
static cf_err_t
cf_wrap_target(cf_req_t *req, char **th, json_t **entry)
{
    const char  *tok = NULL;
    bool         has;
    cf_err_t     rc;

    *th = NULL;
    *entry = NULL;
    if ((rc = cf_req_param_str(req, "token", &tok, &has)) != CF_OK)
        return rc;
    if (tok != NULL && *tok != '\0')
        rc = cf_token_hmac_of(req->srv, tok, th);
    else if (req->token != NULL)
        rc = (*th = strdup(req->token->id_hmac)) ? CF_OK : CF_ERR_NOMEM;
    else
        rc = CF_ERR_NOT_FOUND;
    if (rc == CF_OK)
        rc = cf_token_load(req->srv, *th, entry);
    if (rc == CF_OK) {
        json_int_t exp = json_integer_value(json_object_get(*entry,
                                                            "expire_time"));

        if (!cf_wrap_is_wrapping_token(*entry)
            || (exp > 0 && time(NULL) >= exp))
            rc = CF_ERR_NOT_FOUND;
    }
    if (rc == CF_ERR_NOT_FOUND) {
        free(*th);
        *th = NULL;
        json_decref(*entry);
        *entry = NULL;
        return cf_req_fail(req, CF_ERR_INVALID,
                           "wrapping token is not valid or does not exist");
    }
    return rc;
}

cf_err_t
cf_sys_wrapping_unwrap(cf_req_t *req)
{
    char      *th = NULL;
    json_t    *entry = NULL, *stored = NULL;
    cf_err_t   rc;

    if ((rc = cf_wrap_target(req, &th, &entry)) != CF_OK)
        return rc;
    pthread_mutex_lock(&req->srv->wrap_mu);
    rc = cf_cubbyhole_take_json(req->srv, th, CF_WRAP_KEY, &stored);
    pthread_mutex_unlock(&req->srv->wrap_mu);
    (void) cf_token_revoke(req->srv, th, true);     /* single use */
    free(th);
    json_decref(entry);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "wrapping token is not valid or does not exist");
    if (rc != CF_OK)
        return rc;
    /* The original response, under a fresh request id. */
    json_object_set_new(stored, "request_id",
                        json_string(req->request_id));
    json_decref(req->resp);
    req->resp = stored;
    req->status = 200;
    return CF_OK;
}

cf_err_t
cf_sys_wrapping_lookup(cf_req_t *req)
{
    char              *th = NULL, when[40];
    json_t            *entry = NULL;
    struct timespec    ts = { 0, 0 };
    json_int_t         ttl;
    cf_err_t           rc;

    if ((rc = cf_wrap_target(req, &th, &entry)) != CF_OK)
        return rc;
    free(th);
    ts.tv_sec = (time_t) json_integer_value(json_object_get(entry,
                                                        "creation_time"));
    cf_time_rfc3339(&ts, when);
    ttl = json_integer_value(json_object_get(entry, "ttl"));
    rc = cf_req_reply_data(req, json_pack("{s:O, s:s, s:I}",
                           "creation_path", json_object_get(entry, "path"),
                           "creation_time", when, "creation_ttl", ttl));
    json_decref(entry);
    return rc;
}

cf_err_t
cf_sys_wrapping_rewrap(cf_req_t *req)
{
    char      *th = NULL;
    json_t    *entry = NULL, *stored = NULL, *info = NULL;
    int64_t    ttl;
    cf_err_t   rc;

    if ((rc = cf_wrap_target(req, &th, &entry)) != CF_OK)
        return rc;
    pthread_mutex_lock(&req->srv->wrap_mu);
    rc = cf_cubbyhole_take_json(req->srv, th, CF_WRAP_KEY, &stored);
    pthread_mutex_unlock(&req->srv->wrap_mu);
    if (rc == CF_OK) {
        ttl = json_integer_value(json_object_get(entry, "ttl"));
        rc = cf_wrap_store(req, ttl, json_string_value(json_object_get(
                           entry, "path")), stored, NULL, &info);
    }
    (void) cf_token_revoke(req->srv, th, true);
    free(th);
    json_decref(entry);
    json_decref(stored);
    if (rc == CF_ERR_NOT_FOUND)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "wrapping token is not valid or does not exist");
    if (rc != CF_OK)
        return rc;
    rc = cf_req_reply_data(req, NULL);
    if (rc == CF_OK)
        json_object_set_new(req->resp, "wrap_info", info);
    else
        json_decref(info);
    return rc;
}
