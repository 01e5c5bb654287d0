/*
 * kv_v1: KV version 1, one unversioned JSON object per path (Vault's
 * "passthrough" backend): read, write, list, delete.
 */
#include <string.h>

#include "coffer/log.h"
#include "kv.h"

cf_err_t
cf_kv_v1_handle(cf_req_t *req)
{
    (void) cf_kv_check_key;
    return cf_req_fail(req, CF_ERR_NOT_FOUND, "not implemented yet");
}
