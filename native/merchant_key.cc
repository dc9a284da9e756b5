#include "merchant_key.h"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <climits>
#include <cstring>
#include <string_view>

#include "p256.h"
#include "signer_key.h"

namespace applepay {
namespace {

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;  // OpenSSL's own ceiling for RSA private-key operations
// SEQUENCE(70) { INTEGER(33) 00||r, INTEGER(33) 00||s }: r and s are below the 256-bit order.
constexpr size_t kMaxEcdsaP256SignatureSize = 72;

struct DecodedKey {
  EvpPkeyPtr pkey;
  std::optional<std::vector<uint8_t>> certificate;
};

bool LooksLikePem(Bytes data) {
  static constexpr std::string_view kBegin = "-----BEGIN ";
  const std::string_view text(reinterpret_cast<const char*>(data.data), data.size);
  return text.find(kBegin) != std::string_view::npos;
}

// Supplies the caller's passphrase to OpenSSL's PEM and DER decoders. Without a callback OpenSSL
// falls back to its UI method and may prompt on the controlling terminal: a server process must
// never block on that, so "no passphrase" is an explicit failure (-1) instead.
int PassphraseCallback(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* pass = static_cast<const SecretBytes*>(userdata);
  if (pass == nullptr || size < 0 || pass->size() > static_cast<size_t>(size)) return -1;
  if (pass->size() > 0) std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

EvpPkeyPtr DecodePem(Bytes data, const SecretBytes* pass) {
  if (data.size > INT_MAX) return nullptr;
  BioPtr bio(BIO_new_mem_buf(data.data, static_cast<int>(data.size)));
  if (!bio) return nullptr;
  // PEM_read_bio_PrivateKey_ex skips blocks it cannot use (a CERTIFICATE before the key, as in
  // `openssl pkcs12 -nodes` output) and understands every private-key label, including
  // ENCRYPTED PRIVATE KEY and Proc-Type encrypted SEC1 / PKCS#1.
  return EvpPkeyPtr(PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, PassphraseCallback,
                                               const_cast<SecretBytes*>(pass), nullptr, nullptr));
}

EvpPkeyPtr DecodeDer(Bytes data, const SecretBytes* pass) {
  EVP_PKEY* raw = nullptr;
  // No structure given: PrivateKeyInfo, EncryptedPrivateKeyInfo and the type-specific SEC1 and
  // PKCS#1 structures are all tried.
  DecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "DER", nullptr, nullptr, EVP_PKEY_KEYPAIR,
                                                   nullptr, nullptr));
  if (!dctx) return nullptr;
  if (OSSL_DECODER_CTX_set_pem_password_cb(dctx.get(), PassphraseCallback,
                                           const_cast<SecretBytes*>(pass)) != 1) {
    return nullptr;
  }
  const unsigned char* p = data.data;
  size_t remaining = data.size;
  const int ok = OSSL_DECODER_from_data(dctx.get(), &p, &remaining);
  EvpPkeyPtr pkey(raw);
  // Trailing bytes mean the input was something else that merely starts like a key.
  if (ok != 1 || remaining != 0) return nullptr;
  return pkey;
}

std::optional<std::vector<uint8_t>> CertificateDer(X509* cert) {
  if (cert == nullptr) return std::nullopt;
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) return std::nullopt;
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509(cert, &p) != len) return std::nullopt;
  return der;
}

Pkcs12Ptr ReadPkcs12(Bytes data) {
  if (data.size > LONG_MAX) return nullptr;
  const unsigned char* p = data.data;
  Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data.size)));
  if (p12 && p != data.data + data.size) return nullptr;
  return p12;
}

// PKCS12_parse verifies the MAC with the given password, and for a null or empty one tries both
// the absent and the empty password, as Keychain and `openssl pkcs12 -passout pass:` differ. It
// returns the certificate whose public key matches the private key (or none).
Result<DecodedKey> ParsePkcs12InCurrentContext(Bytes data, const char* pass) {
  Pkcs12Ptr p12 = ReadPkcs12(data);
  if (!p12) return Error::kKeyDecode;
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  const int ok = PKCS12_parse(p12.get(), pass, &raw_key, &raw_cert, nullptr);
  EvpPkeyPtr key(raw_key);
  X509Ptr cert(raw_cert);
  if (ok != 1 || !key) return Error::kKeyDecode;
  return DecodedKey{std::move(key), CertificateDer(cert.get())};
}

// Makes `ctx` this thread's default library context for the guard's lifetime. Thread-local by
// OpenSSL's definition, so node:crypto and other threads never see it.
class DefaultLibCtxScope {
 public:
  explicit DefaultLibCtxScope(OSSL_LIB_CTX* ctx) : previous_(OSSL_LIB_CTX_set0_default(ctx)) {}
  ~DefaultLibCtxScope() { OSSL_LIB_CTX_set0_default(previous_); }
  DefaultLibCtxScope(const DefaultLibCtxScope&) = delete;
  DefaultLibCtxScope& operator=(const DefaultLibCtxScope&) = delete;
  bool ok() const { return previous_ != nullptr; }

 private:
  OSSL_LIB_CTX* previous_;
};

Result<SecretBytes> EncodePkcs8(EVP_PKEY* pkey) {
  EncoderCtxPtr ectx(
      OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", nullptr));
  if (!ectx) return Error::kKeyDecode;
  unsigned char* raw = nullptr;
  size_t len = 0;
  if (OSSL_ENCODER_to_data(ectx.get(), &raw, &len) != 1 || raw == nullptr) return Error::kKeyDecode;
  OsslSecretPtr der(raw, OsslSecretFree{len});
  SecretBytes copy(len);
  std::memcpy(copy.data(), der.get(), len);
  return copy;
}

// Keychain and `openssl pkcs12 -legacy` encrypt the certificate bag with RC2-40 (and the key
// with 3DES), and RC2 lives in OpenSSL 3's legacy provider, which Node does not load by default.
// Loading it into the process-wide context would change what node:crypto accepts, so the legacy
// parse runs in a private library context that exists only for this call; the key is moved out
// of it as PKCS#8 DER (wiped afterwards) and decoded again in the default context.
Result<DecodedKey> ParsePkcs12WithLegacyProvider(Bytes data, const char* pass) {
  LibCtxPtr lib(OSSL_LIB_CTX_new());
  if (!lib) return Error::kInternal;
  ProviderPtr default_provider(OSSL_PROVIDER_load(lib.get(), "default"));
  ProviderPtr legacy_provider(OSSL_PROVIDER_load(lib.get(), "legacy"));
  if (!default_provider || !legacy_provider) return Error::kKeyDecode;

  SecretBytes pkcs8;
  std::optional<std::vector<uint8_t>> certificate;
  {
    DefaultLibCtxScope scope(lib.get());
    if (!scope.ok()) return Error::kInternal;
    Result<DecodedKey> parsed = ParsePkcs12InCurrentContext(data, pass);
    if (!parsed.ok()) return parsed.error();
    Result<SecretBytes> encoded = EncodePkcs8(parsed.value().pkey.get());
    if (!encoded.ok()) return encoded.error();
    pkcs8 = std::move(encoded.value());
    certificate = std::move(parsed.value().certificate);
  }
  EvpPkeyPtr pkey = DecodeDer(pkcs8.view(), nullptr);
  if (!pkey) return Error::kKeyDecode;
  return DecodedKey{std::move(pkey), std::move(certificate)};
}

Result<DecodedKey> ParsePkcs12(Bytes data, const SecretBytes* pass) {
  // PKCS12_parse takes a C string, so the passphrase gets a terminator; an embedded NUL could
  // never be the password of a PKCS#12 file OpenSSL reads.
  SecretBytes c_pass;
  if (pass != nullptr) {
    // memchr needs a valid pointer even for zero bytes, and an empty vector has none.
    if (pass->size() > 0 && std::memchr(pass->data(), 0, pass->size()) != nullptr) {
      return Error::kKeyDecode;
    }
    c_pass = SecretBytes(pass->size() + 1);
    if (pass->size() > 0) std::memcpy(c_pass.data(), pass->data(), pass->size());
    c_pass.data()[pass->size()] = 0;
  }
  const char* p = pass != nullptr ? reinterpret_cast<const char*>(c_pass.data()) : nullptr;

  Result<DecodedKey> parsed = ParsePkcs12InCurrentContext(data, p);
  if (parsed.ok()) return parsed;
  // Any failure (wrong password included) gets the second attempt: telling "needs RC2" apart from
  // the rest would mean parsing OpenSSL's error queue, and a retry only costs a few milliseconds.
  ERR_clear_error();
  return ParsePkcs12WithLegacyProvider(data, p);
}

Result<DecodedKey> Decode(Bytes data, const SecretBytes* pass) {
  if (LooksLikePem(data)) {
    EvpPkeyPtr pkey = DecodePem(data, pass);
    if (!pkey) return Error::kKeyDecode;
    return DecodedKey{std::move(pkey), std::nullopt};
  }
  // A PKCS#8 or SEC1 structure can never parse as a complete PFX, so this order is unambiguous.
  if (ReadPkcs12(data)) return ParsePkcs12(data, pass);
  ERR_clear_error();
  EvpPkeyPtr pkey = DecodeDer(data, pass);
  if (!pkey) return Error::kKeyDecode;
  return DecodedKey{std::move(pkey), std::nullopt};
}

bool IsP256(EVP_PKEY* pkey) {
  char name[80];
  size_t len = 0;
  // Fails for explicit-parameter keys, which are refused like any other curve.
  if (EVP_PKEY_get_group_name(pkey, name, sizeof name, &len) != 1) return false;
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

Result<MerchantKey> BuildEcKey(EvpPkeyPtr pkey) {
  if (!IsP256(pkey.get())) return Error::kKeyUnsupported;
  MerchantKey key;
  key.type = KeyType::kEc;
  key.bits = 256;

  BIGNUM* raw_scalar = nullptr;
  if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw_scalar) != 1) {
    return Error::kKeyDecode;  // a public key only
  }
  key.scalar.reset(raw_scalar);
  BN_set_flags(key.scalar.get(), BN_FLG_CONSTTIME);

  key.group.reset(EC_GROUP_new_by_curve_name_ex(nullptr, nullptr, NID_X9_62_prime256v1));
  BnCtxPtr bn_ctx(BN_CTX_secure_new());
  EcPointPtr public_point(key.group ? EC_POINT_new(key.group.get()) : nullptr);
  if (!key.group || !bn_ctx || !public_point) return Error::kInternal;

  const BIGNUM* order = EC_GROUP_get0_order(key.group.get());
  if (BN_is_zero(key.scalar.get()) || BN_is_negative(key.scalar.get()) ||
      BN_cmp(key.scalar.get(), order) >= 0) {
    return Error::kKeyDecode;
  }

  // The SPKI is rebuilt from d*G rather than taken from the file: it is then the exact encoding
  // Apple hashes (named curve, uncompressed), whatever form the file used, and it is guaranteed to
  // belong to the scalar the ECDH will use.
  if (EC_POINT_mul(key.group.get(), public_point.get(), key.scalar.get(), nullptr, nullptr,
                   bn_ctx.get()) != 1) {
    return Error::kInternal;
  }
  uint8_t encoded[kP256PointSize];
  if (EC_POINT_point2oct(key.group.get(), public_point.get(), POINT_CONVERSION_UNCOMPRESSED,
                         encoded, sizeof encoded, bn_ctx.get()) != sizeof encoded) {
    return Error::kInternal;
  }
  // A SEC1 or PKCS#8 file may carry a public key of its own; one that is not d*G means the file is
  // corrupt or spliced, and importing it would publish a publicKeyHash we cannot decrypt for.
  uint8_t stored[kP256PointSize + 1];
  size_t stored_len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, stored, sizeof stored,
                                      &stored_len) == 1) {
    EcPointPtr stored_point(EC_POINT_new(key.group.get()));
    if (!stored_point) return Error::kInternal;
    if (EC_POINT_oct2point(key.group.get(), stored_point.get(), stored, stored_len, bn_ctx.get()) !=
            1 ||
        EC_POINT_cmp(key.group.get(), stored_point.get(), public_point.get(), bn_ctx.get()) != 0) {
      return Error::kKeyDecode;
    }
  }
  ERR_clear_error();  // a key without a stored public point leaves a harmless error behind

  key.spki.reserve(sizeof kP256SpkiPrefix + sizeof encoded);
  key.spki.insert(key.spki.end(), kP256SpkiPrefix, kP256SpkiPrefix + sizeof kP256SpkiPrefix);
  key.spki.insert(key.spki.end(), encoded, encoded + sizeof encoded);

  key.gcm.reset(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  key.sha256.reset(EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
  if (!key.gcm || !key.sha256) return Error::kInternal;
  key.pkey = std::move(pkey);
  return key;
}

Result<MerchantKey> BuildRsaKey(EvpPkeyPtr pkey) {
  const int bits = EVP_PKEY_get_bits(pkey.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return Error::kKeyUnsupported;

  BIGNUM* raw_d = nullptr;
  if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_D, &raw_d) != 1) {
    return Error::kKeyDecode;  // a public key only
  }
  BignumPtr d(raw_d);  // only probed for presence; wiped on release

  MerchantKey key;
  key.type = KeyType::kRsa;
  key.bits = bits;
  const int spki_len = i2d_PUBKEY(pkey.get(), nullptr);
  if (spki_len <= 0) return Error::kInternal;
  key.spki.resize(static_cast<size_t>(spki_len));
  unsigned char* p = key.spki.data();
  if (i2d_PUBKEY(pkey.get(), &p) != spki_len) return Error::kInternal;

  const int size = EVP_PKEY_get_size(pkey.get());
  if (size <= 0) return Error::kInternal;
  key.rsa_modulus_bytes = static_cast<size_t>(size);
  key.gcm.reset(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr));
  if (!key.gcm) return Error::kInternal;
  key.pkey = std::move(pkey);
  return key;
}

// ---------------------------------------------------------------------------------------------
// Signer public keys (signer_key.h). Same curve and size rules as the merchant key, plus: the
// curve must be given by its name (the SPKI of every certificate Apple issues does so), and the
// point must be a valid public key.

bool HasStringParam(EVP_PKEY* pkey, const char* name, std::string_view expected) {
  char value[32];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, name, value, sizeof value, &len) != 1) return false;
  return std::string_view(value, len) == expected;
}

// The template every verification of this key duplicates: SHA-256 as the signature digest for
// both types (OpenSSL then refuses a to-be-verified input other than 32 bytes and, for RSA,
// compares the complete DigestInfo) and PKCS#1 v1.5 padding for RSA.
EvpPkeyCtxPtr MakeVerifyTemplate(EVP_PKEY* pkey, KeyType type) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx) return nullptr;
  char digest[] = OSSL_DIGEST_NAME_SHA2_256;
  char pad_mode[] = OSSL_PKEY_RSA_PAD_MODE_PKCSV15;
  OSSL_PARAM params[3];
  size_t n = 0;
  if (type == KeyType::kRsa) {
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, pad_mode, 0);
  }
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, digest, 0);
  params[n] = OSSL_PARAM_construct_end();
  if (EVP_PKEY_verify_init_ex(ctx.get(), params) != 1) return nullptr;
  return ctx;
}

}  // namespace

Result<std::shared_ptr<const MerchantKey>> ImportKey(Bytes data, const SecretBytes* passphrase) {
  if (data.size == 0) return Error::kArgument;
  Result<DecodedKey> decoded = Decode(data, passphrase);
  if (!decoded.ok()) return decoded.error();
  EvpPkeyPtr pkey = std::move(decoded.value().pkey);

  Result<MerchantKey> built = Error::kKeyUnsupported;
  // EVP_PKEY_is_a rather than the legacy numeric id: RSA-PSS, SM2, Ed25519 and friends all decode
  // fine and must land in kKeyUnsupported, never in a path that assumes RSA or P-256.
  if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    built = BuildEcKey(std::move(pkey));
  } else if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
    built = BuildRsaKey(std::move(pkey));
  }
  if (!built.ok()) return built.error();
  built.value().certificate = std::move(decoded.value().certificate);
  return std::make_shared<const MerchantKey>(std::move(built.value()));
}

namespace {

// The SPKI every Apple leaf carries (p256.h), built from its parameters. OpenSSL's generic path
// (the d2i decoder chain, then a full public-key check with its n*Q scalar multiplication) cost
// about 0.7 ms here, paid by every never-seen leaf; this one costs about 35 us. EVP_PKEY_fromdata
// already refuses a point off the curve, and a 65-byte 04||X||Y cannot encode infinity; the quick
// check repeats both from the key itself. P-256's cofactor is 1, so a point on the curve other than
// infinity has order n: the order check of the full check adds nothing. A null key means "not this
// exact shape" (the generic path decides).
Result<EvpPkeyPtr> DecodeCanonicalP256(Bytes spki) {
  if (spki.size != sizeof kP256SpkiPrefix + kP256PointSize ||
      std::memcmp(spki.data, kP256SpkiPrefix, sizeof kP256SpkiPrefix) != 0 ||
      spki.data[sizeof kP256SpkiPrefix] != 0x04) {
    return EvpPkeyPtr();
  }
  const Bytes point = spki.last(kP256PointSize);
  char group_name[] = SN_X9_62_prime256v1;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(point.data),
                                        point.size),
      OSSL_PARAM_construct_end(),
  };
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return Error::kInternal;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    EVP_PKEY_free(raw);
    return Error::kKeyDecode;
  }
  EvpPkeyPtr pkey(raw);
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check) return Error::kInternal;
  if (EVP_PKEY_public_check_quick(check.get()) != 1) return Error::kKeyDecode;
  return pkey;
}

}  // namespace

Result<std::shared_ptr<const SignerKey>> ImportPublicKey(Bytes spki) {
  if (spki.size == 0 || spki.size > LONG_MAX) return Error::kArgument;
  Result<EvpPkeyPtr> canonical = DecodeCanonicalP256(spki);
  if (!canonical.ok()) return canonical.error();
  if (canonical.value()) {
    EvpMdPtr sha256(EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
    EvpPkeyCtxPtr verify_template = MakeVerifyTemplate(canonical.value().get(), KeyType::kEc);
    if (!sha256 || !verify_template) return Error::kInternal;
    const uint8_t* point = spki.data + sizeof kP256SpkiPrefix;
    return std::make_shared<const SignerKey>(std::move(sha256), std::move(verify_template),
                                             kMaxEcdsaP256SignatureSize, point + 1, point + 33);
  }
  const unsigned char* p = spki.data;
  EvpPkeyPtr pkey(d2i_PUBKEY_ex(nullptr, &p, static_cast<long>(spki.size), nullptr, nullptr));
  // Trailing bytes: the input is something else that merely starts like a key.
  if (!pkey || p != spki.data + spki.size) return Error::kKeyDecode;

  const int bits = EVP_PKEY_get_bits(pkey.get());
  KeyType type = KeyType::kEc;
  size_t signature_max_size = 0;
  if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    if (!IsP256(pkey.get()) ||
        !HasStringParam(pkey.get(), OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_GROUP)) {
      return Error::kKeyUnsupported;
    }
    // RFC 5480: the hybrid point form (06/07) MUST NOT be used; OpenSSL would decode it.
    // The decoder records the form of the encoded point as the key's conversion format.
    if (HasStringParam(pkey.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                       OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_HYBRID)) {
      return Error::kKeyDecode;
    }
    // The decoder already refuses points off the curve; the full public-key check also refuses the
    // point at infinity (a one-byte 00 encoding) and checks the order, once per key.
    EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check) return Error::kInternal;
    if (EVP_PKEY_public_check(check.get()) != 1) return Error::kKeyDecode;
    signature_max_size = kMaxEcdsaP256SignatureSize;
  } else if (EVP_PKEY_is_a(pkey.get(), "RSA")) {  // not RSA-PSS: its keys carry their own rules
    if (bits < kMinRsaBits || bits > kMaxRsaBits) return Error::kKeyUnsupported;
    type = KeyType::kRsa;
    const int size = EVP_PKEY_get_size(pkey.get());
    if (size <= 0) return Error::kInternal;
    signature_max_size = static_cast<size_t>(size);
  } else {
    return Error::kKeyUnsupported;
  }

  EvpMdPtr sha256(EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
  EvpPkeyCtxPtr verify_template = MakeVerifyTemplate(pkey.get(), type);
  if (bits <= 0 || !sha256 || !verify_template) return Error::kInternal;
  return std::make_shared<const SignerKey>(type, bits, std::move(sha256),
                                           std::move(verify_template), signature_max_size);
}

}  // namespace applepay
