#!/bin/sh
# Regenerates every fixture in this directory with the OpenSSL 3 CLI (`sh make.sh`).
# Output is random (fresh keys, salts, IVs); the tests only rely on the properties listed in
# README.md, never on specific bytes.
set -eu
cd "$(dirname "$0")"
PASS='correct horse'
DAYS=36500

# Keys
openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key.pem
openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key.pem
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key.pem
openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key.pem

# Certificates: a CA, the EC leaf signed by it, self-signed RSA and P-384 certificates
openssl req -x509 -new -key ca.key.pem -subj '/CN=applepay-verify test CA' -days $DAYS \
  -addext basicConstraints=critical,CA:TRUE -out ca.cert.pem
openssl req -new -key ec.key.pem -subj '/CN=applepay-verify EC test merchant' -out ec.csr.pem
openssl x509 -req -in ec.csr.pem -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial \
  -days $DAYS -out ec.cert.pem
rm -f ec.csr.pem ca.cert.srl
openssl req -x509 -new -key rsa.key.pem -subj '/CN=applepay-verify RSA test merchant' -days $DAYS -out rsa.cert.pem
openssl req -x509 -new -key p384.key.pem -subj '/CN=applepay-verify P-384 test' -days $DAYS -out p384.cert.pem

# The EC key with explicit curve parameters instead of the named-curve OID: the private key (which
# the addon accepts, re-encoding the public half with the OID) and the public key as an SPKI (which
# OpenSSL and node:crypto accept, and which the addon must refuse as an ephemeral key)
openssl ec -in ec.key.pem -param_enc explicit -out ec-explicit.key.pem 2>/dev/null
openssl ec -in ec.key.pem -pubout -param_enc explicit -outform DER -out ec-explicit.pub.der 2>/dev/null

# PKCS#12 files
# OpenSSL 3 defaults: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for key and certificates, HMAC-SHA256 MAC
openssl pkcs12 -export -inkey ec.key.pem -in ec.cert.pem -passout "pass:$PASS" -out ec-aes.p12
# Empty password (MAC and encryption keyed with ""), as some exporters write "no password"
openssl pkcs12 -export -inkey ec.key.pem -in ec.cert.pem -passout pass: -out ec-empty-password.p12
# No encryption and no MAC at all
openssl pkcs12 -export -inkey ec.key.pem -in ec.cert.pem -keypbe NONE -certpbe NONE -nomac \
  -passout pass: -out ec-unprotected.p12
# Keychain-style legacy algorithms: certificates RC2-40-CBC, key 3DES, HMAC-SHA1 MAC
openssl pkcs12 -export -legacy -inkey ec.key.pem -in ec.cert.pem -passout "pass:$PASS" -out ec-legacy-rc2.p12
# 3DES for both bags and SHA-1 MAC: old but within OpenSSL 3's default provider
openssl pkcs12 -export -inkey ec.key.pem -in ec.cert.pem -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES \
  -macalg sha1 -passout "pass:$PASS" -out ec-3des.p12
# Leaf plus CA certificate: the handle must report the leaf (the one matching the key)
openssl pkcs12 -export -inkey ec.key.pem -in ec.cert.pem -certfile ca.cert.pem -passout "pass:$PASS" \
  -out ec-chain.p12
# Key only, no certificate
openssl pkcs12 -export -inkey ec.key.pem -nocerts -passout "pass:$PASS" -out ec-keyonly.p12
openssl pkcs12 -export -inkey rsa.key.pem -in rsa.cert.pem -passout "pass:$PASS" -out rsa-aes.p12
openssl pkcs12 -export -inkey p384.key.pem -in p384.cert.pem -passout "pass:$PASS" -out p384-aes.p12

# DER copies of the certificates, to compare with the handle's `certificate`
for c in ca ec rsa; do openssl x509 -in $c.cert.pem -outform DER -out $c.cert.der; done
rm -f p384.cert.pem
