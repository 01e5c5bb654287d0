/*
 * tools: random bytes and hashing as Vault serves them at sys/tools/random
 * and sys/tools/hash and again at transit/random and transit/hash.
 */
#include "coffer/tools.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/hsm.h"
#include "coffer/server.h"

#define CF_TOOLS_RANDOM_MAX  (128 * 1024)

/* Split "<route>[/<a>][/<b>]" where each segment is a source name or a
 * byte count, as Vault allows either order. */
static cf_err_t
cf_tools_random_path(cf_req_t *req, const char *route, const char **source,
                     int64_t *bytes, bool *have_bytes)
{
    const char  *p = req->rest + strlen(route);
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

cf_err_t
cf_tools_random(cf_req_t *req, const char *route)
{
    const char     *source = "platform", *format = "base64";
    int64_t         bytes = 32;
    bool            have, have_path_bytes = false;
    unsigned char  *buf = NULL, *other = NULL;
    char           *enc = NULL;
    size_t          i;
    cf_err_t        rc;

    if ((rc = cf_req_param_str(req, "source", &source, &have)) != CF_OK
        || (rc = cf_req_param_str(req, "format", &format, &have)) != CF_OK
        || (rc = cf_req_param_int(req, "bytes", &bytes, &have)) != CF_OK
        || (rc = cf_tools_random_path(req, route, &source, &bytes,
                                      &have_path_bytes)) != CF_OK)
        return rc;
    if (bytes < 1 || bytes > CF_TOOLS_RANDOM_MAX)
        return cf_req_fail(req, CF_ERR_INVALID,
                           "'bytes' must be between 1 and %d",
                           CF_TOOLS_RANDOM_MAX);
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
    return rc;
}

static const EVP_MD *
cf_tools_hash_md(const char *name)
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

cf_err_t
cf_tools_hash(cf_req_t *req, const char *route)
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
    seg = req->rest + strlen(route);
    if (*seg == '/' && seg[1] != '\0')
        alg = seg + 1;
    if (input == NULL)
        return cf_req_fail(req, CF_ERR_INVALID, "missing input for hashing");
    if ((md = cf_tools_hash_md(alg)) == NULL)
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
    cf_mem_free_str(enc);
    return rc;
}

