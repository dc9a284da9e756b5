// The closed set of failures the C++ core can report, and the Result type every core function
// returns. Nothing in here knows about N-API: addon.cc is the only place that turns an Error into a
// JavaScript exception (see ToJsError there), so the mapping to `err.code` lives in one spot.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace applepay {

// Mirrors NATIVE_CODES in lib/native.ts, in the same order. Adding a value is a contract change.
enum class Error {
  kArgument,        // ERR_ARGUMENT
  kKeyDecode,       // ERR_KEY_DECODE
  kKeyUnsupported,  // ERR_KEY_UNSUPPORTED
  kEphemeralKey,    // ERR_EPHEMERAL_KEY
  kDecrypt,         // ERR_DECRYPT
  kInternal,        // ERR_INTERNAL
  kSignature,       // ERR_SIGNATURE (appended: the codes above keep their positions)
  kDigest,          // ERR_DIGEST (appended)
};

// A value or an Error; deliberately minimal (no exceptions cross the core, no message text).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(error) {}         // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  Error error() const {
    assert(!ok());
    return std::get<Error>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

}  // namespace applepay
