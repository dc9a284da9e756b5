// Ownership vocabulary for the addon: every OpenSSL object lives in one of these unique_ptr types,
// secret bytes live in SecretBytes / SecretArray (cleansed on destruction), and every entry point
// holds a ClearErrorOnReturn. There is no manual free anywhere else in native/.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace applepay {

// A borrowed, read-only byte range. Never owns; the caller guarantees the bytes outlive the call.
struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;

  Bytes() = default;
  Bytes(const uint8_t* d, size_t n) : data(d), size(n) {}
  template <size_t N>
  Bytes(const std::array<uint8_t, N>& a) : data(a.data()), size(N) {}       // NOLINT
  Bytes(const std::vector<uint8_t>& v) : data(v.data()), size(v.size()) {}  // NOLINT

  Bytes first(size_t n) const { return Bytes(data, n); }
  Bytes last(size_t n) const { return Bytes(data + (size - n), n); }
};

// Heap bytes that are wiped before the memory is released. Sized once; never grown (growth would
// leave an uncleansed copy behind in the old allocation).
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n) : v_(n) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept : v_(std::move(other.v_)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      v_ = std::move(other.v_);
    }
    return *this;
  }
  ~SecretBytes() { Wipe(); }

  uint8_t* data() { return v_.data(); }
  const uint8_t* data() const { return v_.data(); }
  size_t size() const { return v_.size(); }
  Bytes view() const { return Bytes(v_.data(), v_.size()); }

  // Shrinks to n bytes, wiping the tail first (resize never reallocates when shrinking).
  void Truncate(size_t n) {
    if (n < v_.size()) {
      OPENSSL_cleanse(v_.data() + n, v_.size() - n);
      v_.resize(n);
    }
  }

 private:
  void Wipe() {
    if (!v_.empty()) OPENSSL_cleanse(v_.data(), v_.size());
  }
  std::vector<uint8_t> v_;
};

// Fixed-size secret kept by value (Z, K): no allocation on the hot path, wiped on every exit.
template <size_t N>
class SecretArray {
 public:
  SecretArray() = default;
  SecretArray(const SecretArray& other) : a_(other.a_) {}
  SecretArray& operator=(const SecretArray&) = delete;
  ~SecretArray() { OPENSSL_cleanse(a_.data(), N); }

  uint8_t* data() { return a_.data(); }
  const uint8_t* data() const { return a_.data(); }
  static constexpr size_t size() { return N; }
  Bytes view() const { return Bytes(a_.data(), N); }

 private:
  std::array<uint8_t, N> a_{};
};

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};

// EC points and bignums may hold secrets (the shared point, the private scalar), so their deleters
// are the clearing variants unconditionally.
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP, EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_clear_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpCipherPtr = std::unique_ptr<EVP_CIPHER, Deleter<EVP_CIPHER, EVP_CIPHER_free>>;
using EvpCipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using EvpMdPtr = std::unique_ptr<EVP_MD, Deleter<EVP_MD, EVP_MD_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Pkcs12Ptr = std::unique_ptr<PKCS12, Deleter<PKCS12, PKCS12_free>>;
using DecoderCtxPtr =
    std::unique_ptr<OSSL_DECODER_CTX, Deleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;
using EncoderCtxPtr =
    std::unique_ptr<OSSL_ENCODER_CTX, Deleter<OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free>>;
using LibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, Deleter<OSSL_LIB_CTX, OSSL_LIB_CTX_free>>;

inline void FreeBio(BIO* b) { BIO_free_all(b); }
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, FreeBio>>;

inline void UnloadProvider(OSSL_PROVIDER* p) { OSSL_PROVIDER_unload(p); }
using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, Deleter<OSSL_PROVIDER, UnloadProvider>>;

// Memory from OpenSSL's allocator that may hold key material (encoded private keys).
struct OsslSecretFree {
  size_t size = 0;
  void operator()(unsigned char* p) const { OPENSSL_clear_free(p, size); }
};
using OsslSecretPtr = std::unique_ptr<unsigned char, OsslSecretFree>;

// The OpenSSL error queue is per thread and shared with node:crypto, which assumes it is empty
// when its own calls start. Every entry point (JS thread or libuv pool thread) holds one of these
// so that nothing the addon provoked is left behind for node:crypto to misreport, and nothing
// stale from before skews our own checks.
class ClearErrorOnReturn {
 public:
  ClearErrorOnReturn() { ERR_clear_error(); }
  ~ClearErrorOnReturn() { ERR_clear_error(); }
  ClearErrorOnReturn(const ClearErrorOnReturn&) = delete;
  ClearErrorOnReturn& operator=(const ClearErrorOnReturn&) = delete;
};

}  // namespace applepay
