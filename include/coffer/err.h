/*
 * err: the one error type of Coffer and its table.
 *
 * Every fallible function returns cf_err_t (CF_OK == 0). src/err.c holds
 * the only table mapping a code to its name, HTTP status and public
 * message; a new code is one new row there and one here. Thread-safe
 * (the table is constant).
 */
#ifndef COFFER_ERR_H
#define COFFER_ERR_H

typedef enum {
    CF_OK = 0,
    CF_ERR_INVALID,      /* 400 bad input */
    CF_ERR_CRYPTO,       /* 400 ciphertext/signature did not verify */
    CF_ERR_PERMISSION,   /* 403 permission denied, bad or expired token */
    CF_ERR_NOT_FOUND,    /* 404 */
    CF_ERR_METHOD,       /* 405 operation not supported on path */
    CF_ERR_TOO_LARGE,    /* 413 request body too large */
    CF_ERR_MEDIA_TYPE,   /* 415 wrong Content-Type */
    CF_ERR_RATE_LIMIT,   /* 429 */
    CF_ERR_INTERNAL,     /* 500 */
    CF_ERR_HSM,          /* 500 HSM refused an operation */
    CF_ERR_STORAGE,      /* 500 storage backend failure */
    CF_ERR_NOMEM,        /* 500 out of memory */
    CF_ERR_INTEGRITY,    /* 500 stored entry failed authentication */
    CF_ERR_CONFIG,       /* 500 bad configuration (start-up) */
    CF_ERR_PIN,          /* 400 wrong PIN / unseal key */
    CF_ERR_SEALED,       /* 503 sealed */
    CF_ERR_UNAVAILABLE,  /* 503 HSM or storage unreachable */
    CF_ERR__COUNT
} cf_err_t;

/* Short constant name, e.g. "CF_ERR_INVALID". Never NULL. */
const char *cf_err_name(cf_err_t err);

/* HTTP status for a code (200 for CF_OK). */
int cf_err_status(cf_err_t err);

/* Public message safe to show a client, e.g. "permission denied". */
const char *cf_err_message(cf_err_t err);

#endif
