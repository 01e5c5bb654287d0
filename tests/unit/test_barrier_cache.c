/* test_barrier_cache: hits, absence, forgetting, the fill race, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/barrier_cache.h"

static void
cf_test_hit(cf_bcache_t *c, const char *path, const char *want)
{
    cf_buf_t  *v = NULL;
    uint64_t   gen;

    assert_true(cf_bcache_lookup(c, path, &v, &gen));
    if (want == NULL) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_int_equal(v->len, strlen(want));
    assert_memory_equal(v->data, want, v->len);
    cf_buf_free(v);
}

static void
cf_test_miss(cf_bcache_t *c, const char *path, uint64_t *gen)
{
    cf_buf_t  *v = (cf_buf_t *) 1;
    uint64_t   g;

    assert_false(cf_bcache_lookup(c, path, &v, gen != NULL ? gen : &g));
    assert_null(v);
}

static void
cf_test_fill_and_forget(void **state)
{
    cf_bcache_t  *c = NULL;
    uint64_t      gen;

    (void) state;
    assert_int_equal(cf_bcache_new(0, &c), CF_ERR_INVALID);
    assert_int_equal(cf_bcache_new(16, &c), CF_OK);
    cf_test_miss(c, "m/role/a", &gen);
    cf_bcache_fill(c, "m/role/a", "v1", 2, gen);
    cf_test_hit(c, "m/role/a", "v1");
    /* Absence is remembered. */
    cf_test_miss(c, "m/role/b", &gen);
    cf_bcache_fill(c, "m/role/b", NULL, 0, gen);
    cf_test_hit(c, "m/role/b", NULL);
    /* A hit is a copy: the caller's buffer is its own. */
    cf_test_hit(c, "m/role/a", "v1");
    cf_bcache_forget(c, "m/role/a");
    cf_test_miss(c, "m/role/a", NULL);
    cf_test_hit(c, "m/role/b", NULL);
    /* Prefix: only what is under it. */
    cf_test_miss(c, "n/x", &gen);
    cf_bcache_fill(c, "n/x", "x", 1, gen);
    cf_bcache_forget_prefix(c, "m/");
    cf_test_miss(c, "m/role/b", NULL);
    cf_test_hit(c, "n/x", "x");
    cf_bcache_clear(c);
    cf_test_miss(c, "n/x", NULL);
    cf_bcache_free(c);
    cf_bcache_free(NULL);
}

/* A reader that missed, then lost a race with a writer, must not leave
 * the value it read (now old) behind. */
static void
cf_test_fill_after_forget_is_dropped(void **state)
{
    cf_bcache_t  *c = NULL;
    uint64_t      gen, gen2;

    (void) state;
    assert_int_equal(cf_bcache_new(16, &c), CF_OK);
    cf_test_miss(c, "k", &gen);
    cf_bcache_forget(c, "k");                   /* the writer */
    cf_bcache_fill(c, "k", "old", 3, gen);      /* the slow reader */
    cf_test_miss(c, "k", &gen2);
    cf_bcache_fill(c, "k", "new", 3, gen2);
    cf_test_hit(c, "k", "new");
    /* The same after a prefix forget or a clear. */
    cf_bcache_forget(c, "k");
    cf_test_miss(c, "k", &gen);
    cf_bcache_forget_prefix(c, "other/");
    cf_bcache_fill(c, "k", "old", 3, gen);
    cf_test_miss(c, "k", &gen);
    cf_bcache_clear(c);
    cf_bcache_fill(c, "k", "old", 3, gen);
    cf_test_miss(c, "k", NULL);
    cf_bcache_free(c);
}

static void
cf_test_bounded(void **state)
{
    cf_bcache_t  *c = NULL;
    uint64_t      gen;
    char          path[32];
    int           i, hits = 0;
    cf_buf_t     *v;

    (void) state;
    assert_int_equal(cf_bcache_new(8, &c), CF_OK);
    for (i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "p/%d", i);
        cf_test_miss(c, path, &gen);
        cf_bcache_fill(c, path, path, strlen(path), gen);
        cf_test_hit(c, path, path);         /* the newest is always kept */
    }
    for (i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "p/%d", i);
        v = NULL;
        if (cf_bcache_lookup(c, path, &v, &gen))
            hits++;
        cf_buf_free(v);
    }
    assert_true(hits >= 1 && hits <= 8);
    /* Filling a path twice keeps one entry with the newer value. */
    cf_test_miss(c, "twice", &gen);
    cf_bcache_fill(c, "twice", "a", 1, gen);
    cf_bcache_fill(c, "twice", "b", 1, gen);
    cf_test_hit(c, "twice", "b");
    cf_bcache_free(c);
}

/* JSON lookups: parsed once, every caller gets its own copy. */
static void
cf_test_json(void **state)
{
    cf_bcache_t  *c = NULL;
    json_t       *a = NULL, *b = NULL;
    uint64_t      gen;
    const char   *doc = "{\"ttl\": 60, \"names\": [\"a\"]}";

    (void) state;
    assert_int_equal(cf_bcache_new(16, &c), CF_OK);
    assert_false(cf_bcache_lookup_json(c, "r", &a, &gen));
    assert_null(a);
    cf_bcache_fill(c, "r", doc, strlen(doc), gen);
    assert_true(cf_bcache_lookup_json(c, "r", &a, &gen));
    assert_int_equal(json_integer_value(json_object_get(a, "ttl")), 60);
    /* Changing one copy changes neither the cache nor the next copy. */
    json_object_set_new(a, "ttl", json_integer(1));
    json_array_append_new(json_object_get(a, "names"), json_string("b"));
    assert_true(cf_bcache_lookup_json(c, "r", &b, &gen));
    assert_int_equal(json_integer_value(json_object_get(b, "ttl")), 60);
    assert_int_equal(json_array_size(json_object_get(b, "names")), 1);
    json_decref(a);
    json_decref(b);
    /* The bytes are still there for a byte lookup. */
    cf_test_hit(c, "r", doc);
    /* Absent; and a value that is not JSON is a miss, not a hit. */
    assert_false(cf_bcache_lookup_json(c, "gone", &a, &gen));
    cf_bcache_fill(c, "gone", NULL, 0, gen);
    assert_true(cf_bcache_lookup_json(c, "gone", &a, &gen));
    assert_null(a);
    assert_false(cf_bcache_lookup_json(c, "bad", &a, &gen));
    cf_bcache_fill(c, "bad", "{nope", 5, gen);
    assert_false(cf_bcache_lookup_json(c, "bad", &a, &gen));
    assert_null(a);
    /* Forget drops the parsed copy with the bytes. */
    cf_bcache_forget(c, "r");
    assert_false(cf_bcache_lookup_json(c, "r", &a, &gen));
    cf_bcache_free(c);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(cf_test_fill_and_forget),
        cmocka_unit_test(cf_test_fill_after_forget_is_dropped),
        cmocka_unit_test(cf_test_bounded),
        cmocka_unit_test(cf_test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
