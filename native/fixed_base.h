// ECDSA P-256 verification with precomputed fixed-base tables for both G and the signer's public
// key Q: R = u1*G + u2*Q becomes 74 table lookups and mixed additions, no doublings, which about
// halves the cost of OpenSSL's generic verification for a key that is used again and again (the
// token signer's key is the same for every token for years). See native/README.md, "Fixed-base
// ECDSA verification", for the design, the memory figures and how agreement with OpenSSL is proven.
//
// VERIFICATION ONLY: every input (the key, the message digest, the signature) is public, so the
// arithmetic is variable-time on purpose. Never use any of this with a secret scalar.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ossl.h"

namespace applepay {

// A precomputed table for one point; opaque outside fixed_base.cc.
struct P256Table;

// The fixed-base state of one EC signer key: its public point, the table once built, and the use
// counter that decides when the key is hot enough to deserve one. Owned through shared_ptr by the
// SignerKey and, while a build runs, by the build thread, so it lives as long as either needs it.
// Holds no OpenSSL object (the build thread may outlive the key's other members, even at exit).
class FixedBaseState {
 public:
  // Verifications through the EVP path before the table is built: a key seen this often is the
  // signer of a live merchant integration, not a one-off (the chain cache bounds how many keys can
  // get this far at once).
  static constexpr uint32_t kHotThreshold = 64;

  // x, y: the affine coordinates, big-endian, 32 bytes each (a point already validated on import).
  FixedBaseState(const uint8_t x[32], const uint8_t y[32]);
  ~FixedBaseState();
  FixedBaseState(const FixedBaseState&) = delete;
  FixedBaseState& operator=(const FixedBaseState&) = delete;

  // The published table, or null while none exists. Acquire pairs with the release in Publish, so
  // a reader that sees the pointer sees the finished table.
  const P256Table* table() const { return table_.load(std::memory_order_acquire); }

  // Counts one EVP-path verification; the call that makes the key hot claims the build and returns
  // true (exactly once per key).
  bool NoteUseAndClaimBuild();

  // Builds and publishes the table (and the process-wide G table on first use) on the calling
  // thread. About a millisecond of CPU and 148 KiB; false if memory ran out (the EVP path stays).
  // Idempotent and safe to call from several threads: the first finished table wins.
  bool BuildNow();

  // The build off the calling thread: a detached std::thread holding a reference to this state.
  // false if no thread could be started (the EVP path stays).
  static bool BuildInBackground(std::shared_ptr<FixedBaseState> state);

  // Test and bench hook: "none", "building", "ready" or "off".
  const char* Describe() const;

  // Bench hook: keeps a key without a table on the EVP path for good (the A/B comparison of the
  // token operation). false if the key already has a table or a build was already claimed.
  bool KeepOnEvp();

 private:
  uint8_t x_[32];
  uint8_t y_[32];
  std::atomic<const P256Table*> table_{nullptr};  // owned once published; freed in the destructor
  std::atomic<uint32_t> uses_{0};
  std::atomic<bool> build_claimed_{false};
  std::atomic<bool> kept_on_evp_{false};
};

// The fixed-base state for an EC P-256 public key (null for any other key, or if the coordinates
// cannot be read: the key then always takes the EVP path).
std::shared_ptr<FixedBaseState> NewFixedBaseState(const EVP_PKEY* pkey);
// The same from the coordinates themselves (big-endian, 32 bytes each) of a point already
// validated.
std::shared_ptr<FixedBaseState> NewFixedBaseState(const uint8_t x[32], const uint8_t y[32]);

// The verdict of ECDSA P-256 over a SHA-256 digest with the key's table, identical to OpenSSL 3's
// EVP_PKEY_verify for every input: the signature must be exactly the DER encoding OpenSSL would
// re-encode it to (so BER, negative or padded integers and trailing bytes fail), r and s in
// [1, n-1], and R = u1*G + u2*Q not the point at infinity with x(R) mod n == r.
bool FixedBaseVerify(const P256Table& table, const uint8_t digest[32], Bytes signature);

}  // namespace applepay
