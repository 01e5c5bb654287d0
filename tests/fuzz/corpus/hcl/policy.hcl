# comment
path "secret/data/*" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "foo" = []
    "bar" = ["baz", "qux"]
  }
  min_wrapping_ttl = "1s"
}
path "sys/health" { capabilities = ["read", "sudo"] }
