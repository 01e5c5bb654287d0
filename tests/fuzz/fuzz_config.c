/*
 * fuzz_config: libFuzzer harness for cf_config_parse, the file the server
 * reads at start. Environment overrides are not input here (the harness
 * runs with a clean VAULT_HSM_/COFFER_HSM_ environment).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/config.h"
#include "coffer/mem.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    cf_mem_init();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_config_t  *cfg = NULL;
    char          err[256];
    cf_err_t      rc;

    memset(err, 'x', sizeof(err));
    rc = cf_config_parse((const char *) data, size, &cfg, err, sizeof(err));
    if (memchr(err, '\0', sizeof(err)) == NULL)
        abort();
    if (rc == CF_OK) {
        /* Invariants the server relies on after a successful parse. */
        if (cfg == NULL || cfg->listen_addr == NULL || cfg->key_label == NULL
            || cfg->max_parallel < 1 || cfg->max_request_size == 0
            || (cfg->storage_type != NULL && cfg->storage_path == NULL)
            || (!cfg->tls_disable && cfg->listen_addr == NULL))
            abort();
    } else if (cfg != NULL || (rc == CF_ERR_CONFIG
                               && strncmp(err, "line ", 5) != 0)) {
        abort();
    }
    cf_config_free(cfg);
    return 0;
}
