/* helpers: private SoftHSM tokens and temp dirs for unit tests. */
#define _XOPEN_SOURCE 700
#include "helpers.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
cf_test_softhsm_lib(void)
{
    const char  *lib = getenv("COFFER_HSM_LIB");

    return lib != NULL && *lib ? lib : "/usr/lib/softhsm/libsofthsm2.so";
}

int
cf_test_tmpdir(char *buf, size_t len)
{
    if (snprintf(buf, len, "/tmp/coffer-test-XXXXXX") >= (int) len)
        return -1;
    return mkdtemp(buf) == NULL ? -1 : 0;
}

int
cf_test_token_make(cf_test_token_t *t, const char *label, const char *pin)
{
    char          tokdir[300], so[64];
    FILE         *f;
    cf_secret_t  *sp, *up;
    cf_err_t      rc;

    if (cf_test_tmpdir(t->dir, sizeof(t->dir)) != 0)
        return -1;
    snprintf(tokdir, sizeof(tokdir), "%s/tokens", t->dir);
    snprintf(t->conf, sizeof(t->conf), "%s/softhsm2.conf", t->dir);
    if (mkdir(tokdir, 0700) != 0 || (f = fopen(t->conf, "w")) == NULL) {
        fprintf(stderr, "helpers: cannot prepare %s\n", t->dir);
        return -1;
    }
    fprintf(f, "directories.tokendir = %s/\nobjectstore.backend = file\n"
               "log.level = ERROR\nslots.removable = false\n", tokdir);
    fclose(f);
    setenv("SOFTHSM2_CONF", t->conf, 1);
    snprintf(so, sizeof(so), "so-%s", pin);
    sp = cf_secret_new_copy(so, strlen(so));
    up = cf_secret_new_copy(pin, strlen(pin));
    rc = cf_hsm_init_token(cf_test_softhsm_lib(), label, sp, up);
    cf_secret_free(sp);
    cf_secret_free(up);
    if (rc != CF_OK) {
        fprintf(stderr, "helpers: init token: %s\n", cf_err_name(rc));
        return -1;
    }
    return 0;
}

cf_hsm_t *
cf_test_hsm_open(const char *label, const char *pin)
{
    cf_hsm_config_t  cfg = { .lib = cf_test_softhsm_lib(),
                             .token_label = label, .max_parallel = 2 };
    cf_hsm_t        *h = NULL;
    cf_secret_t     *p;

    if (cf_hsm_open(&cfg, &h) != CF_OK)
        return NULL;
    p = cf_secret_new_copy(pin, strlen(pin));
    if (cf_hsm_login(h, p) != CF_OK) {
        cf_hsm_close(h);
        h = NULL;
    }
    cf_secret_free(p);
    return h;
}

static int
cf_test_rm_one(const char *path, const struct stat *sb, int flag,
               struct FTW *ftw)
{
    (void) sb; (void) flag; (void) ftw;
    return remove(path);
}

void
cf_test_rmdir(const char *dir)
{
    if (dir != NULL && strncmp(dir, "/tmp/coffer-test-", 17) == 0)
        nftw(dir, cf_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
cf_test_token_remove(cf_test_token_t *t)
{
    cf_test_rmdir(t->dir);
}
