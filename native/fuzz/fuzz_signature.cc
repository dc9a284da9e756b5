// The signer side: ImportPublicKey on arbitrary SubjectPublicKeyInfo bytes, VerifySignature, and
// the one token operation (RunToken, with and without a pending refusal), cross-checked against the
// separate steps. First byte:
//   0 ImportPublicKey(rest); an accepted key must then give a verdict (never an error) on any
//     signature.
//   1 EC_v1 and 2 RSA_v1: [u16 spki][spki][u16 message][message][u16 signature][signature]
//     [u16 key material][ephemeral key or wrappedKey][data = rest] (the messageDigest is computed
//     over these, so that the mutations reach the signature), with the gala-seatgeek-2014
//     (EC) or basistheory-rsa-2024 (RSA) merchant key. The seeds are those real tokens, whose
//     signatures verify, so mutations explore both sides of the signature check.
#include <cstring>

#include "fuzz_common.h"

using namespace applepay_fuzz;

namespace {
std::shared_ptr<const MerchantKey> ec_key;
std::shared_ptr<const MerchantKey> rsa_key;
std::vector<uint8_t> party_v;

void FuzzImport(Cursor& in) {
  const std::vector<uint8_t> spki = in.Rest();
  Result<std::shared_ptr<const SignerKey>> key = ImportPublicKey(View(spki));
  if (!key.ok()) {
    FUZZ_CHECK(key.error() == Error::kArgument || key.error() == Error::kKeyDecode ||
               key.error() == Error::kKeyUnsupported);
    FUZZ_CHECK(key.error() != Error::kArgument || spki.empty());
    return;
  }
  const SignerKey& k = *key.value();
  FUZZ_CHECK(k.type() == KeyType::kEc ? k.bits() == 256 : (k.bits() >= 2048 && k.bits() <= 16384));
  static const uint8_t kMessage[] = {1, 2, 3};
  for (size_t n : {size_t{1}, size_t{72}, k.signature_max_size()}) {
    std::vector<uint8_t> signature(n, 0x30);
    Result<bool> verdict = VerifySignature(k, Bytes(kMessage, sizeof kMessage), View(signature));
    FUZZ_CHECK(verdict.ok() && !verdict.value());
  }
}

void FuzzToken(Cursor& in, bool ec) {
  const std::vector<uint8_t> spki = in.Take(in.U16());
  const std::vector<uint8_t> message = in.Take(in.U16());
  const std::vector<uint8_t> signature = in.Take(in.U16());
  const std::vector<uint8_t> key_material = in.Take(in.U16());
  const std::vector<uint8_t> data = in.Rest();
  Result<std::shared_ptr<const SignerKey>> signer = ImportPublicKey(View(spki));
  if (!signer.ok()) return;
  const SignerKey& s = *signer.value();
  const MerchantKey& merchant = ec ? *ec_key : *rsa_key;

  Result<bool> verdict = VerifySignature(s, View(message), View(signature));
  // "A malformed signature is false, never an error."
  FUZZ_CHECK(verdict.ok());
  // The messageDigest of the signed content these bytes form (a fixed transactionId, no
  // applicationData), so the signature and the decryption are reached; a digest one bit off must
  // stop the operation before either.
  static const uint8_t kTransactionId[32] = {0x5a};
  uint8_t digest[32];
  {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    unsigned int written = 0;
    FUZZ_CHECK(ctx && EVP_DigestInit_ex2(ctx.get(), EVP_sha256(), nullptr) == 1 &&
               EVP_DigestUpdate(ctx.get(), key_material.data(), key_material.size()) == 1 &&
               EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
               EVP_DigestUpdate(ctx.get(), kTransactionId, sizeof kTransactionId) == 1 &&
               EVP_DigestFinal_ex(ctx.get(), digest, &written) == 1 && written == sizeof digest);
  }
  TokenInput input{&s,
                   View(message),
                   View(signature),
                   Bytes(digest, sizeof digest),
                   View(key_material),
                   View(data),
                   Bytes(kTransactionId, sizeof kTransactionId),
                   Bytes(),
                   &merchant,
                   ec ? Bytes(party_v) : Bytes()};
  PhaseTimes times;
  Result<SecretBytes> composed = RunToken(input, &times);
  // A pending refusal: the digest and the signature alone decide, whatever the rest holds.
  TokenInput refusal = input;
  refusal.key = nullptr;
  refusal.party_v = Bytes();
  Result<SecretBytes> refused = RunToken(refusal, nullptr);
  FUZZ_CHECK(verdict.value() ? (refused.ok() && refused.value().size() == 0)
                             : (!refused.ok() && refused.error() == Error::kSignature));
  uint8_t wrong[sizeof digest];
  std::memcpy(wrong, digest, sizeof digest);
  wrong[data.size() % sizeof wrong] ^= 0x01;
  TokenInput mismatch = refusal;
  mismatch.message_digest = Bytes(wrong, sizeof wrong);
  Result<SecretBytes> mismatched = RunToken(mismatch, nullptr);
  FUZZ_CHECK(!mismatched.ok() && mismatched.error() == Error::kDigest);
  if (s.type() != (ec ? KeyType::kEc : KeyType::kRsa)) {
    FUZZ_CHECK(!composed.ok() && composed.error() == Error::kArgument);
    return;
  }
  FUZZ_CHECK(times.signature_us >= 0 && times.decrypt_us >= 0);
  if (!verdict.value()) {
    // Nothing is decrypted behind a signature that does not verify.
    FUZZ_CHECK(!composed.ok() && composed.error() == Error::kSignature);
    FUZZ_CHECK(times.decrypt_us == 0);
    return;
  }
  Result<SecretBytes> separate =
      ec ? DecryptEcToken(merchant, View(key_material), Bytes(party_v), View(data))
         : DecryptRsaToken(merchant, View(key_material), View(data));
  FUZZ_CHECK(composed.ok() == separate.ok());
  if (composed.ok()) {
    FUZZ_CHECK(composed.value().size() == separate.value().size());
    FUZZ_CHECK(composed.value().size() == 0 ||
               std::memcmp(composed.value().data(), separate.value().data(),
                           composed.value().size()) == 0);
  } else {
    FUZZ_CHECK(composed.error() == separate.error());
  }
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ec_key = LoadKey("test-vectors/real/gala-seatgeek-2014/merchant_key.TEST-KEY.pem");
  rsa_key = LoadKey("test-vectors/real/basistheory-rsa-2024/merchant_key.TEST-KEY.pem");
  static const char kHex[] = "F938F4658CA2C1C9C38B8DFCB5DBB2A2245607DDE2F114620E8468EF52D208CA";
  for (size_t i = 0; i + 1 < sizeof kHex; i += 2) {
    party_v.push_back(static_cast<uint8_t>(std::stoi(std::string(kHex + i, 2), nullptr, 16)));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Cursor in(data, size);
  ClearErrorOnReturn clear_errors;
  switch (in.Byte() % 3) {
    case 0: FuzzImport(in); break;
    case 1: FuzzToken(in, true); break;
    default: FuzzToken(in, false); break;
  }
  return 0;
}
