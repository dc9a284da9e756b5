// ImportKey over arbitrary bytes, with and without a passphrase. First byte: bit 0 set means a
// passphrase follows, its length in the second byte; the rest is the key file (PEM, DER or
// PKCS#12). Any accepted key must satisfy the MerchantKey invariants the token paths rely on.
#include <cstring>

#include "../p256.h"
#include "fuzz_common.h"

using namespace applepay_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Cursor in(data, size);
  const uint8_t mode = in.Byte();
  std::unique_ptr<SecretBytes> passphrase;
  if (mode & 1) {
    const std::vector<uint8_t> pass = in.Take(in.Byte());
    passphrase = std::make_unique<SecretBytes>(pass.size());
    if (!pass.empty()) std::memcpy(passphrase->data(), pass.data(), pass.size());
  }
  const std::vector<uint8_t> file = in.Rest();
  ClearErrorOnReturn clear_errors;
  Result<std::shared_ptr<const MerchantKey>> key = ImportKey(View(file), passphrase.get());
  if (file.empty()) FUZZ_CHECK(!key.ok() && key.error() == Error::kArgument);
  if (!key.ok()) {
    FUZZ_CHECK(key.error() != Error::kEphemeralKey && key.error() != Error::kDecrypt);
    return 0;
  }
  const MerchantKey& k = *key.value();
  FUZZ_CHECK(k.pkey != nullptr && k.gcm != nullptr);
  if (k.type == KeyType::kEc) {
    FUZZ_CHECK(k.bits == 256 && k.group && k.scalar && k.sha256);
    FUZZ_CHECK(k.spki.size() == kEphemeralSpkiSize);
    FUZZ_CHECK(std::memcmp(k.spki.data(), kP256SpkiPrefix, sizeof kP256SpkiPrefix) == 0);
    // The published SPKI is d*G, so ECDH with it must work: it is the point a token names.
    Result<SharedSecret> z = Ecdh(k, Bytes(k.spki));
    FUZZ_CHECK(z.ok());
  } else {
    FUZZ_CHECK(k.bits >= 2048 && k.bits <= 16384);
    FUZZ_CHECK(k.rsa_modulus_bytes == static_cast<size_t>((k.bits + 7) / 8));
    FUZZ_CHECK(!k.spki.empty());
  }
  return 0;
}
