/*
 * server: `coffer server` wiring. Hardens the process, builds cf_server_t
 * from the config (or dev mode), starts the seal, the listener, and waits
 * for a signal.
 */
#include "coffer/serve.h"

#include <errno.h>
#include <ftw.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coffer/barrier.h"
#include "coffer/http.h"
#include "coffer/audit.h"
#include "coffer/identity.h"
#include "coffer/lease.h"
#include "coffer/log.h"
#include "coffer/policy_store.h"
#include "coffer/token_cache.h"
#include "coffer/router.h"
#include "coffer/seal.h"
#include "coffer/server.h"
#include "coffer/ticker.h"
#include "coffer/shamir.h"

#define CF_DEV_TOKEN_LABEL  "coffer-dev"
#define CF_DEV_DEFAULT_LIB  "/usr/lib/softhsm/libsofthsm2.so"

#if defined(__SANITIZE_ADDRESS__)
#define CF_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CF_UNDER_ASAN 1
#endif
#endif

static void
cf_server_harden(const cf_config_t *cfg)
{
    struct rlimit  rl = { 0, 0 };

    /* No core dumps: they would hold plaintext secrets and PINs. */
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        cf_log_warn("server", "cannot disable core dumps: %s",
                    strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        cf_log_warn("server", "cannot clear PR_SET_DUMPABLE");
    if (cfg->disable_mlock)
        return;
#ifdef CF_UNDER_ASAN
    cf_log_warn("server", "mlockall skipped in a sanitizer build");
#else
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        cf_log_warn("server", "mlockall failed (%s): memory may be "
                    "swapped; set disable_mlock = true to silence this",
                    strerror(errno));
#endif
}

/* ---- dev mode ------------------------------------------------------------ */

static char  cf_dev_dir[64];

static int
cf_dev_rm(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void) sb; (void) flag; (void) f;
    return remove(path);
}

static void
cf_dev_cleanup(void)
{
    if (cf_dev_dir[0] != '\0')
        nftw(cf_dev_dir, cf_dev_rm, 16, FTW_DEPTH | FTW_PHYS);
    cf_dev_dir[0] = '\0';
}

static cf_secret_t *
cf_dev_random_pin(void)
{
    unsigned char  r[16];
    char          *hex;
    cf_secret_t   *s;

    if (RAND_priv_bytes(r, sizeof(r)) != 1)
        return NULL;
    hex = cf_hex_encode(r, sizeof(r));
    OPENSSL_cleanse(r, sizeof(r));
    if (hex == NULL)
        return NULL;
    s = cf_secret_new_copy(hex, strlen(hex));
    cf_mem_free_str(hex);
    return s;
}

/* A throw-away SoftHSM token and SQLite file in a private temp dir. */
static cf_err_t
cf_dev_config(const cf_serve_opts_t *opts, cf_config_t **out)
{
    char          path[128];
    FILE         *f;
    const char   *lib;
    cf_config_t  *cfg;
    cf_secret_t  *so = NULL;
    cf_err_t      rc;

    *out = NULL;
    snprintf(cf_dev_dir, sizeof(cf_dev_dir), "/tmp/coffer-dev-XXXXXX");
    if (mkdtemp(cf_dev_dir) == NULL) {
        cf_dev_dir[0] = '\0';
        return CF_ERR_CONFIG;
    }
    snprintf(path, sizeof(path), "%s/tokens", cf_dev_dir);
    if (mkdir(path, 0700) != 0)
        return CF_ERR_CONFIG;
    snprintf(path, sizeof(path), "%s/softhsm2.conf", cf_dev_dir);
    if ((f = fopen(path, "w")) == NULL)
        return CF_ERR_CONFIG;
    fprintf(f, "directories.tokendir = %s/tokens/\n"
               "objectstore.backend = file\nlog.level = ERROR\n"
               "slots.removable = false\n", cf_dev_dir);
    fclose(f);
    setenv("SOFTHSM2_CONF", path, 1);
    if ((cfg = cf_config_new()) == NULL)
        return CF_ERR_NOMEM;
    lib = getenv("COFFER_HSM_LIB");
    snprintf(path, sizeof(path), "%s/coffer.db", cf_dev_dir);
    cfg->storage_type = strdup("sqlite");
    cfg->storage_path = strdup(path);
    free(cfg->listen_addr);
    cfg->listen_addr = strdup(opts->dev_listen_address
                              ? opts->dev_listen_address : "127.0.0.1:8200");
    cfg->tls_disable = true;
    cfg->seal_type = CF_SEAL_PKCS11;
    cfg->hsm_lib = strdup(lib != NULL && *lib ? lib : CF_DEV_DEFAULT_LIB);
    cfg->hsm_token_label = strdup(CF_DEV_TOKEN_LABEL);
    cfg->generate_key = true;
    cfg->hsm_pin = cf_dev_random_pin();
    so = cf_dev_random_pin();
    if (!cfg->storage_type || !cfg->storage_path || !cfg->listen_addr
        || !cfg->hsm_lib || !cfg->hsm_token_label || !cfg->hsm_pin || !so) {
        rc = CF_ERR_NOMEM;
        goto out;
    }
    rc = cf_hsm_init_token(cfg->hsm_lib, CF_DEV_TOKEN_LABEL, so,
                           cfg->hsm_pin);
out:
    cf_secret_free(so);
    if (rc != CF_OK) {
        cf_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return CF_OK;
}

/* ---- wiring ------------------------------------------------------------- */

static void
cf_server_free(cf_server_t *srv)
{
    unsigned  i;

    cf_http_stop(srv->http);
    if (srv->router != NULL && srv->barrier != NULL)
        cf_router_unload(srv);
    cf_router_free(srv->router);
    cf_policy_cache_free(srv->policies);
    cf_token_cache_free(srv->tokens);
    cf_identity_cache_free(srv->identities);
    cf_lease_mgr_free(srv->leases);
    cf_audit_free(srv->audit);
    cf_barrier_free(srv->barrier);
    cf_hsm_close(srv->hsm);
    cf_storage_close(srv->store);
    for (i = 0; i < srv->nshares; i++)
        cf_secret_free(srv->shares[i]);
    free(srv->seal_reason);
    free(srv->cluster_name);
    cf_config_free(srv->cfg);
    pthread_rwlock_destroy(&srv->seal_lock);
    pthread_mutex_destroy(&srv->unseal_mu);
    pthread_mutex_destroy(&srv->identity_mu);
    cf_keylock_destroy(&srv->keylocks);
    pthread_mutex_destroy(&srv->wrap_mu);
}

static cf_err_t
cf_server_build(cf_server_t *srv)
{
    cf_hsm_config_t       hc;
    pthread_rwlockattr_t  ra;
    cf_err_t              rc;

    pthread_rwlockattr_init(&ra);
    /* seal/unseal must not starve behind a stream of requests */
    pthread_rwlockattr_setkind_np(&ra,
        PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&srv->seal_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&srv->unseal_mu, NULL);
    pthread_mutex_init(&srv->identity_mu, NULL);
    cf_keylock_init(&srv->keylocks);
    pthread_mutex_init(&srv->wrap_mu, NULL);
    atomic_init(&srv->sealed, true);
    atomic_init(&srv->initialized, false);

    if (srv->cfg->storage_path == NULL) {
        cf_log_error("server", "no storage configured: add "
                     "storage \"sqlite\" { path = \"...\" }");
        return CF_ERR_CONFIG;
    }
    if ((rc = cf_storage_sqlite_open(srv->cfg->storage_path, &srv->store))
        != CF_OK)
        return rc;
    memset(&hc, 0, sizeof(hc));
    hc.lib = srv->cfg->hsm_lib;
    hc.token_label = srv->cfg->hsm_token_label;
    hc.slot = srv->cfg->hsm_slot;
    hc.max_parallel = srv->cfg->max_parallel;
    if ((rc = cf_hsm_open(&hc, &srv->hsm)) != CF_OK)
        return rc;
    if ((rc = cf_barrier_new(srv->store, srv->hsm, srv->cfg->key_label,
                             &srv->barrier)) != CF_OK
        || (rc = cf_router_new(&srv->router)) != CF_OK
        || (rc = cf_policy_cache_new(&srv->policies)) != CF_OK
        || (rc = cf_token_cache_new(&srv->tokens)) != CF_OK
        || (rc = cf_identity_cache_new(&srv->identities)) != CF_OK
        || (rc = cf_lease_mgr_new(srv)) != CF_OK
        || (rc = cf_audit_new(&srv->audit)) != CF_OK)
        return rc;
    return cf_seal_start(srv);
}

static void
cf_server_dev_banner(cf_server_t *srv, const char *root)
{
    printf("WARNING! dev mode is enabled! In this mode, Coffer runs with a "
           "throw-away\nSoftHSM token and storage, and starts unsealed.\n\n"
           "You may need to set the following environment variables:\n\n"
           "    $ export VAULT_ADDR='http://%s'\n\n"
           "Root Token: %s\n\n"
           "Development mode should NOT be used in production "
           "installations!\n", srv->cfg->listen_addr, root);
}

/* Dev mode mounts KV v2 at secret/ as Vault's dev server does, once a kv
 * engine exists. */
static void
cf_server_dev_mounts(cf_server_t *srv)
{
    json_t  *opt;
    char    *err = NULL;

    if (cf_engine_find("kv") == NULL)
        return;
    opt = json_pack("{s:s}", "version", "2");
    pthread_rwlock_rdlock(&srv->seal_lock);
    if (cf_router_mount(srv, "secret/", "kv", "key/value secret storage",
                        NULL, opt, &err) != CF_OK)
        cf_log_warn("server", "dev mount secret/ failed: %s",
                    err ? err : "?");
    pthread_rwlock_unlock(&srv->seal_lock);
    free(err);
    json_decref(opt);
}

int
cf_serve_main(const cf_serve_opts_t *opts)
{
    cf_server_t   srv;
    cf_ticker_t  *ticker = NULL;
    sigset_t      set;
    char          err[512] = "", *root = NULL;
    int           sig = 0, code = 1;
    cf_err_t      rc;

    memset(&srv, 0, sizeof(srv));
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Every thread started below inherits the mask; sigwait gets them. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    cf_mem_init();
    cf_shamir_init();

    if (opts->dev) {
        if ((rc = cf_dev_config(opts, &srv.cfg)) != CF_OK) {
            fprintf(stderr, "Error: dev mode could not create its SoftHSM "
                    "token (%s); is softhsm2 installed?\n",
                    cf_err_name(rc));
            goto out;
        }
        srv.dev = true;
    } else if (cf_config_load(opts->config_path, &srv.cfg, err, sizeof(err))
               != CF_OK) {
        fprintf(stderr, "Error loading configuration from %s: %s\n",
                opts->config_path, err);
        goto out;
    }
    cf_log_set_level((cf_log_level_t) srv.cfg->log_level);
    cf_server_harden(srv.cfg);
    if ((rc = cf_server_build(&srv)) != CF_OK) {
        fprintf(stderr, "Error starting the server: %s (see the log above)"
                "\n", cf_err_message(rc));
        goto out;
    }
    if (opts->dev) {
        if ((rc = cf_seal_dev_init(&srv, opts->dev_root_token_id, &root))
            != CF_OK) {
            fprintf(stderr, "Error initialising dev mode: %s\n",
                    cf_err_message(rc));
            goto out;
        }
        cf_server_dev_mounts(&srv);
    }
    if ((rc = cf_ticker_start(&srv, &ticker)) != CF_OK
        || (rc = cf_lease_mgr_start(&srv)) != CF_OK) {
        fprintf(stderr, "Error starting the background thread\n");
        goto out;
    }
    if ((rc = cf_http_start(&srv, &srv.http)) != CF_OK) {
        fprintf(stderr, "Error starting the listener on %s\n",
                srv.cfg->listen_addr);
        goto out;
    }
    /* Printing the root token acknowledges what init wrote. */
    if (opts->dev && (rc = cf_storage_sync(srv.store)) != CF_OK) {
        fprintf(stderr, "Error making dev storage durable\n");
        goto out;
    }
    if (opts->dev)
        cf_server_dev_banner(&srv, root);
    printf("==> Coffer server started! Listening on %s (%s)\n",
           srv.cfg->listen_addr, srv.cfg->tls_disable ? "http" : "https");
    fflush(stdout);
    cf_mem_free_str(root);
    root = NULL;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        cf_audit_reopen(&srv);          /* log rotation */
    cf_log_info("server", "signal %d: shutting down", sig);
    code = 0;
out:
    cf_mem_free_str(root);
    cf_http_stop(srv.http);             /* no requests, then no ticks */
    srv.http = NULL;
    cf_ticker_stop(ticker);
    cf_lease_mgr_stop(&srv);
    cf_server_free(&srv);
    cf_dev_cleanup();
    return code;
}
