// The cryptographic steps of Apple's procedure (docs/token-format.md#signed-data,
// #key-derivation, #key-unwrap, #decryption), each usable on its own. token.cc composes the one
// token operation from exactly these functions, and addon.cc exposes them individually for
// known-answer and Wycheproof tests and the bench's OpenSSL limit: one implementation of each step.
#pragma once

#include <cstddef>
#include <cstdint>

#include "merchant_key.h"
#include "ossl.h"
#include "result.h"
#include "signer_key.h"

namespace applepay {

constexpr size_t kSharedSecretSize = 32;  // P-256 field element, always left-padded
constexpr size_t kPartyVSize = 32;        // SHA-256 of the merchant identifier
constexpr size_t kKdfOutputSize = 32;     // one SHA-256 round = the AES-256 key
constexpr size_t kGcmTagSize = 16;        // never accept a truncated tag
constexpr size_t kAppleIvSize = 16;       // sixteen zero bytes, not GCM's usual 12
constexpr size_t kMaxGcmIvSize = 128;     // OpenSSL 3.0's GCM provider rejects longer IVs
constexpr size_t kEphemeralSpkiSize = 91;
constexpr size_t kRsaUnwrappedKeySize = 16;

using SharedSecret = SecretArray<kSharedSecretSize>;
using DerivedKey = SecretArray<kKdfOutputSize>;

// The signer's signature over SHA-256(message), by the key's type: ECDSA P-256 with a DER
// Ecdsa-Sig-Value (OpenSSL re-encodes what it parsed and requires the same bytes, so BER and every
// other non-canonical encoding fail; r and s must lie in [1, n-1]), or RSASSA-PKCS1-v1_5 with the
// SHA-256 DigestInfo and a signature of exactly the modulus length. The boolean is the verdict: a
// malformed signature is false, never an error. kInternal only if no digest or context can be made.
// A hot P-256 key verifies through its fixed-base table (fixed_base.h) with the same verdicts.
Result<bool> VerifySignature(const SignerKey& key, Bytes message, Bytes signature);

// Test and bench hooks for the proof that both paths agree (native/README.md): the EVP path
// whatever the key's state, and the fixed-base path, building the key's table on the calling thread
// first if there is none (kArgument for a key without fixed-base state: RSA; kInternal if the
// table cannot be built). The same length rules and verdicts as VerifySignature.
Result<bool> VerifySignatureEvp(const SignerKey& key, Bytes message, Bytes signature);
Result<bool> VerifySignatureFixedBase(const SignerKey& key, Bytes message, Bytes signature);

// Z = x-coordinate of d * Q, exactly 32 bytes. Accepts only the 91-byte named-curve P-256 SPKI with
// an uncompressed point on the curve (kEphemeralKey otherwise); kArgument for a non-EC key.
Result<SharedSecret> Ecdh(const MerchantKey& key, Bytes ephemeral_spki);

// K = SHA-256(00000001 || Z || 0D || "id-aes256-GCM" || "Apple" || PartyV). Z and PartyV must be
// exactly 32 bytes each (kArgument). sha256 is the caller's: fetched per key on the token path.
Result<DerivedKey> AppleKdf(const EVP_MD* sha256, Bytes z, Bytes party_v);

// AES-GCM decryption with an explicit IV length (set before the IV). key must match the cipher's
// key length, iv 1..kMaxGcmIvSize bytes, tag exactly 16 (kArgument otherwise). A tag mismatch is
// kDecrypt, and no plaintext survives it.
Result<SecretBytes> AesGcmDecrypt(const EVP_CIPHER* cipher, Bytes key, Bytes iv, Bytes aad,
                                  Bytes ciphertext, Bytes tag);

// RSAES-OAEP with SHA-256 and MGF1-SHA-256. ciphertext must be exactly the modulus length; every
// failure (length, padding) is the same kDecrypt. kArgument for a non-RSA key.
Result<SecretBytes> RsaOaepDecrypt(const MerchantKey& key, Bytes ciphertext, Bytes label);

}  // namespace applepay
