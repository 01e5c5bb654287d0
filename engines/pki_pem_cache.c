/*
 * pki_pem_cache: decoded issuer certificates and public keys, keyed by
 * the SHA-256 of their PEM text. OpenSSL 3.0's decoders cost most of an
 * issue request (provider lookups under global locks); the stored PEM of
 * an issuer changes rarely, and a cache keyed by content is never stale,
 * so it needs no invalidation and is shared by every PKI mount. The
 * objects handed out are shared references and must only be read.
 */
#include "pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <string.h>

#define CF_PKI_CACHE_SLOTS  32

typedef struct {
    unsigned char   digest[32];
    bool            used;
    bool            is_key;
    X509           *cert;
    EVP_PKEY       *key;
} cf_pki_cache_slot_t;

/* Process-wide memo of a pure function (PEM -> object). */
static pthread_mutex_t      cf_pki_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cf_pki_cache_slot_t  cf_pki_cache[CF_PKI_CACHE_SLOTS];
static unsigned             cf_pki_cache_next;

static bool
cf_pki_cache_digest(const char *pem, bool is_key, unsigned char d[32])
{
    unsigned int  n = 32;

    if (EVP_Digest(pem, strlen(pem), d, &n, EVP_sha256(), NULL) != 1)
        return false;
    d[0] ^= is_key ? 1 : 0;             /* keys and certs apart */
    return true;
}

/* A new reference to the cached object for d, or NULL. */
static void *
cf_pki_cache_find(const unsigned char d[32], bool is_key)
{
    void    *o = NULL;
    size_t   i;

    pthread_mutex_lock(&cf_pki_cache_mu);
    for (i = 0; i < CF_PKI_CACHE_SLOTS; i++) {
        cf_pki_cache_slot_t *s = &cf_pki_cache[i];

        if (!s->used || s->is_key != is_key
            || memcmp(s->digest, d, 32) != 0)
            continue;
        if (is_key && EVP_PKEY_up_ref(s->key) == 1)
            o = s->key;
        else if (!is_key && X509_up_ref(s->cert) == 1)
            o = s->cert;
        break;
    }
    pthread_mutex_unlock(&cf_pki_cache_mu);
    return o;
}

/* Remember obj (the cache takes its own reference); oldest slot goes. */
static void
cf_pki_cache_add(const unsigned char d[32], bool is_key, void *obj)
{
    cf_pki_cache_slot_t  *s;

    if ((is_key ? EVP_PKEY_up_ref(obj) : X509_up_ref(obj)) != 1)
        return;
    pthread_mutex_lock(&cf_pki_cache_mu);
    s = &cf_pki_cache[cf_pki_cache_next++ % CF_PKI_CACHE_SLOTS];
    if (s->used) {
        if (s->is_key)
            EVP_PKEY_free(s->key);
        else
            X509_free(s->cert);
    }
    memcpy(s->digest, d, 32);
    s->used = true;
    s->is_key = is_key;
    s->key = is_key ? obj : NULL;
    s->cert = is_key ? NULL : obj;
    pthread_mutex_unlock(&cf_pki_cache_mu);
}

X509 *
cf_pki_pem_x509_shared(const char *pem)
{
    unsigned char  d[32];
    X509          *x;

    if (pem == NULL || !cf_pki_cache_digest(pem, false, d))
        return NULL;
    if ((x = cf_pki_cache_find(d, false)) != NULL)
        return x;
    if ((x = cf_pki_pem_x509(pem)) != NULL)
        cf_pki_cache_add(d, false, x);
    return x;
}

EVP_PKEY *
cf_pki_pem_pubkey_shared(const char *pem)
{
    unsigned char  d[32];
    EVP_PKEY      *k;
    BIO           *b;

    if (pem == NULL || !cf_pki_cache_digest(pem, true, d))
        return NULL;
    if ((k = cf_pki_cache_find(d, true)) != NULL)
        return k;
    if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
        return NULL;
    k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    if (k != NULL)
        cf_pki_cache_add(d, true, k);
    return k;
}
