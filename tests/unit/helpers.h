/*
 * helpers: shared fixtures for unit tests that need a real SoftHSM token.
 * Each call makes a private token dir under /tmp with its own softhsm2.conf
 * and points SOFTHSM2_CONF at it; nothing touches the system token dir.
 */
#ifndef COFFER_TEST_HELPERS_H
#define COFFER_TEST_HELPERS_H

#include "coffer/hsm.h"

typedef struct {
    char  dir[256];
    char  conf[320];
} cf_test_token_t;

/* Module path: $COFFER_HSM_LIB or /usr/lib/softhsm/libsofthsm2.so. */
const char *cf_test_softhsm_lib(void);

/* Create the dir, conf and token `label` (user PIN `pin`, SO PIN
 * "so-<pin>"). Returns 0 on success, -1 after printing why. */
int cf_test_token_make(cf_test_token_t *t, const char *label,
                       const char *pin);

/* Open + log in to the token made above; NULL on failure. */
cf_hsm_t *cf_test_hsm_open(const char *label, const char *pin);

/* Remove the token dir recursively. */
void cf_test_token_remove(cf_test_token_t *t);

/* A fresh temp dir (mkdtemp) for files; returns 0 on success. */
int cf_test_tmpdir(char *buf, size_t len);

/* rm -rf a dir we made. */
void cf_test_rmdir(const char *dir);

#endif
