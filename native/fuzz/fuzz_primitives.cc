// The single primitives with every argument under the fuzzer's control (the token paths fix some
// of them). First byte picks the function:
//   0 AesGcmDecrypt: key-length selector, IV length, AAD length, tag length, then key, IV, AAD,
//     tag and the ciphertext (the rest).
//   1 AppleKdf: Z length, Party V length, then Z and Party V.
//   2 Ecdh: the ephemeral key (the rest), with the gala-seatgeek-2014 key.
//   3 RsaOaepDecrypt: label length (1 byte), label, ciphertext (the rest), with the
//     basistheory-rsa-2024 key.
#include "fuzz_common.h"

using namespace applepay_fuzz;

namespace {
std::shared_ptr<const MerchantKey> ec_key;
std::shared_ptr<const MerchantKey> rsa_key;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ec_key = LoadKey("test-vectors/real/gala-seatgeek-2014/merchant_key.TEST-KEY.pem");
  rsa_key = LoadKey("test-vectors/real/basistheory-rsa-2024/merchant_key.TEST-KEY.pem");
  return 0;
}

namespace {

void FuzzAesGcm(Cursor& in) {
  const uint8_t key_selector = in.Byte();
  const size_t iv_len = in.Byte();
  const size_t aad_len = in.Byte();
  const size_t tag_len = in.Byte() % 33;
  // Mostly the three real key sizes; otherwise an arbitrary length against AES-256-GCM, which the
  // function must refuse as an argument error.
  static const size_t kKeySizes[] = {16, 24, 32};
  const size_t key_len = key_selector < 240 ? kKeySizes[key_selector % 3] : key_selector % 64;
  const EVP_CIPHER* cipher = key_len == 16   ? EVP_aes_128_gcm()
                             : key_len == 24 ? EVP_aes_192_gcm()
                                             : EVP_aes_256_gcm();
  const std::vector<uint8_t> key = in.Take(key_len);
  const std::vector<uint8_t> iv = in.Take(iv_len);
  const std::vector<uint8_t> aad = in.Take(aad_len);
  const std::vector<uint8_t> tag = in.Take(tag_len);
  const std::vector<uint8_t> ciphertext = in.Rest();
  Result<SecretBytes> out =
      AesGcmDecrypt(cipher, View(key), View(iv), View(aad), View(ciphertext), View(tag));
  if (out.ok()) {
    FUZZ_CHECK(tag.size() == kGcmTagSize);
    FUZZ_CHECK(!iv.empty() && iv.size() <= kMaxGcmIvSize);
    FUZZ_CHECK(key.size() == static_cast<size_t>(EVP_CIPHER_get_key_length(cipher)));
    FUZZ_CHECK(out.value().size() == ciphertext.size());
  } else {
    FUZZ_CHECK(out.error() == Error::kArgument || out.error() == Error::kDecrypt);
  }
}

void FuzzKdf(Cursor& in) {
  const size_t z_len = in.Byte();
  const size_t party_v_len = in.Byte();
  const std::vector<uint8_t> z = in.Take(z_len);
  const std::vector<uint8_t> party_v = in.Take(party_v_len);
  Result<DerivedKey> k = AppleKdf(EVP_sha256(), View(z), View(party_v));
  FUZZ_CHECK(k.ok() == (z.size() == kSharedSecretSize && party_v.size() == kPartyVSize));
  if (!k.ok()) FUZZ_CHECK(k.error() == Error::kArgument);
}

void FuzzEcdh(Cursor& in) {
  const std::vector<uint8_t> ephemeral = in.Rest();
  Result<SharedSecret> z = Ecdh(*ec_key, View(ephemeral));
  if (z.ok()) {
    FUZZ_CHECK(ephemeral.size() == kEphemeralSpkiSize && ephemeral[26] == 0x04);
  } else {
    FUZZ_CHECK(z.error() == Error::kEphemeralKey);
  }
  // The wrong key type is an argument error, whatever the bytes.
  Result<SharedSecret> wrong = Ecdh(*rsa_key, View(ephemeral));
  FUZZ_CHECK(!wrong.ok() && wrong.error() == Error::kArgument);
}

void FuzzRsaOaep(Cursor& in) {
  const std::vector<uint8_t> label = in.Take(in.Byte());
  const std::vector<uint8_t> ciphertext = in.Rest();
  Result<SecretBytes> out = RsaOaepDecrypt(*rsa_key, View(ciphertext), View(label));
  if (out.ok()) {
    FUZZ_CHECK(ciphertext.size() == rsa_key->rsa_modulus_bytes);
    // OAEP with SHA-256 carries at most k - 2*32 - 2 message bytes.
    FUZZ_CHECK(out.value().size() <= rsa_key->rsa_modulus_bytes - 66);
  } else {
    FUZZ_CHECK(out.error() == Error::kDecrypt);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Cursor in(data, size);
  ClearErrorOnReturn clear_errors;
  switch (in.Byte() % 4) {
    case 0: FuzzAesGcm(in); break;
    case 1: FuzzKdf(in); break;
    case 2: FuzzEcdh(in); break;
    default: FuzzRsaOaep(in); break;
  }
  return 0;
}
