/* err: the only table of error codes, HTTP statuses and public messages. */
#include "coffer/err.h"

#include <stddef.h>

typedef struct {
    const char *name;
    int         status;
    const char *message;
} cf_err_row_t;

static const cf_err_row_t  cf_err_table[CF_ERR__COUNT] = {
    [CF_OK]              = { "CF_OK", 200, "ok" },
    [CF_ERR_INVALID]     = { "CF_ERR_INVALID", 400, "invalid request" },
    [CF_ERR_CRYPTO]      = { "CF_ERR_CRYPTO", 400,
                             "cipher: message authentication failed" },
    [CF_ERR_PERMISSION]  = { "CF_ERR_PERMISSION", 403, "permission denied" },
    [CF_ERR_NOT_FOUND]   = { "CF_ERR_NOT_FOUND", 404, "not found" },
    [CF_ERR_METHOD]      = { "CF_ERR_METHOD", 405,
                             "unsupported operation" },
    [CF_ERR_TOO_LARGE]   = { "CF_ERR_TOO_LARGE", 413,
                             "request body too large" },
    [CF_ERR_MEDIA_TYPE]  = { "CF_ERR_MEDIA_TYPE", 415,
                             "unsupported media type" },
    [CF_ERR_RATE_LIMIT]  = { "CF_ERR_RATE_LIMIT", 429, "rate limited" },
    [CF_ERR_INTERNAL]    = { "CF_ERR_INTERNAL", 500, "internal error" },
    [CF_ERR_HSM]         = { "CF_ERR_HSM", 500, "HSM operation failed" },
    [CF_ERR_STORAGE]     = { "CF_ERR_STORAGE", 500, "storage error" },
    [CF_ERR_NOMEM]       = { "CF_ERR_NOMEM", 500, "out of memory" },
    [CF_ERR_INTEGRITY]   = { "CF_ERR_INTEGRITY", 500,
                             "stored entry failed integrity check" },
    [CF_ERR_CONFIG]      = { "CF_ERR_CONFIG", 500, "configuration error" },
    [CF_ERR_PIN]         = { "CF_ERR_PIN", 400,
                             "invalid key: the HSM refused the PIN" },
    [CF_ERR_SEALED]      = { "CF_ERR_SEALED", 503, "Vault is sealed" },
    [CF_ERR_UNAVAILABLE] = { "CF_ERR_UNAVAILABLE", 503,
                             "HSM or storage unavailable" },
};

static const cf_err_row_t *
cf_err_row(cf_err_t err)
{
    if ((unsigned) err >= CF_ERR__COUNT)
        return &cf_err_table[CF_ERR_INTERNAL];
    return &cf_err_table[err];
}

const char *
cf_err_name(cf_err_t err)
{
    return cf_err_row(err)->name;
}

int
cf_err_status(cf_err_t err)
{
    return cf_err_row(err)->status;
}

const char *
cf_err_message(cf_err_t err)
{
    return cf_err_row(err)->message;
}
