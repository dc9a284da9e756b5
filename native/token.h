// The one token operation, built only from primitives.h, and the one copy of Apple's order inside
// the addon: the signer's messageDigest against the signed content first, then the signature, then
// (only if both hold and no refusal is pending) the decryption. Shared by the synchronous call (JS
// thread) and the thread-pool job: everything here is reentrant and touches the keys read-only.
#pragma once

#include "merchant_key.h"
#include "ossl.h"
#include "result.h"
#include "signer_key.h"

namespace applepay {

// One token, as the boundary read it (borrowed bytes that outlive RunToken).
struct TokenInput {
  const SignerKey* signer = nullptr;
  Bytes message;         // the signed attributes, re-tagged as a SET (what the signature covers)
  Bytes signature;       // the SignerInfo's signature
  Bytes message_digest;  // the signed attributes' messageDigest: SHA-256, exactly 32 bytes
  // The signed content, in the order the messageDigest covers it
  // (docs/token-format.md#signed-content). The first two are also what the decryption reads.
  Bytes key_material;      // the header key: EC_v1 the ephemeral key's SPKI; RSA_v1 wrappedKey
  Bytes data;              // ciphertext || 16-byte GCM tag
  Bytes transaction_id;    // the transactionId's bytes
  Bytes application_data;  // applicationData's bytes; empty when the token has none
  // Null when TypeScript has already decided to refuse the token (a stale signing time, an unknown
  // merchant key): the digest and the signature are still checked, because a bad signature
  // outranks those codes, and nothing is decrypted. Otherwise the merchant key, of the signer's
  // type.
  const MerchantKey* key = nullptr;
  Bytes party_v;  // EC_v1 with a key: SHA-256 of the merchant identifier; otherwise empty
};

// Phase durations in microseconds, for diagnostics; measured on every call (two clock reads per
// phase), so a subscriber never changes which code runs.
struct PhaseTimes {
  double signature_us = 0;
  double decrypt_us = 0;
};

// SHA-256 over the signed content must equal message_digest (kDigest otherwise, compared in
// constant time, the content hashed part by part, never concatenated). Then the signature over
// `message` by `signer`; kSignature unless it verifies. Then, with a key, the decryption of the
// version the key's type names (EC_v1: ECDH -> AppleKdf -> AES-256-GCM; RSA_v1: RSA-OAEP ->
// AES-128-GCM), whose every failure is kDecrypt (kEphemeralKey for an unusable ephemeral key).
// Without a key, an empty SecretBytes once the signature verified. Argument errors (a
// message_digest that is not 32 bytes, a signer or merchant key of the other type, a partyV that is
// not 32 bytes) come first: they are the caller's mistakes, not the token's.
Result<SecretBytes> RunToken(const TokenInput& input, PhaseTimes* times);

// The decryption steps on their own, for the fuzz targets that cross-check RunToken. Not exposed
// to JavaScript: the addon never decrypts behind an unchecked signature.
Result<SecretBytes> DecryptEcToken(const MerchantKey& key, Bytes ephemeral_spki, Bytes party_v,
                                   Bytes data);
Result<SecretBytes> DecryptRsaToken(const MerchantKey& key, Bytes wrapped_key, Bytes data);

}  // namespace applepay
