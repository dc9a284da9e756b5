// Shared pieces of the libFuzzer targets: fixture keys, a cursor over the fuzz input, and a check
// that aborts (so libFuzzer records the input) when an invariant of the core API does not hold.
// The targets call the core functions directly; none of this is linked into the Node addon.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "../merchant_key.h"
#include "../ossl.h"
#include "../primitives.h"
#include "../result.h"
#include "../token.h"

namespace applepay_fuzz {

using namespace applepay;

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

#define FUZZ_CHECK(cond)                       \
  do {                                         \
    if (!(cond)) ::applepay_fuzz::Fail(#cond); \
  } while (0)

// The repository root comes from the environment so the binary can run from any directory;
// scripts/fuzz.sh sets it.
inline std::vector<uint8_t> ReadFixture(const std::string& relative) {
  const char* root = std::getenv("APPLEPAY_FUZZ_ROOT");
  const std::string path = std::string(root != nullptr ? root : ".") + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s (set APPLEPAY_FUZZ_ROOT to the repository root)\n",
                 path.c_str());
    std::exit(2);
  }
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Keys whose real tokens make the seed corpus decrypt: without them the fuzzer would rarely get
// past the tag check into the success path.
inline std::shared_ptr<const MerchantKey> LoadKey(const std::string& relative) {
  const std::vector<uint8_t> pem = ReadFixture(relative);
  Result<std::shared_ptr<const MerchantKey>> key = ImportKey(Bytes(pem), nullptr);
  if (!key.ok()) {
    std::fprintf(stderr, "fixture key %s does not import\n", relative.c_str());
    std::exit(2);
  }
  ERR_clear_error();
  return std::move(key.value());
}

// Consumes the fuzz input front to back; reads past the end give empty/zero values, so every
// input is a valid call description.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() {
    const uint16_t hi = Byte();
    return static_cast<uint16_t>((hi << 8) | Byte());
  }
  // Copies into an owned vector so ASan sees the exact extent of each argument: a read one byte
  // past it is then a reported overflow rather than a silent read of the neighbouring field.
  std::vector<uint8_t> Take(size_t n) {
    const size_t k = n < size_ - pos_ ? n : size_ - pos_;
    std::vector<uint8_t> out(data_ + pos_, data_ + pos_ + k);
    pos_ += k;
    return out;
  }
  std::vector<uint8_t> Rest() { return Take(size_ - pos_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Bytes over an owned vector, with a null pointer for an empty one (what the addon passes for an
// empty Uint8Array), so the core's empty-input paths get exercised exactly as in production.
inline Bytes View(const std::vector<uint8_t>& v) {
  return v.empty() ? Bytes() : Bytes(v.data(), v.size());
}

}  // namespace applepay_fuzz
