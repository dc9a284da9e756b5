#include "token.h"

#include "primitives.h"

namespace applepay {
namespace {

constexpr uint8_t kZeroIv[kAppleIvSize] = {};
constexpr size_t kMinDataSize = kGcmTagSize + 1;

Result<SecretBytes> DecryptPayload(const EVP_CIPHER* cipher, Bytes key, Bytes data) {
  return AesGcmDecrypt(cipher, key, Bytes(kZeroIv, sizeof kZeroIv), Bytes(),
                       data.first(data.size - kGcmTagSize), data.last(kGcmTagSize));
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

Result<SecretBytes> VerifyAndDecryptEcToken(const SignerKey& signer, Bytes message,
                                            Bytes signature, const MerchantKey& key,
                                            Bytes ephemeral_spki, Bytes party_v, Bytes data) {
  if (signer.type() != KeyType::kEc || key.type != KeyType::kEc) return Error::kArgument;
  if (party_v.size != kPartyVSize) return Error::kArgument;
  Result<bool> verified = RequireSignature(signer, message, signature);
  if (!verified.ok()) return verified.error();
  return DecryptEcToken(key, ephemeral_spki, party_v, data);
}

Result<SecretBytes> VerifyAndDecryptRsaToken(const SignerKey& signer, Bytes message,
                                             Bytes signature, const MerchantKey& key,
                                             Bytes wrapped_key, Bytes data) {
  if (signer.type() != KeyType::kRsa || key.type != KeyType::kRsa) return Error::kArgument;
  Result<bool> verified = RequireSignature(signer, message, signature);
  if (!verified.ok()) return verified.error();
  return DecryptRsaToken(key, wrapped_key, data);
}

}  // namespace applepay
