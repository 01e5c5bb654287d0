seal "shamir" {}
hsm {
  lib = "/l.so"
  slot = 0
  pin = "x"
  generate_key = 1
}
storage "sqlite" { path = "d.db" }
listener "tcp" { tls_disable = 1 }
