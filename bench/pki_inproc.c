/*
 * pki_inproc: the in-process ceiling for bench/pki.sh. Logs in to a
 * SoftHSM token through Coffer's own hsm/ layer, generates an EC P-256 CA
 * key pair on it, then for SECONDS seconds on THREADS threads builds and
 * signs the certificate issue/<role> builds (EC P-256 or RSA-2048 leaf key
 * made in software, subject CN + DNS SAN, CA:FALSE, key usage, server and
 * client auth, SKI/AKI, random 20-byte serial), signing it with the CA key
 * on the token through engines/pki_sign.c. Mode "sign" skips the leaf key
 * generation (the key comes from a CSR). Prints "<certs/s>".
 *
 *   SOFTHSM2_CONF=... pki_inproc LIB LABEL PIN MODE(sign|ec|rsa) SECONDS
 *                                THREADS
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "coffer/hsm.h"
#include "pki.h"

static cf_hsm_t      *cf_b_hsm;
static cf_hsm_id_t    cf_b_ca;
static EVP_PKEY      *cf_b_ca_pub;
static X509          *cf_b_ca_cert;
static const char    *cf_b_mode;
static atomic_long    cf_b_count;
static atomic_bool    cf_b_stop;

static int
cf_b_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *v)
{
    X509_EXTENSION  *e = X509V3_EXT_conf_nid(NULL, ctx, nid, v);
    int              ok = e != NULL && X509_add_ext(x, e, -1) == 1;

    X509_EXTENSION_free(e);
    return ok;
}

/* One certificate like issue/<role> makes; ca_key signs on the token. */
static int
cf_b_one(EVP_PKEY *ca_key, EVP_PKEY *csr_key)
{
    EVP_PKEY       *leaf = csr_key;
    X509           *x = X509_new();
    X509V3_CTX      ctx;
    unsigned char   sb[20];
    BIGNUM         *bn = NULL;
    time_t          now = time(NULL);
    int             ok = 0;

    if (strcmp(cf_b_mode, "ec") == 0)
        leaf = EVP_EC_gen("P-256");
    else if (strcmp(cf_b_mode, "rsa") == 0)
        leaf = EVP_RSA_gen(2048);
    if (x == NULL || leaf == NULL || RAND_bytes(sb, sizeof(sb)) != 1)
        goto out;
    sb[0] = (unsigned char) ((sb[0] & 0x7f) | 0x01);
    bn = BN_bin2bn(sb, sizeof(sb), NULL);
    X509_set_version(x, 2);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                               (const unsigned char *) "www.example.com",
                               -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(cf_b_ca_cert));
    ASN1_TIME_set(X509_getm_notBefore(x), now - 30);
    ASN1_TIME_set(X509_getm_notAfter(x), now + 3600);
    X509_set_pubkey(x, leaf);
    X509V3_set_ctx(&ctx, cf_b_ca_cert, x, NULL, NULL, 0);
    if (!cf_b_ext(x, &ctx, NID_subject_alt_name, "DNS:www.example.com")
        || !cf_b_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")
        || !cf_b_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,"
                     "keyAgreement,keyEncipherment")
        || !cf_b_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth")
        || !cf_b_ext(x, &ctx, NID_subject_key_identifier, "hash")
        || !cf_b_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
        goto out;
    ok = X509_sign(x, ca_key, EVP_sha256()) > 0;
out:
    BN_free(bn);
    X509_free(x);
    if (leaf != csr_key)
        EVP_PKEY_free(leaf);
    return ok;
}

static void *
cf_b_worker(void *arg)
{
    EVP_PKEY  *ca_key = NULL, *csr_key = NULL;

    (void) arg;
    if (cf_pki_hsm_pkey(cf_b_hsm, &cf_b_ca, cf_b_ca_pub, &ca_key) != CF_OK)
        return (void *) 1;
    if (strcmp(cf_b_mode, "sign") == 0)
        csr_key = EVP_EC_gen("P-256");
    while (!atomic_load(&cf_b_stop)) {
        if (!cf_b_one(ca_key, csr_key))
            return (void *) 1;
        atomic_fetch_add(&cf_b_count, 1);
    }
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(csr_key);
    return NULL;
}

int
main(int argc, char **argv)
{
    cf_hsm_config_t   cfg = { 0 };
    cf_secret_t      *pin;
    pthread_t         th[64];
    X509V3_CTX        ctx;
    EVP_PKEY         *ca_key = NULL;
    struct timespec   a, b;
    int               i, nt, secs;
    double            dt;

    if (argc != 7) {
        fprintf(stderr, "usage: %s LIB LABEL PIN sign|ec|rsa SECONDS "
                "THREADS\n", argv[0]);
        return 2;
    }
    cf_b_mode = argv[4];
    secs = atoi(argv[5]);
    nt = atoi(argv[6]);
    if (nt < 1 || nt > 64)
        nt = 1;
    cfg.lib = argv[1];
    cfg.token_label = argv[2];
    cfg.max_parallel = (unsigned) nt;
    CRYPTO_secure_malloc_init(1 << 16, 32);
    pin = cf_secret_new_copy(argv[3], strlen(argv[3]));
    if (cf_hsm_open(&cfg, &cf_b_hsm) != CF_OK
        || cf_hsm_login(cf_b_hsm, pin) != CF_OK
        || cf_hsm_pair_generate(cf_b_hsm, CF_HSM_PAIR_EC_P256,
                                CF_HSM_PAIR_SIGN, "bench/pki-ca", &cf_b_ca)
           != CF_OK
        || cf_hsm_pair_public(cf_b_hsm, &cf_b_ca, &cf_b_ca_pub) != CF_OK
        || cf_pki_hsm_pkey(cf_b_hsm, &cf_b_ca, cf_b_ca_pub, &ca_key)
           != CF_OK) {
        fprintf(stderr, "token setup failed\n");
        return 1;
    }
    /* the self-signed CA certificate */
    cf_b_ca_cert = X509_new();
    X509_set_version(cf_b_ca_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cf_b_ca_cert), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cf_b_ca_cert), "CN",
                               MBSTRING_UTF8,
                               (const unsigned char *) "bench CA", -1, -1,
                               0);
    X509_set_issuer_name(cf_b_ca_cert, X509_get_subject_name(cf_b_ca_cert));
    ASN1_TIME_set(X509_getm_notBefore(cf_b_ca_cert), time(NULL));
    ASN1_TIME_set(X509_getm_notAfter(cf_b_ca_cert), time(NULL) + 86400);
    X509_set_pubkey(cf_b_ca_cert, cf_b_ca_pub);
    X509V3_set_ctx(&ctx, cf_b_ca_cert, cf_b_ca_cert, NULL, NULL, 0);
    cf_b_ext(cf_b_ca_cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    cf_b_ext(cf_b_ca_cert, &ctx, NID_subject_key_identifier, "hash");
    if (X509_sign(cf_b_ca_cert, ca_key, EVP_sha256()) <= 0) {
        fprintf(stderr, "CA self-signature on the token failed\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < nt; i++)
        pthread_create(&th[i], NULL, cf_b_worker, NULL);
    struct timespec  d = { .tv_sec = secs, .tv_nsec = 0 };
    nanosleep(&d, NULL);
    atomic_store(&cf_b_stop, true);
    for (i = 0; i < nt; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    dt = (double) (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%.0f\n", (double) atomic_load(&cf_b_count) / dt);
    cf_hsm_pair_destroy(cf_b_hsm, &cf_b_ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(cf_b_ca_pub);
    X509_free(cf_b_ca_cert);
    cf_hsm_close(cf_b_hsm);
    cf_secret_free(pin);
    return 0;
}
