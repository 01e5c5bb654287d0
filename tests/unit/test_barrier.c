/* test_barrier: the barrier on a real SoftHSM token and SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/barrier.h"
#include "coffer/storage.h"
#include "helpers.h"

#define CF_TEST_TOKEN   "coffer-barrier-test"
#define CF_TEST_PIN     "1234"
#define CF_TEST_SECRET  "plaintext-canary-7f3a9c1e-must-not-hit-disk"

/* One token and HSM for the group (a token must be made before the
 * first cf_hsm_open in a process); a fresh SQLite file per test. */
static cf_test_token_t  cf_test_tok;
static cf_hsm_t        *cf_test_hsm;

typedef struct {
    char           dir[256];
    char           file[320];
    char           label[64];
    cf_storage_t  *s;
    cf_barrier_t  *b;
} cf_test_barrier_t;

static int
cf_test_group_setup(void **state)
{
    (void) state;
    cf_mem_init();
    if (cf_test_token_make(&cf_test_tok, CF_TEST_TOKEN, CF_TEST_PIN) != 0)
        return -1;
    cf_test_hsm = cf_test_hsm_open(CF_TEST_TOKEN, CF_TEST_PIN);
    return cf_test_hsm != NULL ? 0 : -1;
}

static int
cf_test_group_teardown(void **state)
{
    (void) state;
    cf_hsm_close(cf_test_hsm);
    cf_test_token_remove(&cf_test_tok);
    return 0;
}

static int
cf_test_setup(void **state)
{
    static int          seq;
    cf_test_barrier_t  *t;

    t = calloc(1, sizeof(*t));
    if (t == NULL || cf_test_tmpdir(t->dir, sizeof(t->dir)) != 0)
        return -1;
    snprintf(t->file, sizeof(t->file), "%s/coffer.db", t->dir);
    /* Own key label per test: every test's term 1 is a new key. */
    snprintf(t->label, sizeof(t->label), "test-barrier-%d", ++seq);
    if (cf_storage_sqlite_open(t->file, &t->s) != CF_OK
        || cf_barrier_new(t->s, cf_test_hsm, t->label, &t->b) != CF_OK)
        return -1;
    *state = t;
    return 0;
}

static int
cf_test_teardown(void **state)
{
    cf_test_barrier_t  *t = *state;

    cf_barrier_free(t->b);
    cf_storage_close(t->s);
    cf_test_rmdir(t->dir);
    free(t);
    return 0;
}

static void
cf_test_put_str(cf_barrier_t *b, const char *path, const char *val)
{
    assert_int_equal(cf_barrier_put(b, path, val, strlen(val)), CF_OK);
}

static void
cf_test_get_str(cf_barrier_t *b, const char *path, const char *want)
{
    cf_buf_t  *v = NULL;

    assert_int_equal(cf_barrier_get(b, path, &v), CF_OK);
    assert_non_null(v);
    assert_int_equal(v->len, strlen(want));
    assert_memory_equal(v->data, want, v->len);
    cf_buf_free(v);
}

static void
cf_test_get_fails(cf_barrier_t *b, const char *path, cf_err_t want)
{
    cf_buf_t  *v = (cf_buf_t *) 1;

    assert_int_equal(cf_barrier_get(b, path, &v), want);
    assert_null(v);
}

/* Term in the header of the raw stored entry at path. */
static uint32_t
cf_test_raw_term(cf_storage_t *s, const char *path)
{
    cf_buf_t  *raw = NULL;
    uint32_t   term;

    assert_int_equal(cf_storage_get(s, path, &raw), CF_OK);
    assert_true(raw->len >= 1 + 4 + 12 + 16);
    assert_int_equal(raw->data[0], 1);
    term = (uint32_t) raw->data[1] << 24 | (uint32_t) raw->data[2] << 16
           | (uint32_t) raw->data[3] << 8 | raw->data[4];
    cf_buf_free(raw);
    return term;
}

/* true if needle occurs in the file (absent file: false). */
static bool
cf_test_file_has(const char *file, const char *needle)
{
    FILE   *f;
    char   *data;
    long    len;
    bool    found;

    if ((f = fopen(file, "rb")) == NULL)
        return false;
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    rewind(f);
    data = malloc((size_t) len + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t) len, f), (size_t) len);
    fclose(f);
    found = memmem(data, (size_t) len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static void
cf_test_init_put_get(void **state)
{
    cf_test_barrier_t  *t = *state;
    char                side[400];
    uint32_t            term;
    time_t              when;
    uint64_t            enc;
    cf_strlist_t       *l = NULL;

    assert_true(cf_barrier_sealed(t->b));
    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    assert_false(cf_barrier_sealed(t->b));
    cf_test_put_str(t->b, "logical/kv/secret", CF_TEST_SECRET);
    cf_test_get_str(t->b, "logical/kv/secret", CF_TEST_SECRET);
    cf_test_put_str(t->b, "logical/kv/secret", "second");
    cf_test_get_str(t->b, "logical/kv/secret", "second");
    cf_test_put_str(t->b, "logical/kv/canary", CF_TEST_SECRET);
    assert_int_equal(cf_barrier_put(t->b, "logical/kv/empty", NULL, 0),
                     CF_OK);
    cf_test_get_str(t->b, "logical/kv/empty", "");
    cf_test_get_fails(t->b, "logical/kv/none", CF_ERR_NOT_FOUND);
    assert_int_equal(cf_barrier_list(t->b, "logical/kv/", &l), CF_OK);
    assert_int_equal(l->len, 3);
    assert_string_equal(l->items[0], "canary");
    cf_strlist_free(l);
    assert_int_equal(cf_barrier_delete(t->b, "logical/kv/empty"), CF_OK);
    cf_test_get_fails(t->b, "logical/kv/empty", CF_ERR_NOT_FOUND);
    assert_int_equal(cf_barrier_key_status(t->b, &term, &when, &enc), CF_OK);
    assert_int_equal(term, 1);
    assert_true(when > 0);
    assert_true(enc >= 4);
    assert_int_equal(cf_test_raw_term(t->s, "logical/kv/secret"), 1);
    /* The plaintext is nowhere on disk: database, WAL or shm. */
    assert_false(cf_test_file_has(t->file, CF_TEST_SECRET));
    snprintf(side, sizeof(side), "%s-wal", t->file);
    assert_false(cf_test_file_has(side, CF_TEST_SECRET));
    snprintf(side, sizeof(side), "%s-shm", t->file);
    assert_false(cf_test_file_has(side, CF_TEST_SECRET));
    cf_storage_close(t->s);         /* checkpoint into the main file */
    assert_int_equal(cf_storage_sqlite_open(t->file, &t->s), CF_OK);
    assert_false(cf_test_file_has(t->file, CF_TEST_SECRET));
}

static void
cf_test_sealed(void **state)
{
    cf_test_barrier_t  *t = *state;
    cf_strlist_t       *l = (cf_strlist_t *) 1;
    uint32_t            term;
    time_t              when;
    uint64_t            enc;

    cf_test_get_fails(t->b, "a", CF_ERR_SEALED);
    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    cf_test_put_str(t->b, "a", "v");
    cf_barrier_seal(t->b);
    assert_true(cf_barrier_sealed(t->b));
    cf_test_get_fails(t->b, "a", CF_ERR_SEALED);
    assert_int_equal(cf_barrier_put(t->b, "a", "w", 1), CF_ERR_SEALED);
    assert_int_equal(cf_barrier_delete(t->b, "a"), CF_ERR_SEALED);
    assert_int_equal(cf_barrier_list(t->b, "", &l), CF_ERR_SEALED);
    assert_null(l);
    assert_int_equal(cf_barrier_rotate(t->b), CF_ERR_SEALED);
    assert_int_equal(cf_barrier_key_status(t->b, &term, &when, &enc),
                     CF_ERR_SEALED);
    assert_int_equal(cf_barrier_key_ids(t->b, &l), CF_ERR_SEALED);
    /* Unseal again from storage. */
    assert_int_equal(cf_barrier_unseal(t->b), CF_OK);
    cf_test_get_str(t->b, "a", "v");
}

static void
cf_test_fresh_barrier_unseals(void **state)
{
    cf_test_barrier_t  *t = *state;
    cf_barrier_t       *b2 = NULL;

    assert_int_equal(cf_barrier_unseal(t->b), CF_ERR_NOT_FOUND);
    assert_true(cf_barrier_sealed(t->b));
    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    cf_test_put_str(t->b, "core/thing", "value-1");
    assert_int_equal(cf_barrier_new(t->s, cf_test_hsm, t->label, &b2),
                     CF_OK);
    assert_true(cf_barrier_sealed(b2));
    assert_int_equal(cf_barrier_unseal(b2), CF_OK);
    cf_test_get_str(b2, "core/thing", "value-1");
    cf_barrier_free(b2);
    /* Another key label finds no key for the stored keyring's term. */
    assert_int_equal(cf_barrier_new(t->s, cf_test_hsm, "other-label", &b2),
                     CF_OK);
    assert_int_equal(cf_barrier_unseal(b2), CF_ERR_INTEGRITY);
    assert_true(cf_barrier_sealed(b2));
    cf_barrier_free(b2);
}

static void
cf_test_rotate(void **state)
{
    cf_test_barrier_t  *t = *state;
    cf_barrier_t       *b2 = NULL;
    cf_strlist_t       *ids = NULL;
    uint32_t            term;
    time_t              when;
    uint64_t            enc;

    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    cf_test_put_str(t->b, "old", "written-under-1");
    assert_int_equal(cf_barrier_rotate(t->b), CF_OK);
    assert_int_equal(cf_barrier_key_status(t->b, &term, &when, &enc), CF_OK);
    assert_int_equal(term, 2);
    cf_test_get_str(t->b, "old", "written-under-1");
    cf_test_put_str(t->b, "new", "written-under-2");
    assert_int_equal(cf_test_raw_term(t->s, "old"), 1);
    assert_int_equal(cf_test_raw_term(t->s, "new"), 2);
    assert_int_equal(cf_test_raw_term(t->s, "core/keyring"), 2);
    assert_int_equal(cf_barrier_key_ids(t->b, &ids), CF_OK);
    assert_int_equal(ids->len, 2);
    assert_string_not_equal(ids->items[0], ids->items[1]);
    cf_strlist_free(ids);
    /* A fresh barrier reads the keyring under term 2 and both terms. */
    assert_int_equal(cf_barrier_new(t->s, cf_test_hsm, t->label, &b2),
                     CF_OK);
    assert_int_equal(cf_barrier_unseal(b2), CF_OK);
    assert_int_equal(cf_barrier_key_status(b2, &term, &when, &enc), CF_OK);
    assert_int_equal(term, 2);
    cf_test_get_str(b2, "old", "written-under-1");
    cf_test_get_str(b2, "new", "written-under-2");
    cf_barrier_free(b2);
}

static void
cf_test_swapped_entries(void **state)
{
    cf_test_barrier_t  *t = *state;
    cf_buf_t           *x = NULL, *y = NULL;

    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    cf_test_put_str(t->b, "sys/x", "value-x");
    cf_test_put_str(t->b, "sys/y", "value-y");
    assert_int_equal(cf_storage_get(t->s, "sys/x", &x), CF_OK);
    assert_int_equal(cf_storage_get(t->s, "sys/y", &y), CF_OK);
    assert_int_equal(cf_storage_put(t->s, "sys/x", y->data, y->len), CF_OK);
    assert_int_equal(cf_storage_put(t->s, "sys/y", x->data, x->len), CF_OK);
    cf_buf_free(x);
    cf_buf_free(y);
    cf_test_get_fails(t->b, "sys/x", CF_ERR_INTEGRITY);
    cf_test_get_fails(t->b, "sys/y", CF_ERR_INTEGRITY);
}

static void
cf_test_damaged_entries(void **state)
{
    cf_test_barrier_t  *t = *state;
    cf_buf_t           *raw = NULL;

    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    cf_test_put_str(t->b, "e", "some value");
    assert_int_equal(cf_storage_get(t->s, "e", &raw), CF_OK);
    /* Truncated by one byte: the tag no longer verifies. */
    assert_int_equal(cf_storage_put(t->s, "e", raw->data, raw->len - 1),
                     CF_OK);
    cf_test_get_fails(t->b, "e", CF_ERR_INTEGRITY);
    /* Shorter than a header and tag. */
    assert_int_equal(cf_storage_put(t->s, "e", raw->data, 20), CF_OK);
    cf_test_get_fails(t->b, "e", CF_ERR_INTEGRITY);
    assert_int_equal(cf_storage_put(t->s, "e", "", 0), CF_OK);
    cf_test_get_fails(t->b, "e", CF_ERR_INTEGRITY);
    /* A flipped ciphertext bit. */
    raw->data[raw->len - 20] ^= 1;
    assert_int_equal(cf_storage_put(t->s, "e", raw->data, raw->len), CF_OK);
    cf_test_get_fails(t->b, "e", CF_ERR_INTEGRITY);
    raw->data[raw->len - 20] ^= 1;
    /* Unknown version, then unknown term. */
    raw->data[0] = 2;
    assert_int_equal(cf_storage_put(t->s, "e", raw->data, raw->len), CF_OK);
    cf_test_get_fails(t->b, "e", CF_ERR_INTEGRITY);
    raw->data[0] = 1;
    raw->data[4] = 99;
    assert_int_equal(cf_storage_put(t->s, "e", raw->data, raw->len), CF_OK);
    cf_test_get_fails(t->b, "e", CF_ERR_INTEGRITY);
    /* Restored, it reads again. */
    raw->data[4] = 1;
    assert_int_equal(cf_storage_put(t->s, "e", raw->data, raw->len), CF_OK);
    cf_test_get_str(t->b, "e", "some value");
    cf_buf_free(raw);
}

static void
cf_test_damaged_keyring(void **state)
{
    cf_test_barrier_t  *t = *state;
    cf_buf_t           *raw = NULL;

    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    cf_barrier_seal(t->b);
    assert_int_equal(cf_storage_get(t->s, "core/keyring", &raw), CF_OK);
    raw->data[raw->len - 1] ^= 0x80;
    assert_int_equal(cf_storage_put(t->s, "core/keyring", raw->data,
                                    raw->len), CF_OK);
    assert_int_equal(cf_barrier_unseal(t->b), CF_ERR_INTEGRITY);
    assert_true(cf_barrier_sealed(t->b));
    assert_int_equal(cf_storage_put(t->s, "core/keyring", raw->data, 3),
                     CF_OK);
    assert_int_equal(cf_barrier_unseal(t->b), CF_ERR_INTEGRITY);
    cf_buf_free(raw);
}

static void
cf_test_no_key(void **state)
{
    cf_test_barrier_t  *t = *state;
    char                label[128];
    cf_hsm_id_t         id;
    cf_strlist_t       *ids = NULL;
    char                hex[2 * CF_HSM_ID_LEN + 1];

    assert_int_equal(cf_barrier_initialize(t->b, false), CF_ERR_NOT_FOUND);
    assert_true(cf_barrier_sealed(t->b));
    /* With the key made beforehand (generate_key = false), it is used. */
    snprintf(label, sizeof(label), "%s/1", t->label);
    assert_int_equal(cf_hsm_key_generate(cf_test_hsm, CF_HSM_KEY_AES256,
                                         label, &id), CF_OK);
    assert_int_equal(cf_barrier_initialize(t->b, false), CF_OK);
    assert_int_equal(cf_barrier_key_ids(t->b, &ids), CF_OK);
    assert_int_equal(ids->len, 1);
    cf_hsm_id_hex(&id, hex);
    assert_string_equal(ids->items[0], hex);
    cf_strlist_free(ids);
    cf_test_put_str(t->b, "p", "v");
    cf_test_get_str(t->b, "p", "v");
}

/* Cached reads see every change made through the barrier, absence
 * included, and nothing once sealed. */
static void
cf_test_cached_reads(void **state)
{
    cf_test_barrier_t  *t = *state;
    const char         *paths[2] = { "m/role/a", "m/role/b" };
    const void         *vals[2] = { "a2", "b2" };
    const size_t        lens[2] = { 2, 2 };
    cf_buf_t           *v = NULL;

    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/a", &v),
                     CF_ERR_NOT_FOUND);
    assert_null(v);
    cf_test_put_str(t->b, "m/role/a", "a1");
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/a", &v), CF_OK);
    assert_memory_equal(v->data, "a1", 2);
    cf_buf_free(v);
    /* Served from memory now: the stored entry is gone behind the
     * barrier's back (raw storage), and the cached read still answers. */
    assert_int_equal(cf_storage_delete(t->s, "m/role/a"), CF_OK);
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/a", &v), CF_OK);
    cf_buf_free(v);
    cf_test_get_fails(t->b, "m/role/a", CF_ERR_NOT_FOUND);
    /* Every barrier write forgets: put, put_many, delete, delete_prefix. */
    cf_test_put_str(t->b, "m/role/a", "a1b");
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/a", &v), CF_OK);
    assert_int_equal(v->len, 3);
    cf_buf_free(v);
    assert_int_equal(cf_barrier_put_many(t->b, 2, paths, vals, lens), CF_OK);
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/a", &v), CF_OK);
    assert_memory_equal(v->data, "a2", 2);
    cf_buf_free(v);
    assert_int_equal(cf_barrier_delete(t->b, "m/role/a"), CF_OK);
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/a", &v),
                     CF_ERR_NOT_FOUND);
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/b", &v), CF_OK);
    cf_buf_free(v);
    assert_int_equal(cf_barrier_delete_prefix(t->b, "m/"), CF_OK);
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/b", &v),
                     CF_ERR_NOT_FOUND);
    /* Parsed reads follow the same writes. */
    {
        json_t  *j = NULL;

        cf_test_put_str(t->b, "m/role/j", "{\"v\": 1}");
        assert_int_equal(cf_barrier_get_json_cached(t->b, "m/role/j", &j),
                         CF_OK);
        assert_int_equal(json_integer_value(json_object_get(j, "v")), 1);
        json_decref(j);
        cf_test_put_str(t->b, "m/role/j", "{\"v\": 2}");
        assert_int_equal(cf_barrier_get_json_cached(t->b, "m/role/j", &j),
                         CF_OK);
        assert_int_equal(json_integer_value(json_object_get(j, "v")), 2);
        json_decref(j);
        cf_test_put_str(t->b, "m/role/bad", "not json");
        assert_int_equal(cf_barrier_get_json_cached(t->b, "m/role/bad", &j),
                         CF_ERR_INTEGRITY);
        assert_null(j);
        assert_int_equal(cf_barrier_delete(t->b, "m/role/j"), CF_OK);
        assert_int_equal(cf_barrier_get_json_cached(t->b, "m/role/j", &j),
                         CF_ERR_NOT_FOUND);
    }
    /* Sealed: refused, and unsealing starts from storage. */
    cf_test_put_str(t->b, "m/role/c", "c1");
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/c", &v), CF_OK);
    cf_buf_free(v);
    cf_barrier_seal(t->b);
    v = (cf_buf_t *) 1;
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/c", &v),
                     CF_ERR_SEALED);
    assert_null(v);
    assert_int_equal(cf_storage_delete(t->s, "m/role/c"), CF_OK);
    assert_int_equal(cf_barrier_unseal(t->b), CF_OK);
    assert_int_equal(cf_barrier_get_cached(t->b, "m/role/c", &v),
                     CF_ERR_NOT_FOUND);
}

static void
cf_test_invalid_paths(void **state)
{
    cf_test_barrier_t  *t = *state;
    char               *big;

    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    big = malloc(4098);
    assert_non_null(big);
    memset(big, 'p', 4097);
    big[4097] = '\0';
    assert_int_equal(cf_barrier_put(t->b, big, "v", 1), CF_ERR_INVALID);
    cf_test_get_fails(t->b, big, CF_ERR_INVALID);
    assert_int_equal(cf_barrier_delete(t->b, big), CF_ERR_INVALID);
    free(big);
    assert_int_equal(cf_barrier_put(t->b, "", "v", 1), CF_ERR_INVALID);
    assert_int_equal(cf_barrier_put(t->b, NULL, "v", 1), CF_ERR_INVALID);
    cf_test_get_fails(t->b, "", CF_ERR_INVALID);
}

#define CF_TEST_THREADS  4
#define CF_TEST_ROUNDS   50

typedef struct {
    cf_barrier_t  *b;
    int            id;
    int            failures;
} cf_test_worker_t;

static void *
cf_test_worker(void *arg)
{
    cf_test_worker_t  *w = arg;
    cf_buf_t          *v;
    char               path[64], val[64];
    int                i;

    for (i = 0; i < CF_TEST_ROUNDS; i++) {
        snprintf(path, sizeof(path), "w%d/k%d", w->id, i);
        snprintf(val, sizeof(val), "value-%d-%d", w->id, i);
        v = NULL;
        if (cf_barrier_put(w->b, path, val, strlen(val)) != CF_OK
            || cf_barrier_get(w->b, path, &v) != CF_OK
            || v->len != strlen(val) || memcmp(v->data, val, v->len) != 0)
            w->failures++;
        cf_buf_free(v);
    }
    return NULL;
}

/* Puts and gets from several threads while the main thread rotates. */
static void
cf_test_concurrent_rotate(void **state)
{
    cf_test_barrier_t  *t = *state;
    cf_test_worker_t    w[CF_TEST_THREADS];
    pthread_t           th[CF_TEST_THREADS];
    uint32_t            term;
    time_t              when;
    uint64_t            enc;
    int                 i;

    assert_int_equal(cf_barrier_initialize(t->b, true), CF_OK);
    for (i = 0; i < CF_TEST_THREADS; i++) {
        w[i] = (cf_test_worker_t) { .b = t->b, .id = i };
        assert_int_equal(pthread_create(&th[i], NULL, cf_test_worker,
                                        &w[i]), 0);
    }
    assert_int_equal(cf_barrier_rotate(t->b), CF_OK);
    assert_int_equal(cf_barrier_rotate(t->b), CF_OK);
    for (i = 0; i < CF_TEST_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(cf_barrier_key_status(t->b, &term, &when, &enc), CF_OK);
    assert_int_equal(term, 3);
    /* Every entry, whatever term it got, still reads after unseal. */
    cf_barrier_seal(t->b);
    assert_int_equal(cf_barrier_unseal(t->b), CF_OK);
    cf_test_get_str(t->b, "w0/k0", "value-0-0");
    cf_test_get_str(t->b, "w3/k49", "value-3-49");
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(cf_test_init_put_get,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_sealed,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_fresh_barrier_unseals,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_rotate,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_swapped_entries,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_damaged_entries,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_damaged_keyring,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_no_key,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_cached_reads,
                                        cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_invalid_paths,
            cf_test_setup, cf_test_teardown),
        cmocka_unit_test_setup_teardown(cf_test_concurrent_rotate,
            cf_test_setup, cf_test_teardown),
    };

    return cmocka_run_group_tests(tests, cf_test_group_setup,
                                  cf_test_group_teardown);
}
