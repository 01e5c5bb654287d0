/* test_policy: ACL policies against their header contract and a matrix of
 * Vault's documented examples (concepts/policies). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/policy.h"

#define CF_N(a)  (sizeof(a) / sizeof((a)[0]))

/* One request and its documented outcome. */
typedef struct {
    const char  *path;
    cf_op_t      op;
    const char  *params;    /* JSON object text, or NULL */
    bool         allowed;
} cf_case_t;

static cf_policy_t *
cf_test_parse(const char *name, const char *text)
{
    cf_policy_t  *p = NULL;
    char          err[256] = "unset";
    cf_err_t      rc;

    rc = cf_policy_parse(name, text, strlen(text), &p, err, sizeof(err));
    if (rc != CF_OK)
        fprintf(stderr, "unexpected parse error: %s\n", err);
    assert_int_equal(rc, CF_OK);
    assert_non_null(p);
    assert_string_equal(err, "");
    return p;
}

/* Parse must fail with CF_ERR_INVALID and an error containing want. */
static void
cf_test_parse_bad(const char *text, const char *want)
{
    cf_policy_t  *p = (cf_policy_t *) 1;
    char          err[256] = "";
    cf_err_t      rc;

    rc = cf_policy_parse("bad", text, strlen(text), &p, err, sizeof(err));
    if (rc != CF_ERR_INVALID || strstr(err, want) == NULL)
        fprintf(stderr, "want '%s', got %d '%s'\n", want, rc, err);
    assert_int_equal(rc, CF_ERR_INVALID);
    assert_null(p);
    assert_non_null(strstr(err, want));
}

static cf_acl_t *
cf_test_acl(const char *const *texts, size_t n, const json_t *identity)
{
    cf_policy_t  *pols[8];
    cf_acl_t     *acl;
    char          name[32];
    size_t        i;

    assert_true(n <= CF_N(pols));
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "p%zu", i);
        pols[i] = cf_test_parse(name, texts[i]);
    }
    acl = cf_acl_new_identity((const cf_policy_t *const *) pols, n,
                              identity);
    assert_non_null(acl);
    for (i = 0; i < n; i++)
        cf_policy_free(pols[i]);    /* the ACL keeps its own copies */
    return acl;
}

static void
cf_test_cases(const cf_acl_t *acl, const cf_case_t *cases, size_t n)
{
    cf_acl_result_t  r;
    json_t          *params;
    size_t           i, bad = 0;
    bool             got;

    for (i = 0; i < n; i++) {
        params = NULL;
        if (cases[i].params != NULL) {
            params = json_loads(cases[i].params, 0, NULL);
            assert_non_null(params);
        }
        got = cf_acl_allowed(acl, cases[i].path, cases[i].op, params, &r);
        assert_true(got == r.allowed);
        assert_true(got == (r.reason == CF_ACL_OK));
        if (got != cases[i].allowed) {
            fprintf(stderr, "case %zu: %s %s %s: want %s, got %s (%s)\n",
                    i, cf_op_name(cases[i].op), cases[i].path,
                    cases[i].params != NULL ? cases[i].params : "",
                    cases[i].allowed ? "allowed" : "denied",
                    got ? "allowed" : "denied", cf_acl_reason_str(r.reason));
            bad++;
        }
        json_decref(params);
    }
    assert_int_equal(bad, 0);
}

/* Run texts (one policy each) against cases. */
static void
cf_test_matrix(const char *const *texts, size_t ntexts,
               const cf_case_t *cases, size_t ncases, const json_t *identity)
{
    cf_acl_t  *acl = cf_test_acl(texts, ntexts, identity);

    cf_test_cases(acl, cases, ncases);
    cf_acl_free(acl);
}

/* ---- the documented examples ------------------------------------------ */

/* "Here is a more detailed policy": glob, deny beats it, parameters. */
static void
test_detailed_example(void **state)
{
    static const char *const  pol[] = {
        "# grants all access on secret/*\n"
        "path \"secret/*\" {\n"
        "  capabilities = [\"create\", \"read\", \"update\", \"patch\",\n"
        "                  \"delete\", \"list\"]\n"
        "}\n"
        "path \"secret/super-secret\" {\n"
        "  capabilities = [\"deny\"]\n"
        "}\n"
        "path \"secret/restricted\" {\n"
        "  capabilities = [\"create\"]\n"
        "  allowed_parameters = {\n"
        "    \"foo\" = []\n"
        "    \"bar\" = [\"zip\", \"zap\"]\n"
        "  }\n"
        "}\n"
    };
    static const cf_case_t  cases[] = {
        { "secret/foo", CF_OP_READ, NULL, true },
        { "secret/foo", CF_OP_UPDATE, "{\"a\": 1}", true },
        { "secret/a/b/c", CF_OP_DELETE, NULL, true },
        { "secret/", CF_OP_LIST, NULL, true },
        { "secret/super-secret", CF_OP_READ, NULL, false },
        { "secret/super-secret", CF_OP_UPDATE, NULL, false },
        { "secret/super-secret", CF_OP_DELETE, NULL, false },
        /* LIST cannot get round the deny */
        { "secret/super-secret/", CF_OP_LIST, NULL, false },
        /* ... but the deny is exact: children are still granted */
        { "secret/super-secret/x", CF_OP_READ, NULL, true },
        { "secret/restricted", CF_OP_CREATE, "{\"foo\": \"any\"}", true },
        { "secret/restricted", CF_OP_CREATE, "{\"foo\": [1, 2]}", true },
        { "secret/restricted", CF_OP_CREATE, "{\"bar\": \"zip\"}", true },
        { "secret/restricted", CF_OP_CREATE,
          "{\"bar\": \"zap\", \"foo\": 1}", true },
        { "secret/restricted", CF_OP_CREATE, "{\"bar\": \"zop\"}", false },
        { "secret/restricted", CF_OP_CREATE, "{\"baz\": \"zip\"}", false },
        { "secret/restricted", CF_OP_CREATE, "{}", true },
        { "secret/restricted", CF_OP_CREATE, NULL, true },
        /* the exact rule replaces the glob: create only */
        { "secret/restricted", CF_OP_UPDATE, "{\"foo\": 1}", false },
        { "secret/restricted", CF_OP_READ, NULL, false },
        { "secret", CF_OP_READ, NULL, false },
        { "other/foo", CF_OP_READ, NULL, false },
    };

    (void) state;
    cf_test_matrix(pol, 1, cases, CF_N(cases), NULL);
}

/* The exact-path and glob examples. */
static void
test_glob_examples(void **state)
{
    static const char *const  pol[] = {
        "path \"secret/foo\" { capabilities = [\"read\"] }\n"
        "path \"secret/bar/*\" { capabilities = [\"read\"] }\n"
        "path \"secret/zip-*\" { capabilities = [\"read\"] }\n"
    };
    static const cf_case_t  cases[] = {
        { "secret/foo", CF_OP_READ, NULL, true },
        { "/secret/foo", CF_OP_READ, NULL, true },
        { "secret/food", CF_OP_READ, NULL, false },
        { "secret/foo/bar", CF_OP_READ, NULL, false },
        { "secret/foo", CF_OP_UPDATE, NULL, false },
        { "secret/bar/zip", CF_OP_READ, NULL, true },
        { "secret/bar/zip/zap", CF_OP_READ, NULL, true },
        { "secret/bars/zip", CF_OP_READ, NULL, false },
        { "secret/bar", CF_OP_READ, NULL, false },
        { "secret/zip-zap", CF_OP_READ, NULL, true },
        { "secret/zip-zap/zong", CF_OP_READ, NULL, true },
        { "secret/zip/zap", CF_OP_READ, NULL, false },
    };

    (void) state;
    cf_test_matrix(pol, 1, cases, CF_N(cases), NULL);
}

/* '+' stands for exactly one path segment. */
static void
test_segment_wildcards(void **state)
{
    static const char *const  pol[] = {
        "path \"secret/+/teamb\" { capabilities = [\"read\"] }\n"
        "path \"secret/+/+/teamb\" { capabilities = [\"read\"] }\n"
        "path \"kv/+/docs/*\" { capabilities = [\"list\"] }\n"
        "path \"+/sys/policies/acl\" { capabilities = [\"list\"] }\n"
    };
    static const cf_case_t  cases[] = {
        { "secret/foo/teamb", CF_OP_READ, NULL, true },
        { "secret/foo/bar/teamb", CF_OP_READ, NULL, true },
        { "secret/bar/foo/teamb", CF_OP_READ, NULL, true },
        { "secret/teamb", CF_OP_READ, NULL, false },
        { "secret/foo/teamb/x", CF_OP_READ, NULL, false },
        { "secret/a/b/c/teamb", CF_OP_READ, NULL, false },
        { "secret/foo/teama", CF_OP_READ, NULL, false },
        { "kv/x/docs/a/b", CF_OP_LIST, NULL, true },
        { "kv/x/docs/", CF_OP_LIST, NULL, true },
        { "kv/x/doc", CF_OP_LIST, NULL, false },
        /* a LIST with a trailing '/' also finds the rule without it */
        { "ns1/sys/policies/acl/", CF_OP_LIST, NULL, true },
        { "ns1/sys/policies/acl", CF_OP_LIST, NULL, true },
        { "ns1/sys/policies/acl/", CF_OP_READ, NULL, false },
    };

    (void) state;
    cf_test_matrix(pol, 1, cases, CF_N(cases), NULL);
}

/* The five priority rules, each deciding between a granting and a
 * denying pattern that both match. */
static void
test_priority(void **state)
{
    static const char *const  pol[] = {
        /* docs: secret/+/+/foo/(glob) loses to secret/(glob), rule 3 */
        "path \"secret/*\" { capabilities = [\"read\"] }\n"
        "path \"secret/+/+/foo/*\" { capabilities = [\"deny\"] }\n"
        /* 1: foo/a* beats foo/+ (first wildcard later) */
        "path \"one/a*\" { capabilities = [\"read\"] }\n"
        "path \"one/+\" { capabilities = [\"deny\"] }\n"
        /* 1: two/bar/+/baz beats two/+/bar/baz */
        "path \"two/bar/+/baz\" { capabilities = [\"read\"] }\n"
        "path \"two/+/bar/baz\" { capabilities = [\"deny\"] }\n"
        /* 2: three/+/bar beats three/+/ba* (not a glob) */
        "path \"three/+/bar\" { capabilities = [\"read\"] }\n"
        "path \"three/+/ba*\" { capabilities = [\"deny\"] }\n"
        /* 2: four/+ beats the glob four/ */
        "path \"four/+\" { capabilities = [\"read\"] }\n"
        "path \"four/*\" { capabilities = [\"deny\"] }\n"
        /* 3: fewer '+' wins */
        "path \"five/+/x/y\" { capabilities = [\"read\"] }\n"
        "path \"five/+/x/+\" { capabilities = [\"deny\"] }\n"
        /* 4: longer wins */
        "path \"six/+/bar/ba*\" { capabilities = [\"read\"] }\n"
        "path \"six/+/bar/b*\" { capabilities = [\"deny\"] }\n"
        /* 3 again: a literal segment beats a '+' */
        "path \"seven/+/b\" { capabilities = [\"read\"] }\n"
        "path \"seven/+/+\" { capabilities = [\"deny\"] }\n"
        /* an exact rule always wins, even over deny globs */
        "path \"eight/*\" { capabilities = [\"deny\"] }\n"
        "path \"eight/open\" { capabilities = [\"read\"] }\n"
        /* the longest glob prefix wins among globs */
        "path \"nine/*\" { capabilities = [\"read\", \"list\"] }\n"
        "path \"nine/closed/*\" { capabilities = [\"deny\"] }\n"
    };
    static const cf_case_t  cases[] = {
        { "secret/a/b/foo/x", CF_OP_READ, NULL, true },
        { "one/ab", CF_OP_READ, NULL, true },
        { "one/b", CF_OP_READ, NULL, false },
        { "two/bar/bar/baz", CF_OP_READ, NULL, true },
        { "two/x/bar/baz", CF_OP_READ, NULL, false },
        { "three/x/bar", CF_OP_READ, NULL, true },
        { "three/x/bat", CF_OP_READ, NULL, false },
        { "three/x/bar/y", CF_OP_READ, NULL, false },
        { "four/x", CF_OP_READ, NULL, true },
        { "four/x/y", CF_OP_READ, NULL, false },
        { "five/a/x/y", CF_OP_READ, NULL, true },
        { "five/a/x/z", CF_OP_READ, NULL, false },
        { "six/a/bar/bat", CF_OP_READ, NULL, true },
        { "six/a/bar/bz", CF_OP_READ, NULL, false },
        { "seven/a/b", CF_OP_READ, NULL, true },
        { "seven/a/c", CF_OP_READ, NULL, false },
        { "eight/open", CF_OP_READ, NULL, true },
        { "eight/closed", CF_OP_READ, NULL, false },
        { "nine/x", CF_OP_READ, NULL, true },
        { "nine/closed/x", CF_OP_READ, NULL, false },
        /* Vault: LIST of "nine/closed/" is governed by "nine/closed",
         * which only the nine/ glob covers, so it is allowed */
        { "nine/closed/", CF_OP_LIST, NULL, true },
    };

    (void) state;
    cf_test_matrix(pol, 1, cases, CF_N(cases), NULL);
}

/* Same path in several policies: union, deny absorbs, params merge. */
static void
test_merge(void **state)
{
    static const char *const  pols[] = {
        "path \"secret/*\" { capabilities = [\"read\"] }\n"
        "path \"deny/*\" { capabilities = [\"read\", \"list\"] }\n"
        "path \"p/a\" {\n"
        "  capabilities = [\"update\"]\n"
        "  allowed_parameters = { \"x\" = [\"1\"], \"y\" = [\"a\"] }\n"
        "  required_parameters = [\"x\"]\n"
        "}\n"
        "path \"p/b\" {\n"
        "  capabilities = [\"update\"]\n"
        "  denied_parameters = { \"z\" = [\"bad\"] }\n"
        "}\n",
        "path \"secret/*\" { capabilities = [\"update\"] }\n"
        "path \"deny/*\" { capabilities = [\"deny\"] }\n"
        "path \"p/a\" {\n"
        "  capabilities = [\"update\"]\n"
        "  allowed_parameters = { \"x\" = [\"2\"], \"y\" = [] }\n"
        "  required_parameters = [\"y\"]\n"
        "}\n"
        "path \"p/b\" {\n"
        "  capabilities = [\"update\"]\n"
        "  denied_parameters = { \"z\" = [\"worse\"] }\n"
        "}\n",
        "path \"deny/*\" { capabilities = [\"update\", \"sudo\"] }\n",
    };
    static const cf_case_t  cases[] = {
        { "secret/a", CF_OP_READ, NULL, true },
        { "secret/a", CF_OP_UPDATE, NULL, true },
        { "secret/a", CF_OP_DELETE, NULL, false },
        { "deny/a", CF_OP_READ, NULL, false },
        { "deny/a", CF_OP_UPDATE, NULL, false },
        { "deny/", CF_OP_LIST, NULL, false },
        { "p/a", CF_OP_UPDATE, "{\"x\": \"1\", \"y\": \"q\"}", true },
        { "p/a", CF_OP_UPDATE, "{\"x\": \"2\", \"y\": \"q\"}", true },
        { "p/a", CF_OP_UPDATE, "{\"x\": \"3\", \"y\": \"q\"}", false },
        { "p/a", CF_OP_UPDATE, "{\"x\": \"1\"}", false },   /* y required */
        { "p/b", CF_OP_UPDATE, "{\"z\": \"bad\"}", false },
        { "p/b", CF_OP_UPDATE, "{\"z\": \"worse\"}", false },
        { "p/b", CF_OP_UPDATE, "{\"z\": \"fine\"}", true },
    };
    cf_acl_t         *acl;
    cf_acl_result_t   r;

    (void) state;
    cf_test_matrix(pols, CF_N(pols), cases, CF_N(cases), NULL);

    /* Order does not matter for deny. */
    acl = cf_test_acl((const char *const[]) { pols[2], pols[1], pols[0] }, 3,
                      NULL);
    assert_false(cf_acl_allowed(acl, "deny/a", CF_OP_UPDATE, NULL, &r));
    assert_int_equal(r.reason, CF_ACL_EXPLICIT_DENY);
    assert_false(r.sudo);
    assert_true(cf_acl_allowed(acl, "secret/x", CF_OP_UPDATE, NULL, &r));
    cf_acl_free(acl);
}

/* required, allowed and denied parameters as documented. */
static void
test_parameters(void **state)
{
    static const char *const  pol[] = {
        "path \"secret/profile\" {\n"
        "  capabilities = [\"create\"]\n"
        "  required_parameters = [\"name\", \"ID\"]\n"
        "}\n"
        "path \"auth/userpass/users/*\" {\n"
        "  capabilities = [\"update\"]\n"
        "  allowed_parameters = { \"password\" = [] }\n"
        "}\n"
        "path \"transit/keys/*\" {\n"
        "  capabilities = [\"create\", \"update\"]\n"
        "  allowed_parameters = {\n"
        "    \"auto_rotate_period\" = [\"8h\", \"24h\", \"5d\"]\n"
        "  }\n"
        "}\n"
        "path \"secret/foo\" {\n"
        "  capabilities = [\"create\"]\n"
        "  allowed_parameters = { \"bar\" = [\"zip\", \"zap\"], \"*\" = [] }\n"
        "}\n"
        "path \"auth/token/roles/*\" {\n"
        "  capabilities = [\"create\", \"update\"]\n"
        "  denied_parameters = { \"allowed_policies\" = [\"admin\"] }\n"
        "}\n"
        "path \"auth/approle/role/*\" {\n"
        "  capabilities = [\"update\", \"delete\"]\n"
        "  denied_parameters = { \"*\" = [] }\n"
        "}\n"
        "path \"auth/userpass2/users/*\" {\n"
        "  capabilities = [\"update\"]\n"
        "  denied_parameters = { \"token_policies\" = [], "
        "\"policies\" = [] }\n"
        "}\n"
        "path \"secret/glob\" {\n"
        "  capabilities = [\"create\"]\n"
        "  allowed_parameters = { \"bar\" = [\"foo-*\", \"*-end\", "
        "\"*mid*\"] }\n"
        "}\n"
        "path \"secret/nostore\" {\n"
        "  capabilities = [\"create\"]\n"
        "  denied_parameters = { \"no_store\" = [false, \"false\"] }\n"
        "}\n"
        "path \"secret/list\" {\n"
        "  capabilities = [\"create\"]\n"
        "  allowed_parameters = { \"x\" = [\"A\", \"B\"], \"*\" = [] }\n"
        "  denied_parameters = { \"y\" = [\"C\", \"D\"], \"n\" = [1] }\n"
        "}\n"
        "path \"secret/case\" {\n"
        "  capabilities = [\"create\"]\n"
        "  allowed_parameters = { \"Foo\" = [\"v\"] }\n"
        "}\n"
    };
    static const cf_case_t  cases[] = {
        { "secret/profile", CF_OP_CREATE, "{\"name\": 1, \"id\": 2}", true },
        { "secret/profile", CF_OP_CREATE, "{\"name\": 1}", false },
        { "secret/profile", CF_OP_CREATE, NULL, false },
        /* required names are looked up lowercased, as in Vault */
        { "secret/profile", CF_OP_CREATE, "{\"name\": 1, \"ID\": 2}", false },
        { "auth/userpass/users/bob", CF_OP_UPDATE,
          "{\"password\": \"s3cret\"}", true },
        { "auth/userpass/users/bob", CF_OP_UPDATE,
          "{\"password\": \"x\", \"token_ttl\": \"1h\"}", false },
        { "transit/keys/k", CF_OP_CREATE,
          "{\"auto_rotate_period\": \"24h\"}", true },
        { "transit/keys/k", CF_OP_CREATE,
          "{\"auto_rotate_period\": \"1h\"}", false },
        { "secret/foo", CF_OP_CREATE, "{\"bar\": \"zip\", \"q\": 1}", true },
        { "secret/foo", CF_OP_CREATE, "{\"other\": [1]}", true },
        { "secret/foo", CF_OP_CREATE, "{\"bar\": \"zoo\"}", false },
        { "auth/token/roles/r", CF_OP_UPDATE,
          "{\"allowed_policies\": \"dev\"}", true },
        { "auth/token/roles/r", CF_OP_UPDATE,
          "{\"allowed_policies\": \"admin\"}", false },
        { "auth/token/roles/r", CF_OP_UPDATE,
          "{\"allowed_policies\": [\"dev\", \"admin\"]}", false },
        { "auth/token/roles/r", CF_OP_UPDATE,
          "{\"allowed_policies\": \"dev, admin\"}", false },
        { "auth/token/roles/r", CF_OP_UPDATE,
          "{\"allowed_policies\": \"dev,administrator\"}", true },
        { "auth/approle/role/r", CF_OP_UPDATE, "{\"a\": 1}", false },
        { "auth/approle/role/r", CF_OP_UPDATE, NULL, true },
        /* parameters are not checked for DELETE (nor LIST) */
        { "auth/approle/role/r", CF_OP_DELETE, "{\"a\": 1}", true },
        { "auth/userpass2/users/u", CF_OP_UPDATE,
          "{\"password\": \"p\"}", true },
        { "auth/userpass2/users/u", CF_OP_UPDATE,
          "{\"policies\": \"\"}", false },
        { "auth/userpass2/users/u", CF_OP_UPDATE,
          "{\"Token_Policies\": [\"x\"]}", false },
        { "secret/glob", CF_OP_CREATE, "{\"bar\": \"foo-1\"}", true },
        { "secret/glob", CF_OP_CREATE, "{\"bar\": \"x-end\"}", true },
        { "secret/glob", CF_OP_CREATE, "{\"bar\": \"amidst\"}", true },
        { "secret/glob", CF_OP_CREATE, "{\"bar\": \"foo\"}", false },
        { "secret/glob", CF_OP_CREATE, "{\"bar\": 7}", false },
        { "secret/nostore", CF_OP_CREATE, "{\"no_store\": false}", false },
        { "secret/nostore", CF_OP_CREATE, "{\"no_store\": \"false\"}",
          false },
        { "secret/nostore", CF_OP_CREATE, "{\"no_store\": true}", true },
        { "secret/nostore", CF_OP_CREATE, "{\"value\": \"bar\"}", true },
        /* Vault 1.21 list evaluation */
        { "secret/list", CF_OP_CREATE, "{\"x\": \"A\"}", true },
        { "secret/list", CF_OP_CREATE, "{\"x\": [\"A\", \"B\"]}", true },
        { "secret/list", CF_OP_CREATE, "{\"x\": [\"B\", \"A\"]}", true },
        { "secret/list", CF_OP_CREATE, "{\"x\": [\"A\"]}", true },
        { "secret/list", CF_OP_CREATE, "{\"x\": \"A,B\"}", true },
        { "secret/list", CF_OP_CREATE, "{\"x\": \"B, A\"}", true },
        { "secret/list", CF_OP_CREATE, "{\"x\": [\"A\", \"C\"]}", false },
        { "secret/list", CF_OP_CREATE, "{\"x\": \"A,C\"}", false },
        { "secret/list", CF_OP_CREATE, "{\"x\": \"C\"}", false },
        { "secret/list", CF_OP_CREATE, "{\"y\": [\"E\", \"D\"]}", false },
        { "secret/list", CF_OP_CREATE, "{\"y\": \"E,C\"}", false },
        { "secret/list", CF_OP_CREATE, "{\"y\": [\"E\", \"F\"]}", true },
        /* numbers compare by value */
        { "secret/list", CF_OP_CREATE, "{\"n\": 1}", false },
        { "secret/list", CF_OP_CREATE, "{\"n\": 1.0}", false },
        { "secret/list", CF_OP_CREATE, "{\"n\": 2}", true },
        { "secret/list", CF_OP_CREATE, "{\"n\": \"1\"}", true },
        /* names are case-insensitive */
        { "secret/case", CF_OP_CREATE, "{\"FOO\": \"v\"}", true },
        { "secret/case", CF_OP_CREATE, "{\"foo\": \"w\"}", false },
    };
    cf_acl_t         *acl;
    cf_acl_result_t   r;
    json_t           *params;

    (void) state;
    cf_test_matrix(pol, 1, cases, CF_N(cases), NULL);

    /* The reason names the parameter, not its value. */
    acl = cf_test_acl(pol, 1, NULL);
    params = json_pack("{s:s}", "allowed_policies", "admin");
    assert_false(cf_acl_allowed(acl, "auth/token/roles/r", CF_OP_UPDATE,
                                params, &r));
    assert_int_equal(r.reason, CF_ACL_DENIED_PARAMETER);
    assert_string_equal(r.param, "allowed_policies");
    json_decref(params);
    assert_false(cf_acl_allowed(acl, "secret/profile", CF_OP_CREATE, NULL,
                                &r));
    assert_int_equal(r.reason, CF_ACL_REQUIRED_PARAMETER);
    assert_string_equal(r.param, "name");
    params = json_pack("{s:s}", "nope", "x");
    assert_false(cf_acl_allowed(acl, "secret/case", CF_OP_CREATE, params,
                                &r));
    assert_int_equal(r.reason, CF_ACL_PARAMETER_NOT_ALLOWED);
    assert_string_equal(r.param, "nope");
    json_decref(params);
    cf_acl_free(acl);
}

static void
test_wrapping_ttl(void **state)
{
    static const char *const  pols[] = {
        "path \"auth/approle/role/my-role/secret-id\" {\n"
        "    capabilities = [\"create\", \"update\"]\n"
        "    min_wrapping_ttl = \"1s\"\n"
        "    max_wrapping_ttl = \"90s\"\n"
        "}\n"
        "path \"w/*\" { capabilities = [\"read\"]\n"
        "  max_wrapping_ttl = 300 }\n",
        "path \"w/*\" { capabilities = [\"read\"]\n"
        "  max_wrapping_ttl = \"2m\"\n"
        "  min_wrapping_ttl = \"10s\" }\n",
    };
    cf_acl_t         *acl = cf_test_acl(pols, 2, NULL);
    cf_acl_result_t   r;

    (void) state;
    assert_true(cf_acl_allowed(acl, "auth/approle/role/my-role/secret-id",
                               CF_OP_UPDATE, NULL, &r));
    assert_int_equal(r.min_wrapping_ttl, 1);
    assert_int_equal(r.max_wrapping_ttl, 90);
    assert_true(cf_acl_wrap_ttl_ok(&r, 30));
    assert_true(cf_acl_wrap_ttl_ok(&r, 90));
    assert_false(cf_acl_wrap_ttl_ok(&r, 91));
    assert_false(r.allowed);
    assert_int_equal(r.reason, CF_ACL_WRAPPING_TTL);

    /* Not wrapped at all: a minimum makes wrapping mandatory. */
    assert_true(cf_acl_allowed(acl, "auth/approle/role/my-role/secret-id",
                               CF_OP_UPDATE, NULL, &r));
    assert_false(cf_acl_wrap_ttl_ok(&r, 0));

    /* Merged: the smaller maximum, the smaller minimum. */
    assert_true(cf_acl_allowed(acl, "w/x", CF_OP_READ, NULL, &r));
    assert_int_equal(r.max_wrapping_ttl, 120);
    assert_int_equal(r.min_wrapping_ttl, 10);
    cf_acl_free(acl);
}

/* ---- templated policies ------------------------------------------------ */

static json_t *
cf_test_identity(const char *entity_name)
{
    json_t  *id;

    id = json_pack("{s:{s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s}]},"
                   " s:[{s:s, s:s}, {s:s, s:s}]}",
                   "entity",
                   "id", "e-123",
                   "name", entity_name,
                   "metadata", "team", "blue", "bad", "a+b",
                   "aliases",
                   "mount_accessor", "auth_userpass_1",
                   "name", "alice", "id", "al-1",
                   "groups",
                   "id", "fb036ebc", "name", "devs",
                   "id", "g-2", "name", "ops");
    assert_non_null(id);
    return id;
}

static void
test_templates(void **state)
{
    static const char *const  pol[] = {
        "path \"secret/data/{{identity.entity.id}}/*\" {\n"
        "  capabilities = [\"create\", \"update\", \"read\"]\n"
        "}\n"
        "path \"secret/metadata/{{identity.entity.id}}/*\" {\n"
        "  capabilities = [\"list\"]\n"
        "}\n"
        "path \"user/{{ identity.entity.name }}\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"team/{{identity.entity.metadata.team}}/*\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"bad/{{identity.entity.metadata.bad}}\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"alias/{{identity.entity.aliases.auth_userpass_1.name}}\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"noalias/{{identity.entity.aliases.auth_other.name}}\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"groups/{{identity.groups.ids.fb036ebc.name}}/*\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"gid/{{identity.groups.names.ops.id}}\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"nogroup/{{identity.groups.names.nobody.id}}\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"unknown/{{identity.entity.shoe_size}}\" {\n"
        "  capabilities = [\"read\"]\n"
        "}\n"
        "path \"plain/*\" { capabilities = [\"read\"] }\n"
    };
    static const cf_case_t  cases[] = {
        { "secret/data/e-123/app", CF_OP_READ, NULL, true },
        { "secret/data/e-999/app", CF_OP_READ, NULL, false },
        { "secret/metadata/e-123/", CF_OP_LIST, NULL, true },
        { "user/bob", CF_OP_READ, NULL, true },
        { "user/alice", CF_OP_READ, NULL, false },
        { "team/blue/x", CF_OP_READ, NULL, true },
        { "bad/a+b", CF_OP_READ, NULL, false },
        { "alias/alice", CF_OP_READ, NULL, true },
        { "noalias/alice", CF_OP_READ, NULL, false },
        { "groups/devs/x", CF_OP_READ, NULL, true },
        { "gid/g-2", CF_OP_READ, NULL, true },
        { "nogroup/", CF_OP_READ, NULL, false },
        { "plain/x", CF_OP_READ, NULL, true },
    };
    static const cf_case_t  anon[] = {
        { "secret/data/e-123/app", CF_OP_READ, NULL, false },
        { "user/bob", CF_OP_READ, NULL, false },
        { "plain/x", CF_OP_READ, NULL, true },
    };
    static const cf_case_t  slash[] = {
        /* a value with '/', '*' or '+' drops the rule */
        { "user/a/b", CF_OP_READ, NULL, false },
        { "user/a", CF_OP_READ, NULL, false },
        { "secret/data/e-123/x", CF_OP_READ, NULL, true },
    };
    json_t  *id;

    (void) state;
    id = cf_test_identity("bob");
    cf_test_matrix(pol, 1, cases, CF_N(cases), id);
    json_decref(id);
    cf_test_matrix(pol, 1, anon, CF_N(anon), NULL);
    id = cf_test_identity("a/b");
    cf_test_matrix(pol, 1, slash, CF_N(slash), id);
    json_decref(id);
    id = cf_test_identity("a*");
    cf_test_matrix(pol, 1, slash, CF_N(slash), id);
    json_decref(id);
}

static void
test_render(void **state)
{
    cf_policy_t      *p, *q, *r;
    cf_acl_t         *acl;
    cf_acl_result_t   res;
    json_t           *id = cf_test_identity("bob");

    (void) state;
    p = cf_test_parse("t", "path \"u/{{identity.entity.name}}\" {\n"
                           "  capabilities = [\"read\"]\n"
                           "  allowed_parameters = { \"a\" = [] }\n"
                           "}\n"
                           "path \"v/{{identity.entity.nothing}}\" {\n"
                           "  capabilities = [\"read\"]\n"
                           "}\n"
                           "path \"w\" { capabilities = [\"read\"] }\n");
    assert_true(cf_policy_templated(p));
    assert_int_equal(cf_policy_rule_count(p), 3);
    assert_int_equal(cf_policy_render(p, id, &q), CF_OK);
    assert_false(cf_policy_templated(q));
    assert_int_equal(cf_policy_rule_count(q), 2);       /* v/ dropped */
    assert_string_equal(cf_policy_name(q), "t");
    acl = cf_acl_new((const cf_policy_t *const *) &q, 1);
    assert_true(cf_acl_allowed(acl, "u/bob", CF_OP_READ, NULL, &res));
    assert_false(cf_acl_allowed(acl, "u/{{identity.entity.name}}",
                                CF_OP_READ, NULL, &res));
    cf_acl_free(acl);
    /* Untemplated: the same object, one more reference. */
    assert_int_equal(cf_policy_render(q, id, &r), CF_OK);
    assert_ptr_equal(r, q);
    cf_policy_free(r);
    cf_policy_free(q);
    cf_policy_free(p);
    json_decref(id);
}

/* ---- built-ins, root, sudo -------------------------------------------- */

static void
test_default_policy(void **state)
{
    static const cf_case_t  cases[] = {
        { "auth/token/lookup-self", CF_OP_READ, NULL, true },
        { "auth/token/renew-self", CF_OP_UPDATE, NULL, true },
        { "auth/token/revoke-self", CF_OP_UPDATE, NULL, true },
        { "auth/token/create", CF_OP_UPDATE, NULL, false },
        { "sys/capabilities-self", CF_OP_UPDATE, NULL, true },
        { "cubbyhole/x", CF_OP_CREATE, NULL, true },
        { "cubbyhole/a/b", CF_OP_DELETE, NULL, true },
        { "cubbyhole/", CF_OP_LIST, NULL, true },
        { "sys/wrapping/wrap", CF_OP_UPDATE, NULL, true },
        { "sys/wrapping/unwrap", CF_OP_UPDATE, NULL, true },
        { "sys/wrapping/lookup", CF_OP_UPDATE, NULL, true },
        { "sys/wrapping/rewrap", CF_OP_UPDATE, NULL, false },
        { "sys/leases/renew", CF_OP_UPDATE, NULL, true },
        { "sys/tools/hash/sha2-256", CF_OP_UPDATE, NULL, true },
        { "identity/entity/id/e-123", CF_OP_READ, NULL, true },
        { "identity/entity/id/e-124", CF_OP_READ, NULL, false },
        { "identity/entity/name/bob", CF_OP_READ, NULL, true },
        { "identity/oidc/provider/p1/authorize", CF_OP_READ, NULL, true },
        { "sys/internal/ui/resultant-acl", CF_OP_READ, NULL, true },
        { "secret/foo", CF_OP_READ, NULL, false },
        { "sys/mounts", CF_OP_READ, NULL, false },
    };
    static const char *const  pols[] = { cf_policy_default_text };
    json_t  *id = cf_test_identity("bob");

    (void) state;
    cf_test_matrix(pols, 1, cases, CF_N(cases), id);
    json_decref(id);
}

static void
test_root_and_response_wrapping(void **state)
{
    cf_policy_t       *root, *rw;
    cf_acl_t          *acl, *ref;
    cf_acl_result_t    r;
    json_t            *caps;

    (void) state;
    root = cf_test_parse(CF_POLICY_ROOT, "");
    acl = cf_acl_new((const cf_policy_t *const *) &root, 1);
    assert_true(cf_acl_is_root(acl));
    assert_true(cf_acl_allowed(acl, "sys/audit/x", CF_OP_DELETE, NULL, &r));
    assert_true(r.sudo && r.root);
    assert_true(cf_acl_wrap_ttl_ok(&r, 0));
    caps = cf_acl_capabilities(acl, "anything");
    assert_int_equal(json_array_size(caps), 1);
    assert_string_equal(json_string_value(json_array_get(caps, 0)), "root");
    json_decref(caps);
    ref = cf_acl_ref(acl);
    cf_acl_free(acl);
    assert_true(cf_acl_allowed(ref, "x", CF_OP_READ, NULL, &r));
    cf_acl_free(ref);
    cf_acl_free(NULL);
    cf_policy_free(root);

    rw = cf_test_parse(CF_POLICY_RESPONSE_WRAPPING,
                       cf_policy_response_wrapping_text);
    acl = cf_acl_new((const cf_policy_t *const *) &rw, 1);
    assert_false(cf_acl_is_root(acl));
    assert_true(cf_acl_allowed(acl, "cubbyhole/response", CF_OP_READ, NULL,
                               &r));
    assert_false(cf_acl_allowed(acl, "cubbyhole/other", CF_OP_READ, NULL,
                                &r));
    assert_int_equal(r.reason, CF_ACL_NO_RULE);
    cf_acl_free(acl);
    cf_policy_free(rw);

    /* No policies: nothing is allowed. */
    acl = cf_acl_new(NULL, 0);
    assert_false(cf_acl_allowed(acl, "cubbyhole/x", CF_OP_READ, NULL, &r));
    cf_acl_free(acl);
}

static void
test_capabilities_and_sudo(void **state)
{
    static const char *const  pol[] = {
        "path \"sys/audit/*\" {\n"
        "  capabilities = [\"create\", \"read\", \"update\", \"delete\",\n"
        "                  \"list\", \"sudo\", \"patch\"]\n"
        "}\n"
        "path \"sys/audit\" { capabilities = [\"read\"] }\n"
        "path \"secret/*\" { capabilities = [\"read\", \"list\"] }\n"
        "path \"secret/no\" { capabilities = [\"deny\"] }\n"
        "path \"old/*\" { policy = \"write\" }\n"
    };
    static const struct {
        const char  *path;
        const char  *want;
    } caps[] = {
        { "sys/audit/file",
          "[\"sudo\", \"read\", \"list\", \"update\", \"delete\", "
          "\"create\", \"patch\"]" },
        { "sys/audit", "[\"read\"]" },
        { "secret/x", "[\"read\", \"list\"]" },
        { "secret/no", "[\"deny\"]" },
        { "nothing", "[\"deny\"]" },
        { "old/x", "[\"read\", \"list\", \"update\", \"delete\", "
                   "\"create\"]" },
    };
    cf_acl_t         *acl = cf_test_acl(pol, 1, NULL);
    cf_acl_result_t   r;
    json_t           *got, *want;
    size_t            i;

    (void) state;
    for (i = 0; i < CF_N(caps); i++) {
        got = cf_acl_capabilities(acl, caps[i].path);
        want = json_loads(caps[i].want, 0, NULL);
        if (!json_equal(got, want)) {
            char  *s = json_dumps(got, 0);

            fprintf(stderr, "%s: got %s\n", caps[i].path, s);
            free(s);
        }
        assert_true(json_equal(got, want));
        json_decref(got);
        json_decref(want);
    }
    assert_true(cf_acl_allowed(acl, "sys/audit/file", CF_OP_UPDATE, NULL,
                               &r));
    assert_true(r.sudo);
    assert_true(cf_acl_allowed(acl, "sys/audit", CF_OP_READ, NULL, &r));
    assert_false(r.sudo);
    assert_false(cf_acl_allowed(acl, "secret/no", CF_OP_READ, NULL, &r));
    assert_int_equal(r.reason, CF_ACL_EXPLICIT_DENY);
    assert_false(cf_acl_allowed(acl, "secret/x", CF_OP_UPDATE, NULL, &r));
    assert_int_equal(r.reason, CF_ACL_NO_CAPABILITY);
    assert_false(cf_acl_allowed(acl, "secret/x", CF_OP_WRITE, NULL, &r));
    cf_acl_free(acl);

    assert_true(cf_policy_path_needs_sudo("sys/audit"));
    assert_true(cf_policy_path_needs_sudo("sys/audit/file"));
    assert_true(cf_policy_path_needs_sudo("/sys/raw/core/x"));
    assert_true(cf_policy_path_needs_sudo("sys/auth/userpass"));
    assert_true(cf_policy_path_needs_sudo("sys/auth/userpass/tune"));
    assert_false(cf_policy_path_needs_sudo("sys/auth"));
    assert_true(cf_policy_path_needs_sudo("sys/remount"));
    assert_true(cf_policy_path_needs_sudo("sys/rotate"));
    assert_false(cf_policy_path_needs_sudo("sys/rotate/config"));
    assert_true(cf_policy_path_needs_sudo("sys/seal"));
    assert_true(cf_policy_path_needs_sudo("sys/step-down"));
    assert_true(cf_policy_path_needs_sudo("sys/leases"));
    assert_true(cf_policy_path_needs_sudo("sys/leases/lookup/aws/"));
    assert_false(cf_policy_path_needs_sudo("sys/leases/lookup"));
    assert_true(cf_policy_path_needs_sudo("sys/leases/revoke-prefix/aws"));
    assert_true(cf_policy_path_needs_sudo("sys/config/auditing/request-"
                                          "headers/x"));
    assert_true(cf_policy_path_needs_sudo("sys/plugins/catalog/secret/x"));
    assert_false(cf_policy_path_needs_sudo("sys/mounts"));
    assert_false(cf_policy_path_needs_sudo("sys/mounts/secret"));
    assert_false(cf_policy_path_needs_sudo("sys/policies/acl/x"));
    assert_true(cf_policy_path_needs_sudo("auth/token/accessors"));
    assert_true(cf_policy_path_needs_sudo("auth/token/accessors/"));
    assert_true(cf_policy_path_needs_sudo("auth/token/revoke-orphan/x"));
    assert_false(cf_policy_path_needs_sudo("auth/token/create-orphan"));
    assert_false(cf_policy_path_needs_sudo("auth/token/create"));
    assert_false(cf_policy_path_needs_sudo(NULL));
}

/* ---- syntax ----------------------------------------------------------- */

static void
test_json_and_legacy(void **state)
{
    static const char *const  pols[] = {
        "{\"path\": {\"secret/*\": {\"capabilities\": [\"read\", "
        "\"list\"]}, \"secret/x\": {\"capabilities\": [\"deny\"]}}}",
        "{\"name\": \"n\", \"path\": [{\"kv/+/a\": {\"capabilities\": "
        "[\"update\"], \"allowed_parameters\": {\"k\": [1, true]}}}]}",
        "path \"legacy/r/*\" { policy = \"read\" }\n"
        "path \"legacy/w/*\" { policy = \"write\" }\n"
        "path \"legacy/s/*\" { policy = \"sudo\" }\n"
        "path \"legacy/d/*\" { policy = \"deny\" }\n"
        "path \"/lead\" { capabilities = [\"read\"], comment = \"x\" }\n",
    };
    static const cf_case_t  cases[] = {
        { "secret/a", CF_OP_READ, NULL, true },
        { "secret/x", CF_OP_READ, NULL, false },
        { "kv/q/a", CF_OP_UPDATE, "{\"k\": 1}", true },
        { "kv/q/a", CF_OP_UPDATE, "{\"k\": true}", true },
        { "kv/q/a", CF_OP_UPDATE, "{\"k\": 2}", false },
        { "legacy/r/x", CF_OP_READ, NULL, true },
        { "legacy/r/", CF_OP_LIST, NULL, true },
        { "legacy/r/x", CF_OP_UPDATE, NULL, false },
        { "legacy/w/x", CF_OP_DELETE, NULL, true },
        { "legacy/w/x", CF_OP_PATCH, NULL, false },
        { "legacy/s/x", CF_OP_CREATE, NULL, true },
        { "legacy/d/x", CF_OP_READ, NULL, false },
        { "lead", CF_OP_READ, NULL, true },
    };
    cf_policy_t  *p;

    (void) state;
    cf_test_matrix(pols, CF_N(pols), cases, CF_N(cases), NULL);
    p = cf_test_parse("keep", pols[0]);
    assert_string_equal(cf_policy_text(p), pols[0]);
    assert_string_equal(cf_policy_name(p), "keep");
    assert_ptr_equal(cf_policy_ref(p), p);
    cf_policy_free(p);
    cf_policy_free(p);
    cf_policy_free(NULL);
    p = cf_test_parse("empty", "");
    assert_int_equal(cf_policy_rule_count(p), 0);
    cf_policy_free(p);
}

static void
test_parse_errors(void **state)
{
    (void) state;
    cf_test_parse_bad("foo = 1\n", "line 1: unknown key 'foo'");
    cf_test_parse_bad("name = 1\n", "line 1: 'name' must be a string");
    cf_test_parse_bad("path \"a\" {\n  capabilites = [\"read\"]\n}\n",
                      "line 2: path \"a\": unknown key 'capabilites'");
    cf_test_parse_bad("path \"a\" {\n  capabilities = [\"read\", "
                      "\"write\"]\n}\n",
                      "line 2: path \"a\": capability 2 is not one of");
    cf_test_parse_bad("path \"a\" { capabilities = \"read\" }\n",
                      "'capabilities' must be a list");
    cf_test_parse_bad("path \"a\" { capabilities = [1] }\n",
                      "capability 1 is not a string");
    cf_test_parse_bad("path \"a\" { }\n", "'capabilities' is missing");
    cf_test_parse_bad("path \"a\" { capabilities = [] \n"
                      "capabilities = [] }\n", "line 2: path \"a\": "
                      "'capabilities' given twice");
    cf_test_parse_bad("path \"a/+*\" { capabilities = [\"read\"] }\n",
                      "'+*' is forbidden");
    cf_test_parse_bad("path \"a\" { policy = \"root\" }\n",
                      "'policy' must be one of");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "min_wrapping_ttl = \"10m\"\n"
                      "max_wrapping_ttl = \"1m\" }\n",
                      "max_wrapping_ttl cannot be less than");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "max_wrapping_ttl = \"soon\" }\n",
                      "line 2: path \"a\": 'max_wrapping_ttl' must be a "
                      "duration");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "min_wrapping_ttl = -1 }\n", "must be a duration");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "allowed_parameters = { \"x\" = \"y\" } }\n",
                      "each parameter needs a list of values");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "allowed_parameters = [\"x\"] }\n",
                      "'allowed_parameters' must be a map");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "denied_parameters = { \"x*\" = [] } }\n",
                      "may be '*' but not contain it");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "required_parameters = [\"*\"] }\n",
                      "no '*' allowed in required parameter names");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "required_parameters = \"x\" }\n",
                      "must be a list of names");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "mfa_methods = [\"m\"] }\n",
                      "'mfa_methods' is not supported");
    cf_test_parse_bad("path \"a\" { capabilities = [\"read\"]\n"
                      "control_group = { ttl = \"1h\" } }\n",
                      "'control_group' is not supported");
    cf_test_parse_bad("path = \"a\"\n", "line 1: 'path' must be a block");
    cf_test_parse_bad("path \"a\" \"b\" { capabilities = [] }\n",
                      "line 1: 'path' must be a block");
    cf_test_parse_bad("path \"x/{{identity.entity.id}\" {\n"
                      "capabilities = [\"read\"] }\n",
                      "line 1: path \"x/{{identity.entity.id}\": "
                      "unbalanced");
    cf_test_parse_bad("path \"x/}}\" { capabilities = [\"read\"] }\n",
                      "unbalanced");
    cf_test_parse_bad("path \"a\" {\n  capabilities = [\"read\"\n",
                      "line 2:");
    cf_test_parse_bad("{\"path\": {\"a\": {\"capabilities\": [\"reed\"]}}}",
                      "line 1: path \"a\": capability 1 is not one of");
    cf_test_parse_bad("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}},"
                      " \"extra\": 1}", "unknown key 'extra'");
}

/* cf_acl_mount_access: Vault's hasMountAccess for sys/internal/ui/mounts. */
static void
test_mount_access(void **state)
{
    const char *const  texts[] = {
        "path \"secret/data/app/*\" { capabilities = [\"read\"] }\n"
        "path \"kv1/exact\" { capabilities = [\"update\"] }\n"
        "path \"team/*\" { capabilities = [\"deny\"] }\n"
        "path \"team/open/x\" { capabilities = [\"read\"] }\n"
        "path \"auth/+/login\" { capabilities = [\"update\"] }\n"
        "path \"blocked/*\" { capabilities = [\"deny\"] }\n"
        "path \"glob/pre*\" { capabilities = [\"list\"] }\n"
    };
    const char *const  plus[] = {
        "path \"+/data/*\" { capabilities = [\"read\"] }\n"
    };
    cf_acl_t          *acl;

    (void) state;
    acl = cf_test_acl(texts, 1, NULL);
    assert_true(cf_acl_mount_access(acl, "secret/"));       /* below */
    assert_true(cf_acl_mount_access(acl, "kv1/"));          /* exact below */
    assert_true(cf_acl_mount_access(acl, "team/"));         /* a grant below
                                                               a deny */
    assert_true(cf_acl_mount_access(acl, "auth/userpass/"));  /* '+' */
    assert_true(cf_acl_mount_access(acl, "glob/"));
    assert_false(cf_acl_mount_access(acl, "blocked/"));     /* deny only */
    assert_false(cf_acl_mount_access(acl, "other/"));
    assert_false(cf_acl_mount_access(acl, "secretx/"));
    assert_false(cf_acl_mount_access(acl, "sys/"));
    cf_acl_free(acl);

    acl = cf_test_acl(plus, 1, NULL);
    assert_true(cf_acl_mount_access(acl, "anything/"));
    assert_true(cf_acl_mount_access(acl, "a/data/"));
    assert_false(cf_acl_mount_access(acl, "a/b/"));
    cf_acl_free(acl);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_detailed_example),
        cmocka_unit_test(test_glob_examples),
        cmocka_unit_test(test_segment_wildcards),
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_wrapping_ttl),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_root_and_response_wrapping),
        cmocka_unit_test(test_capabilities_and_sudo),
        cmocka_unit_test(test_json_and_legacy),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_mount_access),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
