-- wrk script: POST the transit-shaped body the ceiling (and Coffer's
-- transit/encrypt) parse. Other headers (X-Vault-Token) come from wrk -H.
wrk.method = "POST"
wrk.body = '{"plaintext":"aGVsbG8gY29mZmVy","context":"YmVuY2g="}'
wrk.headers["Content-Type"] = "application/json"
