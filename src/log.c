/* log: leveled lines on stderr, one write(2) per line. */
#include "coffer/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int  cf_log_level = CF_LOG_INFO;

static const char *const  cf_log_names[] = {
    "error", "warn", "info", "debug", "trace"
};

void
cf_log_set_level(cf_log_level_t level)
{
    atomic_store(&cf_log_level, (int) level);
}

int
cf_log_parse_level(const char *name)
{
    size_t  i;

    if (name == NULL)
        return -1;
    for (i = 0; i < sizeof(cf_log_names) / sizeof(cf_log_names[0]); i++) {
        if (strcasecmp(name, cf_log_names[i]) == 0)
            return (int) i;
    }
    if (strcasecmp(name, "warning") == 0)
        return CF_LOG_WARN;
    return -1;
}

void
cf_log(cf_log_level_t level, const char *module, const char *fmt, ...)
{
    char             line[1024];
    struct timespec  ts;
    struct tm        tm;
    va_list          ap;
    int              n, m;

    if ((int) level > atomic_load(&cf_log_level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%-5s] %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 cf_log_names[level], module);
    if (n < 0 || (size_t) n >= sizeof(line))
        return;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t) n > sizeof(line) - 2)
        n = (int) sizeof(line) - 2;
    line[n++] = '\n';
    (void) !write(STDERR_FILENO, line, (size_t) n);
}
