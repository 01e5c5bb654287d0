/* test_hsm: the PKCS#11 layer against a real SoftHSM token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/hsm.h"
#include "coffer/mem.h"
#include "helpers.h"
#include "../../hsm/hsm_internal.h"

#define CF_TEST_LABEL  "coffer-unit"
#define CF_TEST_PIN    "1234"

static cf_test_token_t  cf_test_tok;

static int
cf_test_group_setup(void **state)
{
    (void) state;
    cf_mem_init();
    return cf_test_token_make(&cf_test_tok, CF_TEST_LABEL, CF_TEST_PIN);
}

static int
cf_test_group_teardown(void **state)
{
    (void) state;
    cf_test_token_remove(&cf_test_tok);
    return 0;
}

/* A logged-in handle on the group's token. */
static int
cf_test_setup(void **state)
{
    cf_hsm_t  *h = cf_test_hsm_open(CF_TEST_LABEL, CF_TEST_PIN);

    *state = h;
    return h != NULL ? 0 : -1;
}

static int
cf_test_teardown(void **state)
{
    cf_hsm_close(*state);
    return 0;
}

static cf_err_t
cf_test_open(const char *lib, const char *label, const char *slot,
             cf_hsm_t **h)
{
    cf_hsm_config_t  cfg = { .lib = lib, .token_label = label, .slot = slot,
                             .max_parallel = 2 };

    return cf_hsm_open(&cfg, h);
}

static cf_err_t
cf_test_login(cf_hsm_t *h, const char *pin)
{
    cf_secret_t  *p = cf_secret_new_copy(pin, strlen(pin));
    cf_err_t      rc;

    assert_non_null(p);
    rc = cf_hsm_login(h, p);
    cf_secret_free(p);
    return rc;
}

/* Encrypt then decrypt `msg` with AAD `aad`; checks the round trip. */
static void
cf_test_roundtrip(cf_hsm_t *h, const cf_hsm_id_t *key, const char *msg,
                  const char *aad)
{
    unsigned char  iv[CF_HSM_GCM_IV], ct[256], pt[256];
    size_t         ct_len = 0, pt_len = 0, n = strlen(msg);

    assert_true(n + CF_HSM_GCM_TAG <= sizeof(ct));
    assert_int_equal(cf_hsm_random(h, iv, sizeof(iv)), CF_OK);
    assert_int_equal(cf_hsm_gcm_encrypt(h, key, iv, aad, strlen(aad), msg, n,
                                        ct, &ct_len), CF_OK);
    assert_int_equal(ct_len, n + CF_HSM_GCM_TAG);
    assert_int_equal(cf_hsm_gcm_decrypt(h, key, iv, aad, strlen(aad), ct,
                                        ct_len, pt, &pt_len), CF_OK);
    assert_int_equal(pt_len, n);
    assert_memory_equal(pt, msg, n);
}

/* ---- open and login ------------------------------------------------------ */

static void
cf_test_open_by_label(void **state)
{
    cf_hsm_t  *h = NULL;
    char      *st;

    (void) state;
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), CF_TEST_LABEL,
                                  NULL, &h), CF_OK);
    assert_non_null(h);
    assert_false(cf_hsm_logged_in(h));
    /* Not logged in: no crypto, not even random. */
    {
        unsigned char  b[8];

        assert_int_equal(cf_hsm_random(h, b, sizeof(b)), CF_ERR_SEALED);
    }
    assert_int_equal(cf_test_login(h, CF_TEST_PIN), CF_OK);
    assert_true(cf_hsm_logged_in(h));
    /* Same PIN again: still fine (the server logs in at start and init). */
    assert_int_equal(cf_test_login(h, CF_TEST_PIN), CF_OK);
    st = cf_hsm_status(h);
    assert_null(st);
    cf_hsm_logout(h);
    assert_false(cf_hsm_logged_in(h));
    cf_hsm_logout(h);           /* safe when not logged in */
    cf_hsm_close(h);
    cf_hsm_close(NULL);
}

static void
cf_test_open_errors(void **state)
{
    cf_hsm_t  *h = (cf_hsm_t *) 1;

    (void) state;
    /* Wrong label, and a prefix of the real one (never prefix-match). */
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), "no-such-token",
                                  NULL, &h), CF_ERR_CONFIG);
    assert_null(h);
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), "coffer", NULL, &h),
                     CF_ERR_CONFIG);
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(),
                                  "a-label-that-is-longer-than-32-bytes",
                                  NULL, &h), CF_ERR_CONFIG);
    assert_int_equal(cf_test_open("/nonexistent/libsofthsm2.so",
                                  CF_TEST_LABEL, NULL, &h), CF_ERR_CONFIG);
    /* A real library that is no PKCS#11 module. */
    assert_int_equal(cf_test_open("libc.so.6", CF_TEST_LABEL, NULL, &h),
                     CF_ERR_CONFIG);
    assert_int_equal(cf_test_open(NULL, CF_TEST_LABEL, NULL, &h),
                     CF_ERR_CONFIG);
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), NULL, "12x", &h),
                     CF_ERR_CONFIG);
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), NULL, NULL, &h),
                     CF_ERR_CONFIG);
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), NULL, "4242424242",
                                  &h), CF_ERR_CONFIG);
    assert_null(h);
}

static void
cf_test_open_by_slot(void **state)
{
    cf_hsm_t  *h = NULL;
    char       slot[32];

    (void) state;
    /* Learn the slot id the token got from the layer itself. */
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), CF_TEST_LABEL,
                                  NULL, &h), CF_OK);
    snprintf(slot, sizeof(slot), "%lu", (unsigned long) h->slot);
    cf_hsm_close(h);
    h = NULL;
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), NULL, slot, &h),
                     CF_OK);
    assert_int_equal(cf_test_login(h, CF_TEST_PIN), CF_OK);
    cf_hsm_close(h);
}

static void
cf_test_wrong_pin(void **state)
{
    cf_hsm_t  *h = NULL;

    (void) state;
    assert_int_equal(cf_test_open(cf_test_softhsm_lib(), CF_TEST_LABEL,
                                  NULL, &h), CF_OK);
    assert_int_equal(cf_test_login(h, "9999"), CF_ERR_PIN);
    assert_false(cf_hsm_logged_in(h));
    assert_int_equal(cf_test_login(h, CF_TEST_PIN), CF_OK);
    /* Another PIN while logged in: checked, and a wrong one logs out. */
    assert_int_equal(cf_test_login(h, "4321"), CF_ERR_PIN);
    assert_false(cf_hsm_logged_in(h));
    cf_hsm_close(h);
}

static void
cf_test_init_token_duplicate(void **state)
{
    cf_secret_t  *so = cf_secret_new_copy("so-1234", 7);
    cf_secret_t  *up = cf_secret_new_copy("1234", 4);

    (void) state;
    assert_int_equal(cf_hsm_init_token(cf_test_softhsm_lib(), CF_TEST_LABEL,
                                       so, up), CF_ERR_CONFIG);
    assert_int_equal(cf_hsm_init_token("/nonexistent.so", "x", so, up),
                     CF_ERR_CONFIG);
    cf_secret_free(so);
    cf_secret_free(up);
}

/* ---- keys ---------------------------------------------------------------- */

static void
cf_test_keys(void **state)
{
    cf_hsm_t           *h = *state;
    cf_hsm_id_t         aes, mac, found, dup, zero;
    cf_hsm_key_info_t   info;

    memset(&zero, 0, sizeof(zero));
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "t/keys/aes",
                                         &aes), CF_OK);
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_HMAC256,
                                         "t/keys/mac", &mac), CF_OK);
    assert_memory_not_equal(aes.b, mac.b, CF_HSM_ID_LEN);
    assert_memory_not_equal(aes.b, zero.b, CF_HSM_ID_LEN);

    assert_int_equal(cf_hsm_key_info(h, &aes, &info), CF_OK);
    assert_true(info.sensitive);
    assert_false(info.extractable);
    assert_true(info.token);
    assert_true(info.is_private);
    assert_int_equal(cf_hsm_key_info(h, &mac, &info), CF_OK);
    assert_true(info.sensitive);
    assert_false(info.extractable);
    assert_true(info.token);

    assert_int_equal(cf_hsm_key_find(h, "t/keys/aes", &found), CF_OK);
    assert_memory_equal(found.b, aes.b, CF_HSM_ID_LEN);
    assert_int_equal(cf_hsm_key_find(h, "t/keys/mac", &found), CF_OK);
    assert_memory_equal(found.b, mac.b, CF_HSM_ID_LEN);
    /* After use (a session copy with the same label and id exists) the
     * lookup still sees exactly one key. */
    cf_test_roundtrip(h, &aes, "hello", "aad");
    assert_int_equal(cf_hsm_key_find(h, "t/keys/aes", &found), CF_OK);
    assert_memory_equal(found.b, aes.b, CF_HSM_ID_LEN);

    /* Exact label only. */
    assert_int_equal(cf_hsm_key_find(h, "t/keys/ae", &found),
                     CF_ERR_NOT_FOUND);
    assert_memory_equal(found.b, zero.b, CF_HSM_ID_LEN);
    assert_int_equal(cf_hsm_key_find(h, "t/keys/aes/", &found),
                     CF_ERR_NOT_FOUND);

    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES128, "t/keys/aes",
                                         &dup), CF_OK);
    assert_int_equal(cf_hsm_key_find(h, "t/keys/aes", &found),
                     CF_ERR_INTEGRITY);
    assert_int_equal(cf_hsm_key_destroy(h, &dup), CF_OK);
    assert_int_equal(cf_hsm_key_find(h, "t/keys/aes", &found), CF_OK);

    assert_int_equal(cf_hsm_key_generate(h, 99, "t/keys/bad", &found),
                     CF_ERR_INVALID);
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "", &found),
                     CF_ERR_INVALID);
    assert_int_equal(cf_hsm_key_info(h, &zero, &info), CF_ERR_NOT_FOUND);

    assert_int_equal(cf_hsm_key_destroy(h, &aes), CF_OK);
    assert_int_equal(cf_hsm_key_destroy(h, &mac), CF_OK);
}

static void
cf_test_destroy(void **state)
{
    cf_hsm_t       *h = *state;
    cf_hsm_id_t     k, found;
    unsigned char   iv[CF_HSM_GCM_IV] = { 0 }, ct[64];
    size_t          n;

    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "t/destroy",
                                         &k), CF_OK);
    cf_test_roundtrip(h, &k, "warm the cache", "x");
    assert_int_equal(cf_hsm_key_destroy(h, &k), CF_OK);
    assert_int_equal(cf_hsm_key_find(h, "t/destroy", &found),
                     CF_ERR_NOT_FOUND);
    assert_int_equal(cf_hsm_gcm_encrypt(h, &k, iv, NULL, 0, "a", 1, ct, &n),
                     CF_ERR_NOT_FOUND);
    assert_int_equal(cf_hsm_key_destroy(h, &k), CF_ERR_NOT_FOUND);
    assert_true(cf_hsm_logged_in(h));
}

/* ---- crypto -------------------------------------------------------------- */

static void
cf_test_gcm(void **state)
{
    cf_hsm_t       *h = *state;
    cf_hsm_id_t     k, k2, mac;
    unsigned char   iv[CF_HSM_GCM_IV], ct[64], ct2[64], pt[64];
    const char     *msg = "the quick brown fox";
    size_t          n = strlen(msg), ct_len, ct2_len, pt_len;

    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "t/gcm", &k),
                     CF_OK);
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES128, "t/gcm128",
                                         &k2), CF_OK);
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_HMAC256, "t/gcm-mac",
                                         &mac), CF_OK);
    cf_test_roundtrip(h, &k, msg, "path/a");
    cf_test_roundtrip(h, &k2, msg, "path/a");
    cf_test_roundtrip(h, &k, "", "");           /* empty plaintext, no AAD */

    assert_int_equal(cf_hsm_random(h, iv, sizeof(iv)), CF_OK);
    assert_int_equal(cf_hsm_gcm_encrypt(h, &k, iv, "path/a", 6, msg, n, ct,
                                        &ct_len), CF_OK);
    assert_int_equal(ct_len, n + CF_HSM_GCM_TAG);
    assert_memory_not_equal(ct, msg, n);

    /* The caller makes the IV: the same IV gives the same ciphertext. */
    assert_int_equal(cf_hsm_gcm_encrypt(h, &k, iv, "path/a", 6, msg, n, ct2,
                                        &ct2_len), CF_OK);
    assert_int_equal(ct2_len, ct_len);
    assert_memory_equal(ct, ct2, ct_len);

    /* Wrong AAD, tampered tag, tampered body, wrong key, wrong IV. */
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, "path/b", 6, ct, ct_len,
                                        pt, &pt_len), CF_ERR_CRYPTO);
    assert_int_equal(pt_len, 0);
    ct[ct_len - 1] ^= 0x01;
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, "path/a", 6, ct, ct_len,
                                        pt, &pt_len), CF_ERR_CRYPTO);
    ct[ct_len - 1] ^= 0x01;
    ct[0] ^= 0x80;
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, "path/a", 6, ct, ct_len,
                                        pt, &pt_len), CF_ERR_CRYPTO);
    ct[0] ^= 0x80;
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k2, iv, "path/a", 6, ct, ct_len,
                                        pt, &pt_len), CF_ERR_CRYPTO);
    iv[0] ^= 1;
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, "path/a", 6, ct, ct_len,
                                        pt, &pt_len), CF_ERR_CRYPTO);
    iv[0] ^= 1;
    /* The session that saw the failures still works. */
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, "path/a", 6, ct, ct_len,
                                        pt, &pt_len), CF_OK);
    assert_int_equal(pt_len, n);
    assert_memory_equal(pt, msg, n);

    /* Shorter than a tag; no IV; an HMAC key. */
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, NULL, 0, ct, 15, pt,
                                        &pt_len), CF_ERR_CRYPTO);
    assert_int_equal(cf_hsm_gcm_encrypt(h, &k, NULL, NULL, 0, msg, n, ct,
                                        &ct_len), CF_ERR_INVALID);
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, NULL, NULL, 0, ct, 32, pt,
                                        &pt_len), CF_ERR_INVALID);
    assert_int_equal(cf_hsm_gcm_encrypt(h, &mac, iv, NULL, 0, msg, n, ct,
                                        &ct_len), CF_ERR_INVALID);
    assert_int_equal(cf_hsm_gcm_encrypt(h, &k, iv, NULL, 0, msg,
                                        (size_t) CF_HSM_MAX_INPUT + 1, ct,
                                        &ct_len), CF_ERR_INVALID);

    assert_int_equal(cf_hsm_key_destroy(h, &k), CF_OK);
    assert_int_equal(cf_hsm_key_destroy(h, &k2), CF_OK);
    assert_int_equal(cf_hsm_key_destroy(h, &mac), CF_OK);
}

static void
cf_test_hmac(void **state)
{
    cf_hsm_t       *h = *state;
    cf_hsm_id_t     m1, m2, aes;
    unsigned char   a[32], b[32], c[32], d[32], e[32];

    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_HMAC256, "t/hmac1",
                                         &m1), CF_OK);
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_HMAC256, "t/hmac2",
                                         &m2), CF_OK);
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "t/hmac-aes",
                                         &aes), CF_OK);
    /* The key cannot be read, so no OpenSSL comparison: deterministic,
     * keyed and input-dependent is what callers rely on. */
    assert_int_equal(cf_hsm_hmac_sha256(h, &m1, "data", 4, a), CF_OK);
    assert_int_equal(cf_hsm_hmac_sha256(h, &m1, "data", 4, b), CF_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(cf_hsm_hmac_sha256(h, &m2, "data", 4, c), CF_OK);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(cf_hsm_hmac_sha256(h, &m1, "datb", 4, d), CF_OK);
    assert_memory_not_equal(a, d, 32);
    assert_int_equal(cf_hsm_hmac_sha256(h, &m1, NULL, 0, e), CF_OK);
    assert_memory_not_equal(a, e, 32);
    assert_int_equal(cf_hsm_hmac_sha256(h, &aes, "data", 4, e),
                     CF_ERR_INVALID);
    assert_int_equal(cf_hsm_key_destroy(h, &m1), CF_OK);
    assert_int_equal(cf_hsm_key_destroy(h, &m2), CF_OK);
    assert_int_equal(cf_hsm_key_destroy(h, &aes), CF_OK);
}

static void
cf_test_random(void **state)
{
    cf_hsm_t       *h = *state;
    unsigned char   a[32], b[32], zero[4096];
    unsigned char  *big;
    size_t          len = 300000, i, nz = 0;

    assert_int_equal(cf_hsm_random(h, a, sizeof(a)), CF_OK);
    assert_int_equal(cf_hsm_random(h, b, sizeof(b)), CF_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(cf_hsm_random(h, a, 0), CF_OK);
    /* Longer than one C_GenerateRandom chunk: every part is filled. */
    memset(zero, 0, sizeof(zero));
    big = calloc(1, len);
    assert_non_null(big);
    assert_int_equal(cf_hsm_random(h, big, len), CF_OK);
    for (i = 0; i + sizeof(zero) <= len; i += sizeof(zero))
        nz += memcmp(big + i, zero, sizeof(zero)) != 0;
    assert_int_equal(nz, len / sizeof(zero));
    free(big);
}

static void
cf_test_id_hex(void **state)
{
    cf_hsm_id_t  id, back;
    char         hex[2 * CF_HSM_ID_LEN + 1];
    size_t       i;

    (void) state;
    for (i = 0; i < CF_HSM_ID_LEN; i++)
        id.b[i] = (unsigned char) (i * 17 + 3);
    cf_hsm_id_hex(&id, hex);
    assert_int_equal(strlen(hex), 32);
    assert_string_equal(hex, "031425364758697a8b9cadbecfe0f102");
    assert_int_equal(cf_hsm_id_parse(hex, &back), CF_OK);
    assert_memory_equal(id.b, back.b, CF_HSM_ID_LEN);
    assert_int_equal(cf_hsm_id_parse("031425364758697A8B9CADBECFE0F102",
                                     &back), CF_OK);
    assert_memory_equal(id.b, back.b, CF_HSM_ID_LEN);
    assert_int_equal(cf_hsm_id_parse("0314", &back), CF_ERR_INVALID);
    assert_int_equal(cf_hsm_id_parse("g31425364758697a8b9cadbecfe0f102",
                                     &back), CF_ERR_INVALID);
    assert_int_equal(cf_hsm_id_parse(NULL, &back), CF_ERR_INVALID);
}

/* ---- threads ------------------------------------------------------------- */

typedef struct {
    cf_hsm_t     *h;
    cf_hsm_id_t   key;
    int           ops;
    int           errors;
} cf_test_worker_t;

static void *
cf_test_worker(void *arg)
{
    cf_test_worker_t  *w = arg;
    unsigned char      iv[CF_HSM_GCM_IV] = { 0 }, ct[80], pt[80];
    unsigned char      msg[64];
    size_t             ct_len, pt_len;
    int                i;

    for (i = 0; i < w->ops; i++) {
        memset(msg, i & 0xff, sizeof(msg));
        memcpy(iv, &i, sizeof(i));
        if (cf_hsm_gcm_encrypt(w->h, &w->key, iv, "aad", 3, msg,
                               sizeof(msg), ct, &ct_len) != CF_OK
            || cf_hsm_gcm_decrypt(w->h, &w->key, iv, "aad", 3, ct, ct_len,
                                  pt, &pt_len) != CF_OK
            || pt_len != sizeof(msg) || memcmp(pt, msg, sizeof(msg)) != 0)
            w->errors++;
    }
    return NULL;
}

static void
cf_test_run_workers(cf_hsm_t *h, const cf_hsm_id_t *key, int ops,
                    int reconnects)
{
    cf_test_worker_t  w[2];
    pthread_t         t[2];
    int               i;

    for (i = 0; i < 2; i++) {
        w[i].h = h;
        w[i].key = *key;
        w[i].ops = ops;
        w[i].errors = 0;
        assert_int_equal(pthread_create(&t[i], NULL, cf_test_worker, &w[i]),
                         0);
    }
    for (i = 0; i < reconnects; i++)
        assert_int_equal(cf_hsm_test_force_reconnect(h), CF_OK);
    for (i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
}

static void
cf_test_threads(void **state)
{
    cf_hsm_t     *h = *state;
    cf_hsm_id_t   k;

    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "t/threads",
                                         &k), CF_OK);
    cf_test_run_workers(h, &k, 2000, 0);
    assert_int_equal(cf_hsm_key_destroy(h, &k), CF_OK);
}

/* ---- recovery ------------------------------------------------------------ */

static void
cf_test_reconnect(void **state)
{
    cf_hsm_t       *h = *state;
    cf_hsm_id_t     a, b;
    unsigned char   iv[CF_HSM_GCM_IV] = { 1 }, ct[64], pt[64], m1[32], m2[32];
    size_t          ct_len, pt_len;
    char           *st;

    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "t/rc/a", &a),
                     CF_OK);
    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_HMAC256, "t/rc/b",
                                         &b), CF_OK);
    assert_int_equal(cf_hsm_gcm_encrypt(h, &a, iv, "p", 1, "secret", 6, ct,
                                        &ct_len), CF_OK);
    assert_int_equal(cf_hsm_hmac_sha256(h, &b, "x", 1, m1), CF_OK);

    /* Forced: handles are dropped and found again by CKA_ID. */
    assert_int_equal(cf_hsm_test_force_reconnect(h), CF_OK);
    assert_true(cf_hsm_logged_in(h));
    assert_int_equal(cf_hsm_gcm_decrypt(h, &a, iv, "p", 1, ct, ct_len, pt,
                                        &pt_len), CF_OK);
    assert_memory_equal(pt, "secret", 6);

    /* The module loses its state behind our back (token went away). Use
     * b first so that after re-init it gets the handle numbers a had:
     * a stale handle would now name the wrong key. */
    cf_hsm_test_finalize(h);
    assert_int_equal(cf_hsm_hmac_sha256(h, &b, "x", 1, m2), CF_OK);
    assert_memory_equal(m1, m2, 32);
    assert_int_equal(cf_hsm_gcm_decrypt(h, &a, iv, "p", 1, ct, ct_len, pt,
                                        &pt_len), CF_OK);
    assert_memory_equal(pt, "secret", 6);
    st = cf_hsm_status(h);
    assert_null(st);

    /* Ops racing with reconnects see no error. */
    cf_test_run_workers(h, &a, 300, 10);

    assert_int_equal(cf_hsm_key_destroy(h, &a), CF_OK);
    assert_int_equal(cf_hsm_key_destroy(h, &b), CF_OK);
}

static void
cf_test_unavailable(void **state)
{
    cf_hsm_t       *h = *state;
    char            tokdir[320], moved[340];
    unsigned char   r[16];
    char           *st;

    snprintf(tokdir, sizeof(tokdir), "%s/tokens", cf_test_tok.dir);
    snprintf(moved, sizeof(moved), "%s/tokens.away", cf_test_tok.dir);
    cf_hsm_test_finalize(h);
    assert_int_equal(rename(tokdir, moved), 0);
    assert_int_equal(cf_hsm_random(h, r, sizeof(r)), CF_ERR_UNAVAILABLE);
    assert_false(cf_hsm_logged_in(h));
    st = cf_hsm_status(h);
    assert_non_null(st);
    assert_non_null(strstr(st, CF_TEST_LABEL));
    free(st);
    /* Still gone: every call tries again and fails cleanly. */
    assert_int_equal(cf_hsm_random(h, r, sizeof(r)), CF_ERR_UNAVAILABLE);

    assert_int_equal(rename(moved, tokdir), 0);
    assert_int_equal(cf_hsm_random(h, r, sizeof(r)), CF_OK);
    assert_true(cf_hsm_logged_in(h));
    st = cf_hsm_status(h);
    assert_null(st);
}

static void
cf_test_logout_login(void **state)
{
    cf_hsm_t       *h = *state;
    cf_hsm_id_t     k;
    unsigned char   iv[CF_HSM_GCM_IV] = { 2 }, ct[64], pt[64];
    size_t          ct_len, pt_len;

    assert_int_equal(cf_hsm_key_generate(h, CF_HSM_KEY_AES256, "t/logout",
                                         &k), CF_OK);
    assert_int_equal(cf_hsm_gcm_encrypt(h, &k, iv, NULL, 0, "abc", 3, ct,
                                        &ct_len), CF_OK);
    cf_hsm_logout(h);
    assert_false(cf_hsm_logged_in(h));
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, NULL, 0, ct, ct_len, pt,
                                        &pt_len), CF_ERR_SEALED);
    assert_int_equal(cf_hsm_test_force_reconnect(h), CF_ERR_SEALED);
    assert_int_equal(cf_test_login(h, CF_TEST_PIN), CF_OK);
    assert_int_equal(cf_hsm_gcm_decrypt(h, &k, iv, NULL, 0, ct, ct_len, pt,
                                        &pt_len), CF_OK);
    assert_memory_equal(pt, "abc", 3);
    assert_int_equal(cf_hsm_key_destroy(h, &k), CF_OK);
}

static void
cf_test_set_pin(void **state)
{
    cf_hsm_t     *h = *state;
    cf_secret_t  *oldp = cf_secret_new_copy(CF_TEST_PIN, 4);
    cf_secret_t  *newp = cf_secret_new_copy("new-pin-5678", 12);
    unsigned char r[8];

    assert_int_equal(cf_hsm_set_pin(h, oldp, newp), CF_OK);
    /* Reconnects log in with the new PIN. */
    assert_int_equal(cf_hsm_test_force_reconnect(h), CF_OK);
    assert_int_equal(cf_hsm_random(h, r, sizeof(r)), CF_OK);
    cf_hsm_logout(h);
    assert_int_equal(cf_test_login(h, CF_TEST_PIN), CF_ERR_PIN);
    assert_int_equal(cf_test_login(h, "new-pin-5678"), CF_OK);
    assert_int_equal(cf_hsm_random(h, r, sizeof(r)), CF_OK);
    /* A wrong old PIN is refused and changes nothing. */
    assert_int_equal(cf_hsm_set_pin(h, oldp, oldp), CF_ERR_PIN);
    assert_int_equal(cf_hsm_set_pin(h, newp, oldp), CF_OK);
    cf_hsm_logout(h);
    assert_int_equal(cf_hsm_set_pin(h, oldp, newp), CF_ERR_SEALED);
    assert_int_equal(cf_test_login(h, CF_TEST_PIN), CF_OK);
    cf_secret_free(oldp);
    cf_secret_free(newp);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(cf_test_open_by_label),
        cmocka_unit_test(cf_test_open_errors),
        cmocka_unit_test(cf_test_open_by_slot),
        cmocka_unit_test(cf_test_wrong_pin),
        cmocka_unit_test(cf_test_init_token_duplicate),
        cmocka_unit_test(cf_test_id_hex),
        cmocka_unit_test_setup_teardown(cf_test_keys, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_destroy, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_gcm, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_hmac, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_random, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_threads, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_reconnect, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_unavailable, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_logout_login, cf_test_setup,
                                        cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_set_pin, cf_test_setup,
                                        cf_test_teardown),
    };

    return cmocka_run_group_tests(tests, cf_test_group_setup,
                                  cf_test_group_teardown);
}
