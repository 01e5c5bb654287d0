/* test_kv: the KV engine's shared helpers (engines/kv.h): RFC 7386 merge
 * patch against the RFC's own examples, the merge-patch Content-Type
 * check, the key check and the empty-body 404. The handlers themselves
 * are covered end to end by tests/integration/test_kv_v*.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../../engines/kv.h"

static json_t *
cf_test_json(const char *s)
{
    json_error_t  err;
    json_t       *j = json_loads(s, JSON_DECODE_ANY, &err);

    assert_non_null(j);
    return j;
}

/* RFC 7386, Appendix A: original, patch, result. */
static void
test_merge_patch_rfc7386(void **state)
{
    static const char *const  cases[][3] = {
        { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
        { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
        { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
        { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
          "{\"a\":{\"b\":\"d\"}}" },
        { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
        { "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
        { "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
        { "{\"a\":\"foo\"}", "null", "null" },
        { "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
        { "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
        { "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
        { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t  *orig = cf_test_json(cases[i][0]);
        json_t  *patch = cf_test_json(cases[i][1]);
        json_t  *want = cf_test_json(cases[i][2]);
        json_t  *got = cf_kv_merge_patch(orig, patch);

        assert_non_null(got);
        if (!json_equal(got, want))
            fail_msg("case %zu: %s + %s", i, cases[i][0], cases[i][1]);
        json_decref(got);
        json_decref(orig);
        json_decref(patch);
        json_decref(want);
    }
}

/* A NULL target (nothing stored yet) is an empty object. */
static void
test_merge_patch_null_target(void **state)
{
    json_t  *patch = cf_test_json("{\"a\":{\"b\":1,\"c\":null}}");
    json_t  *want = cf_test_json("{\"a\":{\"b\":1}}");
    json_t  *got = cf_kv_merge_patch(NULL, patch);

    (void) state;
    assert_non_null(got);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(patch);
    json_decref(want);
}

static void
cf_test_req_init(cf_req_t *req)
{
    memset(req, 0, sizeof(*req));
    req->body = json_object();
}

static void
cf_test_req_cleanup(cf_req_t *req)
{
    json_decref(req->body);
    json_decref(req->resp);
    json_decref(req->errors);
    json_decref(req->warnings);
}

static void
test_merge_patch_content_type(void **state)
{
    static const char *const  good[] = {
        "application/merge-patch+json",
        "application/merge-patch+json; charset=utf-8",
        "Application/Merge-Patch+JSON",
    };
    static const char *const  bad[] = {
        "application/json", "application/merge-patch+jsonx", "text/plain",
        "",
    };
    cf_req_t  req;
    size_t    i;

    (void) state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cf_test_req_init(&req);
        req.content_type = good[i];
        assert_int_equal(cf_kv_check_merge_patch(&req), CF_OK);
        assert_null(req.errors);
        cf_test_req_cleanup(&req);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
        cf_test_req_init(&req);
        req.content_type = i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : NULL;
        assert_int_equal(cf_kv_check_merge_patch(&req), CF_ERR_MEDIA_TYPE);
        assert_int_equal(req.status, 415);
        assert_non_null(strstr(json_string_value(json_array_get(req.errors,
                                                                0)),
                               "merge-patch"));
        cf_test_req_cleanup(&req);
    }
}

static void
test_check_key(void **state)
{
    cf_req_t  req;

    (void) state;
    cf_test_req_init(&req);
    assert_int_equal(cf_kv_check_key(&req, "a/b"), CF_OK);
    assert_int_equal(cf_kv_check_key(&req, "a/"), CF_ERR_INVALID);
    assert_int_equal(req.status, 400);
    cf_test_req_cleanup(&req);
    cf_test_req_init(&req);
    assert_int_equal(cf_kv_check_key(&req, ""), CF_ERR_INVALID);
    assert_non_null(strstr(json_string_value(json_array_get(req.errors, 0)),
                           "path"));
    cf_test_req_cleanup(&req);
}

/* 404 without a body: status 404, an empty errors array, no response. */
static void
test_reply_404_plain(void **state)
{
    cf_req_t  req;

    (void) state;
    cf_test_req_init(&req);
    assert_int_equal(cf_kv_reply_404(&req, NULL), CF_ERR_NOT_FOUND);
    assert_int_equal(req.status, 404);
    assert_true(json_is_array(req.errors));
    assert_int_equal(json_array_size(req.errors), 0);
    assert_null(req.resp);
    cf_test_req_cleanup(&req);
}

/* 404 with a body: the envelope around the data stays in req->resp, and
 * the status is 404 although the envelope was set after (http.c merges
 * the two). */
static void
test_reply_404_with_data(void **state)
{
    cf_req_t  req;
    json_t   *d = cf_test_json("{\"data\":null,\"metadata\":{\"version\":3}}");

    (void) state;
    cf_test_req_init(&req);
    assert_int_equal(cf_kv_reply_404(&req, d), CF_ERR_NOT_FOUND);
    assert_int_equal(req.status, 404);
    assert_int_equal(json_array_size(req.errors), 0);
    assert_non_null(req.resp);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(
        json_object_get(req.resp, "data"), "metadata"), "version")), 3);
    assert_true(json_is_null(json_object_get(json_object_get(req.resp,
                                                             "data"),
                                             "data")));
    cf_test_req_cleanup(&req);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_merge_patch_rfc7386),
        cmocka_unit_test(test_merge_patch_null_target),
        cmocka_unit_test(test_merge_patch_content_type),
        cmocka_unit_test(test_check_key),
        cmocka_unit_test(test_reply_404_plain),
        cmocka_unit_test(test_reply_404_with_data),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
