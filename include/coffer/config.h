/*
 * config: the server configuration, from a Vault-shaped HCL file (or built
 * by dev mode). Read once at start; immutable afterwards, so any thread may
 * read it.
 *
 * Accepted stanzas:
 *   storage "sqlite" { path = "..." }
 *   listener "tcp" { address = "127.0.0.1:8200", tls_disable = true|"true",
 *                    tls_cert_file = "...", tls_key_file = "...",
 *                    max_request_size = <bytes> }
 *   seal "pkcs11" { lib, token_label | slot, pin, key_label, key_id,
 *                   mechanism, generate_key, max_parallel,
 *                   force_rw_session }
 *   seal "shamir" {}   with   hsm { lib, token_label | slot, pin,
 *                                   key_label, generate_key, max_parallel }
 *   api_addr, cluster_addr, cluster_name, disable_mlock, log_level, ui,
 *   default_lease_ttl, max_lease_ttl
 * Environment overrides for the HSM: VAULT_HSM_<PARAM> or COFFER_HSM_<PARAM>
 * (LIB, TOKEN_LABEL, SLOT, PIN, KEY_LABEL, GENERATE_KEY, MAX_PARALLEL).
 * Unknown stanzas/keys, wrong types and missing required values are a
 * CF_ERR_CONFIG whose message names the line.
 */
#ifndef COFFER_CONFIG_H
#define COFFER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "coffer/err.h"
#include "coffer/mem.h"

typedef enum {
    CF_SEAL_PKCS11 = 0,
    CF_SEAL_SHAMIR
} cf_seal_type_t;

typedef struct {
    /* storage */
    char            *storage_type;      /* "sqlite" */
    char            *storage_path;
    /* listener */
    char            *listen_addr;       /* "127.0.0.1:8200" */
    bool             tls_disable;
    char            *tls_cert_file;
    char            *tls_key_file;
    size_t           max_request_size;  /* bytes, default 32 MiB */
    /* seal + HSM */
    cf_seal_type_t   seal_type;
    char            *hsm_lib;
    char            *hsm_token_label;
    char            *hsm_slot;
    cf_secret_t     *hsm_pin;           /* NULL if not given */
    char            *key_label;         /* default "coffer-barrier" */
    bool             generate_key;
    unsigned         max_parallel;      /* default 2 */
    /* misc */
    char            *api_addr;
    char            *cluster_name;
    bool             disable_mlock;
    int              log_level;         /* cf_log_level_t */
    long             default_lease_ttl; /* seconds, default 32 days */
    long             max_lease_ttl;     /* seconds, default 32 days */
} cf_config_t;

/* New config with every default set and no HSM/storage. */
cf_config_t *cf_config_new(void);

/* Parse HCL text. On error *out is NULL and err says "line N: ...". */
cf_err_t cf_config_parse(const char *text, size_t len, cf_config_t **out,
                         char *err, size_t errlen);

/* Read and parse a file, then apply environment overrides. */
cf_err_t cf_config_load(const char *path, cf_config_t **out,
                        char *err, size_t errlen);

/* Apply VAULT_HSM_* / COFFER_HSM_* (COFFER_ wins). */
cf_err_t cf_config_apply_env(cf_config_t *cfg, char *err, size_t errlen);

/* Parse a Vault duration ("30s", "5m", "1h", "2d", or plain seconds) into
 * seconds. CF_ERR_INVALID on junk or overflow. */
cf_err_t cf_config_parse_duration(const char *s, long *out);

/* NULL-safe, zeroes the PIN. */
void cf_config_free(cf_config_t *cfg);

#endif
