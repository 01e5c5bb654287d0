/* test_storage_sqlite: the SQLite backend against real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coffer/storage.h"
#include "helpers.h"

typedef struct {
    char           dir[256];
    char           file[320];
    cf_storage_t  *s;
} cf_test_sqlite_t;

static int
cf_test_sqlite_setup(void **state)
{
    cf_test_sqlite_t  *t;

    t = calloc(1, sizeof(*t));
    if (t == NULL || cf_test_tmpdir(t->dir, sizeof(t->dir)) != 0)
        return -1;
    snprintf(t->file, sizeof(t->file), "%s/coffer.db", t->dir);
    if (cf_storage_sqlite_open(t->file, &t->s) != CF_OK)
        return -1;
    *state = t;
    return 0;
}

static int
cf_test_sqlite_teardown(void **state)
{
    cf_test_sqlite_t  *t = *state;

    cf_storage_close(t->s);
    cf_test_rmdir(t->dir);
    free(t);
    return 0;
}

static void
cf_test_put_str(cf_storage_t *s, const char *path, const char *val)
{
    assert_int_equal(cf_storage_put(s, path, val, strlen(val)), CF_OK);
}

static void
cf_test_get_str(cf_storage_t *s, const char *path, const char *want)
{
    cf_buf_t  *b = NULL;

    assert_int_equal(cf_storage_get(s, path, &b), CF_OK);
    assert_non_null(b);
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
    cf_buf_free(b);
}

/* Assert the list of prefix equals the NULL-terminated want[]. */
static void
cf_test_list_is(cf_storage_t *s, const char *prefix, const char *const *want)
{
    cf_strlist_t  *l = NULL;
    size_t         i;

    assert_int_equal(cf_storage_list(s, prefix, &l), CF_OK);
    assert_non_null(l);
    for (i = 0; want[i] != NULL; i++) {
        assert_true(i < l->len);
        assert_string_equal(l->items[i], want[i]);
    }
    assert_int_equal(l->len, i);
    cf_strlist_free(l);
}

static void
cf_test_crud(void **state)
{
    cf_test_sqlite_t  *t = *state;
    cf_buf_t          *b = (cf_buf_t *) 1;

    assert_int_equal(cf_storage_get(t->s, "missing", &b), CF_ERR_NOT_FOUND);
    assert_null(b);
    cf_test_put_str(t->s, "sys/a", "one");
    cf_test_get_str(t->s, "sys/a", "one");
    cf_test_put_str(t->s, "sys/a", "two-longer");
    cf_test_get_str(t->s, "sys/a", "two-longer");
    assert_int_equal(cf_storage_delete(t->s, "sys/a"), CF_OK);
    assert_int_equal(cf_storage_get(t->s, "sys/a", &b), CF_ERR_NOT_FOUND);
    assert_null(b);
    /* Deleting an absent path is fine. */
    assert_int_equal(cf_storage_delete(t->s, "sys/a"), CF_OK);
    /* Empty and binary values round-trip. */
    assert_int_equal(cf_storage_put(t->s, "empty", "", 0), CF_OK);
    cf_test_get_str(t->s, "empty", "");
    assert_int_equal(cf_storage_put(t->s, "bin", "a\0b\xff", 4), CF_OK);
    assert_int_equal(cf_storage_get(t->s, "bin", &b), CF_OK);
    assert_int_equal(b->len, 4);
    assert_memory_equal(b->data, "a\0b\xff", 4);
    cf_buf_free(b);
}

static void
cf_test_invalid_paths(void **state)
{
    cf_test_sqlite_t  *t = *state;
    cf_buf_t          *b = NULL;
    cf_strlist_t      *l = (cf_strlist_t *) 1;
    char              *big;

    big = malloc(4098);
    assert_non_null(big);
    memset(big, 'x', 4097);
    big[4097] = '\0';
    assert_int_equal(cf_storage_put(t->s, big, "v", 1), CF_ERR_INVALID);
    assert_int_equal(cf_storage_get(t->s, big, &b), CF_ERR_INVALID);
    assert_int_equal(cf_storage_delete(t->s, big), CF_ERR_INVALID);
    big[4096] = '\0';               /* exactly 4096 bytes is allowed */
    assert_int_equal(cf_storage_put(t->s, big, "v", 1), CF_OK);
    cf_test_get_str(t->s, big, "v");
    free(big);
    assert_int_equal(cf_storage_put(t->s, "", "v", 1), CF_ERR_INVALID);
    assert_int_equal(cf_storage_list(t->s, "no-slash", &l), CF_ERR_INVALID);
    assert_null(l);
}

static void
cf_test_list(void **state)
{
    cf_test_sqlite_t   *t = *state;
    static const char  *const root[] = { "a", "b/", "c/", "z", NULL };
    static const char  *const b[] = { "1", "2/", "x", NULL };
    static const char  *const none[] = { NULL };

    cf_test_put_str(t->s, "z", "v");
    cf_test_put_str(t->s, "b/x", "v");
    cf_test_put_str(t->s, "b/2/deep/er", "v");
    cf_test_put_str(t->s, "b/1", "v");
    cf_test_put_str(t->s, "b/2/k", "v");
    cf_test_put_str(t->s, "a", "v");
    cf_test_put_str(t->s, "c/only", "v");
    cf_test_list_is(t->s, "", root);
    cf_test_list_is(t->s, "b/", b);
    cf_test_list_is(t->s, "nothing/", none);
}

/* Neighbours of "a/" in byte order: '.' (0x2e) sorts just before '/'
 * (0x2f) and '0' (0x30) just after, the upper bound of the range. */
static void
cf_test_list_byte_boundary(void **state)
{
    cf_test_sqlite_t   *t = *state;
    static const char  *const a[] = { "k", "sub/", NULL };
    static const char  *const root[] = { "a", "a.", "a/", "a0", "a0/",
                                         NULL };

    cf_test_put_str(t->s, "a", "v");
    cf_test_put_str(t->s, "a.", "v");
    cf_test_put_str(t->s, "a/k", "v");
    cf_test_put_str(t->s, "a/sub/x", "v");
    cf_test_put_str(t->s, "a0", "v");
    cf_test_put_str(t->s, "a0/x", "v");
    cf_test_list_is(t->s, "a/", a);
    cf_test_list_is(t->s, "", root);
}

/* A folder with many descendants lists as one child, next to plain
 * entries after it (the scan skips the subtree). */
static void
cf_test_list_skips_subtree(void **state)
{
    cf_test_sqlite_t   *t = *state;
    static const char  *const p[] = { "big/", "mid", "zed/", NULL };
    char                path[64];
    int                 i;

    for (i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "p/big/%03d/leaf", i);
        cf_test_put_str(t->s, path, "v");
    }
    cf_test_put_str(t->s, "p/mid", "v");
    cf_test_put_str(t->s, "p/zed/1", "v");
    cf_test_list_is(t->s, "p/", p);
}

static void
cf_test_durable_reopen(void **state)
{
    cf_test_sqlite_t  *t = *state;
    struct stat        st;

    cf_test_put_str(t->s, "core/keep", "persisted");
    cf_test_put_str(t->s, "core/gone", "x");
    assert_int_equal(cf_storage_delete(t->s, "core/gone"), CF_OK);
    cf_storage_close(t->s);
    t->s = NULL;
    assert_int_equal(stat(t->file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cf_storage_sqlite_open(t->file, &t->s), CF_OK);
    cf_test_get_str(t->s, "core/keep", "persisted");
    {
        cf_buf_t  *b = NULL;

        assert_int_equal(cf_storage_get(t->s, "core/gone", &b),
                         CF_ERR_NOT_FOUND);
    }
}

/* Commits are counted; a sync makes them durable; a failed put or delete
 * counts nothing. */
static void
cf_test_marks(void **state)
{
    cf_test_sqlite_t  *t = *state;
    const char        *paths[2] = { "m/a", "m/b" };
    const void        *vals[2] = { "1", "2" };
    const size_t       lens[2] = { 1, 1 };
    uint64_t           m0, m1;

    m0 = cf_storage_mark(t->s);
    assert_true(cf_storage_is_durable(t->s, m0));
    cf_test_put_str(t->s, "m/x", "v");
    m1 = cf_storage_mark(t->s);
    assert_int_equal(m1, m0 + 1);
    assert_int_equal(cf_storage_sync(t->s), CF_OK);
    assert_true(cf_storage_is_durable(t->s, m1));
    /* put_many is one commit, delete_prefix is one commit. */
    assert_int_equal(cf_storage_put_many(t->s, 2, paths, vals, lens), CF_OK);
    assert_int_equal(cf_storage_mark(t->s), m1 + 1);
    assert_int_equal(cf_storage_delete_prefix(t->s, "m/"), CF_OK);
    assert_int_equal(cf_storage_mark(t->s), m1 + 2);
    assert_int_equal(cf_storage_put(t->s, "", "v", 1), CF_ERR_INVALID);
    assert_int_equal(cf_storage_mark(t->s), m1 + 2);
    assert_int_equal(cf_storage_sync(t->s), CF_OK);
    assert_true(cf_storage_is_durable(t->s, m1 + 2));
}

/* The WAL is copied into the database file by the checkpoint thread
 * (SQLite's own automatic checkpoint is off): after ~2000 pages of
 * writes the database file grows without anyone asking. */
static void
cf_test_checkpoints(void **state)
{
    cf_test_sqlite_t  *t = *state;
    struct stat        st;
    char               path[32], *val;
    int                i;

    val = malloc(3000);
    assert_non_null(val);
    memset(val, 'x', 3000);
    for (i = 0; i < 2000; i++) {
        snprintf(path, sizeof(path), "ck/%05d", i);
        assert_int_equal(cf_storage_put(t->s, path, val, 3000), CF_OK);
    }
    free(val);
    for (i = 0; i < 200; i++) {
        assert_int_equal(stat(t->file, &st), 0);
        if (st.st_size > 2 * 1024 * 1024)
            break;
        usleep(50 * 1000);
    }
    assert_true(st.st_size > 2 * 1024 * 1024);
    {
        cf_buf_t  *b = NULL;

        assert_int_equal(cf_storage_get(t->s, "ck/01999", &b), CF_OK);
        assert_int_equal(b->len, 3000);
        cf_buf_free(b);
    }
}

static void
cf_test_open_fails(void **state)
{
    cf_test_sqlite_t  *t = *state;
    cf_storage_t      *s = (cf_storage_t *) 1;
    char               bad[400];

    snprintf(bad, sizeof(bad), "%s/no/such/dir/x.db", t->dir);
    assert_int_equal(cf_storage_sqlite_open(bad, &s), CF_ERR_CONFIG);
    assert_null(s);
}

#define CF_TEST_THREADS  4
#define CF_TEST_ROUNDS   100

typedef struct {
    cf_storage_t  *s;
    int            id;
    int            failures;
} cf_test_worker_t;

/* Each thread writes its own keys and reads them (and its neighbour's)
 * back, so writers and readers overlap on the pool. */
/* put_many writes all entries, or none when one path is bad. */
static void
cf_test_put_many(void **state)
{
    cf_test_sqlite_t    *t = *state;
    cf_buf_t            *b = NULL;
    const char *const    ok_paths[] = { "m/a", "m/b", "m/c" };
    const char *const    bad_paths[] = { "n/a", "" };
    const void *const    vals[] = { "1", "2", "3" };
    const size_t         lens[] = { 1, 1, 1 };

    assert_int_equal(cf_storage_put_many(t->s, 3, ok_paths, vals, lens),
                     CF_OK);
    cf_test_get_str(t->s, "m/a", "1");
    cf_test_get_str(t->s, "m/c", "3");
    assert_int_equal(cf_storage_put_many(t->s, 2, bad_paths, vals, lens),
                     CF_ERR_INVALID);
    assert_int_equal(cf_storage_get(t->s, "n/a", &b), CF_ERR_NOT_FOUND);
    assert_int_equal(cf_storage_put_many(t->s, 0, NULL, NULL, NULL), CF_OK);
}

/* delete_prefix removes exactly the subtree: not "a0" (just past "a/"),
 * not the prefix's own name without the slash, not a sibling "ab/". */
static void
cf_test_delete_prefix(void **state)
{
    cf_test_sqlite_t  *t = *state;
    cf_buf_t          *b = NULL;
    static const char *const  gone[] = { "a/x", "a/y/z", "a/" };
    static const char *const  kept[] = { "a", "a0", "ab/c", "b/a/x" };
    size_t             i;

    for (i = 0; i < 3; i++)
        cf_test_put_str(t->s, gone[i], "v");
    for (i = 0; i < 4; i++)
        cf_test_put_str(t->s, kept[i], "v");
    assert_int_equal(cf_storage_delete_prefix(t->s, "a/"), CF_OK);
    for (i = 0; i < 3; i++)
        assert_int_equal(cf_storage_get(t->s, gone[i], &b),
                         CF_ERR_NOT_FOUND);
    for (i = 0; i < 4; i++)
        cf_test_get_str(t->s, kept[i], "v");
    /* Nothing there is fine; an empty or slash-less prefix is refused. */
    assert_int_equal(cf_storage_delete_prefix(t->s, "none/"), CF_OK);
    assert_int_equal(cf_storage_delete_prefix(t->s, ""), CF_ERR_INVALID);
    assert_int_equal(cf_storage_delete_prefix(t->s, "a"), CF_ERR_INVALID);
    cf_test_get_str(t->s, "a", "v");
}

static void *
cf_test_worker(void *arg)
{
    cf_test_worker_t  *w = arg;
    cf_strlist_t      *l;
    cf_buf_t          *b;
    char               path[64], val[64];
    int                i;
    cf_err_t           rc;

    for (i = 0; i < CF_TEST_ROUNDS; i++) {
        snprintf(path, sizeof(path), "t%d/k%03d", w->id, i);
        snprintf(val, sizeof(val), "v-%d-%d", w->id, i);
        if (cf_storage_put(w->s, path, val, strlen(val)) != CF_OK) {
            w->failures++;
            continue;
        }
        b = NULL;
        if (cf_storage_get(w->s, path, &b) != CF_OK || b->len != strlen(val)
            || memcmp(b->data, val, b->len) != 0)
            w->failures++;
        cf_buf_free(b);
        snprintf(path, sizeof(path), "t%d/k%03d", (w->id + 1)
                 % CF_TEST_THREADS, i);
        b = NULL;
        rc = cf_storage_get(w->s, path, &b);
        if (rc != CF_OK && rc != CF_ERR_NOT_FOUND)
            w->failures++;
        cf_buf_free(b);
        l = NULL;
        if (cf_storage_list(w->s, "", &l) != CF_OK)
            w->failures++;
        cf_strlist_free(l);
    }
    return NULL;
}

static void
cf_test_concurrent(void **state)
{
    cf_test_sqlite_t  *t = *state;
    cf_test_worker_t   w[CF_TEST_THREADS];
    pthread_t          th[CF_TEST_THREADS];
    cf_strlist_t      *l = NULL;
    char               prefix[16];
    int                i;

    for (i = 0; i < CF_TEST_THREADS; i++) {
        w[i] = (cf_test_worker_t) { .s = t->s, .id = i };
        assert_int_equal(pthread_create(&th[i], NULL, cf_test_worker, &w[i]),
                         0);
    }
    for (i = 0; i < CF_TEST_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    for (i = 0; i < CF_TEST_THREADS; i++) {
        snprintf(prefix, sizeof(prefix), "t%d/", i);
        assert_int_equal(cf_storage_list(t->s, prefix, &l), CF_OK);
        assert_int_equal(l->len, CF_TEST_ROUNDS);
        cf_strlist_free(l);
        l = NULL;
    }
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(cf_test_crud,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_invalid_paths,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_list,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_list_byte_boundary,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_list_skips_subtree,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_put_many,
                                        cf_test_sqlite_setup,
                                        cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_delete_prefix,
                                        cf_test_sqlite_setup,
                                        cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_durable_reopen,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_marks,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_checkpoints,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_open_fails,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
        cmocka_unit_test_setup_teardown(cf_test_concurrent,
            cf_test_sqlite_setup, cf_test_sqlite_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
