/*
 * kv_v2: KV version 2, versioned secrets with metadata, check-and-set,
 * soft delete, undelete and destroy.
 */
#include <string.h>

#include "coffer/log.h"
#include "kv.h"

cf_err_t
cf_kv_v2_handle(cf_req_t *req)
{
    return cf_req_fail(req, CF_ERR_NOT_FOUND, "not implemented yet");
}
