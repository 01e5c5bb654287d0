/* test_config: the config loader against its header contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coffer/config.h"
#include "coffer/log.h"
#include "coffer/mem.h"
#include "helpers.h"

#define CF_TEST_PIN  "pin-7d1e-SECRET"

static const char  cf_test_full[] =
    "# Coffer, Vault-shaped\n"
    "storage \"sqlite\" {\n"
    "  path = \"/var/lib/coffer/coffer.db\"\n"
    "}\n"
    "listener \"tcp\" {\n"
    "  address          = \"127.0.0.1:8300\"\n"
    "  tls_disable      = \"false\"\n"
    "  tls_cert_file    = \"/etc/coffer/cert.pem\"\n"
    "  tls_key_file     = \"/etc/coffer/key.pem\"\n"
    "  max_request_size = 1048576\n"
    "}\n"
    "seal \"pkcs11\" {\n"
    "  lib          = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
    "  token_label  = \"coffer\"\n"
    "  slot         = \"0x10\"\n"
    "  pin          = \"" CF_TEST_PIN "\"\n"
    "  key_label    = \"barrier\"\n"
    "  key_id       = \"0x01\"\n"
    "  mechanism    = \"0x1087\"\n"
    "  generate_key = \"true\"\n"
    "  max_parallel = \"8\"\n"
    "  force_rw_session = \"true\"\n"
    "}\n"
    "api_addr          = \"https://127.0.0.1:8300\"\n"
    "cluster_addr      = \"https://127.0.0.1:8301\"\n"
    "cluster_name      = \"c1\"\n"
    "disable_mlock     = true\n"
    "ui                = false\n"
    "log_level         = \"debug\"\n"
    "default_lease_ttl = \"1h\"\n"
    "max_lease_ttl     = 7200\n";

static const char *const  cf_test_env_names[] = {
    "LIB", "TOKEN_LABEL", "SLOT", "PIN", "KEY_LABEL", "GENERATE_KEY",
    "MAX_PARALLEL",
};

static void
cf_test_env_clear(void)
{
    char    name[64];
    size_t  i;

    for (i = 0; i < sizeof(cf_test_env_names) / sizeof(char *); i++) {
        snprintf(name, sizeof(name), "VAULT_HSM_%s", cf_test_env_names[i]);
        unsetenv(name);
        snprintf(name, sizeof(name), "COFFER_HSM_%s", cf_test_env_names[i]);
        unsetenv(name);
    }
}

static int
cf_test_setup(void **state)
{
    (void) state;
    cf_test_env_clear();
    return 0;
}

static int
cf_test_group_setup(void **state)
{
    (void) state;
    cf_mem_init();
    return 0;
}

static cf_config_t *
cf_test_ok(const char *text)
{
    cf_config_t  *cfg = NULL;
    char          err[256] = "unset";
    cf_err_t      rc;

    rc = cf_config_parse(text, strlen(text), &cfg, err, sizeof(err));
    if (rc != CF_OK)
        fprintf(stderr, "unexpected: %s\n", err);
    assert_int_equal(rc, CF_OK);
    assert_non_null(cfg);
    assert_string_equal(err, "");
    return cfg;
}

/* Must fail with CF_ERR_CONFIG and an error containing want; the PIN
 * never shows. */
static void
cf_test_bad(const char *text, const char *want)
{
    cf_config_t  *cfg = (cf_config_t *) 1;
    char          err[256] = "";
    cf_err_t      rc;

    rc = cf_config_parse(text, strlen(text), &cfg, err, sizeof(err));
    if (rc != CF_ERR_CONFIG || strstr(err, want) == NULL)
        fprintf(stderr, "want '%s', got %d '%s'\n", want, rc, err);
    assert_int_equal(rc, CF_ERR_CONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err, want));
    assert_null(strstr(err, "SECRET"));
}

static void
cf_test_defaults(void **state)
{
    cf_config_t  *cfg;

    (void) state;
    cfg = cf_config_new();
    assert_non_null(cfg);
    assert_string_equal(cfg->listen_addr, "127.0.0.1:8200");
    assert_string_equal(cfg->key_label, "coffer-barrier");
    assert_int_equal(cfg->max_request_size, 32 << 20);
    assert_int_equal(cfg->max_parallel, 2);
    assert_int_equal(cfg->seal_type, CF_SEAL_PKCS11);
    assert_int_equal(cfg->log_level, CF_LOG_INFO);
    assert_int_equal(cfg->default_lease_ttl, 32L * 24 * 3600);
    assert_int_equal(cfg->max_lease_ttl, 32L * 24 * 3600);
    assert_false(cfg->tls_disable);
    assert_null(cfg->storage_type);
    assert_null(cfg->hsm_pin);
    cf_config_free(cfg);
    cf_config_free(NULL);
}

static void
cf_test_full_config(void **state)
{
    cf_config_t  *cfg;

    (void) state;
    cfg = cf_test_ok(cf_test_full);
    assert_string_equal(cfg->storage_type, "sqlite");
    assert_string_equal(cfg->storage_path, "/var/lib/coffer/coffer.db");
    assert_string_equal(cfg->listen_addr, "127.0.0.1:8300");
    assert_false(cfg->tls_disable);
    assert_string_equal(cfg->tls_cert_file, "/etc/coffer/cert.pem");
    assert_string_equal(cfg->tls_key_file, "/etc/coffer/key.pem");
    assert_int_equal(cfg->max_request_size, 1048576);
    assert_int_equal(cfg->seal_type, CF_SEAL_PKCS11);
    assert_string_equal(cfg->hsm_lib, "/usr/lib/softhsm/libsofthsm2.so");
    assert_string_equal(cfg->hsm_token_label, "coffer");
    assert_string_equal(cfg->hsm_slot, "16");
    assert_non_null(cfg->hsm_pin);
    assert_int_equal(cf_secret_len(cfg->hsm_pin), strlen(CF_TEST_PIN));
    assert_memory_equal(cf_secret_data(cfg->hsm_pin), CF_TEST_PIN,
                        strlen(CF_TEST_PIN));
    assert_string_equal(cfg->key_label, "barrier");
    assert_true(cfg->generate_key);
    assert_int_equal(cfg->max_parallel, 8);
    assert_string_equal(cfg->api_addr, "https://127.0.0.1:8300");
    assert_string_equal(cfg->cluster_name, "c1");
    assert_true(cfg->disable_mlock);
    assert_int_equal(cfg->log_level, CF_LOG_DEBUG);
    assert_int_equal(cfg->default_lease_ttl, 3600);
    assert_int_equal(cfg->max_lease_ttl, 7200);
    cf_config_free(cfg);
}

static void
cf_test_json_and_shamir(void **state)
{
    cf_config_t  *cfg;

    (void) state;
    cfg = cf_test_ok("{\"storage\": {\"sqlite\": {\"path\": \"/d.db\"}},\n"
                     " \"listener\": [{\"tcp\": {\"tls_disable\": 1}}],\n"
                     " \"seal\": {\"shamir\": {}},\n"
                     " \"hsm\": {\"lib\": \"/l.so\", \"slot\": 3,"
                     " \"generate_key\": \"1\", \"max_parallel\": 4}}");
    assert_string_equal(cfg->storage_path, "/d.db");
    assert_true(cfg->tls_disable);
    assert_string_equal(cfg->listen_addr, "127.0.0.1:8200");
    assert_int_equal(cfg->seal_type, CF_SEAL_SHAMIR);
    assert_string_equal(cfg->hsm_lib, "/l.so");
    assert_string_equal(cfg->hsm_slot, "3");
    assert_true(cfg->generate_key);
    assert_int_equal(cfg->max_parallel, 4);
    cf_config_free(cfg);

    cfg = cf_test_ok("seal \"shamir\" {}\nhsm {\n  lib = \"/l.so\"\n"
                     "  token_label = \"t\"\n  pin = \"" CF_TEST_PIN "\"\n"
                     "}\n");
    assert_int_equal(cfg->seal_type, CF_SEAL_SHAMIR);
    assert_string_equal(cfg->hsm_token_label, "t");
    assert_non_null(cfg->hsm_pin);
    cf_config_free(cfg);

    /* No seal stanza: pkcs11, HSM from an hsm stanza. */
    cfg = cf_test_ok("hsm { lib = \"/l.so\" }\n");
    assert_int_equal(cfg->seal_type, CF_SEAL_PKCS11);
    assert_string_equal(cfg->hsm_lib, "/l.so");
    cf_config_free(cfg);
}

static void
cf_test_booleans(void **state)
{
    static const struct {
        const char  *text;
        bool         want;
    } cases[] = {
        { "true", true }, { "false", false }, { "\"true\"", true },
        { "\"false\"", false }, { "1", true }, { "0", false },
        { "\"1\"", true }, { "\"0\"", false },
    };
    cf_config_t  *cfg;
    char          text[256];
    size_t        i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "listener \"tcp\" {\n tls_disable = %s\n"
                 " tls_cert_file = \"c\"\n tls_key_file = \"k\"\n}\n"
                 "seal \"pkcs11\" { generate_key = %s }\n",
                 cases[i].text, cases[i].text);
        cfg = cf_test_ok(text);
        assert_int_equal(cfg->tls_disable, cases[i].want);
        assert_int_equal(cfg->generate_key, cases[i].want);
        cf_config_free(cfg);
    }
    cf_test_bad("disable_mlock = \"yes\"\n",
                "line 1: 'disable_mlock' must be true or false");
    cf_test_bad("disable_mlock = 2\n",
                "line 1: 'disable_mlock' must be true or false");
}

static void
cf_test_errors(void **state)
{
    (void) state;
    cf_test_bad("a = 1\nb = \n", "line 3: expected a value");
    cf_test_bad("storage \"sqlite\" {\n path = \"x\"\n", "line 1: unclosed");
    cf_test_bad("\n\ntelemetry {\n}\n", "line 3: unknown stanza 'telemetry'");
    cf_test_bad("plugin_directory = \"/x\"\n",
                "line 1: unknown key 'plugin_directory'");
    /* Names that do not look like keys are not shown (may be a PIN). */
    cf_test_bad("Hunter-2 = 1\n", "line 1: unknown key '?'");
    cf_test_bad("seal \"pkcs11\" {\n  lib = \"x\"\n  foo = 1\n}\n",
                "line 3: unknown key 'foo' in seal \"pkcs11\"");
    cf_test_bad("seal \"shamir\" {\n  lib = \"x\"\n}\n",
                "line 2: unknown key 'lib' in seal \"shamir\"");
    cf_test_bad("hsm {\n  mechanism = \"0x1087\"\n}\n",
                "line 2: unknown key 'mechanism' in hsm");
    cf_test_bad("storage \"sqlite\" { path = \"a\" }\n\n"
                "storage \"sqlite\" { path = \"b\" }\n",
                "line 3: a second storage stanza (the first is on line 1)");
    cf_test_bad("seal \"shamir\" {}\nseal \"pkcs11\" {}\n",
                "line 2: a second seal stanza");
    cf_test_bad("listener \"tcp\" { tls_disable = 1 }\n"
                "listener \"tcp\" { tls_disable = 1 }\n",
                "line 2: a second listener stanza");
    cf_test_bad("hsm {}\nhsm {}\n", "line 2: a second hsm stanza");
    cf_test_bad("seal \"pkcs11\" {\n lib = \"a\"\n lib = \"b\"\n}\n",
                "line 3: 'lib' is set twice in seal \"pkcs11\" (first on "
                "line 2)");
    cf_test_bad("ui = true\nui = true\n", "line 2: 'ui' is set twice");
    cf_test_bad("storage \"file\" { path = \"a\" }\n",
                "line 1: unsupported storage \"file\"");
    cf_test_bad("storage \"sqlite\" {}\n",
                "line 1: storage \"sqlite\" needs a path");
    cf_test_bad("storage = \"sqlite\"\n", "line 1: storage must be a stanza");
    cf_test_bad("storage \"sqlite\" \"x\" {}\n",
                "line 1: storage must be a stanza");
    cf_test_bad("hsm \"x\" {}\n", "line 1: hsm must be a stanza");
    cf_test_bad("listener \"unix\" {}\n", "line 1: unsupported listener");
    cf_test_bad("seal \"transit\" {}\n", "line 1: unsupported seal");
    cf_test_bad("\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n}\n",
                "line 2: listener \"tcp\" needs tls_cert_file and "
                "tls_key_file, or tls_disable = true");
    cf_test_bad("seal \"pkcs11\" {\n lib = \"a\"\n}\nhsm {\n lib = \"b\"\n}\n",
                "line 4: HSM settings are in both seal \"pkcs11\" (line 1)"
                " and hsm");
    cf_test_bad("seal \"pkcs11\" {\n  lib = 5\n}\n",
                "line 2: 'lib' in seal \"pkcs11\" must be a non-empty string");
    cf_test_bad("seal \"pkcs11\" {\n  lib = \"\"\n}\n",
                "line 2: 'lib' in seal \"pkcs11\" must be a non-empty string");
    cf_test_bad("api_addr = [\"x\"]\n", "line 1: 'api_addr' must be a");
    cf_test_bad("seal \"pkcs11\" {\n  lib { }\n}\n",
                "line 2: 'lib' in seal \"pkcs11\" must be");
    cf_test_bad("seal \"pkcs11\" {\n  max_parallel = 0\n}\n",
                "line 2: 'max_parallel' in seal \"pkcs11\" must be a whole "
                "number from 1 to 1024");
    cf_test_bad("seal \"pkcs11\" {\n  max_parallel = \"1.5\"\n}\n",
                "line 2: 'max_parallel'");
    cf_test_bad("seal \"pkcs11\" {\n  max_parallel = 1025\n}\n",
                "line 2: 'max_parallel'");
    cf_test_bad("seal \"pkcs11\" {\n  slot = \"one\"\n}\n",
                "line 2: 'slot' in seal \"pkcs11\" must be a slot number");
    cf_test_bad("seal \"pkcs11\" {\n  slot = -1\n}\n", "line 2: 'slot'");
    cf_test_bad("seal \"pkcs11\" {\n  mechanism = \"0x1081\"\n}\n",
                "line 2: 'mechanism' in seal \"pkcs11\" must be CKM_AES_GCM");
    cf_test_bad("listener \"tcp\" {\n tls_disable = 1\n"
                " max_request_size = 0\n}\n",
                "line 3: 'max_request_size' in listener \"tcp\" must be");
    cf_test_bad("log_level = \"loud\"\n", "line 1: 'log_level' must be one");
    cf_test_bad("max_lease_ttl = \"5 minutes\"\n",
                "line 1: 'max_lease_ttl' must be a duration");
    cf_test_bad("default_lease_ttl = -5\n",
                "line 1: 'default_lease_ttl' must be a duration");
    cf_test_bad("default_lease_ttl = true\n",
                "line 1: 'default_lease_ttl' must be a duration");
    cf_test_bad("{\"storage\": {\"sqlite\": {\"path\": 1}}}",
                "line 1: 'path' in storage \"sqlite\" must be");
}

static void
cf_test_pin_never_echoed(void **state)
{
    static const char *const  bad[] = {
        "seal \"pkcs11\" {\n pin = \"" CF_TEST_PIN "\n}\n",
        "seal \"pkcs11\" {\n pin = " CF_TEST_PIN "\n}\n",
        "seal \"pkcs11\" {\n pin = [\"" CF_TEST_PIN "\"]\n}\n",
        "seal \"pkcs11\" {\n pin = \"" CF_TEST_PIN "\" x\n}\n",
        "seal \"pkcs11\" {\n pin = \"" CF_TEST_PIN "\"\n pin = \""
        CF_TEST_PIN "\"\n}\n",
        "seal \"pkcs11\" {\n pin = \"" CF_TEST_PIN "\"\n}\nhsm { pin = \""
        CF_TEST_PIN "\" }\n",
        "seal \"pkcs11\" {\n \"" CF_TEST_PIN "\" = 1\n}\n",
        "\"" CF_TEST_PIN "\" = 1\n",
        "seal \"" CF_TEST_PIN "\" {}\n",
        "hsm { pin = 1234 }\n",
    };
    cf_config_t  *cfg;
    char          err[256];
    size_t        i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(cf_config_parse(bad[i], strlen(bad[i]), &cfg, err,
                                         sizeof(err)), CF_ERR_CONFIG);
        assert_null(cfg);
        assert_true(strncmp(err, "line ", 5) == 0);
        assert_null(strstr(err, "SECRET"));
        assert_null(strstr(err, "1234"));
    }
    setenv("VAULT_HSM_GENERATE_KEY", CF_TEST_PIN, 1);
    cfg = cf_config_new();
    assert_int_equal(cf_config_apply_env(cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_null(strstr(err, "SECRET"));
    cf_config_free(cfg);
}

static void
cf_test_env(void **state)
{
    cf_config_t  *cfg;
    char          err[256];

    (void) state;
    cfg = cf_test_ok("seal \"pkcs11\" {\n lib = \"/file.so\"\n"
                     " token_label = \"file\"\n pin = \"file-pin\"\n}\n");
    setenv("VAULT_HSM_LIB", "/vault.so", 1);
    setenv("COFFER_HSM_LIB", "/coffer.so", 1);
    setenv("VAULT_HSM_TOKEN_LABEL", "vault-token", 1);
    setenv("COFFER_HSM_TOKEN_LABEL", "", 1);     /* empty = unset */
    setenv("VAULT_HSM_SLOT", "0x2", 1);
    setenv("VAULT_HSM_PIN", "env-pin", 1);
    setenv("COFFER_HSM_KEY_LABEL", "env-key", 1);
    setenv("VAULT_HSM_GENERATE_KEY", "true", 1);
    setenv("VAULT_HSM_MAX_PARALLEL", "16", 1);
    assert_int_equal(cf_config_apply_env(cfg, err, sizeof(err)), CF_OK);
    assert_string_equal(cfg->hsm_lib, "/coffer.so");
    assert_string_equal(cfg->hsm_token_label, "vault-token");
    assert_string_equal(cfg->hsm_slot, "2");
    assert_int_equal(cf_secret_len(cfg->hsm_pin), 7);
    assert_memory_equal(cf_secret_data(cfg->hsm_pin), "env-pin", 7);
    assert_string_equal(cfg->key_label, "env-key");
    assert_true(cfg->generate_key);
    assert_int_equal(cfg->max_parallel, 16);

    setenv("COFFER_HSM_MAX_PARALLEL", "lots", 1);
    assert_int_equal(cf_config_apply_env(cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_string_equal(err, "COFFER_HSM_MAX_PARALLEL must be a whole "
                        "number from 1 to 1024");
    unsetenv("COFFER_HSM_MAX_PARALLEL");
    setenv("VAULT_HSM_SLOT", "-1", 1);
    assert_int_equal(cf_config_apply_env(cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_string_equal(err, "VAULT_HSM_SLOT must be a slot number");
    cf_config_free(cfg);
    cf_test_env_clear();
}

static void
cf_test_durations(void **state)
{
    static const struct {
        const char  *s;
        long         want;
    } good[] = {
        { "30s", 30 }, { "5m", 300 }, { "1h", 3600 }, { "768h", 2764800 },
        { "2d", 172800 }, { "0", 0 }, { "86400", 86400 }, { "1h30m", 5400 },
        { "9223372036854775807", LONG_MAX },
    };
    static const char *const  bad[] = {
        "", "s", "-5", "5x", "1.5h", " 5s", "5s ", "5ms", "h1",
        "9223372036854775808", "99999999999999999999d", "106751991167301d",
    };
    size_t  i;
    long    v;

    (void) state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = -1;
        assert_int_equal(cf_config_parse_duration(good[i].s, &v), CF_OK);
        assert_int_equal(v, good[i].want);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = -1;
        if (cf_config_parse_duration(bad[i], &v) != CF_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(v, 0);
    }
    assert_int_equal(cf_config_parse_duration(NULL, &v), CF_ERR_INVALID);
}

static void
cf_test_write(const char *path, const char *text)
{
    FILE  *f;

    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void
cf_test_load(void **state)
{
    cf_config_t  *cfg = NULL;
    char          dir[256], path[320], err[512];

    (void) state;
    assert_int_equal(cf_test_tmpdir(dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/coffer.hcl", dir);

    /* Complete file. */
    cf_test_write(path, cf_test_full);
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)), CF_OK);
    assert_string_equal(cfg->hsm_token_label, "coffer");
    cf_config_free(cfg);

    /* The HSM may come from the environment alone. */
    cf_test_write(path, "storage \"sqlite\" { path = \"x.db\" }\n"
                  "listener \"tcp\" { tls_disable = \"true\" }\n"
                  "seal \"pkcs11\" {}\n");
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err, "no HSM library"));
    setenv("VAULT_HSM_LIB", "/l.so", 1);
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_non_null(strstr(err, "no HSM token: set token_label or slot"));
    setenv("COFFER_HSM_SLOT", "0", 1);
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)), CF_OK);
    assert_string_equal(cfg->hsm_lib, "/l.so");
    assert_string_equal(cfg->hsm_slot, "0");
    cf_config_free(cfg);

    /* Missing storage, default TLS without files. */
    cf_test_write(path, "hsm { lib = \"/l.so\" }\n");
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_non_null(strstr(err, "no storage stanza"));
    cf_test_write(path, "storage \"sqlite\" { path = \"x.db\" }\n");
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_non_null(strstr(err, "no listener \"tcp\" stanza"));

    /* Parse errors keep their line; file errors name the file. */
    cf_test_write(path, "\nstorage \"sqlite\" { bad = 1 }\n");
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_string_equal(err, "line 2: unknown key 'bad' in storage "
                        "\"sqlite\"");
    snprintf(path, sizeof(path), "%s/missing.hcl", dir);
    assert_int_equal(cf_config_load(path, &cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_non_null(strstr(err, "missing.hcl"));
    assert_int_equal(cf_config_load(dir, &cfg, err, sizeof(err)),
                     CF_ERR_CONFIG);
    assert_null(cfg);
    cf_test_env_clear();
    cf_test_rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup(cf_test_defaults, cf_test_setup),
        cmocka_unit_test_setup(cf_test_full_config, cf_test_setup),
        cmocka_unit_test_setup(cf_test_json_and_shamir, cf_test_setup),
        cmocka_unit_test_setup(cf_test_booleans, cf_test_setup),
        cmocka_unit_test_setup(cf_test_errors, cf_test_setup),
        cmocka_unit_test_setup(cf_test_pin_never_echoed, cf_test_setup),
        cmocka_unit_test_setup(cf_test_env, cf_test_setup),
        cmocka_unit_test_setup(cf_test_durations, cf_test_setup),
        cmocka_unit_test_setup(cf_test_load, cf_test_setup),
    };

    return cmocka_run_group_tests(tests, cf_test_group_setup, NULL);
}
