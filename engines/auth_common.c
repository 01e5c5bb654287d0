/*
 * auth_common: token_* fields, login tokens and password hashes shared by
 * the auth methods (userpass, approle).
 */
#include "auth_common.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "coffer/identity.h"
#include "coffer/token.h"

/* scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, tens of ms): slow enough
 * to make guessing expensive, cheap enough for logins per second. */
#define CF_AUTH_SCRYPT_N     (1u << 15)
#define CF_AUTH_SCRYPT_R     8u
#define CF_AUTH_SCRYPT_P     1u
#define CF_AUTH_SCRYPT_MEM   (64u * 1024 * 1024)
#define CF_AUTH_HASH_LEN     32
#define CF_AUTH_SALT_LEN     16
#define CF_AUTH_PASSWORD_MAX 4096

typedef struct {
    const char  *name;          /* stored and read-back name */
    const char  *legacy;        /* older alias accepted on write, or NULL */
} cf_auth_field_t;

static const cf_auth_field_t  cf_auth_durations[] = {
    { "token_ttl", "ttl" },
    { "token_max_ttl", "max_ttl" },
    { "token_explicit_max_ttl", NULL },
    { "token_period", "period" },
};

cf_err_t
cf_auth_token_fields_parse(cf_req_t *req, json_t *into)
{
    json_t       *list = NULL;
    const char   *type = NULL;
    int64_t       v = 0;
    size_t        i;
    bool          has, b = false;
    cf_err_t      rc;

    if ((rc = cf_req_param_strlist(req, "token_policies", &list, &has))
        != CF_OK)
        return rc;
    if (!has && (rc = cf_req_param_strlist(req, "policies", &list, &has))
                != CF_OK)
        return rc;
    if (has)
        json_object_set_new(into, "token_policies", list);
    for (i = 0; i < sizeof(cf_auth_durations) / sizeof(cf_auth_durations[0]);
         i++) {
        rc = cf_req_param_duration(req, cf_auth_durations[i].name, &v, &has);
        if (rc == CF_OK && !has && cf_auth_durations[i].legacy != NULL)
            rc = cf_req_param_duration(req, cf_auth_durations[i].legacy, &v,
                                       &has);
        if (rc != CF_OK)
            return rc;
        if (has)
            json_object_set_new(into, cf_auth_durations[i].name,
                                json_integer(v));
    }
    if ((rc = cf_req_param_int(req, "token_num_uses", &v, &has)) != CF_OK)
        return rc;
    if (has && v < 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'token_num_uses' cannot be negative");
    if (has)
        json_object_set_new(into, "token_num_uses", json_integer(v));
    if ((rc = cf_req_param_bool(req, "token_no_default_policy", &b, &has))
        != CF_OK)
        return rc;
    if (has)
        json_object_set_new(into, "token_no_default_policy",
                            json_boolean(b));
    if ((rc = cf_req_param_str(req, "token_type", &type, &has)) != CF_OK)
        return rc;
    if (type != NULL && strcmp(type, "default") != 0
        && strcmp(type, "service") != 0 && *type != '\0')
        return cf_req_fail(req, CF_ERR_INVALID, "'token_type' must be "
                           "\"service\" or \"default\"; batch tokens are "
                           "not supported");
    return cf_req_param_cidrs(req, "token_bound_cidrs", into);
}

static json_int_t
cf_auth_int(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

void
cf_auth_token_fields_describe(const json_t *stored, json_t *out)
{
    json_t  *pol = json_object_get(stored, "token_policies");
    size_t   i;

    pol = pol != NULL ? json_deep_copy(pol) : json_array();
    json_object_set(out, "policies", pol);
    json_object_set_new(out, "token_policies", pol);
    for (i = 0; i < sizeof(cf_auth_durations) / sizeof(cf_auth_durations[0]);
         i++)
        json_object_set_new(out, cf_auth_durations[i].name,
                            json_integer(cf_auth_int(stored,
                                         cf_auth_durations[i].name)));
    json_object_set_new(out, "token_num_uses",
                        json_integer(cf_auth_int(stored, "token_num_uses")));
    json_object_set_new(out, "token_no_default_policy",
                        json_boolean(json_is_true(json_object_get(stored,
                                     "token_no_default_policy"))));
    json_object_set_new(out, "token_bound_cidrs",
                        json_object_get(stored, "token_bound_cidrs")
                        ? json_deep_copy(json_object_get(stored,
                                                     "token_bound_cidrs"))
                        : json_array());
    json_object_set_new(out, "token_type", json_string("default"));
}

cf_err_t
cf_auth_issue_token(cf_req_t *req, const json_t *stored, const char *display,
                    const char *path, json_t *meta)
{
    return cf_auth_issue_login(req, stored, display, path, meta, NULL);
}

cf_err_t
cf_auth_issue_login(cf_req_t *req, const json_t *stored, const char *display,
                    const char *path, json_t *meta, const char *alias_name)
{
    cf_token_params_t  p = { 0 };
    json_t            *entry = NULL, *dflt;
    char              *token = NULL, entity[37] = "";
    int64_t            max = cf_auth_int(stored, "token_max_ttl");
    cf_err_t           rc;

    if (alias_name != NULL) {
        rc = cf_identity_login(req->srv, req->mount->accessor, alias_name,
                               meta, entity);
        if (rc == CF_ERR_PERMISSION)
            return cf_auth_login_failed(req);
        if (rc != CF_OK)
            return rc;
        p.entity_id = entity;
    }

    p.policies = cf_token_policies_normalise(
        json_object_get(stored, "token_policies"),
        json_is_true(json_object_get(stored, "token_no_default_policy")));
    if (p.policies == NULL)
        return CF_ERR_NOMEM;
    p.meta = meta;
    p.display_name = display;
    p.path = path;
    p.num_uses = cf_auth_int(stored, "token_num_uses");
    p.bound_cidrs = json_object_get(stored, "token_bound_cidrs");
    p.period = cf_auth_int(stored, "token_period");
    p.explicit_max_ttl = cf_auth_int(stored, "token_explicit_max_ttl");
    p.ttl = p.period > 0 ? p.period : cf_auth_int(stored, "token_ttl");
    if (p.ttl == 0) {
        dflt = json_object_get(req->mount->config, "default_lease_ttl");
        p.ttl = json_integer_value(dflt) > 0 ? json_integer_value(dflt)
                                             : CF_TOKEN_SYSTEM_MAX_TTL;
    }
    /* token_max_ttl bounds the token's whole life, like an explicit max
     * that renewals cannot pass. */
    if (max > 0 && (p.explicit_max_ttl == 0 || max < p.explicit_max_ttl))
        p.explicit_max_ttl = max;
    if (p.explicit_max_ttl > 0 && p.ttl > p.explicit_max_ttl)
        p.ttl = p.explicit_max_ttl;
    if (p.period == 0 && p.ttl > CF_TOKEN_SYSTEM_MAX_TTL)
        p.ttl = CF_TOKEN_SYSTEM_MAX_TTL;
    p.renewable = true;
    p.parent_hmac = NULL;               /* login tokens are orphans */
    rc = cf_token_create(req->srv, &p, &token, NULL, &entry);
    json_decref(p.policies);
    if (rc != CF_OK)
        return rc;
    rc = cf_req_reply_auth(req, cf_token_auth_block(entry, token));
    json_decref(entry);
    cf_mem_free_str(token);
    return rc;
}

static bool
cf_auth_scrypt(const char *password, const unsigned char *salt,
               unsigned char out[CF_AUTH_HASH_LEN])
{
    return EVP_PBE_scrypt(password, strlen(password), salt, CF_AUTH_SALT_LEN,
                          CF_AUTH_SCRYPT_N, CF_AUTH_SCRYPT_R,
                          CF_AUTH_SCRYPT_P, CF_AUTH_SCRYPT_MEM, out,
                          CF_AUTH_HASH_LEN) == 1;
}

json_t *
cf_auth_password_hash(const char *password)
{
    unsigned char  salt[CF_AUTH_SALT_LEN], h[CF_AUTH_HASH_LEN];
    char          *hs = NULL, *hh = NULL;
    json_t        *out = NULL;

    if (strlen(password) > CF_AUTH_PASSWORD_MAX
        || RAND_bytes(salt, sizeof(salt)) != 1
        || !cf_auth_scrypt(password, salt, h))
        return NULL;
    hs = cf_hex_encode(salt, sizeof(salt));
    hh = cf_hex_encode(h, sizeof(h));
    if (hs != NULL && hh != NULL)
        out = json_pack("{s:s, s:i, s:i, s:i, s:s, s:s}", "alg", "scrypt",
                        "n", (int) CF_AUTH_SCRYPT_N, "r",
                        (int) CF_AUTH_SCRYPT_R, "p", (int) CF_AUTH_SCRYPT_P,
                        "salt", hs, "hash", hh);
    OPENSSL_cleanse(h, sizeof(h));
    cf_mem_free_str(hs);
    cf_mem_free_str(hh);
    return out;
}

bool
cf_auth_password_check(const json_t *hash, const char *password)
{
    static const unsigned char  dummy_salt[CF_AUTH_SALT_LEN] = { 0 };
    unsigned char               salt[CF_AUTH_SALT_LEN], h[CF_AUTH_HASH_LEN];
    unsigned char               want[CF_AUTH_HASH_LEN] = { 0 };
    const char                 *hs, *hh;
    cf_buf_t                   *b = NULL;
    bool                        real = false, ok;

    memcpy(salt, dummy_salt, sizeof(salt));
    hs = json_string_value(json_object_get(hash, "salt"));
    hh = json_string_value(json_object_get(hash, "hash"));
    if (hs != NULL && hh != NULL
        && cf_hex_decode(hs, &b) == CF_OK && b->len == sizeof(salt)) {
        memcpy(salt, b->data, sizeof(salt));
        cf_buf_free(b);
        b = NULL;
        if (cf_hex_decode(hh, &b) == CF_OK && b->len == sizeof(want)) {
            memcpy(want, b->data, sizeof(want));
            real = true;
        }
    }
    cf_buf_free(b);
    if (password == NULL || strlen(password) > CF_AUTH_PASSWORD_MAX)
        password = "";
    /* Always pay for one scrypt, whether the user exists or not. */
    ok = cf_auth_scrypt(password, salt, h)
         && CRYPTO_memcmp(h, want, sizeof(h)) == 0;
    OPENSSL_cleanse(h, sizeof(h));
    OPENSSL_cleanse(want, sizeof(want));
    return ok && real;
}

cf_err_t
cf_auth_login_failed(cf_req_t *req)
{
    return cf_req_fail(req, CF_ERR_INVALID, "invalid username or password");
}
