/*
 * token: root token creation and token lookup by HMAC. The full token
 * store (create/renew/revoke, child trees) builds on this.
 */
#include "coffer/token.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coffer/barrier.h"
#include "coffer/engine.h"
#include "coffer/hsm.h"
#include "coffer/log.h"

#define CF_TOKEN_RAND_CHARS  32     /* ~190 bits of base62 */
#define CF_TOKEN_MAX_LEN     512

static const char  cf_token_b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* prefix + n base62 chars from the HSM's random, rejection-sampled so
 * every character is uniform. *out malloc'd. */
static cf_err_t
cf_token_random_string(cf_server_t *srv, const char *prefix, size_t n,
                       char **out)
{
    unsigned char  rnd[64];
    size_t         pl = strlen(prefix), got = 0, i;
    char          *s;
    cf_err_t       rc = CF_OK;

    *out = NULL;
    if ((s = malloc(pl + n + 1)) == NULL)
        return CF_ERR_NOMEM;
    memcpy(s, prefix, pl);
    while (got < n) {
        if ((rc = cf_hsm_random(srv->hsm, rnd, sizeof(rnd))) != CF_OK)
            break;
        for (i = 0; i < sizeof(rnd) && got < n; i++) {
            if (rnd[i] < 248)               /* 248 = 4 * 62 */
                s[pl + got++] = cf_token_b62[rnd[i] % 62];
        }
    }
    OPENSSL_cleanse(rnd, sizeof(rnd));
    if (rc != CF_OK) {
        cf_mem_free_str(s);
        return rc;
    }
    s[pl + n] = '\0';
    *out = s;
    return CF_OK;
}

/* Hex HMAC of a token or accessor under the token HMAC key. */
static cf_err_t
cf_token_hmac_hex(cf_server_t *srv, const char *token, char **out)
{
    unsigned char  mac[32];
    cf_err_t       rc;

    *out = NULL;
    rc = cf_hsm_hmac_sha256(srv->hsm, &srv->token_hmac_key, token,
                            strlen(token), mac);
    if (rc != CF_OK)
        return rc;
    *out = cf_hex_encode(mac, sizeof(mac));
    return *out != NULL ? CF_OK : CF_ERR_NOMEM;
}

static cf_err_t
cf_token_put(cf_server_t *srv, const char *prefix, const char *hmac,
             const json_t *v)
{
    char      path[256], *s;
    cf_err_t  rc;

    snprintf(path, sizeof(path), "%s%s", prefix, hmac);
    if ((s = json_dumps(v, JSON_COMPACT)) == NULL)
        return CF_ERR_NOMEM;
    rc = cf_barrier_put(srv->barrier, path, s, strlen(s));
    cf_mem_free(s);
    return rc;
}

cf_err_t
cf_token_create_root(cf_server_t *srv, const char *id, char **token_out)
{
    char      *token = NULL, *accessor = NULL, *th = NULL, *ah = NULL;
    json_t    *entry = NULL, *idx = NULL;
    cf_err_t   rc;

    *token_out = NULL;
    if (id != NULL) {
        if (*id == '\0' || strlen(id) > CF_TOKEN_MAX_LEN)
            return CF_ERR_INVALID;
        if ((token = strdup(id)) == NULL)
            return CF_ERR_NOMEM;
    } else if ((rc = cf_token_random_string(srv, "hvs.",
                                            CF_TOKEN_RAND_CHARS, &token))
               != CF_OK) {
        return rc;
    }
    if ((rc = cf_token_random_string(srv, "", 24, &accessor)) != CF_OK
        || (rc = cf_token_hmac_hex(srv, token, &th)) != CF_OK
        || (rc = cf_token_hmac_hex(srv, accessor, &ah)) != CF_OK)
        goto out;
    entry = json_pack("{s:s, s:[s], s:s, s:n, s:s, s:i, s:I, s:i, s:i, "
                      "s:b, s:b, s:s, s:s, s:s}",
                      "accessor", accessor, "policies", "root",
                      "path", "auth/token/root", "meta",
                      "display_name", "root", "num_uses", 0,
                      "creation_time", (json_int_t) time(NULL),
                      "ttl", 0, "explicit_max_ttl", 0,
                      "orphan", 1, "renewable", 0, "type", "service",
                      "entity_id", "", "parent", "");
    idx = json_pack("{s:s}", "id_hmac", th);
    if (entry == NULL || idx == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    if ((rc = cf_token_put(srv, "sys/token/accessor/", ah, idx)) != CF_OK
        || (rc = cf_token_put(srv, "sys/token/id/", th, entry)) != CF_OK)
        goto out;
    *token_out = token;
    token = NULL;
out:
    json_decref(entry);
    json_decref(idx);
    cf_mem_free_str(token);
    cf_mem_free_str(accessor);
    free(th);
    free(ah);
    return rc;
}

cf_err_t
cf_token_lookup(cf_server_t *srv, const char *token, cf_token_t **out)
{
    char           path[256], *th = NULL;
    cf_buf_t      *raw = NULL;
    json_t        *entry = NULL, *pol, *v;
    json_error_t   jerr;
    cf_token_t    *t;
    size_t         i;
    cf_err_t       rc;

    *out = NULL;
    if (token == NULL || *token == '\0' || strlen(token) > CF_TOKEN_MAX_LEN)
        return CF_ERR_PERMISSION;
    if ((rc = cf_token_hmac_hex(srv, token, &th)) != CF_OK)
        return rc;
    snprintf(path, sizeof(path), "sys/token/id/%s", th);
    rc = cf_barrier_get(srv->barrier, path, &raw);
    if (rc == CF_ERR_NOT_FOUND) {
        rc = CF_ERR_PERMISSION;
        goto out;
    }
    if (rc != CF_OK)
        goto out;
    entry = json_loadb((const char *) raw->data, raw->len, 0, &jerr);
    if (!json_is_object(entry)) {
        cf_log_error("token", "token entry %s does not parse", path);
        rc = CF_ERR_INTEGRITY;
        goto out;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    pol = json_object_get(entry, "policies");
    json_array_foreach(pol, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "root") == 0)
            t->root = true;
    }
    t->id_hmac = th;
    t->entry = entry;
    th = NULL;
    entry = NULL;
    *out = t;
out:
    json_decref(entry);
    cf_buf_free(raw);
    free(th);
    return rc;
}

void
cf_token_free(cf_token_t *t)
{
    if (t == NULL)
        return;
    free(t->id_hmac);
    json_decref(t->entry);
    free(t);
}

json_t *
cf_token_describe(const cf_token_t *t, const char *client_token)
{
    json_t      *e = t->entry, *d;
    json_int_t   ctime = json_integer_value(json_object_get(e,
                                                            "creation_time"));
    json_int_t   ttl = json_integer_value(json_object_get(e, "ttl"));
    json_t      *meta = json_object_get(e, "meta");

    d = json_pack("{s:s, s:I, s:I, s:s, s:s, s:n, s:I, s:s, s:[], s:s, "
                  "s:O, s:I, s:b, s:s, s:O, s:b, s:I, s:s}",
                  "accessor", json_string_value(json_object_get(e,
                                                               "accessor")),
                  "creation_time", ctime, "creation_ttl", ttl,
                  "display_name", json_string_value(json_object_get(e,
                                                        "display_name")),
                  "entity_id", "", "expire_time",
                  "explicit_max_ttl", json_integer_value(json_object_get(e,
                                                        "explicit_max_ttl")),
                  "id", client_token, "identity_policies",
                  "issue_time", "",
                  "meta", meta ? meta : json_null(),
                  "num_uses", json_integer_value(json_object_get(e,
                                                               "num_uses")),
                  "orphan", json_is_true(json_object_get(e, "orphan")),
                  "path", json_string_value(json_object_get(e, "path")),
                  "policies", json_object_get(e, "policies"),
                  "renewable", json_is_true(json_object_get(e, "renewable")),
                  "ttl", ttl, "type", "service");
    if (d != NULL) {
        char             buf[40];
        struct timespec  ts = { .tv_sec = (time_t) ctime, .tv_nsec = 0 };

        cf_time_rfc3339(&ts, buf);
        json_object_set_new(d, "issue_time", json_string(buf));
    }
    return d;
}

static cf_err_t
cf_token_lookup_self(cf_req_t *req)
{
    json_t  *d;

    if (req->token == NULL)
        return cf_req_fail(req, CF_ERR_PERMISSION, "permission denied");
    if ((d = cf_token_describe(req->token, req->client_token)) == NULL)
        return CF_ERR_NOMEM;
    return cf_req_reply_data(req, d);
}

static const cf_path_t  cf_token_paths[] = {
    { "lookup-self", CF_OP_READ | CF_OP_UPDATE, cf_token_lookup_self },
    CF_PATH_END
};

const cf_engine_t  cf_token_engine = {
    .name = "token", .paths = cf_token_paths, .is_auth = true,
    .singleton = true,
};
