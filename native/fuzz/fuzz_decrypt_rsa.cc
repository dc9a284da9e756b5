// DecryptRsaToken with the basistheory-rsa-2024 merchant key (RSA-2048). Layout: two bytes
// (big-endian) giving wrappedKey's length, wrappedKey, then `data` (ciphertext || tag).
#include "fuzz_common.h"

using namespace applepay_fuzz;

namespace {
std::shared_ptr<const MerchantKey> key;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  key = LoadKey("test-vectors/real/basistheory-rsa-2024/merchant_key.TEST-KEY.pem");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Cursor in(data, size);
  const std::vector<uint8_t> wrapped = in.Take(in.U16());
  const std::vector<uint8_t> payload = in.Rest();
  ClearErrorOnReturn clear_errors;
  Result<SecretBytes> out = DecryptRsaToken(*key, View(wrapped), View(payload));
  if (out.ok()) {
    FUZZ_CHECK(wrapped.size() == key->rsa_modulus_bytes);
    FUZZ_CHECK(payload.size() >= kGcmTagSize + 1);
    FUZZ_CHECK(out.value().size() == payload.size() - kGcmTagSize);
  } else {
    FUZZ_CHECK(out.error() == Error::kDecrypt);
  }
  return 0;
}
