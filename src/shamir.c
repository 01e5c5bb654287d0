/* shamir: Shamir secret sharing over GF(256) with libgfshare. */
#include "coffer/shamir.h"

#include <libgfshare.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static void
cf_shamir_fill_rand(unsigned char *buf, unsigned int len)
{
    /* libgfshare cannot report failure; abort rather than split a secret
     * with predictable coefficients. */
    if (RAND_priv_bytes(buf, (int) len) != 1)
        abort();
}

void
cf_shamir_init(void)
{
    gfshare_fill_rand = cf_shamir_fill_rand;
}

cf_err_t
cf_shamir_split(const unsigned char *secret, size_t len, unsigned n,
                unsigned t, cf_secret_t **shares)
{
    unsigned char   xs[255], *copy = NULL;
    gfshare_ctx    *ctx = NULL;
    unsigned        i;
    cf_err_t        rc = CF_OK;

    if (len == 0 || len > 1024 || n < 1 || n > 255 || t < 1 || t > n
        || (n > 1 && t < 2))
        return CF_ERR_INVALID;
    memset(shares, 0, n * sizeof(*shares));
    for (i = 0; i < n; i++)
        xs[i] = (unsigned char) (i + 1);
    if ((copy = malloc(len)) == NULL)
        return CF_ERR_NOMEM;
    memcpy(copy, secret, len);
    if ((ctx = gfshare_ctx_init_enc(xs, n, (unsigned char) t,
                                    (unsigned) len)) == NULL) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    gfshare_ctx_enc_setsecret(ctx, copy);
    for (i = 0; i < n; i++) {
        if ((shares[i] = cf_secret_new(len + 1)) == NULL) {
            rc = CF_ERR_NOMEM;
            goto out;
        }
        gfshare_ctx_enc_getshare(ctx, (unsigned char) i,
                                 cf_secret_data(shares[i]));
        cf_secret_data(shares[i])[len] = xs[i];
    }
out:
    if (rc != CF_OK) {
        for (i = 0; i < n; i++) {
            cf_secret_free(shares[i]);
            shares[i] = NULL;
        }
    }
    if (ctx != NULL)
        gfshare_ctx_free(ctx);      /* libgfshare wipes its buffers */
    OPENSSL_cleanse(copy, len);
    free(copy);
    return rc;
}

cf_err_t
cf_shamir_combine(cf_secret_t *const *shares, unsigned k, cf_secret_t **out)
{
    unsigned char   xs[255];
    gfshare_ctx    *ctx;
    size_t          len;
    unsigned        i, j;
    cf_secret_t    *s;

    *out = NULL;
    if (k < 1 || k > 255)
        return CF_ERR_INVALID;
    len = cf_secret_len(shares[0]);
    if (len < 2)
        return CF_ERR_INVALID;
    for (i = 0; i < k; i++) {
        if (cf_secret_len(shares[i]) != len)
            return CF_ERR_INVALID;
        xs[i] = cf_secret_data(shares[i])[len - 1];
        if (xs[i] == 0)
            return CF_ERR_INVALID;
        for (j = 0; j < i; j++) {
            if (xs[j] == xs[i])
                return CF_ERR_INVALID;
        }
    }
    if (k == 1) {
        /* threshold 1: the share is the secret */
        *out = cf_secret_new_copy(cf_secret_data(shares[0]), len - 1);
        return *out != NULL ? CF_OK : CF_ERR_NOMEM;
    }
    if ((ctx = gfshare_ctx_init_dec(xs, k, (unsigned) (len - 1))) == NULL)
        return CF_ERR_NOMEM;
    for (i = 0; i < k; i++)
        gfshare_ctx_dec_giveshare(ctx, (unsigned char) i,
                                  cf_secret_data(shares[i]));
    if ((s = cf_secret_new(len - 1)) == NULL) {
        gfshare_ctx_free(ctx);
        return CF_ERR_NOMEM;
    }
    gfshare_ctx_dec_extract(ctx, cf_secret_data(s));
    gfshare_ctx_free(ctx);
    *out = s;
    return CF_OK;
}
