/*
 * log: leveled log lines on stderr.
 *
 * Never pass secrets (tokens, PINs, key bytes, plaintext, request bodies).
 * Thread-safe: each line is written with one write(2).
 */
#ifndef COFFER_LOG_H
#define COFFER_LOG_H

typedef enum {
    CF_LOG_ERROR = 0,
    CF_LOG_WARN,
    CF_LOG_INFO,
    CF_LOG_DEBUG,
    CF_LOG_TRACE
} cf_log_level_t;

/* Set the most verbose level written (default CF_LOG_INFO). */
void cf_log_set_level(cf_log_level_t level);

/* Parse "error|warn|info|debug|trace"; returns -1 when unknown. */
int cf_log_parse_level(const char *name);

void cf_log(cf_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cf_log_error(mod, ...) cf_log(CF_LOG_ERROR, mod, __VA_ARGS__)
#define cf_log_warn(mod, ...)  cf_log(CF_LOG_WARN, mod, __VA_ARGS__)
#define cf_log_info(mod, ...)  cf_log(CF_LOG_INFO, mod, __VA_ARGS__)
#define cf_log_debug(mod, ...) cf_log(CF_LOG_DEBUG, mod, __VA_ARGS__)

#endif
