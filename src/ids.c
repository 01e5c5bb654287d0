/* ids: UUIDs (random v4 from the DRBG), request ids (v4-shaped, from a
 * fast per-thread generator) and RFC 3339 timestamps. */
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coffer/req.h"

void
cf_uuid_new(char buf[37])
{
    unsigned char  u[16];

    /* Request ids and mount UUIDs are not secrets: OpenSSL's DRBG is fine
     * and keeps the HSM out of every request's hot path. */
    if (RAND_bytes(u, sizeof(u)) != 1)
        memset(u, 0, sizeof(u));
    u[6] = (unsigned char) ((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char) ((u[8] & 0x3f) | 0x80);
    snprintf(buf, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
             u[10], u[11], u[12], u[13], u[14], u[15]);
}

void
cf_time_rfc3339(const struct timespec *ts, char buf[40])
{
    struct tm  tm;

    char  date[24];

    gmtime_r(&ts->tv_sec, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, 40, "%.20s.%09uZ", date,
             (unsigned) (ts->tv_nsec % 1000000000L));
}

/* splitmix64: a fast generator for identifiers that only need to be
 * unique, never unpredictable. */
static uint64_t
cf_ids_next(uint64_t *state)
{
    uint64_t  z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
cf_base62_take(const unsigned char *rnd, size_t n, char *out, size_t *got,
               size_t want)
{
    static const char  b62[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t             i;

    for (i = 0; i < n && *got < want; i++) {
        if (rnd[i] < 248)                       /* 248 = 4 * 62 */
            out[(*got)++] = b62[rnd[i] % 62];
    }
}

void
cf_request_id_new(char buf[37])
{
    /* Per thread, seeded once from the DRBG: RAND_bytes per request cost
     * ~7% of a KV read (OpenSSL 3's provider DRBG). */
    static _Thread_local uint64_t  state;
    static _Thread_local bool      seeded;
    uint64_t                       a, b;

    if (!seeded) {
        if (RAND_bytes((unsigned char *) &state, sizeof(state)) != 1)
            state = (uint64_t) time(NULL) ^ (uint64_t) (uintptr_t) buf;
        seeded = true;
    }
    a = cf_ids_next(&state);
    b = cf_ids_next(&state);
    snprintf(buf, 37, "%08x-%04x-4%03x-%04x-%012llx",
             (unsigned) (a >> 32), (unsigned) (a >> 16) & 0xffff,
             (unsigned) a & 0x0fff,
             (unsigned) ((b >> 48) & 0x3fff) | 0x8000,
             (unsigned long long) (b & 0xffffffffffffULL));
}

cf_err_t
cf_nonce_new(unsigned char *out, size_t len)
{
    /* Per thread, refilled from the DRBG 4 KiB at a time: one RAND_bytes
     * per request was ~11% of a transit encrypt. Nonces are public, so a
     * buffer of future ones in memory gives nothing away. */
    static _Thread_local unsigned char  buf[4096];
    static _Thread_local size_t         left;

    if (len > sizeof(buf))
        return CF_ERR_INVALID;
    if (left < len) {
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return CF_ERR_INTERNAL;
        left = sizeof(buf);
    }
    memcpy(out, buf + sizeof(buf) - left, len);
    left -= len;
    return CF_OK;
}
