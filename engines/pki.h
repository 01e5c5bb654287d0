/*
 * pki internals, shared by the files of the PKI engine (engines/pki*.c).
 * Not a public header: the engine's only export is cf_pki_engine.
 *
 * Storage layout inside the mount's barrier view (no key bytes anywhere:
 * a key record names its token object by CKA_ID):
 *   "key/<key_id>"          {key_id, key_name, key_type, key_bits, hsm_id
 *                            (CKA_ID hex), public_key (PEM)}
 *   "issuer/<issuer_id>"    {issuer_id, issuer_name, key_id, certificate,
 *                            ca_chain [PEM...], leaf_not_after_behavior,
 *                            usage, manual_chain, crl_number}
 *   "config/issuers"        {default}
 *   "config/urls"           {issuing_certificates, crl_distribution_points,
 *                            ocsp_servers}
 *   "config/crl"            {expiry, disable}
 *   "role/<name>"           the role's fields
 *   "certs/<serial>"        {certificate, issuer_id, revocation_time}
 *   "revoked/<serial>"      {revocation_time, issuer_id}
 *   "crl/<issuer_id>"       {der (base64), number}
 *   "tidy-status"           the last tidy run
 * Serials are stored lower-case hex with '-' separators, shown with ':'.
 *
 * The CA keys are pairs on the token labelled coffer/pki/<mount-uuid>/
 * <key_id>; certificates, CRLs, CSRs and OCSP responses are signed there
 * through an EVP_PKEY made by cf_pki_hsm_pkey (pki_sign.c).
 *
 * Locking: changes to the revocation state and the CRL of a mount hold
 * one process-wide mutex (cf_pki_lock) for the read-modify-write, storage
 * and token I/O included: it exists to serialise that I/O so the CRL
 * number only grows and no revocation is lost. Everything else is a
 * single-entry write.
 */
#ifndef COFFER_ENGINES_PKI_H
#define COFFER_ENGINES_PKI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "coffer/engine.h"
#include "coffer/hsm.h"
#include "coffer/req.h"

#define CF_PKI_MSG        512
#define CF_PKI_SERIAL     64        /* room for 20 bytes as "xx:" * 20 */
#define CF_PKI_DEFAULT_TTL  (768 * 3600)   /* Vault's system default */

/* An issuer loaded for use: its record, certificate and (when asked
 * for) its signing key on the token. Fields owned; cf_pki_issuer_cleanup
 * frees them. */
typedef struct {
    json_t      *rec;
    X509        *cert;
    EVP_PKEY    *key;           /* signs on the token, or NULL */
    const char  *id;            /* borrowed from rec */
} cf_pki_issuer_t;

/* What a certificate says, before it is built. Lists are JSON arrays of
 * strings, owned (cf_pki_tmpl_cleanup); subject and pub borrowed. */
typedef struct {
    const char  *cn;
    json_t      *dns;
    json_t      *emails;
    json_t      *ips;
    json_t      *uris;
    json_t      *ou, *org, *country, *locality, *province, *street,
                *postal;
    X509_NAME   *subject;       /* use as is instead of cn/ou/... */
    int64_t      not_before;    /* unix seconds */
    int64_t      not_after;
    bool         is_ca;
    /* A leaf carries basicConstraints (critical, CA:FALSE) only when its
     * role asks (basic_constraints_valid_for_non_ca), as Vault's do. */
    bool         bc_non_ca;
    int64_t      max_path_len;  /* -1: none */
    json_t      *key_usage;     /* Vault names, e.g. "DigitalSignature" */
    json_t      *ext_key_usage; /* "ServerAuth", ... */
    bool         server_flag, client_flag, code_signing_flag,
                 email_protection_flag;
    json_t      *eku_oids;      /* extra extended key usage OIDs */
    json_t      *policy_ids;    /* certificatePolicies OIDs */
    json_t      *other_sans;    /* "<oid>;UTF8:<value>" */
    json_t      *user_ids;      /* subject UID values */
    const char  *subject_serial;    /* subject serialNumber, or NULL */
    const EVP_MD *md;           /* signature hash; NULL: by the CA key */
    EVP_PKEY    *pub;           /* subject key (borrowed) */
} cf_pki_tmpl_t;

/* ---- pki_sign.c ---------------------------------------------------------
 * An EVP_PKEY whose private operation is cf_hsm_sign on pair `id`, with
 * the public half `pub` (EC or RSA). *out owned by the caller. */
cf_err_t cf_pki_hsm_pkey(cf_hsm_t *h, const cf_hsm_id_t *id, EVP_PKEY *pub,
                         EVP_PKEY **out);

/* The digest Vault picks for a key: SHA-256, SHA-384 for P-384, SHA-512
 * for P-521. */
const EVP_MD *cf_pki_md_for(const EVP_PKEY *key);

/* ---- pki_sec1.c --------------------------------------------------------- */

/* An EC key (P-256/384/521) as SEC1 DER, without OpenSSL's encoder setup.
 * *out on the secure heap: OPENSSL_secure_clear_free(*out, *out_len).
 * CF_ERR_INVALID for any other key. */
cf_err_t cf_pki_sec1_der(EVP_PKEY *k, unsigned char **out, size_t *out_len);

/* ---- pki.c: helpers ----------------------------------------------------- */

/* Segment n (0-based) of req->rest into buf; false when missing/long. */
bool cf_pki_seg(const cf_req_t *req, unsigned n, char *buf, size_t len);

/* A list parameter: JSON array of strings or a comma-separated string.
 * *out is a new array (empty when absent), owned by the caller. */
cf_err_t cf_pki_param_list(cf_req_t *req, const char *name, json_t **out);

/* A string parameter or def. */
cf_err_t cf_pki_param_str(cf_req_t *req, const char *name, const char *def,
                          const char **out);

/* PEM of a certificate (malloc'd) or NULL. */
char *cf_pki_x509_pem(X509 *x);
/* Parse one PEM certificate, NULL when it is not one. */
X509 *cf_pki_pem_x509(const char *pem);

/* The same decode, from a cache keyed by the PEM's content (pki_pem_cache.
 * c): a shared reference (free it as usual) that must only be read. */
X509 *cf_pki_pem_x509_shared(const char *pem);
EVP_PKEY *cf_pki_pem_pubkey_shared(const char *pem);

/* Serial as "aa:bb:.." (sep ':') or "aa-bb-.." (sep '-'). */
void cf_pki_serial_str(const ASN1_INTEGER *s, char sep,
                       char buf[CF_PKI_SERIAL]);
/* Normalise a serial given by a client to the stored form "aa-bb-..";
 * false when it is not hex pairs. */
bool cf_pki_serial_norm(const char *in, char out[CF_PKI_SERIAL]);

/* Mount TTLs (default_lease_ttl / max_lease_ttl), system default when 0. */
int64_t cf_pki_mount_ttl(const cf_req_t *req, bool max);

/* RFC 3339 (seconds) of a unix time into buf (32 bytes). */
void cf_pki_rfc3339(int64_t t, char buf[32]);

/* ASN1_TIME to unix seconds. */
int64_t cf_pki_asn1_unix(const ASN1_TIME *t);

/* Load an issuer by reference: "default" (or NULL/""), its id, or its
 * name. 400 naming the ref when there is none; with_key also makes its
 * signing key. */
cf_err_t cf_pki_issuer_load(cf_req_t *req, const char *ref, bool with_key,
                            cf_pki_issuer_t *out);
void cf_pki_issuer_cleanup(cf_pki_issuer_t *is);

/* The HSM-backed key of key record key_id. */
cf_err_t cf_pki_key_load(cf_req_t *req, const char *key_id, json_t **rec,
                         EVP_PKEY **out);

/* The default issuer's id (malloc'd) or NULL. */
char *cf_pki_default_issuer(cf_req_t *req);

/* 404 with an empty errors array (Vault's empty LIST / missing read). */
cf_err_t cf_pki_reply_404(cf_req_t *req);

/* LIST reply from a storage prefix; mapping '-' to ':' when serials. */
cf_err_t cf_pki_reply_list(cf_req_t *req, const char *prefix, bool serials);

/* ---- pki_cert.c --------------------------------------------------------- */

/* Build and sign a certificate: issued by `iss` (signing with iss->key),
 * or self-signed by `self_key` when iss is NULL. Random 20-byte serial;
 * config/urls extensions are added for issued certificates. *out owned.
 * CF_ERR_INVALID with msg for bad names. */
cf_err_t cf_pki_cert_build(cf_req_t *req, const cf_pki_tmpl_t *t,
                           cf_pki_issuer_t *iss, EVP_PKEY *self_key,
                           X509 **out, char *msg, size_t mlen);

/* Fill t's names from the request: common_name, alt_names (DNS or
 * e-mail), ip_sans, uri_sans, ou, organization, country, locality,
 * province, street_address, postal_code. The CN joins the SANs (DNS when
 * it is a hostname, e-mail when it has '@') unless exclude_cn_from_sans.
 * Clean up with cf_pki_tmpl_cleanup even on error. */
cf_err_t cf_pki_tmpl_from_req(cf_req_t *req, cf_pki_tmpl_t *t);
void cf_pki_tmpl_cleanup(cf_pki_tmpl_t *t);

/* Vault's hostname rule (labels of letters, digits, '-', not starting or
 * ending in '-'; optional trailing dot). */
bool cf_pki_is_hostname(const char *s);

/* Validity from ttl/not_after against a cap: fills not_before (now minus
 * not_before_duration, default 30 s) and not_after. */
cf_err_t cf_pki_validity(cf_req_t *req, int64_t def_ttl, int64_t max_ttl,
                         cf_pki_tmpl_t *t);

/* Store the certificate record "certs/<serial>". */
cf_err_t cf_pki_cert_store(cf_req_t *req, X509 *x, const char *issuer_id);

/* The issuer's chain as a JSON array of PEM (new reference). */
json_t *cf_pki_issuer_chain(const cf_pki_issuer_t *is);

/* ---- pki_role.c --------------------------------------------------------- */

/* Check the names of t against the role as Vault does; on refusal fill
 * msg naming the name and return CF_ERR_INVALID. */
cf_err_t cf_pki_role_check(json_t *role, const cf_pki_tmpl_t *t, char *msg,
                           size_t mlen);

/* Handlers. */
cf_err_t cf_pki_roles_list(cf_req_t *req);
cf_err_t cf_pki_role(cf_req_t *req);

/* ---- pki_ca.c ----------------------------------------------------------- */

/* Parse the PEM CSR in parameter "csr" and verify its signature; 400
 * naming the problem otherwise. *out owned. */
cf_err_t cf_pki_csr_parse(cf_req_t *req, X509_REQ **out);

/* certificate, expiration, serial_number of x, plus issuing_ca and
 * ca_chain of iss, as the reply. */
cf_err_t cf_pki_reply_issued(cf_req_t *req, X509 *x,
                             const cf_pki_issuer_t *iss);

/* Issuer ref from "issuer/<ref>/..." in the path, else the issuer_ref
 * parameter (default "default"). */
cf_err_t cf_pki_ref_from_path(cf_req_t *req, char *buf, size_t len,
                              const char **ref);
cf_err_t cf_pki_root_generate(cf_req_t *req);
cf_err_t cf_pki_root_delete(cf_req_t *req);
cf_err_t cf_pki_intermediate_generate(cf_req_t *req);
cf_err_t cf_pki_set_signed(cf_req_t *req);
cf_err_t cf_pki_sign_intermediate(cf_req_t *req);
cf_err_t cf_pki_sign_self_issued(cf_req_t *req);
cf_err_t cf_pki_issuers_list(cf_req_t *req);
cf_err_t cf_pki_issuer(cf_req_t *req);
cf_err_t cf_pki_issuer_cert(cf_req_t *req);
cf_err_t cf_pki_keys_list(cf_req_t *req);
cf_err_t cf_pki_key(cf_req_t *req);
cf_err_t cf_pki_config_issuers(cf_req_t *req);
cf_err_t cf_pki_config_urls(cf_req_t *req);
cf_err_t cf_pki_ca(cf_req_t *req);

/* ---- pki_issue.c -------------------------------------------------------- */
cf_err_t cf_pki_issue(cf_req_t *req);
cf_err_t cf_pki_sign(cf_req_t *req);
cf_err_t cf_pki_sign_verbatim(cf_req_t *req);
cf_err_t cf_pki_cert_read(cf_req_t *req);
cf_err_t cf_pki_certs_list(cf_req_t *req);

/* ---- pki_crl.c ---------------------------------------------------------- */
cf_err_t cf_pki_revoke(cf_req_t *req);
cf_err_t cf_pki_revoke_secret(cf_req_t *req, const json_t *internal);
cf_err_t cf_pki_crl(cf_req_t *req);
cf_err_t cf_pki_crl_rotate(cf_req_t *req);
cf_err_t cf_pki_config_crl(cf_req_t *req);
cf_err_t cf_pki_revoked_list(cf_req_t *req);
cf_err_t cf_pki_ocsp(cf_req_t *req);
cf_err_t cf_pki_tidy(cf_req_t *req);
cf_err_t cf_pki_tidy_status(cf_req_t *req);

/* Rebuild and store the CRL of issuer id (cf_pki_lock held). */
cf_err_t cf_pki_crl_build_locked(cf_req_t *req, const char *issuer_id,
                                 bool bump);

/* The process-wide revocation lock (see the top of this file). */
void cf_pki_lock(void);
void cf_pki_unlock(void);

extern const cf_engine_t  cf_pki_engine;

#endif
