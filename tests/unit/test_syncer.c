/*
 * test_syncer: marks, waiters, one sync covering many commits, failure.
 *
 * The sync function here is the syncer's own callback contract (count the
 * calls, optionally hold them on a gate or fail); the SQLite backend's
 * real fdatasync is exercised by test_storage_sqlite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/syncer.h"

typedef struct {
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    unsigned         calls;
    bool             gate_closed;   /* sync blocks while set */
    bool             in_sync;       /* a sync is waiting at the gate */
    cf_err_t         answer;
} cf_test_disk_t;

static cf_err_t
cf_test_sync(void *arg)
{
    cf_test_disk_t  *d = arg;
    cf_err_t         rc;

    pthread_mutex_lock(&d->mu);
    d->calls++;
    d->in_sync = true;
    pthread_cond_broadcast(&d->cv);
    while (d->gate_closed)
        pthread_cond_wait(&d->cv, &d->mu);
    d->in_sync = false;
    rc = d->answer;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static void
cf_test_disk_init(cf_test_disk_t *d)
{
    memset(d, 0, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->answer = CF_OK;
}

static void
cf_test_gate(cf_test_disk_t *d, bool closed)
{
    pthread_mutex_lock(&d->mu);
    d->gate_closed = closed;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void
cf_test_wait_in_sync(cf_test_disk_t *d)
{
    pthread_mutex_lock(&d->mu);
    while (!d->in_sync)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
}

static unsigned
cf_test_calls(cf_test_disk_t *d)
{
    unsigned  n;

    pthread_mutex_lock(&d->mu);
    n = d->calls;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* A waiter's answer, recorded for the test thread. */
typedef struct {
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    unsigned            answers;
    cf_err_t            rc;
    cf_syncer_waiter_t  w;
} cf_test_answer_t;

static void
cf_test_answered(void *arg, cf_err_t rc)
{
    cf_test_answer_t  *a = arg;

    pthread_mutex_lock(&a->mu);
    a->answers++;
    a->rc = rc;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void
cf_test_answer_init(cf_test_answer_t *a, uint64_t mark)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->rc = CF_ERR_INTERNAL;
    a->w.mark = mark;
    a->w.fn = cf_test_answered;
    a->w.arg = a;
}

static cf_err_t
cf_test_answer_wait(cf_test_answer_t *a)
{
    cf_err_t  rc;

    pthread_mutex_lock(&a->mu);
    while (a->answers == 0)
        pthread_cond_wait(&a->cv, &a->mu);
    rc = a->rc;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static void
cf_test_marks(void **state)
{
    cf_test_disk_t  d;
    cf_syncer_t    *s = NULL;

    (void) state;
    cf_test_disk_init(&d);
    assert_int_equal(cf_syncer_new(cf_test_sync, &d, &s), CF_OK);
    /* Nothing committed: mark 0, durable without a sync. */
    assert_int_equal(cf_syncer_mark(s), 0);
    assert_true(cf_syncer_is_durable(s, 0));
    assert_int_equal(cf_syncer_wait(s, 0), CF_OK);
    cf_syncer_committed(s);
    cf_syncer_committed(s);
    assert_int_equal(cf_syncer_mark(s), 2);
    assert_false(cf_syncer_is_durable(s, 2));
    assert_int_equal(cf_syncer_wait(s, 2), CF_OK);
    assert_true(cf_syncer_is_durable(s, 2));
    assert_true(cf_syncer_is_durable(s, 1));
    assert_int_equal(cf_test_calls(&d), 1);
    /* Already durable: no further sync. */
    assert_int_equal(cf_syncer_wait(s, 1), CF_OK);
    assert_int_equal(cf_test_calls(&d), 1);
    assert_false(cf_syncer_failed(s));
    cf_syncer_free(s);
    cf_syncer_free(NULL);
}

/* Waiters are answered once, after their mark is durable; one sync that
 * starts after several commits answers all of them. */
static void
cf_test_waiters_share_a_sync(void **state)
{
    cf_test_disk_t     d;
    cf_test_answer_t   a[4], early;
    cf_syncer_t       *s = NULL;
    unsigned           i;

    (void) state;
    cf_test_disk_init(&d);
    assert_int_equal(cf_syncer_new(cf_test_sync, &d, &s), CF_OK);
    /* Hold the first sync at the gate: commits made meanwhile wait for
     * the next one. */
    cf_test_gate(&d, true);
    cf_syncer_committed(s);
    cf_test_answer_init(&early, cf_syncer_mark(s));
    cf_syncer_when(s, &early.w);
    cf_test_wait_in_sync(&d);
    for (i = 0; i < 4; i++) {
        cf_syncer_committed(s);
        cf_test_answer_init(&a[i], cf_syncer_mark(s));
        cf_syncer_when(s, &a[i].w);
    }
    assert_int_equal(early.answers, 0);
    assert_false(cf_syncer_is_durable(s, 1));
    cf_test_gate(&d, false);
    assert_int_equal(cf_test_answer_wait(&early), CF_OK);
    for (i = 0; i < 4; i++)
        assert_int_equal(cf_test_answer_wait(&a[i]), CF_OK);
    assert_true(cf_syncer_is_durable(s, 5));
    /* The first sync, plus one for the four that came during it. */
    assert_int_equal(cf_test_calls(&d), 2);
    for (i = 0; i < 4; i++)
        assert_int_equal(a[i].answers, 1);
    assert_int_equal(early.answers, 1);
    /* A waiter whose mark is already durable is answered at once. */
    cf_test_answer_init(&early, 3);
    cf_syncer_when(s, &early.w);
    assert_int_equal(early.answers, 1);
    assert_int_equal(early.rc, CF_OK);
    cf_syncer_free(s);
}

/* A failed sync fails its waiters and everything after it. */
static void
cf_test_failure_is_final(void **state)
{
    cf_test_disk_t     d;
    cf_test_answer_t   a, later;
    cf_syncer_t       *s = NULL;

    (void) state;
    cf_test_disk_init(&d);
    d.answer = CF_ERR_STORAGE;
    assert_int_equal(cf_syncer_new(cf_test_sync, &d, &s), CF_OK);
    cf_syncer_committed(s);
    cf_test_answer_init(&a, cf_syncer_mark(s));
    cf_syncer_when(s, &a.w);
    assert_int_equal(cf_test_answer_wait(&a), CF_ERR_STORAGE);
    assert_true(cf_syncer_failed(s));
    assert_false(cf_syncer_is_durable(s, 1));
    assert_false(cf_syncer_is_durable(s, 0));
    assert_int_equal(cf_syncer_wait(s, 1), CF_ERR_STORAGE);
    /* Later waiters are answered at once, with the failure, and no sync
     * is tried again. */
    d.answer = CF_OK;
    cf_test_answer_init(&later, 1);
    cf_syncer_when(s, &later.w);
    assert_int_equal(later.answers, 1);
    assert_int_equal(later.rc, CF_ERR_STORAGE);
    assert_int_equal(cf_test_calls(&d), 1);
    cf_syncer_free(s);
}

/* Freeing syncs what was committed and answers whoever still waits. */
static void
cf_test_free_answers_waiters(void **state)
{
    cf_test_disk_t     d;
    cf_test_answer_t   a;
    cf_syncer_t       *s = NULL;

    (void) state;
    cf_test_disk_init(&d);
    assert_int_equal(cf_syncer_new(cf_test_sync, &d, &s), CF_OK);
    cf_test_gate(&d, true);
    cf_syncer_committed(s);
    cf_test_answer_init(&a, cf_syncer_mark(s));
    cf_syncer_when(s, &a.w);
    cf_test_wait_in_sync(&d);
    cf_syncer_committed(s);        /* committed, nobody waits for it */
    cf_test_gate(&d, false);
    cf_syncer_free(s);
    assert_int_equal(a.answers, 1);
    assert_int_equal(a.rc, CF_OK);
    /* The second commit was synced too before the thread ended. */
    assert_int_equal(cf_test_calls(&d), 2);
}

/* Many threads committing and waiting: every wait succeeds, and there
 * are fewer syncs than waits. */
#define CF_TEST_THREADS  8
#define CF_TEST_ROUNDS   200

static void *
cf_test_committer(void *arg)
{
    cf_syncer_t  *s = arg;
    int           i;
    uintptr_t     bad = 0;

    for (i = 0; i < CF_TEST_ROUNDS; i++) {
        cf_syncer_committed(s);
        if (cf_syncer_wait(s, cf_syncer_mark(s)) != CF_OK)
            bad++;
    }
    return (void *) bad;
}

static void
cf_test_concurrent(void **state)
{
    cf_test_disk_t   d;
    cf_syncer_t     *s = NULL;
    pthread_t        th[CF_TEST_THREADS];
    void            *bad;
    int              i;

    (void) state;
    cf_test_disk_init(&d);
    assert_int_equal(cf_syncer_new(cf_test_sync, &d, &s), CF_OK);
    for (i = 0; i < CF_TEST_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, cf_test_committer, s),
                         0);
    for (i = 0; i < CF_TEST_THREADS; i++) {
        pthread_join(th[i], &bad);
        assert_null(bad);
    }
    assert_true(cf_syncer_is_durable(s, CF_TEST_THREADS * CF_TEST_ROUNDS));
    assert_true(cf_test_calls(&d) <= CF_TEST_THREADS * CF_TEST_ROUNDS);
    cf_syncer_free(s);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(cf_test_marks),
        cmocka_unit_test(cf_test_waiters_share_a_sync),
        cmocka_unit_test(cf_test_failure_is_final),
        cmocka_unit_test(cf_test_free_answers_waiters),
        cmocka_unit_test(cf_test_concurrent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
