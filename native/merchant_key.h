// A merchant private key decoded once, validated, and kept with everything the hot path would
// otherwise recompute per token. Immutable after ImportKey returns, so one instance is shared (via
// shared_ptr<const MerchantKey>) by the JS handle and by any number of in-flight pool-thread jobs.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "ossl.h"
#include "result.h"

namespace applepay {

enum class KeyType { kEc, kRsa };

struct MerchantKey {
  KeyType type = KeyType::kEc;
  int bits = 0;
  std::vector<uint8_t> spki;                        // DER SubjectPublicKeyInfo of the public half
  std::optional<std::vector<uint8_t>> certificate;  // DER, PKCS#12 only, the one matching the key

  // Only read after construction: EVP_PKEY read-only use is thread-safe in OpenSSL 3.
  EvpPkeyPtr pkey;

  // EC only. Kept outside the EVP_PKEY so ECDH can run on a raw point without building a peer
  // EVP_PKEY per call (a provider import costs more than the scalar multiplication itself).
  // Both are read concurrently and never written after import.
  EcGroupPtr group;
  BignumPtr scalar;  // BN_FLG_CONSTTIME set; freed with BN_clear_free

  // Fetched once per key so the token path does no provider lookups per call. Fetched algorithm
  // objects are immutable and reference counted: safe to share between threads.
  EvpCipherPtr gcm;  // AES-256-GCM for EC_v1, AES-128-GCM for RSA_v1
  EvpMdPtr sha256;   // the EC_v1 KDF hash

  size_t rsa_modulus_bytes = 0;  // RSA only
};

// data: PEM (any label OpenSSL's decoders know, encrypted PKCS#8 and legacy-encrypted PEM
// included), DER (PKCS#8, encrypted PKCS#8, SEC1, PKCS#1) or DER PKCS#12.
// passphrase: nullptr when absent (an encrypted key then fails; nothing ever prompts).
// Errors: kKeyDecode (undecodable, wrong passphrase, inconsistent key pair), kKeyUnsupported
// (decoded but neither EC P-256 nor RSA >= 2048), kInternal.
Result<std::shared_ptr<const MerchantKey>> ImportKey(Bytes data, const SecretBytes* passphrase);

}  // namespace applepay
