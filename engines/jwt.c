/*
 * jwt: the JWT auth method (skeleton; filled in next).
 */
#include "coffer/jwt.h"

static const cf_path_t  cf_jwt_paths[] = {
    CF_PATH_END
};

const cf_engine_t  cf_jwt_engine = {
    .name = "jwt", .paths = cf_jwt_paths, .is_auth = true,
};
