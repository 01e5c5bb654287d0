/* test_lease: which lease ids a client may name (they become storage
 * keys under sys/expire/id/). The manager itself is tested over HTTP
 * (tests/integration/test_leases.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "coffer/lease.h"

static void
cf_test_lease_ids(void **state)
{
    const char *const  good[] = {
        "pki/issue/web/Hc9x0123456789abcdefghij", "a", "a/b",
        "database/creds/ro/x.y-z_", NULL
    };
    const char *const  bad[] = {
        "", "/abs", "trailing/", "a//b", "a/./b", "a/../b", "..", ".",
        "a b", "tab\there", "nul-free\x7f", "caf\xc3\xa9", NULL
    };
    char               long_id[1100];
    size_t             i;

    (void) state;
    for (i = 0; good[i] != NULL; i++)
        assert_true(cf_lease_id_valid(good[i]));
    for (i = 0; bad[i] != NULL; i++)
        assert_false(cf_lease_id_valid(bad[i]));
    assert_false(cf_lease_id_valid(NULL));
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_false(cf_lease_id_valid(long_id));
    long_id[1023] = '\0';
    assert_true(cf_lease_id_valid(long_id));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cf_test_lease_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
