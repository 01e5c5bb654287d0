storage "sqlite" {
  path = "/var/lib/coffer/coffer.db"
}
listener "tcp" {
  address          = "127.0.0.1:8200"
  tls_disable      = "true"
  max_request_size = 33554432
}
seal "pkcs11" {
  lib          = "/usr/lib/softhsm/libsofthsm2.so"
  token_label  = "coffer"
  slot         = "0x1"
  pin          = "1234"
  key_label    = "coffer-barrier"
  mechanism    = "0x1087"
  generate_key = "true"
  max_parallel = 4
  force_rw_session = true
  key_id       = "0x01"
}
api_addr = "https://127.0.0.1:8200"
cluster_addr = "https://127.0.0.1:8201"
cluster_name = "c"
disable_mlock = true
ui = true
log_level = "debug"
default_lease_ttl = "768h"
max_lease_ttl = "1h30m"
