/* ids: request ids (UUID v4) and RFC 3339 timestamps. */
#include <openssl/rand.h>
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
