// Two bulk passes that JavaScript makes at about a nanosecond per character on a one-byte string
// (a regular expression or a charCodeAt loop) and C makes at memory speed:
//
//   mayHoldControlCharacters(text)  false when no UTF-16 unit of the text is below U+0020; the
//                                   strict JSON reader then skips its per-string check.
//   decodeBase64Into(text, out)     decodes canonical base64 (docs/token-format.md#strict-decoding)
//                                   into `out`, whose length the caller computed from the text;
//                                   false for anything that is not the one canonical encoding of
//                                   `out.length` bytes (`out` is then garbage, to be dropped).
//
// The decoder reads UTF-16 code units (a one-byte copy would fold U+0141 onto 'A'). It uses SSE2 at
// most, never wider vectors: Node's decoder uses AVX-512 where the CPU has it, which was suspected
// of slowing the native call after it (docs/performance.md has what was measured).
#include "codec.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define APPLEPAY_CODEC_SSE2 1
#endif

namespace applepay {
namespace {

// Strings up to this many code units are copied onto the stack; longer ones (never a real token
// field, but a caller may pass a 64 KB token) onto the heap.
constexpr size_t kStackUnits = 4096;

// The standard alphabet (RFC 4648 table 1) as four tables, each holding a symbol's six bits already
// at their place in a 24-bit group, so that one quantum is four loads and three ORs. Bit 24 marks
// every byte value that is not a symbol; units above 255 are caught apart (see DecodeCanonical).
constexpr uint32_t kNotSymbol = 1u << 24;
struct Alphabet {
  uint32_t at[4][256];
  constexpr Alphabet() : at() {
    for (int k = 0; k < 4; k++) {
      for (int i = 0; i < 256; i++) at[k][i] = kNotSymbol;
    }
    const char* symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (uint32_t v = 0; v < 64; v++) {
      const uint8_t symbol = static_cast<uint8_t>(symbols[v]);
      for (int k = 0; k < 4; k++) at[k][symbol] = v << (18 - 6 * k);
    }
  }
};
constexpr Alphabet kAlphabet;

inline uint32_t Symbol(int k, char16_t unit) { return kAlphabet.at[k][unit & 0xFF]; }

// Four units as a 24-bit group (plus kNotSymbol if any is not a symbol); their OR goes into `wide`.
inline uint32_t Quantum(const char16_t* units, uint32_t* wide) {
  const uint32_t a = units[0], b = units[1], c = units[2], d = units[3];
  *wide |= a | b | c | d;
  return Symbol(0, a) | Symbol(1, b) | Symbol(2, c) | Symbol(3, d);
}

[[noreturn]] void ThrowArgument(Napi::Env env, const char* argument) {
  // The same shape as addon.cc's ERR_ARGUMENT: a programming error, never input-dependent text.
  Napi::Error error = Napi::TypeError::New(env, std::string("Invalid argument: ") + argument);
  error.Set("code", Napi::String::New(env, "ERR_ARGUMENT"));
  throw error;
}

// The string's UTF-16 code units, copied once (N-API offers no borrowed view of a string).
class Units {
 public:
  Units(Napi::Env env, napi_value value) {
    size_t length = 0;
    if (napi_get_value_string_utf16(env, value, nullptr, 0, &length) != napi_ok) {
      ThrowArgument(env, "text");
    }
    if (length >= kStackUnits) {
      heap_.reset(new char16_t[length + 1]);
      data_ = heap_.get();
    } else {
      data_ = stack_;
    }
    size_t copied = 0;
    if (napi_get_value_string_utf16(env, value, data_, length + 1, &copied) != napi_ok ||
        copied != length) {
      ThrowArgument(env, "text");
    }
    size_ = length;
  }
  Units(const Units&) = delete;
  Units& operator=(const Units&) = delete;

  const char16_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  char16_t stack_[kStackUnits];
  std::unique_ptr<char16_t[]> heap_;
  char16_t* data_ = nullptr;
  size_t size_ = 0;
};

// The string's low bytes, copied once: a unit below U+0020 stays below 0x20, so a text whose copy
// has no such byte has no such unit. A wide unit can only add false alarms (U+0101 reads as 0x01),
// which send the caller to its exact check.
Napi::Value MayHoldControlCharacters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) ThrowArgument(env, "text");
  size_t length = 0;
  if (napi_get_value_string_latin1(env, info[0], nullptr, 0, &length) != napi_ok) {
    ThrowArgument(env, "text");
  }
  char stack[kStackUnits * 2];
  std::unique_ptr<char[]> heap;
  char* bytes = stack;
  if (length >= sizeof stack) {
    heap.reset(new char[length + 1]);
    bytes = heap.get();
  }
  size_t copied = 0;
  if (napi_get_value_string_latin1(env, info[0], bytes, length + 1, &copied) != napi_ok ||
      copied != length) {
    ThrowArgument(env, "text");
  }
  const uint8_t* units = reinterpret_cast<const uint8_t*>(bytes);
  // No early exit, so that the compiler vectorises the loop.
  int hit = 0;
  for (size_t i = 0; i < length; i++) hit |= units[i] < 0x20;
  return Napi::Boolean::New(env, hit != 0);
}

#ifdef APPLEPAY_CODEC_SSE2
// Sixteen units at once with SSE2 only (every x86-64 CPU has it; nothing wider, so no AVX-512
// either): their 12 bytes into out[0..12] plus one scratch byte at out[12], which the caller has
// room for. false if any unit is not a symbol of the standard alphabet.
inline bool DecodeBlock16(const char16_t* units, uint8_t* out) {
  const __m128i low = _mm_loadu_si128(reinterpret_cast<const __m128i*>(units));
  const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(units + 8));
  // Signed saturation: 0x0100-0x7FFF become 0xFF and 0x8000-0xFFFF become 0x00, neither a symbol.
  const __m128i x = _mm_packus_epi16(low, high);
  // Signed compares: bytes from 0x80 up are negative and fall in no range.
  const auto in = [&x](char first, char last) {
    return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(first - 1))),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(last + 1))));
  };
  const __m128i upper = in('A', 'Z');
  const __m128i lower = in('a', 'z');
  const __m128i digit = in('0', '9');
  const __m128i plus = _mm_cmpeq_epi8(x, _mm_set1_epi8('+'));
  const __m128i slash = _mm_cmpeq_epi8(x, _mm_set1_epi8('/'));
  const __m128i valid =
      _mm_or_si128(_mm_or_si128(upper, lower), _mm_or_si128(digit, _mm_or_si128(plus, slash)));
  if (_mm_movemask_epi8(valid) != 0xFFFF) return false;
  // Each class's distance from its symbols to their six-bit values: A=0, a=26, 0=52, +=62, /=63.
  __m128i shift = _mm_and_si128(upper, _mm_set1_epi8(-'A'));
  shift = _mm_or_si128(shift, _mm_and_si128(lower, _mm_set1_epi8(26 - 'a')));
  shift = _mm_or_si128(shift, _mm_and_si128(digit, _mm_set1_epi8(52 - '0')));
  shift = _mm_or_si128(shift, _mm_and_si128(plus, _mm_set1_epi8(62 - '+')));
  shift = _mm_or_si128(shift, _mm_and_si128(slash, _mm_set1_epi8(63 - '/')));
  const __m128i sextets = _mm_add_epi8(x, shift);
  // Pairs to 12 bits in each 16-bit lane (first symbol in the low byte), then to 24 bits per lane.
  const __m128i pairs = _mm_or_si128(
      _mm_slli_epi16(_mm_and_si128(sextets, _mm_set1_epi16(0xFF)), 6), _mm_srli_epi16(sextets, 8));
  const __m128i groups = _mm_madd_epi16(pairs, _mm_set1_epi32(0x00011000));
  // Each 32-bit lane holds its three bytes with the first at bits 16-23: reversed into memory
  // order, then each 64-bit half squeezed to six bytes, written as two overlapping eight-byte
  // stores.
  const __m128i ordered = _mm_or_si128(
      _mm_or_si128(_mm_srli_epi32(groups, 16), _mm_and_si128(groups, _mm_set1_epi32(0x0000FF00))),
      _mm_slli_epi32(_mm_and_si128(groups, _mm_set1_epi32(0x000000FF)), 16));
  const __m128i squeezed = _mm_or_si128(
      _mm_and_si128(ordered, _mm_set1_epi64x(0x00000000FFFFFFFFLL)),
      _mm_and_si128(_mm_srli_epi64(ordered, 8), _mm_set1_epi64x(0x0000FFFFFF000000LL)));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), squeezed);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 6), _mm_srli_si128(squeezed, 8));
  return true;
}
#endif

// Canonical means: a multiple of four units, all from the standard alphabet except one or two
// final '=' and exactly as many as the byte count needs, and zero in the bits the padding leaves
// unused, so that no second text decodes to the same bytes.
bool DecodeCanonical(const char16_t* __restrict text, size_t size, uint8_t* __restrict out,
                     size_t out_size) {
  if (size % 4 != 0) return false;
  if (size == 0) return out_size == 0;
  size_t padding = 0;
  if (text[size - 1] == u'=') padding = text[size - 2] == u'=' ? 2 : 1;
  if (out_size != size / 4 * 3 - padding) return false;
  const size_t full = padding == 0 ? size : size - 4;
  uint32_t invalid = 0;
  // The tables see a unit's low byte only; a unit above 255 shows in the OR of all of them.
  uint32_t wide = 0;
  size_t i = 0;
  size_t o = 0;
#ifdef APPLEPAY_CODEC_SSE2
  // Blocks while at least one more full quantum follows (room for the two scratch bytes).
  for (; i + 16 < full; i += 16, o += 12) {
    if (!DecodeBlock16(text + i, out + o)) return false;
  }
#endif
  // One four-byte store per quantum (its fourth byte overwritten by the next) while room follows.
  for (; i + 4 < full; i += 4, o += 3) {
    const uint32_t v = Quantum(text + i, &wide);
    invalid |= v;
    const uint8_t bytes[4] = {static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                              static_cast<uint8_t>(v), 0};
    std::memcpy(out + o, bytes, 4);
  }
  for (; i < full; i += 4, o += 3) {
    const uint32_t v = Quantum(text + i, &wide);
    invalid |= v;
    out[o] = static_cast<uint8_t>(v >> 16);
    out[o + 1] = static_cast<uint8_t>(v >> 8);
    out[o + 2] = static_cast<uint8_t>(v);
  }
  if ((invalid & kNotSymbol) || (wide >> 8)) return false;
  if (padding == 0) return true;
  const char16_t* last = text + size - 4;
  if ((last[0] | last[1] | last[2]) >> 8) return false;
  uint8_t* tail = out + full / 4 * 3;
  if (padding == 2) {
    // "xy==": one byte; the low four bits of y are unused and must be zero.
    const uint32_t v = Symbol(0, last[0]) | Symbol(1, last[1]);
    if (v & (kNotSymbol | 0xF000)) return false;
    tail[0] = static_cast<uint8_t>(v >> 16);
    return true;
  }
  // "xyz=": two bytes; the low two bits of z are unused and must be zero.
  const uint32_t v = Symbol(0, last[0]) | Symbol(1, last[1]) | Symbol(2, last[2]);
  if (v & (kNotSymbol | 0x00C0)) return false;
  tail[0] = static_cast<uint8_t>(v >> 16);
  tail[1] = static_cast<uint8_t>(v >> 8);
  return true;
}

Napi::Value DecodeBase64Into(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) ThrowArgument(env, "text");
  if (!info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArgument(env, "out");
  }
  Napi::Uint8Array out = info[1].As<Napi::Uint8Array>();
  if (out.ArrayBuffer().IsDetached()) ThrowArgument(env, "out");
  const Units text(env, info[0]);
  return Napi::Boolean::New(
      env, DecodeCanonical(text.data(), text.size(), out.Data(), out.ByteLength()));
}

}  // namespace

void RegisterCodec(Napi::Env env, Napi::Object exports) {
  exports.DefineProperties({
      Napi::PropertyDescriptor::Function(env, exports, "mayHoldControlCharacters",
                                         MayHoldControlCharacters, napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "decodeBase64Into", DecodeBase64Into,
                                         napi_enumerable),
  });
}

}  // namespace applepay
