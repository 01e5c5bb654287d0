/*
 * coffer-transit-ceiling: the ceilings bench/transit.sh puts next to each
 * transit row. Not product code, not a test.
 *
 *   coffer-transit-ceiling -o OP -p PORT [-t THREADS] -L LABEL -P PIN
 *       a minimal libmicrohttpd server (epoll, pool of THREADS) that parses
 *       the same JSON body Coffer gets, base64-decodes the field, does the
 *       one HSM (or, for verify, OpenSSL) operation of OP through Coffer's
 *       hsm/ layer (session pool; no HTTP routing, token, policy, barrier
 *       or storage), and answers a Vault-shaped JSON.
 *   coffer-transit-ceiling -o OP -r SECONDS [-t THREADS] -L LABEL -P PIN
 *       the raw in-process op rate: THREADS threads calling the same op in
 *       a loop; prints "<ops/s>".
 *
 * OP: enc (plaintext), dec (ciphertext of enc), sign-ec, sign-ed, sign-rsa,
 * verify-ec, verify-ed, verify-rsa (input + signature), hmac (input). The
 * keys are generated on the token at start exactly as transit makes them
 * (sensitive, non-extractable, same templates) and destroyed at exit.
 * "ready" is printed once listening; SIGINT/SIGTERM stop it.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "coffer/hsm.h"
#include "coffer/mem.h"

#define CF_TC_MAX_BODY  (64 * 1024)

typedef struct {
    char    *buf;
    size_t   len;
} cf_tc_body_t;

static cf_hsm_t               *cf_tc_hsm;
static const char             *cf_tc_op;
static cf_hsm_id_t             cf_tc_key;
static EVP_PKEY               *cf_tc_pub;
static atomic_ulong            cf_tc_errors;
static volatile sig_atomic_t   cf_tc_stop;
static unsigned char           cf_tc_sig[CF_HSM_SIG_MAX];
static size_t                  cf_tc_sig_len;

static void
cf_tc_on_signal(int sig)
{
    (void) sig;
    cf_tc_stop = 1;
}

static bool
cf_tc_is(const char *op)
{
    return strcmp(cf_tc_op, op) == 0;
}

static bool
cf_tc_op_is(const char *cur, const char *op)
{
    return strcmp(cur, op) == 0;
}

/* One operation on `in`; result (ciphertext, signature, mac or "valid"
 * byte) into out. 0 on success. */
static int
cf_tc_do(const char *op, const unsigned char *in, size_t n,
         const unsigned char *sig, size_t sl, unsigned char *out,
         size_t *out_len)
{
    cf_hsm_sign_opts_t  o;
    unsigned char       dig[32];
    unsigned int        dl;
    EVP_MD_CTX         *mc;
    EVP_PKEY_CTX       *pc;
    int                 ok;

    if (cf_tc_op_is(op, "enc")) {
        if (RAND_bytes(out, CF_HSM_GCM_IV) != 1)
            return -1;
        if (cf_hsm_gcm_encrypt(cf_tc_hsm, &cf_tc_key, out, NULL, 0, in, n,
                               out + CF_HSM_GCM_IV, out_len) != CF_OK)
            return -1;
        *out_len += CF_HSM_GCM_IV;
        return 0;
    }
    if (cf_tc_op_is(op, "dec")) {
        if (n < CF_HSM_GCM_IV + CF_HSM_GCM_TAG)
            return -1;
        return cf_hsm_gcm_decrypt(cf_tc_hsm, &cf_tc_key, in, NULL, 0,
                                  in + CF_HSM_GCM_IV, n - CF_HSM_GCM_IV, out,
                                  out_len) == CF_OK ? 0 : -1;
    }
    if (cf_tc_op_is(op, "hmac"))
        return cf_hsm_hmac(cf_tc_hsm, &cf_tc_key, EVP_sha256(), in, n, out,
                           out_len) == CF_OK ? 0 : -1;
    memset(&o, 0, sizeof(o));
    if (strncmp(op, "sign-", 5) == 0) {
        if (cf_tc_op_is(op, "sign-ed")) {
            o.alg = CF_HSM_SIG_EDDSA;
            return cf_hsm_sign(cf_tc_hsm, &cf_tc_key, &o, in, n, out,
                               out_len) == CF_OK ? 0 : -1;
        }
        EVP_Digest(in, n, dig, &dl, EVP_sha256(), NULL);
        if (cf_tc_op_is(op, "sign-ec")) {
            o.alg = CF_HSM_SIG_ECDSA;
        } else {
            o.alg = CF_HSM_SIG_RSA_PSS;
            o.md = EVP_sha256();
            o.salt_len = CF_HSM_PSS_SALT_MAX;
        }
        return cf_hsm_sign(cf_tc_hsm, &cf_tc_key, &o, dig, dl, out,
                           out_len) == CF_OK ? 0 : -1;
    }
    /* verify-*: OpenSSL with the public key, as transit does */
    if (cf_tc_op_is(op, "verify-ed")) {
        mc = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit(mc, NULL, NULL, NULL, cf_tc_pub) == 1
             && EVP_DigestVerify(mc, sig, sl, in, n) == 1;
        EVP_MD_CTX_free(mc);
    } else {
        EVP_Digest(in, n, dig, &dl, EVP_sha256(), NULL);
        pc = EVP_PKEY_CTX_new(cf_tc_pub, NULL);
        ok = EVP_PKEY_verify_init(pc) == 1;
        if (ok && cf_tc_op_is(op, "verify-rsa")) {
            EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256());
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_AUTO);
        }
        ok = ok && EVP_PKEY_verify(pc, sig, sl, dig, dl) == 1;
        EVP_PKEY_CTX_free(pc);
    }
    out[0] = (unsigned char) ok;
    *out_len = 1;
    return 0;
}

static enum MHD_Result
cf_tc_send(struct MHD_Connection *c, int status, const char *body)
{
    struct MHD_Response  *r;
    enum MHD_Result       ret;

    r = MHD_create_response_from_buffer(strlen(body), (void *) body,
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, (unsigned) status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
cf_tc_handle(void *cls, struct MHD_Connection *c, const char *url,
             const char *method, const char *version, const char *upload,
             size_t *upload_size, void **con_cls)
{
    cf_tc_body_t   *b = *con_cls;
    json_t         *req, *field;
    const char     *name, *op;
    char            sop[16];
    cf_buf_t       *in = NULL, *sig = NULL;
    unsigned char  *out = NULL;
    size_t          out_len = 0;
    char           *enc = NULL, *reply = NULL;
    enum MHD_Result ret;

    (void) cls; (void) url; (void) method; (void) version;
    if (b == NULL) {
        if ((b = calloc(1, sizeof(*b))) == NULL)
            return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (b->len + *upload_size <= CF_TC_MAX_BODY) {
            char *nb = realloc(b->buf, b->len + *upload_size + 1);

            if (nb == NULL)
                return MHD_NO;
            b->buf = nb;
            memcpy(b->buf + b->len, upload, *upload_size);
            b->len += *upload_size;
            b->buf[b->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    req = b->buf != NULL ? json_loads(b->buf, 0, NULL) : NULL;
    /* Set-up requests: a dec server also encrypts (to make its own
     * ciphertext), a verify server also signs. */
    op = cf_tc_op;
    if (cf_tc_is("dec") && json_object_get(req, "plaintext") != NULL)
        op = "enc";
    else if (strncmp(cf_tc_op, "verify-", 7) == 0
             && json_object_get(req, "signature") == NULL) {
        snprintf(sop, sizeof(sop), "sign-%s", cf_tc_op + 7);
        op = sop;
    }
    name = cf_tc_op_is(op, "enc") ? "plaintext"
           : cf_tc_op_is(op, "dec") ? "ciphertext" : "input";
    field = json_object_get(req, name);
    if (!json_is_string(field)) {
        json_decref(req);
        return cf_tc_send(c, 400, "{\"errors\":[\"bad body\"]}\n");
    }
    {
        const char  *s = json_string_value(field);

        if (cf_tc_op_is(op, "dec") && strncmp(s, "vault:v1:", 9) == 0)
            s += 9;
        if (cf_b64_decode(s, &in) != CF_OK)
            goto bad;
    }
    field = json_object_get(req, "signature");
    if (json_is_string(field)
        && (strlen(json_string_value(field)) <= 9
            || cf_b64_decode(json_string_value(field) + 9, &sig) != CF_OK))
        goto bad;
    if ((out = malloc(in->len + CF_HSM_SIG_MAX + 64)) == NULL)
        goto bad;
    if (cf_tc_do(op, in->data, in->len, sig ? sig->data : NULL,
                 sig ? sig->len : 0, out, &out_len) != 0) {
        atomic_fetch_add(&cf_tc_errors, 1);
        goto bad;
    }
    if (strncmp(op, "verify-", 7) == 0) {
        reply = strdup(out[0] ? "{\"data\":{\"valid\":true}}\n"
                              : "{\"data\":{\"valid\":false}}\n");
    } else if ((enc = cf_b64_encode(out, out_len)) != NULL) {
        size_t  n = strlen(enc) + 128;

        if ((reply = malloc(n)) != NULL)
            snprintf(reply, n, "{\"data\":{\"%s\":\"vault:v1:%s\","
                     "\"key_version\":1}}\n",
                     cf_tc_op_is(op, "dec") ? "plaintext"
                     : cf_tc_op_is(op, "enc") ? "ciphertext"
                     : cf_tc_op_is(op, "hmac") ? "hmac" : "signature", enc);
    }
    ret = reply != NULL ? cf_tc_send(c, 200, reply)
                        : cf_tc_send(c, 500, "{\"errors\":[\"oom\"]}\n");
    goto out;
bad:
    ret = cf_tc_send(c, 400, "{\"errors\":[\"bad input\"]}\n");
out:
    json_decref(req);
    cf_buf_free(in);
    cf_buf_free(sig);
    free(out);
    free(enc);
    free(reply);
    return ret;
}

static void
cf_tc_done(void *cls, struct MHD_Connection *c, void **con_cls,
           enum MHD_RequestTerminationCode toe)
{
    cf_tc_body_t  *b = *con_cls;

    (void) cls; (void) c; (void) toe;
    if (b != NULL) {
        free(b->buf);
        free(b);
    }
    *con_cls = NULL;
}

/* ---- raw op rate ------------------------------------------------------- */

static unsigned char  cf_tc_raw_in[4096 + 64];
static size_t         cf_tc_raw_n = 64;
static atomic_ulong   cf_tc_raw_ops;
static atomic_bool    cf_tc_raw_go;

static void *
cf_tc_raw_thread(void *arg)
{
    unsigned char  out[4096 + CF_HSM_SIG_MAX + 64];
    size_t         ol;
    unsigned long  n = 0;

    (void) arg;
    while (atomic_load(&cf_tc_raw_go)) {
        if (cf_tc_do(cf_tc_op, cf_tc_raw_in, cf_tc_raw_n, cf_tc_sig,
                     cf_tc_sig_len, out, &ol) != 0)
            atomic_fetch_add(&cf_tc_errors, 1);
        n++;
    }
    atomic_fetch_add(&cf_tc_raw_ops, n);
    return NULL;
}

/* ---- keys --------------------------------------------------------------- */

static int
cf_tc_keys(size_t payload)
{
    cf_hsm_pair_type_t  t = 0;
    const char         *label = "coffer-transit-ceiling";
    unsigned char       tmp[4096 + 64];
    size_t              tl;
    cf_err_t            rc;

    if (cf_tc_is("enc") || cf_tc_is("dec"))
        rc = cf_hsm_secret_generate(cf_tc_hsm, false, 32, label, &cf_tc_key);
    else if (cf_tc_is("hmac"))
        rc = cf_hsm_secret_generate(cf_tc_hsm, true, 64, label, &cf_tc_key);
    else {
        t = strstr(cf_tc_op, "-ec") ? CF_HSM_PAIR_EC_P256
            : strstr(cf_tc_op, "-ed") ? CF_HSM_PAIR_ED25519
            : CF_HSM_PAIR_RSA2048;
        rc = cf_hsm_pair_generate(cf_tc_hsm, t, CF_HSM_PAIR_SIGN, label,
                                  &cf_tc_key);
        if (rc == CF_OK)
            rc = cf_hsm_pair_public(cf_tc_hsm, &cf_tc_key, &cf_tc_pub);
    }
    if (rc != CF_OK)
        return -1;
    /* Inputs for the raw loop: a ciphertext to decrypt, a signature to
     * verify. */
    cf_tc_raw_n = payload;
    RAND_bytes(cf_tc_raw_in, (int) payload);
    if (cf_tc_is("dec")) {
        if (cf_tc_do("enc", cf_tc_raw_in, payload, NULL, 0, tmp, &tl) != 0)
            return -1;
        memcpy(cf_tc_raw_in, tmp, tl);
        cf_tc_raw_n = tl;
    } else if (strncmp(cf_tc_op, "verify-", 7) == 0) {
        char  sop[16];

        snprintf(sop, sizeof(sop), "sign-%s", cf_tc_op + 7);
        if (cf_tc_do(sop, cf_tc_raw_in, payload, NULL, 0, cf_tc_sig,
                     &cf_tc_sig_len) != 0)
            return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    const char         *label = NULL, *pin = NULL, *lib;
    unsigned            threads = 2, i;
    long                port = 0, raw = 0, payload = 64;
    struct sockaddr_in  sa;
    struct MHD_Daemon  *d;
    struct sigaction    act;
    cf_hsm_config_t     cfg;
    cf_secret_t        *p;
    pthread_t           th[64];
    int                 opt, rc = 0;

    lib = getenv("COFFER_HSM_LIB");
    if (lib == NULL || *lib == '\0')
        lib = "/usr/lib/softhsm/libsofthsm2.so";
    while ((opt = getopt(argc, argv, "o:p:t:L:P:r:n:")) != -1) {
        switch (opt) {
        case 'o': cf_tc_op = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 't': threads = (unsigned) strtoul(optarg, NULL, 10); break;
        case 'L': label = optarg; break;
        case 'P': pin = optarg; break;
        case 'r': raw = strtol(optarg, NULL, 10); break;
        case 'n': payload = strtol(optarg, NULL, 10); break;
        default: goto usage;
        }
    }
    if (cf_tc_op == NULL || label == NULL || pin == NULL || threads == 0
        || threads > 64 || (raw <= 0 && (port <= 0 || port > 65535))
        || payload < 1 || payload > 4096)
        goto usage;
    cf_mem_init();
    memset(&cfg, 0, sizeof(cfg));
    cfg.lib = lib;
    cfg.token_label = label;
    cfg.max_parallel = threads;
    if (cf_hsm_open(&cfg, &cf_tc_hsm) != CF_OK)
        return 1;
    p = cf_secret_new_copy(pin, strlen(pin));
    if (cf_hsm_login(cf_tc_hsm, p) != CF_OK || cf_tc_keys((size_t) payload)
        != 0) {
        fprintf(stderr, "coffer-transit-ceiling: HSM set-up failed\n");
        cf_secret_free(p);
        return 1;
    }
    cf_secret_free(p);
    memset(&act, 0, sizeof(act));
    act.sa_handler = cf_tc_on_signal;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    if (raw > 0) {
        atomic_store(&cf_tc_raw_go, true);
        for (i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, cf_tc_raw_thread, NULL);
        sleep((unsigned) raw);
        atomic_store(&cf_tc_raw_go, false);
        for (i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        printf("%.0f\n", (double) atomic_load(&cf_tc_raw_ops) / raw);
        goto done;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                         0, NULL, NULL, cf_tc_handle, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                         MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_LIMIT, 1024u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_NOTIFY_COMPLETED, cf_tc_done, NULL,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "coffer-transit-ceiling: cannot listen on %ld\n",
                port);
        rc = 1;
        goto done;
    }
    printf("ready\n");
    fflush(stdout);
    while (!cf_tc_stop)
        pause();
    MHD_stop_daemon(d);
done:
    if (cf_tc_pub != NULL)
        cf_hsm_pair_destroy(cf_tc_hsm, &cf_tc_key);
    else
        cf_hsm_key_destroy(cf_tc_hsm, &cf_tc_key);
    EVP_PKEY_free(cf_tc_pub);
    cf_hsm_close(cf_tc_hsm);
    if (atomic_load(&cf_tc_errors) != 0) {
        fprintf(stderr, "coffer-transit-ceiling: %lu errors\n",
                atomic_load(&cf_tc_errors));
        rc = 1;
    }
    return rc;

usage:
    fprintf(stderr, "usage: coffer-transit-ceiling -o OP (-p PORT | -r SECS)"
            " [-n PAYLOAD] [-t THREADS] -L TOKEN_LABEL -P PIN\n"
            "OP: enc dec sign-ec sign-ed sign-rsa verify-ec verify-ed "
            "verify-rsa hmac\n");
    return 2;
}
