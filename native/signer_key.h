// The public key of a token's signer (Apple's leaf certificate key), decoded once and kept with
// what every verification would otherwise redo: the fetched SHA-256 and a verify context already
// initialised with the key, the padding and the digest. Immutable after ImportPublicKey returns
// (the lock only serialises reads of the template), so one instance is shared through
// shared_ptr<const SignerKey> by the JS handle and by in-flight pool-thread jobs.
//
// An EC key also carries its fixed-base verification state (fixed_base.h): the only part that
// changes after import, and only through atomics (a use counter, then a table published once).
//
// ImportPublicKey is defined in merchant_key.cc (it shares the curve and size rules with the
// merchant key import) and VerifySignature in primitives.cc.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include "fixed_base.h"
#include "merchant_key.h"
#include "ossl.h"
#include "result.h"

namespace applepay {

class SignerKey {
 public:
  // verify_template: EVP_PKEY_verify_init_ex done, on a context made from the key (which holds its
  // own reference to the EVP_PKEY, so the key needs no separate owner here).
  SignerKey(KeyType type, int bits, EvpMdPtr sha256, EvpPkeyCtxPtr verify_template,
            size_t signature_max_size)
      : type_(type),
        bits_(bits),
        sha256_(std::move(sha256)),
        verify_template_(std::move(verify_template)),
        signature_max_size_(signature_max_size),
        // The template's key is the imported one; a key whose coordinates cannot be read simply
        // has no fixed-base state and always verifies through EVP.
        fixed_base_(type == KeyType::kEc
                        ? NewFixedBaseState(EVP_PKEY_CTX_get0_pkey(verify_template_.get()))
                        : nullptr) {}
  // An EC P-256 key whose affine coordinates the caller already holds (the canonical SPKI's
  // 04||X||Y, which the key was just built from): reading them back through the provider costs
  // about 20 us, a third of a never-seen leaf's import.
  SignerKey(EvpMdPtr sha256, EvpPkeyCtxPtr verify_template, size_t signature_max_size,
            const uint8_t x[32], const uint8_t y[32])
      : type_(KeyType::kEc),
        bits_(256),
        sha256_(std::move(sha256)),
        verify_template_(std::move(verify_template)),
        signature_max_size_(signature_max_size),
        fixed_base_(NewFixedBaseState(x, y)) {}
  SignerKey(const SignerKey&) = delete;
  SignerKey& operator=(const SignerKey&) = delete;

  KeyType type() const { return type_; }
  int bits() const { return bits_; }
  const EVP_MD* sha256() const { return sha256_.get(); }
  // EC: the longest DER Ecdsa-Sig-Value of the curve (72 for P-256); RSA: the modulus length,
  // which is also the only length a PKCS#1 v1.5 signature may have.
  size_t signature_max_size() const { return signature_max_size_; }

  // A fresh verify context, ready for EVP_PKEY_verify: EVP_PKEY_CTX_dup of the template (about
  // 0.1 us, against 1.5 to 3 us for EVP_PKEY_CTX_new_from_pkey + EVP_PKEY_verify_init with its
  // provider lookups). The template itself is never used for an operation. OpenSSL 3.0's dup only
  // reads the source and takes atomic references, but OpenSSL does not document concurrent dups of
  // one context as safe, so they are serialised; the lock is held for the dup alone.
  // EC P-256 only (null otherwise): the table state. Shared so that a background build can hold
  // it without holding the key's OpenSSL objects.
  FixedBaseState* fixed_base() const { return fixed_base_.get(); }
  std::shared_ptr<FixedBaseState> fixed_base_shared() const { return fixed_base_; }

  EvpPkeyCtxPtr NewVerifyContext() const {
    std::lock_guard<std::mutex> lock(template_lock_);
    return EvpPkeyCtxPtr(EVP_PKEY_CTX_dup(verify_template_.get()));
  }

 private:
  const KeyType type_;
  const int bits_;
  const EvpMdPtr sha256_;
  const EvpPkeyCtxPtr verify_template_;
  const size_t signature_max_size_;
  mutable std::mutex template_lock_;
  const std::shared_ptr<FixedBaseState> fixed_base_;
};

// spki: DER SubjectPublicKeyInfo, nothing after it. Accepts EC P-256 given by its named-curve OID
// (uncompressed or compressed point) and RSA ("rsaEncryption", not RSA-PSS) of 2048 to 16384 bits.
// Errors: kKeyDecode (not a SubjectPublicKeyInfo OpenSSL decodes, trailing bytes, a point that is
// not a valid public key), kKeyUnsupported (any other key type, curve, explicit curve parameters or
// RSA size), kInternal.
Result<std::shared_ptr<const SignerKey>> ImportPublicKey(Bytes spki);

}  // namespace applepay
