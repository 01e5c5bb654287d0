/*
 * sys: the authenticated system backend at sys/: barrier key status and
 * rotation, random bytes and hashing tools, the mount tables (read; the
 * mount management routes are in sys_mounts.c).
 */
#include "coffer/sys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/barrier.h"
#include "coffer/hsm.h"
#include "coffer/log.h"
#include "coffer/router.h"
#include "coffer/server.h"
#include "coffer/wrapping.h"
#include "sys_internal.h"

#define CF_SYS_RANDOM_MAX  (128 * 1024)

static cf_err_t
cf_sys_key_status(cf_req_t *req)
{
    uint32_t         term;
    time_t           installed;
    uint64_t         enc;
    struct timespec  ts = { 0, 0 };
    char             when[40];
    cf_err_t         rc;

    rc = cf_barrier_key_status(req->srv->barrier, &term, &installed, &enc);
    if (rc != CF_OK)
        return rc;
    ts.tv_sec = installed;
    cf_time_rfc3339(&ts, when);
    return cf_req_reply_data_top(req, json_pack("{s:I, s:s, s:I}",
                                 "term", (json_int_t) term,
                                 "install_time", when,
                                 "encryptions", (json_int_t) enc));
}

static cf_err_t
cf_sys_rotate(cf_req_t *req)
{
    cf_err_t  rc;

    if ((rc = cf_barrier_rotate(req->srv->barrier)) != CF_OK)
        return rc;
    cf_log_info("sys", "barrier key rotated");
    return cf_req_reply_none(req);
}

/* Split "tools/random[/<a>][/<b>]" where each segment is a source name or
 * a byte count, as Vault allows either order. */
static cf_err_t
cf_sys_random_path(cf_req_t *req, const char **source, int64_t *bytes,
                   bool *have_bytes)
{
    const char  *p = req->rest + strlen("tools/random");
    char         seg[32], *end;
    size_t       n;
    long         v;

    while (*p == '/')
        p++;
    while (*p != '\0') {
        n = strcspn(p, "/");
        if (n >= sizeof(seg))
            return cf_req_fail(req, CF_ERR_INVALID, "invalid path segment");
        memcpy(seg, p, n);
        seg[n] = '\0';
        v = strtol(seg, &end, 10);
        if (*end == '\0' && n > 0) {
            *bytes = v;
            *have_bytes = true;
        } else if (strcmp(seg, "platform") == 0) {
            *source = "platform";
        } else if (strcmp(seg, "seal") == 0) {
            *source = "seal";
        } else if (strcmp(seg, "all") == 0) {
            *source = "all";
        } else {
            return cf_req_fail(req, CF_ERR_INVALID,
                               "unsupported random source or byte count");
        }
        p += n;
        while (*p == '/')
            p++;
    }
    return CF_OK;
}

static cf_err_t
cf_sys_random(cf_req_t *req)
{
    const char     *source = "platform", *format = "base64", *s;
    int64_t         bytes = 32;
    bool            have, have_path_bytes = false;
    unsigned char  *buf = NULL, *other = NULL;
    char           *enc = NULL;
    size_t          i;
    cf_err_t        rc;

    if ((rc = cf_req_param_str(req, "source", &source, &have)) != CF_OK
        || (rc = cf_req_param_str(req, "format", &format, &have)) != CF_OK
        || (rc = cf_req_param_int(req, "bytes", &bytes, &have)) != CF_OK
        || (rc = cf_sys_random_path(req, &source, &bytes,
                                    &have_path_bytes)) != CF_OK)
        return rc;
    if (bytes < 1 || bytes > CF_SYS_RANDOM_MAX)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'bytes' must be between 1 and %d",
                           CF_SYS_RANDOM_MAX);
    if (strcmp(format, "base64") != 0 && strcmp(format, "hex") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "unsupported encoding format; must be "
                           "\"hex\" or \"base64\"");
    if (strcmp(source, "platform") != 0 && strcmp(source, "seal") != 0
        && strcmp(source, "all") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "unsupported entropy source; must be "
                           "\"platform\", \"seal\" or \"all\"");
    buf = malloc((size_t) bytes);
    other = malloc((size_t) bytes);
    if (buf == NULL || other == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    /* As in Vault: platform = the OS/OpenSSL DRBG, seal = the HSM, all =
     * both XORed. */
    if (strcmp(source, "seal") == 0) {
        rc = cf_hsm_random(req->srv->hsm, buf, (size_t) bytes);
    } else if (RAND_bytes(buf, (int) bytes) != 1) {
        rc = CF_ERR_INTERNAL;
    } else if (strcmp(source, "all") == 0
               && (rc = cf_hsm_random(req->srv->hsm, other,
                                      (size_t) bytes)) == CF_OK) {
        for (i = 0; i < (size_t) bytes; i++)
            buf[i] ^= other[i];
    }
    if (rc != CF_OK)
        goto out;
    enc = strcmp(format, "hex") == 0 ? cf_hex_encode(buf, (size_t) bytes)
                                     : cf_b64_encode(buf, (size_t) bytes);
    if (enc == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    rc = cf_req_reply_data(req, json_pack("{s:s}", "random_bytes", enc));
out:
    if (buf != NULL)
        OPENSSL_cleanse(buf, (size_t) bytes);
    if (other != NULL)
        OPENSSL_cleanse(other, (size_t) bytes);
    free(buf);
    free(other);
    cf_mem_free_str(enc);
    (void) s;
    return rc;
}

static const EVP_MD *
cf_sys_hash_md(const char *name)
{
    static const struct { const char *vault, *ossl; } map[] = {
        { "sha2-224", "SHA224" }, { "sha2-256", "SHA256" },
        { "sha2-384", "SHA384" }, { "sha2-512", "SHA512" },
        { "sha3-224", "SHA3-224" }, { "sha3-256", "SHA3-256" },
        { "sha3-384", "SHA3-384" }, { "sha3-512", "SHA3-512" },
    };
    size_t  i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(name, map[i].vault) == 0)
            return EVP_get_digestbyname(map[i].ossl);
    }
    return NULL;
}

static cf_err_t
cf_sys_hash(cf_req_t *req)
{
    const char     *alg = "sha2-256", *format = "hex", *input = NULL;
    const char     *seg;
    const EVP_MD   *md;
    unsigned char   sum[EVP_MAX_MD_SIZE];
    unsigned int    sl = 0;
    cf_buf_t       *in = NULL;
    char           *enc = NULL;
    bool            have;
    cf_err_t        rc;

    if ((rc = cf_req_param_str(req, "algorithm", &alg, &have)) != CF_OK
        || (rc = cf_req_param_str(req, "format", &format, &have)) != CF_OK
        || (rc = cf_req_param_str(req, "input", &input, &have)) != CF_OK)
        return rc;
    seg = req->rest + strlen("tools/hash");
    if (*seg == '/' && seg[1] != '\0')
        alg = seg + 1;
    if (input == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "missing input for hashing");
    if ((md = cf_sys_hash_md(alg)) == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "unsupported algorithm");
    if (strcmp(format, "hex") != 0 && strcmp(format, "base64") != 0)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "unsupported encoding format; must be "
                           "\"hex\" or \"base64\"");
    if (cf_b64_decode(input, &in) != CF_OK)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "unable to decode input as base64");
    if (EVP_Digest(in->data, in->len, sum, &sl, md, NULL) != 1) {
        rc = CF_ERR_INTERNAL;
        goto out;
    }
    enc = strcmp(format, "hex") == 0 ? cf_hex_encode(sum, sl)
                                     : cf_b64_encode(sum, sl);
    if (enc == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    rc = cf_req_reply_data(req, json_pack("{s:s}", "sum", enc));
out:
    cf_buf_free(in);
    free(enc);
    return rc;
}

static cf_err_t
cf_sys_mounts(cf_req_t *req)
{
    return cf_req_reply_data_top(req, cf_router_mounts_json(req->srv,
                                                            false));
}

static cf_err_t
cf_sys_auth(cf_req_t *req)
{
    return cf_req_reply_data_top(req, cf_router_mounts_json(req->srv, true));
}

static const cf_path_t  cf_sys_paths[] = {
    { "key-status",     CF_OP_READ,                cf_sys_key_status },
    { "rotate",         CF_OP_UPDATE,              cf_sys_rotate },
    { "tools/random",   CF_OP_READ | CF_OP_UPDATE, cf_sys_random },
    { "tools/random/*", CF_OP_READ | CF_OP_UPDATE, cf_sys_random },
    { "tools/hash",     CF_OP_UPDATE,              cf_sys_hash },
    { "tools/hash/+",   CF_OP_UPDATE,              cf_sys_hash },
    { "mounts",         CF_OP_READ,                cf_sys_mounts },
    { "mounts/*",       CF_OP_ALL,                 cf_sys_mount_route },
    { "remount",        CF_OP_UPDATE,              cf_sys_remount },
    { "remount/status/+", CF_OP_READ,              cf_sys_remount_status },
    { "policies/acl",   CF_OP_READ | CF_OP_LIST,   cf_sys_policies_acl },
    { "policies/acl/",  CF_OP_LIST,                cf_sys_policies_acl },
    { "policies/acl/+", CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE,
                                                   cf_sys_policies_acl },
    { "policy",         CF_OP_READ,                cf_sys_policy_legacy },
    { "policy/+",       CF_OP_READ | CF_OP_WRITE | CF_OP_DELETE,
                                                   cf_sys_policy_legacy },
    { "capabilities",   CF_OP_WRITE,               cf_sys_capabilities },
    { "capabilities-self", CF_OP_WRITE,            cf_sys_capabilities },
    { "capabilities-accessor", CF_OP_WRITE,        cf_sys_capabilities },
    { "wrapping/wrap",  CF_OP_WRITE,               cf_sys_wrapping_wrap },
    { "wrapping/unwrap", CF_OP_WRITE,              cf_sys_wrapping_unwrap },
    { "wrapping/lookup", CF_OP_READ | CF_OP_WRITE, cf_sys_wrapping_lookup },
    { "wrapping/rewrap", CF_OP_WRITE,              cf_sys_wrapping_rewrap },
    { "internal/ui/mounts", CF_OP_READ,            cf_sys_ui_mounts },
    { "internal/ui/mounts/*", CF_OP_READ,          cf_sys_ui_mount },
    { "auth",           CF_OP_READ,                cf_sys_auth },
    { "auth/*",         CF_OP_ALL,                 cf_sys_auth_route },
    CF_PATH_END
};

/* Vault serves these without a token: lookup names its token in the
 * body. */
static const char *const  cf_sys_unauth[] = { "wrapping/lookup", NULL };

const cf_engine_t  cf_sys_engine = {
    .name = "system", .paths = cf_sys_paths, .singleton = true,
    .unauthenticated = cf_sys_unauth,
};
