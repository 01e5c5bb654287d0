/* main: command-line dispatch. `coffer server ...`, `coffer version`. */
#include <stdio.h>
#include <string.h>

#include "coffer/serve.h"

static void
cf_main_usage(FILE *f)
{
    fprintf(f,
        "Usage: coffer <command> [args]\n\n"
        "  server -config=FILE            run the server from an HCL config\n"
        "  server -dev [-dev-listen-address=ADDR:PORT]\n"
        "              [-dev-root-token-id=ID]\n"
        "                                 throw-away SoftHSM token, "
        "unsealed\n"
        "  version                        print the version\n");
}

/* Accept -name=value, --name=value and -name value. */
static const char *
cf_main_flag(int argc, char **argv, int *i, const char *name)
{
    const char  *a = argv[*i];
    size_t       n = strlen(name);

    if (a[0] != '-')
        return NULL;
    a += a[1] == '-' ? 2 : 1;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] == '\0' && *i + 1 < argc) {
        (*i)++;
        return argv[*i];
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    cf_serve_opts_t  opts;
    const char      *v;
    int              i;

    memset(&opts, 0, sizeof(opts));
    if (argc < 2) {
        cf_main_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "-v") == 0) {
        printf("Coffer v%s\n", COFFER_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "server") != 0) {
        cf_main_usage(strcmp(argv[1], "-h") == 0 ? stdout : stderr);
        return strcmp(argv[1], "-h") == 0 ? 0 : 2;
    }
    for (i = 2; i < argc; i++) {
        const char *a = argv[i] + (argv[i][0] == '-' && argv[i][1] == '-');
        if (strcmp(a, "-dev") == 0) {
            opts.dev = true;
        } else if ((v = cf_main_flag(argc, argv, &i, "dev-listen-address"))) {
            opts.dev_listen_address = v;
        } else if ((v = cf_main_flag(argc, argv, &i, "dev-root-token-id"))) {
            opts.dev_root_token_id = v;
        } else if ((v = cf_main_flag(argc, argv, &i, "config"))) {
            opts.config_path = v;
        } else {
            fprintf(stderr, "Error: unknown flag %s\n", argv[i]);
            cf_main_usage(stderr);
            return 2;
        }
    }
    if (!opts.dev && opts.config_path == NULL) {
        fprintf(stderr, "Error: server needs -config=FILE or -dev\n");
        return 2;
    }
    return cf_serve_main(&opts);
}
