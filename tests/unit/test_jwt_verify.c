/*
 * Unit tests for engines/jwt_verify: compact JWS parsing, signature
 * verification against the ES256 example of RFC 7515 appendix A.3 (a
 * known-answer test with real crypto), time claims with leeways, claim
 * lookup by JSON pointer, audiences and Vault's globs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../engines/jwt_verify.h"

/* RFC 7515 A.3: ES256 over {"iss":"joe", "exp":1300819380, ...}. */
#define RFC_ES256_INPUT \
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAs" \
    "DQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC_ES256_SIG \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQ" \
    "xfKTUJqPP3-Kg6NU1Q"
#define RFC_ES256_X  "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define RFC_ES256_Y  "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"

static json_t *
rfc_jwks(const char *kid)
{
    json_t  *k = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv",
                           "P-256", "x", RFC_ES256_X, "y", RFC_ES256_Y);

    if (kid != NULL)
        json_object_set_new(k, "kid", json_string(kid));
    return json_pack("{s:[o]}", "keys", k);
}

static void
test_rfc7515_es256(void **state)
{
    const char  *why = NULL;
    cf_jwt_t    *t = NULL;
    json_t      *jwks = rfc_jwks("any"), *algs;

    (void) state;
    assert_int_equal(cf_jwt_parse(RFC_ES256_INPUT "." RFC_ES256_SIG, &t,
                                  &why), CF_OK);
    assert_string_equal(t->alg, "ES256");
    assert_null(t->kid);
    assert_string_equal(json_string_value(json_object_get(t->claims,
                                                          "iss")), "joe");
    /* No kid in the token: every key of a fitting type is tried. */
    assert_int_equal(cf_jwt_verify_jwks(t, jwks, NULL, &why), CF_OK);
    algs = json_pack("[s, s]", "RS256", "ES256");
    assert_int_equal(cf_jwt_verify_jwks(t, jwks, algs, &why), CF_OK);
    json_decref(algs);
    /* Not among the allowed algorithms. */
    algs = json_pack("[s]", "RS256");
    assert_int_equal(cf_jwt_verify_jwks(t, jwks, algs, &why),
                     CF_ERR_CRYPTO);
    json_decref(algs);
    cf_jwt_free(t);
    json_decref(jwks);
}

static void
test_rfc7515_es256_tampered(void **state)
{
    const char  *why = NULL;
    cf_jwt_t    *t = NULL;
    json_t      *jwks = rfc_jwks(NULL);
    char         tok[512];

    (void) state;
    /* Last signature character changed: the signature must not verify. */
    snprintf(tok, sizeof(tok), "%s.%s", RFC_ES256_INPUT, RFC_ES256_SIG);
    tok[strlen(tok) - 1] = 'A';
    assert_int_equal(cf_jwt_parse(tok, &t, &why), CF_OK);
    assert_int_equal(cf_jwt_verify_jwks(t, jwks, NULL, &why),
                     CF_ERR_CRYPTO);
    cf_jwt_free(t);
    /* A signature of the wrong length for P-256. */
    snprintf(tok, sizeof(tok), "%s.%s", RFC_ES256_INPUT, "AAAA");
    assert_int_equal(cf_jwt_parse(tok, &t, &why), CF_OK);
    assert_int_equal(cf_jwt_verify_jwks(t, jwks, NULL, &why),
                     CF_ERR_CRYPTO);
    cf_jwt_free(t);
    json_decref(jwks);
}

static void
test_jwks_kid_selection(void **state)
{
    const char  *why = NULL;
    cf_jwt_t    *t = NULL;
    json_t      *jwks = rfc_jwks("k1"), *other = rfc_jwks("k2");
    char         tok[512];

    (void) state;
    /* {"alg":"ES256","kid":"k1"} as the header, the RFC's claims: the
     * signature no longer matches, but key selection can be seen. */
    snprintf(tok, sizeof(tok), "%s%s.%s",
             "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0",
             RFC_ES256_INPUT + strlen("eyJhbGciOiJFUzI1NiJ9"),
             RFC_ES256_SIG);
    assert_int_equal(cf_jwt_parse(tok, &t, &why), CF_OK);
    assert_string_equal(t->kid, "k1");
    assert_int_equal(cf_jwt_verify_jwks(t, jwks, NULL, &why),
                     CF_ERR_CRYPTO);
    /* No key with that kid: the caller may fetch the set again. */
    assert_int_equal(cf_jwt_verify_jwks(t, other, NULL, &why),
                     CF_ERR_NOT_FOUND);
    cf_jwt_free(t);
    json_decref(jwks);
    json_decref(other);
}

static void
test_jwks_check(void **state)
{
    const char  *why = NULL;
    json_t      *ok = rfc_jwks(NULL);
    json_t      *bad[4];
    size_t       i;

    (void) state;
    assert_int_equal(cf_jwt_jwks_check(ok, &why), CF_OK);
    bad[0] = json_pack("{s:[]}", "keys");
    bad[1] = json_pack("{s:[{s:s, s:s}]}", "keys", "kty", "oct", "k",
                       "AAAA");
    bad[2] = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "keys", "kty", "EC",
                       "crv", "P-256", "x", RFC_ES256_X, "y", "AAAA");
    bad[3] = json_pack("[]");
    for (i = 0; i < 4; i++) {
        assert_int_equal(cf_jwt_jwks_check(bad[i], &why), CF_ERR_INVALID);
        json_decref(bad[i]);
    }
    json_decref(ok);
}

static void
test_parse_malformed(void **state)
{
    static const char *const  bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d.e",                                    /* JWE shape */
        "e30.e30.",                                     /* {} has no alg */
        "W10.e30.",                                     /* header [] */
        "eyJhbGciOiJFUzI1NiJ9=.e30.",                   /* padding */
        "eyJhbGciOiJFUzI1NiJ9.e30.a+b",                 /* not base64url */
        "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.",            /* "not json" */
        /* {"alg":"ES256","crit":["x"]} */
        "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsieCJdfQ.e30.",
        /* {"alg":"ES256","alg":"none"} */
        "eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ.e30.",
        /* {"alg":"ES256","kid":7} */
        "eyJhbGciOiJFUzI1NiIsImtpZCI6N30.e30.",
        NULL
    };
    const char  *why = NULL;
    cf_jwt_t    *t = NULL;
    char        *big;
    size_t       i;

    (void) state;
    for (i = 0; bad[i] != NULL; i++) {
        assert_int_equal(cf_jwt_parse(bad[i], &t, &why), CF_ERR_INVALID);
        assert_null(t);
        assert_non_null(why);
    }
    big = malloc(CF_JWT_MAX_LEN + 2);
    assert_non_null(big);
    memset(big, 'a', CF_JWT_MAX_LEN + 1);
    big[CF_JWT_MAX_LEN + 1] = '\0';
    assert_int_equal(cf_jwt_parse(big, &t, &why), CF_ERR_INVALID);
    free(big);
    /* An empty signature still parses; verifying it fails. */
    assert_int_equal(cf_jwt_parse("eyJhbGciOiJub25lIn0.e30.", &t, &why),
                     CF_OK);
    assert_int_equal(cf_jwt_verify_pems(t, NULL, NULL, &why),
                     CF_ERR_CRYPTO);                /* "none" */
    assert_false(cf_jwt_alg_known("none"));
    assert_false(cf_jwt_alg_known("HS256"));
    assert_true(cf_jwt_alg_known("PS256"));
    cf_jwt_free(t);
}

static void
test_times(void **state)
{
    cf_jwt_times_t  lw = { 60, 150, 150, true };
    cf_jwt_times_t  strict = { 0, 0, 0, true };
    const char     *why = NULL;
    json_t         *c;
    time_t          now = 1700000000;

    (void) state;
    c = json_pack("{s:I}", "exp", (json_int_t) now - 200);
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_OK);
    assert_int_equal(cf_jwt_check_times(c, now, &strict, &why),
                     CF_ERR_CRYPTO);
    json_decref(c);
    c = json_pack("{s:I}", "exp", (json_int_t) now - 211);
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_ERR_CRYPTO);
    json_decref(c);
    c = json_pack("{s:f}", "nbf", (double) now + 209.5);
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_OK);
    json_decref(c);
    c = json_pack("{s:I}", "nbf", (json_int_t) now + 211);
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_ERR_CRYPTO);
    json_decref(c);
    c = json_pack("{s:I, s:I}", "exp", (json_int_t) now + 10, "iat",
                  (json_int_t) now + 61);
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_ERR_CRYPTO);
    json_decref(c);
    c = json_pack("{s:s}", "exp", "tomorrow");
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_ERR_CRYPTO);
    json_decref(c);
    c = json_pack("{s:I}", "iat", (json_int_t) now);
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_ERR_CRYPTO);
    lw.require_exp = false;
    assert_int_equal(cf_jwt_check_times(c, now, &lw, &why), CF_OK);
    json_decref(c);
}

static void
test_claims_and_globs(void **state)
{
    json_t  *c, *bound;
    char    *s;

    (void) state;
    c = json_loads("{\"a\":{\"b/c\":{\"d~e\":\"x\"}},\"arr\":[1,\"two\"],"
                   "\"a.b\":\"dotted\",\"aud\":[\"x\",\"y\"],\"n\":1.5,"
                   "\"t\":true}", 0, NULL);
    assert_non_null(c);
    assert_string_equal(json_string_value(cf_jwt_claim(c, "/a/b~1c/d~0e")),
                        "x");
    assert_string_equal(json_string_value(cf_jwt_claim(c, "/arr/1")),
                        "two");
    assert_null(cf_jwt_claim(c, "/arr/2"));
    assert_null(cf_jwt_claim(c, "/arr/x"));
    assert_null(cf_jwt_claim(c, "/a/missing"));
    assert_string_equal(json_string_value(cf_jwt_claim(c, "a.b")),
                        "dotted");
    bound = json_pack("[s, s]", "z", "y");
    assert_true(cf_jwt_aud_has(c, bound));
    json_decref(bound);
    bound = json_pack("[s]", "z");
    assert_false(cf_jwt_aud_has(c, bound));
    json_decref(bound);
    s = cf_jwt_scalar_str(json_object_get(c, "n"));
    assert_string_equal(s, "1.5");
    free(s);
    s = cf_jwt_scalar_str(json_object_get(c, "t"));
    assert_string_equal(s, "true");
    free(s);
    assert_null(cf_jwt_scalar_str(json_object_get(c, "arr")));
    json_decref(c);

    assert_true(cf_jwt_glob("*", ""));
    assert_true(cf_jwt_glob("*", "anything"));
    assert_true(cf_jwt_glob("web-*", "web-1"));
    assert_false(cf_jwt_glob("web-*", "api-1"));
    assert_true(cf_jwt_glob("*@example.com", "a@example.com"));
    assert_false(cf_jwt_glob("*@example.com", "a@example.com.evil"));
    assert_true(cf_jwt_glob("a*b*c", "aXbYbZc"));
    assert_false(cf_jwt_glob("a*b*c", "aXbYbZ"));
    assert_true(cf_jwt_glob("exact", "exact"));
    assert_false(cf_jwt_glob("exact", "exactly"));
    assert_false(cf_jwt_glob("", "x"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_es256),
        cmocka_unit_test(test_rfc7515_es256_tampered),
        cmocka_unit_test(test_jwks_kid_selection),
        cmocka_unit_test(test_jwks_check),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_claims_and_globs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
