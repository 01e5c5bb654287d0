/*
 * coffer-ceiling: the smallest HTTP server that does what one Coffer
 * request must do, so bench/run.sh can report Coffer as a fraction of it.
 *
 * Not product code: it talks PKCS#11 directly (Coffer keeps that in hsm/)
 * and holds no secrets worth protecting (a throw-away bench token).
 *
 *   coffer-ceiling -m plain|hsm|hsm-token -p PORT [-t THREADS]
 *                  [-L LABEL] [-P PIN]
 *
 * plain: every request reads its body (parsed with jansson if non-empty)
 *        and gets a Vault transit-shaped JSON reply of about 210 bytes.
 * hsm:   the same plus one AES-256-GCM C_EncryptInit + C_Encrypt per
 *        request with a random 96-bit IV, on a session copy (C_CopyObject,
 *        CKA_TOKEN=FALSE) of a sensitive, non-extractable token key that
 *        the program generates at start; the reply carries the ciphertext.
 * hsm-token: as hsm, but on the token key itself. SoftHSM 2.6.1 re-reads a
 *        token object's file on every C_EncryptInit, so this is the
 *        ceiling of a server that cannot use session copies (e.g. keys
 *        made with CKA_MODIFIABLE=FALSE, which SoftHSM refuses to copy).
 *
 * libmicrohttpd runs a pool of THREADS epoll threads (default 2) bound to
 * 127.0.0.1 only. Each pool thread opens its own PKCS#11 session on first
 * use, so no session is ever used by two threads at once. The module is
 * $COFFER_HSM_LIB or /usr/lib/softhsm/libsofthsm2.so; token label and PIN
 * come from -L/-P or $COFFER_BENCH_TOKEN/$COFFER_BENCH_PIN. "ready" is
 * printed on stdout once the socket listens; SIGINT/SIGTERM stop it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

#define CF_CEILING_MAX_BODY   4096
#define CF_CEILING_MAX_PT     1024
#define CF_CEILING_IV_LEN     12
#define CF_CEILING_TAG_LEN    16
#define CF_CEILING_KEY_LABEL  "coffer-ceiling"

typedef struct {
    char    buf[CF_CEILING_MAX_BODY];
    size_t  len;
    bool    too_large;
} cf_ceiling_body_t;

static CK_FUNCTION_LIST_PTR  cf_ceiling_p11;
static CK_OBJECT_HANDLE      cf_ceiling_key;    /* the session copy */
static CK_OBJECT_HANDLE      cf_ceiling_token_key;
static CK_OBJECT_HANDLE      cf_ceiling_use_key;    /* one of the two */
static bool                  cf_ceiling_hsm;
static atomic_ulong          cf_ceiling_seq;
static atomic_ulong          cf_ceiling_errors;
static volatile sig_atomic_t cf_ceiling_stop;

/* One session per MHD pool thread, opened on that thread's first request.
 * The list lets main() close them all at exit. */
static CK_SLOT_ID            cf_ceiling_slot;
static _Thread_local CK_SESSION_HANDLE cf_ceiling_tls_session;
static pthread_mutex_t       cf_ceiling_sessions_lock =
                                 PTHREAD_MUTEX_INITIALIZER;
static CK_SESSION_HANDLE     cf_ceiling_sessions[256];
static size_t                cf_ceiling_nsessions;

static void
cf_ceiling_on_signal(int sig)
{
    (void)sig;
    cf_ceiling_stop = 1;
}

static int
cf_ceiling_ck(CK_RV rv, const char *what)
{
    if (rv == CKR_OK)
        return 0;
    fprintf(stderr, "coffer-ceiling: %s: CKR 0x%lx\n", what,
            (unsigned long)rv);
    return -1;
}

/* Load the module, find the token by label, log in, generate a token AES
 * key and make the session copy that requests use. The login session stays
 * open for the life of the process: session objects die with it. */
static int
cf_ceiling_hsm_open(const char *lib, const char *label, const char *pin)
{
    CK_C_GetFunctionList  get_list;
    CK_C_INITIALIZE_ARGS  init = { .flags = CKF_OS_LOCKING_OK };
    CK_SLOT_ID            slots[64];
    CK_ULONG              nslots = 64, i;
    CK_TOKEN_INFO         ti;
    CK_SESSION_HANDLE     s;
    CK_MECHANISM          gen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_BBOOL              yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG              keylen = 32;
    CK_ATTRIBUTE          tmpl[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_ENCRYPT, &yes, sizeof(yes) },
        { CKA_DECRYPT, &yes, sizeof(yes) },
        { CKA_VALUE_LEN, &keylen, sizeof(keylen) },
        { CKA_LABEL, CF_CEILING_KEY_LABEL, sizeof(CF_CEILING_KEY_LABEL) - 1 },
    };
    CK_ATTRIBUTE          copy_tmpl[] = {
        { CKA_TOKEN, &no, sizeof(no) },
    };
    size_t                llen = strlen(label);
    void                 *dl;

    if ((dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "coffer-ceiling: dlopen %s: %s\n", lib, dlerror());
        return -1;
    }
    /* POSIX blesses this object-to-function pointer copy; ISO C does not */
    *(void **)&get_list = dlsym(dl, "C_GetFunctionList");
    if (get_list == NULL
        || cf_ceiling_ck(get_list(&cf_ceiling_p11), "C_GetFunctionList")
        || cf_ceiling_ck(cf_ceiling_p11->C_Initialize(&init), "C_Initialize")
        || cf_ceiling_ck(cf_ceiling_p11->C_GetSlotList(CK_TRUE, slots,
                                                       &nslots),
                         "C_GetSlotList"))
        return -1;
    for (i = 0; i < nslots; i++) {
        if (cf_ceiling_p11->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        /* the label is blank-padded to 32 bytes */
        if (llen <= sizeof(ti.label)
            && memcmp(ti.label, label, llen) == 0
            && (llen == sizeof(ti.label) || ti.label[llen] == ' '))
            break;
    }
    if (i == nslots) {
        fprintf(stderr, "coffer-ceiling: no token labelled '%s'\n", label);
        return -1;
    }
    cf_ceiling_slot = slots[i];
    if (cf_ceiling_ck(cf_ceiling_p11->C_OpenSession(cf_ceiling_slot,
                          CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                          &s), "C_OpenSession")
        || cf_ceiling_ck(cf_ceiling_p11->C_Login(s, CKU_USER,
                             (CK_UTF8CHAR_PTR)pin, strlen(pin)), "C_Login")
        || cf_ceiling_ck(cf_ceiling_p11->C_GenerateKey(s, &gen, tmpl,
                             sizeof(tmpl) / sizeof(tmpl[0]),
                             &cf_ceiling_token_key),
                         "C_GenerateKey")
        || cf_ceiling_ck(cf_ceiling_p11->C_CopyObject(s, cf_ceiling_token_key,
                             copy_tmpl, 1, &cf_ceiling_key), "C_CopyObject"))
        return -1;
    cf_ceiling_sessions[cf_ceiling_nsessions++] = s;
    return 0;
}

static CK_SESSION_HANDLE
cf_ceiling_session(void)
{
    CK_SESSION_HANDLE  s;

    if (cf_ceiling_tls_session != CK_INVALID_HANDLE)
        return cf_ceiling_tls_session;
    pthread_mutex_lock(&cf_ceiling_sessions_lock);
    if (cf_ceiling_nsessions < sizeof(cf_ceiling_sessions)
                               / sizeof(cf_ceiling_sessions[0])
        && cf_ceiling_p11->C_OpenSession(cf_ceiling_slot, CKF_SERIAL_SESSION,
                                         NULL, NULL, &s) == CKR_OK) {
        cf_ceiling_sessions[cf_ceiling_nsessions++] = s;
        cf_ceiling_tls_session = s;
    }
    pthread_mutex_unlock(&cf_ceiling_sessions_lock);
    return cf_ceiling_tls_session;
}

/* One AES-256-GCM encryption with a fresh random IV; out gets
 * iv || ct || tag. */
static int
cf_ceiling_encrypt(const unsigned char *pt, size_t pt_len,
                   unsigned char *out, size_t *out_len)
{
    CK_GCM_PARAMS      gcm;
    CK_MECHANISM       mech = { CKM_AES_GCM, &gcm, sizeof(gcm) };
    CK_SESSION_HANDLE  s = cf_ceiling_session();
    CK_ULONG           n = pt_len + CF_CEILING_TAG_LEN;
    static const char  aad[] = "coffer-ceiling";

    if (s == CK_INVALID_HANDLE
        || RAND_bytes(out, CF_CEILING_IV_LEN) != 1)
        return -1;
    memset(&gcm, 0, sizeof(gcm));
    gcm.pIv = out;
    gcm.ulIvLen = CF_CEILING_IV_LEN;
    gcm.ulIvBits = CF_CEILING_IV_LEN * 8;
    gcm.pAAD = (CK_BYTE_PTR)aad;
    gcm.ulAADLen = sizeof(aad) - 1;
    gcm.ulTagBits = CF_CEILING_TAG_LEN * 8;
    if (cf_ceiling_p11->C_EncryptInit(s, &mech, cf_ceiling_use_key) != CKR_OK
        || cf_ceiling_p11->C_Encrypt(s, (CK_BYTE_PTR)pt, pt_len,
                                     out + CF_CEILING_IV_LEN, &n) != CKR_OK)
        return -1;
    *out_len = CF_CEILING_IV_LEN + n;
    return 0;
}

static enum MHD_Result
cf_ceiling_send(struct MHD_Connection *c, unsigned int status,
                const char *body, size_t len)
{
    struct MHD_Response  *r;
    enum MHD_Result       ret;

    r = MHD_create_response_from_buffer(len, (void *)body,
                                        MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
cf_ceiling_reply(struct MHD_Connection *c, unsigned int status,
                 const char *body)
{
    return cf_ceiling_send(c, status, body, strlen(body));
}

static enum MHD_Result
cf_ceiling_handle(void *cls, struct MHD_Connection *c, const char *url,
                  const char *method, const char *version,
                  const char *upload, size_t *upload_size, void **con_cls)
{
    cf_ceiling_body_t  *b = *con_cls;
    unsigned char       pt[CF_CEILING_MAX_PT];
    unsigned char       ct[CF_CEILING_IV_LEN + CF_CEILING_MAX_PT
                           + CF_CEILING_TAG_LEN];
    char                b64[4 * sizeof(ct) / 3 + 4];
    char                out[CF_CEILING_MAX_BODY];
    size_t              pt_len, ct_len = 0;
    unsigned long       seq;
    json_t             *req = NULL;
    json_error_t        jerr;
    const char         *p64 = "aGVsbG8gY29mZmVy";
    int                 n;

    (void)cls; (void)url; (void)method; (void)version;
    if (b == NULL) {
        if ((b = calloc(1, sizeof(*b))) == NULL)
            return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (b->len + *upload_size > sizeof(b->buf))
            b->too_large = true;
        else {
            memcpy(b->buf + b->len, upload, *upload_size);
            b->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (b->too_large)
        return cf_ceiling_reply(c, 413, "{\"errors\":[]}\n");

    /* the same work Coffer's JSON layer does on a transit request */
    if (b->len > 0) {
        req = json_loadb(b->buf, b->len, 0, &jerr);
        if (req == NULL || !json_is_string(json_object_get(req,
                                                           "plaintext"))) {
            json_decref(req);
            return cf_ceiling_reply(c, 400,
                "{\"errors\":[\"'plaintext' must be a string\"]}\n");
        }
        p64 = json_string_value(json_object_get(req, "plaintext"));
    }
    if (strlen(p64) > 4 * CF_CEILING_MAX_PT / 3
        || (n = EVP_DecodeBlock(pt, (const unsigned char *)p64,
                                (int)strlen(p64))) < 0) {
        json_decref(req);
        return cf_ceiling_reply(c, 400, "{\"errors\":[\"bad base64\"]}\n");
    }
    pt_len = (size_t)n;
    /* EVP_DecodeBlock counts '=' padding as zero bytes */
    for (size_t k = strlen(p64); k > 0 && p64[k - 1] == '=' && pt_len > 0;
         k--)
        pt_len--;
    json_decref(req);

    if (cf_ceiling_hsm) {
        if (cf_ceiling_encrypt(pt, pt_len, ct, &ct_len) != 0) {
            atomic_fetch_add(&cf_ceiling_errors, 1);
            return cf_ceiling_reply(c, 500, "{\"errors\":[\"hsm\"]}\n");
        }
    } else {
        /* same reply size as hsm mode: fixed IV and tag */
        memset(ct, 0x5a, CF_CEILING_IV_LEN);
        memcpy(ct + CF_CEILING_IV_LEN, pt, pt_len);
        memset(ct + CF_CEILING_IV_LEN + pt_len, 0xa5, CF_CEILING_TAG_LEN);
        ct_len = CF_CEILING_IV_LEN + pt_len + CF_CEILING_TAG_LEN;
    }
    EVP_EncodeBlock((unsigned char *)b64, ct, (int)ct_len);
    seq = atomic_fetch_add(&cf_ceiling_seq, 1);
    n = snprintf(out, sizeof(out),
                 "{\"request_id\":\"00000000-0000-4000-8000-%012lx\","
                 "\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
                 "\"data\":{\"ciphertext\":\"vault:v1:%s\","
                 "\"key_version\":1}}\n", seq, b64);
    return cf_ceiling_send(c, 200, out, (size_t)n);
}

static void
cf_ceiling_done(void *cls, struct MHD_Connection *c, void **con_cls,
                enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)c; (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int
main(int argc, char **argv)
{
    const char         *mode = NULL, *label, *pin, *lib;
    unsigned int        threads = 2;
    long                port = 0;
    struct sockaddr_in  sa;
    struct MHD_Daemon  *d;
    struct sigaction    act;
    size_t              i;
    int                 opt;

    label = getenv("COFFER_BENCH_TOKEN");
    pin = getenv("COFFER_BENCH_PIN");
    lib = getenv("COFFER_HSM_LIB");
    if (lib == NULL || *lib == '\0')
        lib = "/usr/lib/softhsm/libsofthsm2.so";
    while ((opt = getopt(argc, argv, "m:p:t:L:P:")) != -1) {
        switch (opt) {
        case 'm': mode = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 't': threads = (unsigned int)strtoul(optarg, NULL, 10); break;
        case 'L': label = optarg; break;
        case 'P': pin = optarg; break;
        default: goto usage;
        }
    }
    if (mode == NULL || port <= 0 || port > 65535 || threads == 0
        || threads > 64)
        goto usage;
    if (strcmp(mode, "hsm") == 0 || strcmp(mode, "hsm-token") == 0) {
        if (label == NULL || pin == NULL) {
            fprintf(stderr, "coffer-ceiling: hsm mode needs -L and -P "
                    "(or COFFER_BENCH_TOKEN/COFFER_BENCH_PIN)\n");
            return 2;
        }
        cf_ceiling_hsm = true;
        if (cf_ceiling_hsm_open(lib, label, pin) != 0)
            return 1;
        cf_ceiling_use_key = strcmp(mode, "hsm") == 0
                             ? cf_ceiling_key : cf_ceiling_token_key;
    } else if (strcmp(mode, "plain") != 0)
        goto usage;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                         0, NULL, NULL, cf_ceiling_handle, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_LIMIT, 1024u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_NOTIFY_COMPLETED, cf_ceiling_done, NULL,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "coffer-ceiling: cannot listen on 127.0.0.1:%ld\n",
                port);
        return 1;
    }
    memset(&act, 0, sizeof(act));
    act.sa_handler = cf_ceiling_on_signal;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    printf("ready\n");
    fflush(stdout);
    while (!cf_ceiling_stop)
        pause();
    MHD_stop_daemon(d);
    if (cf_ceiling_hsm) {
        /* the token is a throw-away one, but leave it as we found it */
        cf_ceiling_p11->C_DestroyObject(cf_ceiling_sessions[0],
                                        cf_ceiling_token_key);
        for (i = 0; i < cf_ceiling_nsessions; i++)
            cf_ceiling_p11->C_CloseSession(cf_ceiling_sessions[i]);
        cf_ceiling_p11->C_Finalize(NULL);
    }
    if (atomic_load(&cf_ceiling_errors) != 0)
        fprintf(stderr, "coffer-ceiling: %lu HSM errors\n",
                atomic_load(&cf_ceiling_errors));
    return atomic_load(&cf_ceiling_errors) != 0;

usage:
    fprintf(stderr, "usage: coffer-ceiling -m plain|hsm|hsm-token -p PORT "
            "[-t THREADS] [-L TOKEN_LABEL] [-P PIN]\n");
    return 2;
}
