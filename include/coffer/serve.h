/*
 * serve: `coffer server`: start-up hardening, wiring of every module,
 * dev mode, signal handling and orderly shutdown.
 */
#ifndef COFFER_SERVE_H
#define COFFER_SERVE_H

#include "coffer/config.h"
#include "coffer/err.h"

typedef struct {
    bool         dev;
    const char  *dev_listen_address;    /* default 127.0.0.1:8200 */
    const char  *dev_root_token_id;     /* NULL = random */
    const char  *config_path;           /* required unless dev */
} cf_serve_opts_t;

/* Run the server until SIGINT/SIGTERM. Returns the process exit code. */
int cf_serve_main(const cf_serve_opts_t *opts);

#endif
