// DecryptEcToken with the gala-seatgeek-2014 merchant key and Party V, so a seed made from that
// real token decrypts and mutations explore the paths around a valid token. Layout: one byte
// giving the ephemeral key's length, the ephemeral key, then `data` (ciphertext || tag).
#include "fuzz_common.h"

using namespace applepay_fuzz;

namespace {
std::shared_ptr<const MerchantKey> key;
std::vector<uint8_t> party_v;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  key = LoadKey("test-vectors/real/gala-seatgeek-2014/merchant_key.TEST-KEY.pem");
  // SHA-256("merchant.com.seatgeek.SeatGeek"), from the real set's meta.json.
  static const char kHex[] = "F938F4658CA2C1C9C38B8DFCB5DBB2A2245607DDE2F114620E8468EF52D208CA";
  for (size_t i = 0; i + 1 < sizeof kHex; i += 2) {
    party_v.push_back(static_cast<uint8_t>(std::stoi(std::string(kHex + i, 2), nullptr, 16)));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Cursor in(data, size);
  const std::vector<uint8_t> ephemeral = in.Take(in.Byte());
  const std::vector<uint8_t> payload = in.Rest();
  ClearErrorOnReturn clear_errors;
  Result<SecretBytes> out = DecryptEcToken(*key, View(ephemeral), Bytes(party_v), View(payload));
  if (out.ok()) {
    FUZZ_CHECK(ephemeral.size() == kEphemeralSpkiSize);
    FUZZ_CHECK(payload.size() >= kGcmTagSize + 1);
    FUZZ_CHECK(out.value().size() == payload.size() - kGcmTagSize);
  } else {
    // Only the token-level failures (and nothing that blames the caller's arguments).
    FUZZ_CHECK(out.error() == Error::kEphemeralKey || out.error() == Error::kDecrypt);
  }
  return 0;
}
