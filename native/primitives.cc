#include "primitives.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <climits>
#include <cstring>

#include "p256.h"

namespace applepay {

namespace {

// The fixed-base path (fixed_base.h) takes over from EVP for a hot P-256 signer key once its
// table is published. Enabled only because it agrees with EVP_PKEY_verify on every Wycheproof
// vector and on the randomised proof (bench/fixed-base-proof.ts, native/README.md).
constexpr bool kFixedBaseEnabled = true;

// Lengths no valid signature can have are refused before any work: OpenSSL would otherwise
// parse up to a megabyte of DER integers (EC), and it left-pads a short RSA signature.
bool PlausibleLength(const SignerKey& key, Bytes signature) {
  if (signature.size == 0 || signature.size > key.signature_max_size()) return false;
  return key.type() != KeyType::kRsa || signature.size == key.signature_max_size();
}

bool Sha256(const SignerKey& key, Bytes message, uint8_t digest[32]) {
  unsigned int digest_len = 0;
  return EVP_Digest(message.data, message.size, digest, &digest_len, key.sha256(), nullptr) == 1 &&
         digest_len == 32;
}

Result<bool> EvpVerify(const SignerKey& key, const uint8_t digest[32], Bytes signature) {
  EvpPkeyCtxPtr ctx = key.NewVerifyContext();
  if (!ctx) return Error::kInternal;
  // 1 is a valid signature. 0 is a mismatch, and a negative value is OpenSSL failing to decode the
  // signature (the key was validated at import): both mean "does not verify".
  return EVP_PKEY_verify(ctx.get(), signature.data, signature.size, digest, 32) == 1;
}

}  // namespace

Result<bool> VerifySignature(const SignerKey& key, Bytes message, Bytes signature) {
  if (!PlausibleLength(key, signature)) return false;
  uint8_t digest[32];
  if (!Sha256(key, message, digest)) return Error::kInternal;
  FixedBaseState* fixed_base = kFixedBaseEnabled ? key.fixed_base() : nullptr;
  if (fixed_base != nullptr) {
    if (const P256Table* table = fixed_base->table()) {
      return FixedBaseVerify(*table, digest, signature);
    }
    // The build runs on its own thread: this call (perhaps on the JS thread) only starts it,
    // once per key, and verifies through EVP like every call until the table is published.
    if (fixed_base->NoteUseAndClaimBuild()) {
      FixedBaseState::BuildInBackground(key.fixed_base_shared());
    }
  }
  return EvpVerify(key, digest, signature);
}

Result<bool> VerifySignatureEvp(const SignerKey& key, Bytes message, Bytes signature) {
  if (!PlausibleLength(key, signature)) return false;
  uint8_t digest[32];
  if (!Sha256(key, message, digest)) return Error::kInternal;
  return EvpVerify(key, digest, signature);
}

Result<bool> VerifySignatureFixedBase(const SignerKey& key, Bytes message, Bytes signature) {
  FixedBaseState* fixed_base = key.fixed_base();
  if (fixed_base == nullptr) return Error::kArgument;
  if (!fixed_base->BuildNow()) return Error::kInternal;
  if (!PlausibleLength(key, signature)) return false;
  uint8_t digest[32];
  if (!Sha256(key, message, digest)) return Error::kInternal;
  return FixedBaseVerify(*fixed_base->table(), digest, signature);
}

Result<SharedSecret> Ecdh(const MerchantKey& key, Bytes ephemeral_spki) {
  if (key.type != KeyType::kEc) return Error::kArgument;

  // Byte-exact match instead of a DER parser: the generic SPKI decoder costs far more than the
  // whole ECDH, and OpenSSL would also accept explicit-parameter encodings (Wycheproof: invalid)
  // and compressed or hybrid points that Apple never sends. One encoding is valid; all others fail.
  if (ephemeral_spki.size != kEphemeralSpkiSize ||
      std::memcmp(ephemeral_spki.data, kP256SpkiPrefix, sizeof kP256SpkiPrefix) != 0) {
    return Error::kEphemeralKey;
  }
  const Bytes point = ephemeral_spki.last(kP256PointSize);
  // 0x06/0x07 (hybrid) points are 65 bytes too and EC_POINT_oct2point would take them.
  if (point.data[0] != POINT_CONVERSION_UNCOMPRESSED) return Error::kEphemeralKey;

  const EC_GROUP* group = key.group.get();
  BnCtxPtr bn_ctx(BN_CTX_secure_new());
  EcPointPtr peer(EC_POINT_new(group));
  EcPointPtr shared(EC_POINT_new(group));
  BignumPtr x(BN_secure_new());
  if (!bn_ctx || !peer || !shared || !x) return Error::kInternal;

  // oct2point already refuses off-curve coordinates; the explicit checks keep that guarantee from
  // depending on an implementation detail. Infinity cannot be encoded as 04||X||Y but costs nothing
  // to rule out.
  if (EC_POINT_oct2point(group, peer.get(), point.data, point.size, bn_ctx.get()) != 1 ||
      EC_POINT_is_at_infinity(group, peer.get()) ||
      EC_POINT_is_on_curve(group, peer.get(), bn_ctx.get()) != 1) {
    return Error::kEphemeralKey;
  }
  // P-256 has cofactor 1, so plain d*Q is the SP 800-56A primitive. The scalar carries
  // BN_FLG_CONSTTIME; OpenSSL's variable-point multiplication is constant-time for it.
  if (EC_POINT_mul(group, shared.get(), nullptr, peer.get(), key.scalar.get(), bn_ctx.get()) != 1) {
    return Error::kInternal;
  }
  if (EC_POINT_is_at_infinity(group, shared.get())) return Error::kEphemeralKey;
  if (EC_POINT_get_affine_coordinates(group, shared.get(), x.get(), nullptr, bn_ctx.get()) != 1) {
    return Error::kInternal;
  }
  SharedSecret z;
  // Fixed width: a minimal encoding would drop leading zero bytes (about 1 token in 256).
  if (BN_bn2binpad(x.get(), z.data(), static_cast<int>(z.size())) != static_cast<int>(z.size())) {
    return Error::kInternal;
  }
  return z;
}

Result<DerivedKey> AppleKdf(const EVP_MD* sha256, Bytes z, Bytes party_v) {
  static constexpr uint8_t kCounter[] = {0x00, 0x00, 0x00, 0x01};
  // AlgorithmID is length-prefixed (0x0D = 13 = strlen("id-aes256-GCM")); PartyUInfo is "Apple".
  static constexpr char kAlgorithmId[] =
      "\x0d"
      "id-aes256-GCM";
  static constexpr char kPartyU[] = "Apple";

  if (z.size != kSharedSecretSize || party_v.size != kPartyVSize) return Error::kArgument;
  if (sha256 == nullptr || EVP_MD_get_size(sha256) != static_cast<int>(kKdfOutputSize)) {
    return Error::kInternal;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Error::kInternal;
  DerivedKey k;
  unsigned int written = 0;
  // Updates instead of a concatenated buffer: one fewer copy of Z to wipe. The digest context is
  // cleansed by EVP_MD_CTX_free.
  if (EVP_DigestInit_ex2(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), kCounter, sizeof kCounter) != 1 ||
      EVP_DigestUpdate(ctx.get(), z.data, z.size) != 1 ||
      EVP_DigestUpdate(ctx.get(), kAlgorithmId, sizeof kAlgorithmId - 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), kPartyU, sizeof kPartyU - 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), party_v.data, party_v.size) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), k.data(), &written) != 1 || written != k.size()) {
    return Error::kInternal;
  }
  return k;
}

Result<SecretBytes> AesGcmDecrypt(const EVP_CIPHER* cipher, Bytes key, Bytes iv, Bytes aad,
                                  Bytes ciphertext, Bytes tag) {
  if (cipher == nullptr) return Error::kInternal;
  if (key.size != static_cast<size_t>(EVP_CIPHER_get_key_length(cipher))) return Error::kArgument;
  // OpenSSL accepts any tag length from 1 to 16 and then compares only that many bytes.
  if (tag.size != kGcmTagSize) return Error::kArgument;
  if (iv.size == 0 || iv.size > kMaxGcmIvSize) return Error::kArgument;
  if (aad.size > INT_MAX || ciphertext.size > INT_MAX) return Error::kArgument;

  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Error::kInternal;
  // The IV length must be set after choosing the cipher and before supplying the IV; with the
  // default (12) OpenSSL would silently use only the first 12 of Apple's 16 bytes.
  if (EVP_DecryptInit_ex2(ctx.get(), cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(iv.size), nullptr) !=
          1 ||
      EVP_DecryptInit_ex2(ctx.get(), nullptr, key.data, iv.data, nullptr) != 1) {
    return Error::kInternal;
  }
  int len = 0;
  if (aad.size > 0 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data, static_cast<int>(aad.size)) != 1) {
    return Error::kInternal;
  }
  SecretBytes out(ciphertext.size);
  size_t total = 0;
  // A null output pointer would make the provider treat the input as AAD: skip empty updates.
  if (ciphertext.size > 0) {
    if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext.data,
                          static_cast<int>(ciphertext.size)) != 1) {
      return Error::kInternal;
    }
    total = static_cast<size_t>(len);
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size),
                          const_cast<uint8_t*>(tag.data)) != 1) {
    return Error::kInternal;
  }
  uint8_t sink[EVP_MAX_BLOCK_LENGTH];
  uint8_t* final_out = total < out.size() ? out.data() + total : sink;
  // GCM produces no bytes at Final; the unauthenticated plaintext already in `out` is wiped by
  // its destructor when we return the error.
  if (EVP_DecryptFinal_ex(ctx.get(), final_out, &len) != 1) return Error::kDecrypt;
  if (len != 0) return Error::kInternal;
  out.Truncate(total);
  return out;
}

Result<SecretBytes> RsaOaepDecrypt(const MerchantKey& key, Bytes ciphertext, Bytes label) {
  if (key.type != KeyType::kRsa) return Error::kArgument;
  // OpenSSL would left-pad a short input and decrypt it; the encoding has exactly one length.
  if (ciphertext.size != key.rsa_modulus_bytes) return Error::kDecrypt;

  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
  if (!ctx) return Error::kInternal;
  char pad_mode[] = OSSL_PKEY_RSA_PAD_MODE_OAEP;
  char digest[] = OSSL_DIGEST_NAME_SHA2_256;
  char mgf1_digest[] = OSSL_DIGEST_NAME_SHA2_256;
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, pad_mode, 0);
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, digest, 0);
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, mgf1_digest, 0);
  if (label.size > 0) {
    // The provider copies the label; the const_cast only satisfies OSSL_PARAM's signature.
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
                                                    const_cast<uint8_t*>(label.data), label.size);
  }
  params[n] = OSSL_PARAM_construct_end();
  if (EVP_PKEY_decrypt_init_ex(ctx.get(), params) != 1) return Error::kInternal;

  SecretBytes out(key.rsa_modulus_bytes);
  size_t out_len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &out_len, ciphertext.data, ciphertext.size) != 1) {
    return Error::kDecrypt;
  }
  if (out_len > out.size()) return Error::kInternal;
  out.Truncate(out_len);
  return out;
}

}  // namespace applepay
