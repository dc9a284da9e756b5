#include "token.h"

#include <chrono>
#include <initializer_list>

#include "primitives.h"

namespace applepay {
namespace {

constexpr uint8_t kZeroIv[kAppleIvSize] = {};
constexpr size_t kMinDataSize = kGcmTagSize + 1;
constexpr size_t kMessageDigestSize = 32;

Result<SecretBytes> DecryptPayload(const EVP_CIPHER* cipher, Bytes key, Bytes data) {
  return AesGcmDecrypt(cipher, key, Bytes(kZeroIv, sizeof kZeroIv), Bytes(),
                       data.first(data.size - kGcmTagSize), data.last(kGcmTagSize));
}

// kDigest unless SHA-256(key_material || data || transaction_id || application_data) is the
// message digest the signer signed. The signer key's fetched SHA-256: no provider lookup per call.
Result<bool> RequireDigest(const SignerKey& signer, const TokenInput& in) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Error::kInternal;
  if (EVP_DigestInit_ex2(ctx.get(), signer.sha256(), nullptr) != 1) return Error::kInternal;
  for (const Bytes* part : {&in.key_material, &in.data, &in.transaction_id, &in.application_data}) {
    if (part->size > 0 && EVP_DigestUpdate(ctx.get(), part->data, part->size) != 1) {
      return Error::kInternal;
    }
  }
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int written = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &written) != 1 || written != kMessageDigestSize) {
    return Error::kInternal;
  }
  if (CRYPTO_memcmp(digest, in.message_digest.data, kMessageDigestSize) != 0) return Error::kDigest;
  return true;
}

// kSignature unless the signature verifies (then the Result holds true and is only checked for ok).
Result<bool> RequireSignature(const SignerKey& signer, Bytes message, Bytes signature) {
  Result<bool> verified = VerifySignature(signer, message, signature);
  if (verified.ok() && !verified.value()) return Error::kSignature;
  return verified;
}

}  // namespace

Result<SecretBytes> DecryptEcToken(const MerchantKey& key, Bytes ephemeral_spki, Bytes party_v,
                                   Bytes data) {
  if (key.type != KeyType::kEc) return Error::kArgument;
  if (party_v.size != kPartyVSize) return Error::kArgument;
  // Checked before the scalar multiplication: the length is public and the check is free.
  if (data.size < kMinDataSize) return Error::kDecrypt;

  Result<SharedSecret> z = Ecdh(key, ephemeral_spki);
  if (!z.ok()) return z.error();
  Result<DerivedKey> k = AppleKdf(key.sha256.get(), z.value().view(), party_v);
  if (!k.ok()) return k.error();
  return DecryptPayload(key.gcm.get(), k.value().view(), data);
}

Result<SecretBytes> DecryptRsaToken(const MerchantKey& key, Bytes wrapped_key, Bytes data) {
  if (key.type != KeyType::kRsa) return Error::kArgument;
  // Before the private-key operation, so a truncated token costs no RSA decryption.
  if (data.size < kMinDataSize) return Error::kDecrypt;

  Result<SecretBytes> k = RsaOaepDecrypt(key, wrapped_key, Bytes());
  if (!k.ok()) return k.error();
  // Same code as a padding or tag failure: the caller must not learn which step rejected it.
  if (k.value().size() != kRsaUnwrappedKeySize) return Error::kDecrypt;
  return DecryptPayload(key.gcm.get(), k.value().view(), data);
}

namespace {

double MicrosecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

Result<SecretBytes> RunToken(const TokenInput& in, PhaseTimes* times) {
  if (in.signer == nullptr) return Error::kArgument;
  if (in.message_digest.size != kMessageDigestSize) return Error::kArgument;
  if (in.key != nullptr) {
    if (in.signer->type() != in.key->type) return Error::kArgument;
    if (in.key->type == KeyType::kEc && in.party_v.size != kPartyVSize) return Error::kArgument;
    if (in.key->type == KeyType::kRsa && in.party_v.size != 0) return Error::kArgument;
  }
  auto start = std::chrono::steady_clock::now();
  Result<bool> verified = RequireDigest(*in.signer, in);
  if (verified.ok()) verified = RequireSignature(*in.signer, in.message, in.signature);
  if (times != nullptr) times->signature_us = MicrosecondsSince(start);
  if (!verified.ok()) return verified.error();
  if (in.key == nullptr) return SecretBytes();

  start = std::chrono::steady_clock::now();
  Result<SecretBytes> plaintext =
      in.key->type == KeyType::kEc ? DecryptEcToken(*in.key, in.key_material, in.party_v, in.data)
                                   : DecryptRsaToken(*in.key, in.key_material, in.data);
  if (times != nullptr) times->decrypt_us = MicrosecondsSince(start);
  return plaintext;
}

}  // namespace applepay
