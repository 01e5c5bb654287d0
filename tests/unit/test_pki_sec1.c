/* test_pki_sec1: our SEC1 DER equals OpenSSL's, curve by curve. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "pki.h"

static void
cf_test_curve(const char *curve)
{
    EVP_PKEY       *k;
    unsigned char  *ours = NULL, *theirs = NULL;
    size_t          ours_len = 0;
    int             theirs_len, i;

    for (i = 0; i < 20; i++) {
        k = EVP_EC_gen(curve);
        assert_non_null(k);
        assert_int_equal(cf_pki_sec1_der(k, &ours, &ours_len), CF_OK);
        theirs_len = i2d_PrivateKey(k, &theirs);
        assert_true(theirs_len > 0);
        assert_int_equal(ours_len, (size_t) theirs_len);
        assert_memory_equal(ours, theirs, ours_len);
        OPENSSL_secure_clear_free(ours, ours_len);
        OPENSSL_clear_free(theirs, (size_t) theirs_len);
        ours = theirs = NULL;
        EVP_PKEY_free(k);
    }
}

static void
cf_test_p256(void **state)
{
    (void) state;
    cf_test_curve("P-256");
}

static void
cf_test_p384(void **state)
{
    (void) state;
    cf_test_curve("P-384");
}

static void
cf_test_p521(void **state)
{
    (void) state;
    cf_test_curve("P-521");     /* lengths over 127: long form */
}

static void
cf_test_not_ec(void **state)
{
    EVP_PKEY       *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char  *d = (unsigned char *) 1;
    size_t          n = 1;

    (void) state;
    assert_non_null(k);
    assert_int_equal(cf_pki_sec1_der(k, &d, &n), CF_ERR_INVALID);
    assert_null(d);
    assert_int_equal(n, 0);
    EVP_PKEY_free(k);
    k = EVP_EC_gen("secp256k1");        /* EC, but not a curve we name */
    assert_non_null(k);
    assert_int_equal(cf_pki_sec1_der(k, &d, &n), CF_ERR_INVALID);
    EVP_PKEY_free(k);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(cf_test_p256),
        cmocka_unit_test(cf_test_p384),
        cmocka_unit_test(cf_test_p521),
        cmocka_unit_test(cf_test_not_ec),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
