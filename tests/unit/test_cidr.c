/* test_cidr: parsing, normalising and matching address blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "coffer/cidr.h"

static json_t *
cf_test_list(const char *a, const char *b)
{
    json_t  *in = json_pack("[ss]", a, b), *out = NULL;
    char     err[128] = "";

    assert_int_equal(cf_cidr_list_parse(in, &out, err, sizeof(err)),
                     CF_OK);
    json_decref(in);
    return out;
}

static void
cf_test_parse(void **state)
{
    const char  *bad[] = { "10.0.0.1/8", "10.0.0.0/33", "300.1.1.1",
                           "10.0.0.0/", "fd00::1/8", "abc", "::/129",
                           "10.0.0.0/8x", NULL };
    json_t      *l, *in, *out;
    char         err[128];
    size_t       i;

    (void) state;
    l = cf_test_list("127.0.0.1", "fd00::/8");
    assert_string_equal(json_string_value(json_array_get(l, 0)),
                        "127.0.0.1/32");
    assert_string_equal(json_string_value(json_array_get(l, 1)),
                        "fd00::/8");
    json_decref(l);
    for (i = 0; bad[i] != NULL; i++) {
        in = json_pack("[s]", bad[i]);
        out = (json_t *) 1;
        err[0] = '\0';
        assert_int_equal(cf_cidr_list_parse(in, &out, err, sizeof(err)),
                         CF_ERR_INVALID);
        assert_null(out);
        assert_non_null(strstr(err, bad[i]));
        json_decref(in);
    }
}

static void
cf_test_match(void **state)
{
    json_t  *l = cf_test_list("10.1.0.0/16", "2001:db8::/32");
    json_t  *odd = cf_test_list("192.168.0.0/23", "0.0.0.0/0");
    json_t  *empty = json_array();

    (void) state;
    assert_true(cf_cidr_list_match(l, "10.1.2.3"));
    assert_true(cf_cidr_list_match(l, "10.1.255.255"));
    assert_false(cf_cidr_list_match(l, "10.2.0.1"));
    assert_false(cf_cidr_list_match(l, "127.0.0.1"));
    assert_true(cf_cidr_list_match(l, "2001:db8::1"));
    assert_false(cf_cidr_list_match(l, "2001:db9::1"));
    assert_false(cf_cidr_list_match(l, "::1"));
    assert_false(cf_cidr_list_match(l, ""));
    assert_false(cf_cidr_list_match(l, NULL));
    assert_true(cf_cidr_list_match(odd, "8.8.8.8"));      /* /0 */
    assert_true(cf_cidr_list_match(empty, "8.8.8.8"));    /* no binding */
    json_decref(odd);
    odd = cf_test_list("192.168.0.0/23", "10.0.0.0/32");
    assert_true(cf_cidr_list_match(odd, "192.168.1.200"));
    assert_false(cf_cidr_list_match(odd, "192.168.2.1"));
    json_decref(odd);
    json_decref(l);
    json_decref(empty);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cf_test_parse),
        cmocka_unit_test(cf_test_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
