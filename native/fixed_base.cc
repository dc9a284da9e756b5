// Fixed-base ECDSA P-256 verification (see fixed_base.h and native/README.md).
//
// VARIABLE-TIME BY DESIGN: this file only ever handles public values (a public key, a digest of
// signed data, a signature), so branches and table indices depend on them freely. Nothing secret
// may be passed to any function here.
//
// Arithmetic: field elements mod p and scalars mod n are four 64-bit limbs (little-endian limb
// order) in Montgomery form with R = 2^256, multiplied by word-serial Montgomery reduction with
// unsigned __int128. Every operation returns a fully reduced value, so equal values have equal
// limbs and comparisons are plain limb compares.
//
// Tables: signed 7-bit windows. A scalar k < 2^256 is recoded into 37 digits d_i in [-63, 64]
// with k = sum d_i * 2^(7i); window i of a point P holds j * 2^(7i) * P for j = 1..64 in affine
// coordinates, and -d uses the negated point (y -> p - y, free). k*P is then at most 37 mixed
// additions and no doubling. 37 * 64 * 64 bytes = 151,552 bytes (148 KiB) per point.
#include "fixed_base.h"

#include <openssl/core_names.h>

#include <cstring>
#include <new>
#include <system_error>
#include <thread>
#include <utility>

// The arithmetic needs unsigned __int128 (GCC and Clang on 64-bit targets: Linux, macOS on x64 and
// arm64). Elsewhere (MSVC) no key gets fixed-base state and every signature goes through EVP.
#if defined(__SIZEOF_INT128__)

// The arithmetic below is written as loops over four limbs; fully unrolled and inlined (what these
// hints ask GCC and Clang for) a point addition measured about a quarter faster with GCC 12.
#define APPLEPAY_UNROLL _Pragma("GCC unroll 8")
#define APPLEPAY_INLINE inline __attribute__((always_inline))

namespace applepay {
namespace {

using u64 = uint64_t;
using u128 = unsigned __int128;

struct Fe {
  u64 v[4];
};

// The field prime p = 2^256 - 2^224 + 2^192 + 2^96 - 1 and the group order n of P-256
// (docs/token-format.md names the curve; the values are the curve's published domain parameters).
struct ModP {
  static constexpr Fe m = {
      {0xffffffffffffffffULL, 0x00000000ffffffffULL, 0x0000000000000000ULL, 0xffffffff00000001ULL}};
  static constexpr u64 n0 = 0x1ULL;  // -m^-1 mod 2^64
  static constexpr bool kSpecialP = true;
  static constexpr Fe rr = {{0x0000000000000003ULL, 0xfffffffbffffffffULL, 0xfffffffffffffffeULL,
                             0x00000004fffffffdULL}};  // R^2 mod m
};
struct ModN {
  static constexpr Fe m = {
      {0xf3b9cac2fc632551ULL, 0xbce6faada7179e84ULL, 0xffffffffffffffffULL, 0xffffffff00000000ULL}};
  static constexpr u64 n0 = 0xccd1c8aaee00bc4fULL;
  static constexpr bool kSpecialP = false;
  static constexpr Fe rr = {
      {0x83244c95be79eea2ULL, 0x4699799c49bd6fa6ULL, 0x2845b2392b6bec59ULL, 0x66e12d94f3d95620ULL}};
};

constexpr uint8_t kGx[32] = {0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6,
                             0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb,
                             0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96};
constexpr uint8_t kGy[32] = {0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb,
                             0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31,
                             0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};
constexpr uint8_t kB[32] = {0x5a, 0xc6, 0x35, 0xd8, 0xaa, 0x3a, 0x93, 0xe7, 0xb3, 0xeb, 0xbd,
                            0x55, 0x76, 0x98, 0x86, 0xbc, 0x65, 0x1d, 0x06, 0xb0, 0xcc, 0x53,
                            0xb0, 0xf6, 0x3b, 0xce, 0x3c, 0x3e, 0x27, 0xd2, 0x60, 0x4b};

Fe FromBytes(const uint8_t b[32]) {
  Fe r;
  for (int i = 0; i < 4; i++) {
    u64 w = 0;
    for (int j = 0; j < 8; j++) w = (w << 8) | b[(3 - i) * 8 + j];
    r.v[i] = w;
  }
  return r;
}

APPLEPAY_INLINE bool IsZero(const Fe& a) { return (a.v[0] | a.v[1] | a.v[2] | a.v[3]) == 0; }

bool Equal(const Fe& a, const Fe& b) {
  return ((a.v[0] ^ b.v[0]) | (a.v[1] ^ b.v[1]) | (a.v[2] ^ b.v[2]) | (a.v[3] ^ b.v[3])) == 0;
}

bool Less(const Fe& a, const Fe& b) {
  for (int i = 3; i >= 0; i--) {
    if (a.v[i] != b.v[i]) return a.v[i] < b.v[i];
  }
  return false;
}

// a + b as a 257-bit value: the low 256 bits in *r, the carry returned.
APPLEPAY_INLINE u64 AddRaw(const Fe& a, const Fe& b, Fe* r) {
  u64 carry = 0;
  APPLEPAY_UNROLL
  for (int i = 0; i < 4; i++) {
    const u128 z = static_cast<u128>(a.v[i]) + b.v[i] + carry;
    r->v[i] = static_cast<u64>(z);
    carry = static_cast<u64>(z >> 64);
  }
  return carry;
}

// a - b mod 2^256, the borrow returned.
APPLEPAY_INLINE u64 SubRaw(const Fe& a, const Fe& b, Fe* r) {
  u64 borrow = 0;
  APPLEPAY_UNROLL
  for (int i = 0; i < 4; i++) {
    const u128 z = static_cast<u128>(a.v[i]) - b.v[i] - borrow;
    r->v[i] = static_cast<u64>(z);
    borrow = static_cast<u64>(z >> 64) & 1;
  }
  return borrow;
}

// Add and Sub select with masks rather than branches: the condition is a coin flip for random
// field elements, and a mispredicted branch costs more than the arithmetic (speed, not secrecy).
template <class M>
APPLEPAY_INLINE Fe Add(const Fe& a, const Fe& b) {
  Fe sum, reduced;
  const u64 carry = AddRaw(a, b, &sum);
  const u64 borrow = SubRaw(sum, M::m, &reduced);
  // Keep the sum only when it was already below m: no carry out and the subtraction borrowed.
  const u64 keep = 0 - (borrow & (carry ^ 1));
  Fe r;
  APPLEPAY_UNROLL
  for (int i = 0; i < 4; i++) r.v[i] = (sum.v[i] & keep) | (reduced.v[i] & ~keep);
  return r;
}

template <class M>
APPLEPAY_INLINE Fe Sub(const Fe& a, const Fe& b) {
  Fe diff;
  const u64 mask = 0 - SubRaw(a, b, &diff);
  const Fe add = {{M::m.v[0] & mask, M::m.v[1] & mask, M::m.v[2] & mask, M::m.v[3] & mask}};
  AddRaw(diff, add, &diff);
  return diff;
}

// a * b * R^-1 mod m for a * b < m * 2^256 (so for any a < 2^256 when b < m): word-serial
// Montgomery multiplication (operand scanning, reduction interleaved), the intermediate below 2m,
// one conditional subtraction at the end. A dedicated squaring measured no faster with this
// compiler's unsigned __int128 code, so squaring is this multiplication.
template <class M>
APPLEPAY_INLINE Fe Mul(const Fe& a, const Fe& b) {
  u64 t[6] = {0, 0, 0, 0, 0, 0};
  APPLEPAY_UNROLL
  for (int i = 0; i < 4; i++) {
    u64 carry = 0;
    APPLEPAY_UNROLL
    for (int j = 0; j < 4; j++) {
      const u128 z = static_cast<u128>(a.v[j]) * b.v[i] + t[j] + carry;
      t[j] = static_cast<u64>(z);
      carry = static_cast<u64>(z >> 64);
    }
    u128 z = static_cast<u128>(t[4]) + carry;
    t[4] = static_cast<u64>(z);
    t[5] = static_cast<u64>(z >> 64);
    const u64 q = t[0] * M::n0;
    if (M::kSpecialP) {
      // p = 2^256 - 2^224 + 2^192 + 2^96 - 1, n0 = 1, q = t[0]: q * (2^64 - 1) + t[0] is
      // q * 2^64 exactly, q * (2^32 - 1) + q is q * 2^32, and p's third limb is zero, so only
      // the top limb needs a multiplication.
      z = (static_cast<u128>(q) << 32) + t[1];
      t[0] = static_cast<u64>(z);
      z = static_cast<u128>(t[2]) + static_cast<u64>(z >> 64);
      t[1] = static_cast<u64>(z);
      z = static_cast<u128>(q) * M::m.v[3] + t[3] + static_cast<u64>(z >> 64);
      t[2] = static_cast<u64>(z);
      carry = static_cast<u64>(z >> 64);
    } else {
      z = static_cast<u128>(q) * M::m.v[0] + t[0];
      carry = static_cast<u64>(z >> 64);
      APPLEPAY_UNROLL
      for (int j = 1; j < 4; j++) {
        z = static_cast<u128>(q) * M::m.v[j] + t[j] + carry;
        t[j - 1] = static_cast<u64>(z);
        carry = static_cast<u64>(z >> 64);
      }
    }
    z = static_cast<u128>(t[4]) + carry;
    t[3] = static_cast<u64>(z);
    t[4] = t[5] + static_cast<u64>(z >> 64);
  }
  Fe r = {{t[0], t[1], t[2], t[3]}};
  Fe reduced;
  const u64 borrow = SubRaw(r, M::m, &reduced);
  return (t[4] != 0 || borrow == 0) ? reduced : r;
}

template <class M>
APPLEPAY_INLINE Fe Sqr(const Fe& a) {
  return Mul<M>(a, a);
}

template <class M>
Fe ToMont(const Fe& a) {
  return Mul<M>(a, M::rr);
}

template <class M>
Fe One() {
  return ToMont<M>(Fe{{1, 0, 0, 0}});
}

// a^(m-2) = a^-1 (Fermat; m is prime), a in Montgomery form, fixed 4-bit windows: 256 squarings
// and at most 64 multiplications.
template <class M>
Fe Invert(const Fe& a) {
  Fe e;
  SubRaw(M::m, Fe{{2, 0, 0, 0}}, &e);
  Fe powers[16];
  powers[0] = One<M>();
  for (int i = 1; i < 16; i++) powers[i] = Mul<M>(powers[i - 1], a);
  Fe r = powers[0];
  for (int bit = 252; bit >= 0; bit -= 4) {
    r = Sqr<M>(Sqr<M>(Sqr<M>(Sqr<M>(r))));
    const unsigned nibble = static_cast<unsigned>(e.v[bit / 64] >> (bit % 64)) & 0xf;
    if (nibble != 0) r = Mul<M>(r, powers[nibble]);
  }
  return r;
}

bool IsOne(const Fe& a) { return a.v[0] == 1 && (a.v[1] | a.v[2] | a.v[3]) == 0; }

// Halves x mod m (m odd, x < m): x / 2 if x is even, else (x + m) / 2, the sum's carry shifted in.
template <class M>
void HalveMod(Fe* x) {
  u64 top = 0;
  if ((x->v[0] & 1) != 0) top = AddRaw(*x, M::m, x);
  for (int i = 0; i < 3; i++) x->v[i] = (x->v[i] >> 1) | (x->v[i + 1] << 63);
  x->v[3] = (x->v[3] >> 1) | (top << 63);
}

void HalveRaw(Fe* x) {
  for (int i = 0; i < 3; i++) x->v[i] = (x->v[i] >> 1) | (x->v[i + 1] << 63);
  x->v[3] >>= 1;
}

// a^-1 mod m for a in [1, m-1], plain (not Montgomery) in and out: the binary extended Euclidean
// algorithm. It keeps u * a == x1 and v * a == x2 (mod m) up to the common factor, halving
// whichever of u, v is even and subtracting the smaller from the larger; about four times faster
// here than Fermat's a^(m-2), and variable-time, which public scalars allow.
template <class M>
Fe InvertPlain(const Fe& a) {
  Fe u = a;
  Fe v = M::m;
  Fe x1 = {{1, 0, 0, 0}};
  Fe x2 = {{0, 0, 0, 0}};
  while (!IsOne(u) && !IsOne(v)) {
    while ((u.v[0] & 1) == 0) {
      HalveRaw(&u);
      HalveMod<M>(&x1);
    }
    while ((v.v[0] & 1) == 0) {
      HalveRaw(&v);
      HalveMod<M>(&x2);
    }
    if (!Less(u, v)) {
      SubRaw(u, v, &u);
      x1 = Sub<M>(x1, x2);
    } else {
      SubRaw(v, u, &v);
      x2 = Sub<M>(x2, x1);
    }
  }
  return IsOne(u) ? x1 : x2;
}

// One cache line per table entry (64 bytes, aligned), so each lookup touches exactly one line.
struct alignas(64) Affine {
  Fe x, y;  // Montgomery form mod p
};
static_assert(sizeof(Affine) == 64, "one table entry per cache line");

struct Jacobian {
  Fe x, y, z;  // (x / z^2, y / z^3), Montgomery form mod p
  bool infinity;
};

constexpr int kWindowBits = 7;
constexpr int kWindows = (256 + kWindowBits - 1) / kWindowBits;  // 37
constexpr int kEntries = 1 << (kWindowBits - 1);                 // 64: digits 1..64

// 2P for a = -3 (dbl-2001-b): 3M + 5S.
Jacobian Double(const Jacobian& p) {
  if (p.infinity || IsZero(p.y)) return Jacobian{{}, {}, {}, true};
  const Fe delta = Sqr<ModP>(p.z);
  const Fe gamma = Sqr<ModP>(p.y);
  const Fe beta = Mul<ModP>(p.x, gamma);
  Fe alpha = Mul<ModP>(Sub<ModP>(p.x, delta), Add<ModP>(p.x, delta));
  alpha = Add<ModP>(alpha, Add<ModP>(alpha, alpha));
  const Fe beta2 = Add<ModP>(beta, beta);
  const Fe beta4 = Add<ModP>(beta2, beta2);
  const Fe beta8 = Add<ModP>(beta4, beta4);
  Jacobian r;
  r.infinity = false;
  r.x = Sub<ModP>(Sqr<ModP>(alpha), beta8);
  r.z = Sub<ModP>(Sub<ModP>(Sqr<ModP>(Add<ModP>(p.y, p.z)), gamma), delta);
  const Fe gamma2 = Sqr<ModP>(gamma);
  const Fe gamma4 = Add<ModP>(gamma2, gamma2);
  const Fe gamma8 = Add<ModP>(gamma4, gamma4);
  r.y = Sub<ModP>(Mul<ModP>(alpha, Sub<ModP>(beta4, r.x)), Add<ModP>(gamma8, gamma8));
  return r;
}

// P + Q with Q affine (madd-2007-bl): 7M + 4S. The exceptional cases are explicit: P at
// infinity, Q == P (doubling) and Q == -P (infinity). Verification can reach all of them with
// crafted signatures, and OpenSSL's result there is the mathematically correct point.
Jacobian AddMixed(const Jacobian& p, const Affine& q) {
  if (p.infinity) return Jacobian{q.x, q.y, One<ModP>(), false};
  const Fe z1z1 = Sqr<ModP>(p.z);
  const Fe u2 = Mul<ModP>(q.x, z1z1);
  const Fe s2 = Mul<ModP>(q.y, Mul<ModP>(p.z, z1z1));
  const Fe h = Sub<ModP>(u2, p.x);
  const Fe rr = Sub<ModP>(s2, p.y);
  if (IsZero(h)) {
    if (IsZero(rr)) return Double(p);
    return Jacobian{{}, {}, {}, true};
  }
  const Fe hh = Sqr<ModP>(h);
  const Fe hh2 = Add<ModP>(hh, hh);
  const Fe i = Add<ModP>(hh2, hh2);
  const Fe j = Mul<ModP>(h, i);
  const Fe r = Add<ModP>(rr, rr);
  const Fe v = Mul<ModP>(p.x, i);
  Jacobian out;
  out.infinity = false;
  out.x = Sub<ModP>(Sub<ModP>(Sqr<ModP>(r), j), Add<ModP>(v, v));
  const Fe y1j = Mul<ModP>(p.y, j);
  out.y = Sub<ModP>(Mul<ModP>(r, Sub<ModP>(v, out.x)), Add<ModP>(y1j, y1j));
  out.z = Sub<ModP>(Sub<ModP>(Sqr<ModP>(Add<ModP>(p.z, h)), z1z1), hh);
  return out;
}

bool OnCurve(const Affine& a) {
  // y^2 == x^3 - 3x + b
  const Fe x3 = Mul<ModP>(Sqr<ModP>(a.x), a.x);
  const Fe three_x = Add<ModP>(a.x, Add<ModP>(a.x, a.x));
  const Fe rhs = Add<ModP>(Sub<ModP>(x3, three_x), ToMont<ModP>(FromBytes(kB)));
  return Equal(Sqr<ModP>(a.y), rhs);
}

}  // namespace

struct WindowTable {
  Affine entry[kWindows][kEntries];  // entry[i][j-1] = j * 2^(7i) * P
};

struct P256Table {
  const WindowTable* g = nullptr;  // the process-wide generator table (immutable, never freed)
  WindowTable q;
};

namespace {

// Montgomery's simultaneous inversion: one field inversion for the whole batch. No point may be
// at infinity (the caller's multiples j * B for j <= 128 never are).
bool ToAffine(const Jacobian* in, size_t count, Affine* out) {
  Fe prefix[kEntries + 1];
  if (count == 0 || count > kEntries + 1) return false;
  for (size_t i = 0; i < count; i++) {
    if (in[i].infinity) return false;
    prefix[i] = i == 0 ? in[0].z : Mul<ModP>(prefix[i - 1], in[i].z);
  }
  Fe inv = Invert<ModP>(prefix[count - 1]);
  for (size_t i = count; i-- > 0;) {
    const Fe zinv = i == 0 ? inv : Mul<ModP>(inv, prefix[i - 1]);
    inv = Mul<ModP>(inv, in[i].z);
    const Fe zinv2 = Sqr<ModP>(zinv);
    out[i].x = Mul<ModP>(in[i].x, zinv2);
    out[i].y = Mul<ModP>(in[i].y, Mul<ModP>(zinv2, zinv));
  }
  return true;
}

// Window by window: the 64 multiples of the window's base by mixed additions, and the next base
// (128 times this one) by one doubling, all made affine with one inversion per window. About
// 2,400 additions and 37 inversions: roughly a millisecond.
bool BuildWindows(Affine base, WindowTable* table) {
  Jacobian points[kEntries + 1];
  Affine affine[kEntries + 1];
  for (int w = 0; w < kWindows; w++) {
    points[0] = Jacobian{base.x, base.y, One<ModP>(), false};
    for (int j = 1; j < kEntries; j++) points[j] = AddMixed(points[j - 1], base);
    points[kEntries] = Double(points[kEntries - 1]);
    if (!ToAffine(points, kEntries + 1, affine)) return false;
    std::memcpy(table->entry[w], affine, sizeof table->entry[w]);
    base = affine[kEntries];
  }
  return true;
}

// Built once per process on first use (thread-safe static initialisation), immutable afterwards
// and deliberately never freed: a build thread may still read it while the process exits. If the
// allocation throws, initialisation is retried by the next caller.
const WindowTable* GeneratorTable() {
  static const WindowTable* const table = []() -> const WindowTable* {
    auto t = std::make_unique<WindowTable>();
    const Affine g{ToMont<ModP>(FromBytes(kGx)), ToMont<ModP>(FromBytes(kGy))};
    if (!OnCurve(g) || !BuildWindows(g, t.get())) return nullptr;
    return t.release();
  }();
  return table;
}

// Signed 7-bit digits: d_i in [-63, 64], k = sum d_i * 2^(7i). A window value above 64 becomes
// value - 128 with a carry into the next window; k < 2^256 leaves the top window (bits 252..258)
// at most 16 + 1, so no carry is left over.
void Recode(const Fe& k, int8_t digits[kWindows]) {
  unsigned carry = 0;
  for (int i = 0; i < kWindows; i++) {
    const int pos = i * kWindowBits;
    const int limb = pos / 64;
    const int offset = pos % 64;
    u64 bits = k.v[limb] >> offset;
    if (offset > 64 - kWindowBits && limb + 1 < 4) bits |= k.v[limb + 1] << (64 - offset);
    unsigned value = static_cast<unsigned>(bits & 0x7f) + carry;
    carry = value > static_cast<unsigned>(kEntries) ? 1 : 0;
    digits[i] = static_cast<int8_t>(static_cast<int>(value) - static_cast<int>(carry << 7));
  }
}

void AddDigit(Jacobian* acc, const Affine* window, int digit) {
  if (digit == 0) return;
  if (digit > 0) {
    *acc = AddMixed(*acc, window[digit - 1]);
  } else {
    const Affine& e = window[-digit - 1];
    *acc = AddMixed(*acc, Affine{e.x, Sub<ModP>(Fe{{0, 0, 0, 0}}, e.y)});
  }
}

// One DER INTEGER exactly as OpenSSL's i2d would write it: tag 02, short-form length (every
// P-256 signature is shorter than 128 bytes), no negative value, no redundant leading zero.
// Values wider than 256 bits are refused here: they exceed n, which OpenSSL refuses as well.
bool ParseInteger(const uint8_t** cursor, const uint8_t* end, Fe* out) {
  const uint8_t* p = *cursor;
  if (end - p < 2 || p[0] != 0x02 || (p[1] & 0x80) != 0) return false;
  size_t len = p[1];
  p += 2;
  if (len == 0 || static_cast<size_t>(end - p) < len) return false;
  const uint8_t* content = p;
  *cursor = p + len;
  if ((content[0] & 0x80) != 0) return false;
  if (content[0] == 0 && len > 1) {
    if ((content[1] & 0x80) == 0) return false;
    content++;
    len--;
  }
  if (len > 32) return false;
  uint8_t buf[32] = {};
  std::memcpy(buf + (32 - len), content, len);
  *out = FromBytes(buf);
  return true;
}

// OpenSSL decodes the Ecdsa-Sig-Value, re-encodes it and requires the same bytes; accepting
// exactly the canonical DER encoding has the same verdict for every input.
bool ParseSignature(Bytes signature, Fe* r, Fe* s) {
  // 72 = 30 46 (02 21 00 r32) (02 21 00 s32), the longest encoding of values below n.
  if (signature.size < 2 || signature.size > 72) return false;
  const uint8_t* p = signature.data;
  const uint8_t* end = p + signature.size;
  if (p[0] != 0x30 || (p[1] & 0x80) != 0 || p[1] != signature.size - 2) return false;
  p += 2;
  return ParseInteger(&p, end, r) && ParseInteger(&p, end, s) && p == end;
}

bool InScalarRange(const Fe& v) { return !IsZero(v) && Less(v, ModN::m); }

}  // namespace

bool FixedBaseVerify(const P256Table& table, const uint8_t digest[32], Bytes signature) {
  Fe r, s;
  if (!ParseSignature(signature, &r, &s)) return false;
  if (!InScalarRange(r) || !InScalarRange(s)) return false;

  // e: the digest as an integer (bit lengths of SHA-256 and n are equal, so nothing is
  // truncated), reduced once: e < 2^256 < 2n.
  Fe e = FromBytes(digest);
  if (!Less(e, ModN::m)) SubRaw(e, ModN::m, &e);

  // w = s^-1 in Montgomery form; multiplying a plain value by it leaves a plain product.
  const Fe w = ToMont<ModN>(InvertPlain<ModN>(s));
  const Fe u1 = Mul<ModN>(e, w);
  const Fe u2 = Mul<ModN>(r, w);

  int8_t d1[kWindows];
  int8_t d2[kWindows];
  Recode(u1, d1);
  Recode(u2, d2);
  // All 74 lookups are known now: ask for their cache lines up front, so the misses overlap
  // instead of stalling one addition each (the tables are 2 x 148 KiB, and the token operation's
  // other work evicts them between verifications).
  for (int i = 0; i < kWindows; i++) {
    if (d1[i] != 0) __builtin_prefetch(&table.g->entry[i][(d1[i] > 0 ? d1[i] : -d1[i]) - 1]);
    if (d2[i] != 0) __builtin_prefetch(&table.q.entry[i][(d2[i] > 0 ? d2[i] : -d2[i]) - 1]);
  }
  Jacobian acc{{}, {}, {}, true};
  for (int i = 0; i < kWindows; i++) {
    AddDigit(&acc, table.g->entry[i], d1[i]);
    AddDigit(&acc, table.q.entry[i], d2[i]);
  }
  if (acc.infinity) return false;

  // x(R) mod n == r without an inversion: x(R) = X / Z^2 lies in [0, p), and p < 2n, so
  // x(R) mod n == r exactly when X == r * Z^2, or X == (r + n) * Z^2 with r + n < p.
  const Fe z2 = Sqr<ModP>(acc.z);
  if (Equal(Mul<ModP>(ToMont<ModP>(r), z2), acc.x)) return true;
  Fe r_plus_n;
  if (AddRaw(r, ModN::m, &r_plus_n) != 0 || !Less(r_plus_n, ModP::m)) return false;
  return Equal(Mul<ModP>(ToMont<ModP>(r_plus_n), z2), acc.x);
}

FixedBaseState::FixedBaseState(const uint8_t x[32], const uint8_t y[32]) {
  std::memcpy(x_, x, sizeof x_);
  std::memcpy(y_, y, sizeof y_);
}

FixedBaseState::~FixedBaseState() { delete table_.load(std::memory_order_acquire); }

bool FixedBaseState::NoteUseAndClaimBuild() {
  if (build_claimed_.load(std::memory_order_relaxed)) return false;
  if (uses_.fetch_add(1, std::memory_order_relaxed) + 1 < kHotThreshold) return false;
  return !build_claimed_.exchange(true, std::memory_order_acq_rel);
}

bool FixedBaseState::BuildNow() {
  if (table() != nullptr) return true;
  try {
    const WindowTable* g = GeneratorTable();
    if (g == nullptr) return false;
    auto built = std::make_unique<P256Table>();
    built->g = g;
    const Affine q{ToMont<ModP>(FromBytes(x_)), ToMont<ModP>(FromBytes(y_))};
    // The key was validated on import; this guards the coordinate extraction, not the key.
    if (!OnCurve(q) || !BuildWindows(q, &built->q)) return false;
    const P256Table* expected = nullptr;
    // Release: the finished entries become visible before the pointer does. A concurrent builder
    // that lost the race frees its own copy; a published table is never replaced.
    if (table_.compare_exchange_strong(expected, built.get(), std::memory_order_acq_rel)) {
      built.release();
    }
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

bool FixedBaseState::BuildInBackground(std::shared_ptr<FixedBaseState> state) {
  if (!state) return false;
  try {
    // Detached: nobody waits for it. The lambda's reference keeps the state (and nothing else of
    // the key) alive until the build ends, and the build touches no OpenSSL object, so neither the
    // key's release nor the process's exit has to wait for it.
    std::thread([state = std::move(state)]() noexcept { state->BuildNow(); }).detach();
    return true;
  } catch (const std::system_error&) {
    return false;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

bool FixedBaseState::KeepOnEvp() {
  if (build_claimed_.exchange(true, std::memory_order_acq_rel)) return false;
  kept_on_evp_.store(true, std::memory_order_release);
  return true;
}

const char* FixedBaseState::Describe() const {
  if (table() != nullptr) return "ready";
  if (kept_on_evp_.load(std::memory_order_acquire)) return "off";
  return build_claimed_.load(std::memory_order_acquire) ? "building" : "none";
}

std::shared_ptr<FixedBaseState> NewFixedBaseState(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return nullptr;
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  // The affine coordinates through the provider interface (EC_KEY is deprecated in OpenSSL 3).
  const int got_x = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw);
  BignumPtr x(x_raw);
  const int got_y = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw);
  BignumPtr y(y_raw);
  if (got_x != 1 || got_y != 1 || !x || !y) return nullptr;
  uint8_t xb[32];
  uint8_t yb[32];
  if (BN_bn2binpad(x.get(), xb, sizeof xb) != 32 || BN_bn2binpad(y.get(), yb, sizeof yb) != 32) {
    return nullptr;
  }
  return NewFixedBaseState(xb, yb);
}

std::shared_ptr<FixedBaseState> NewFixedBaseState(const uint8_t x[32], const uint8_t y[32]) {
  try {
    return std::make_shared<FixedBaseState>(x, y);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

}  // namespace applepay

#else  // no unsigned __int128: the EVP path only

namespace applepay {

struct P256Table {};

bool FixedBaseVerify(const P256Table&, const uint8_t[32], Bytes) { return false; }
FixedBaseState::FixedBaseState(const uint8_t x[32], const uint8_t y[32]) {
  std::memcpy(x_, x, sizeof x_);
  std::memcpy(y_, y, sizeof y_);
}
FixedBaseState::~FixedBaseState() = default;
bool FixedBaseState::NoteUseAndClaimBuild() { return false; }
bool FixedBaseState::BuildNow() { return false; }
bool FixedBaseState::BuildInBackground(std::shared_ptr<FixedBaseState>) { return false; }
bool FixedBaseState::KeepOnEvp() { return false; }
const char* FixedBaseState::Describe() const { return "none"; }
std::shared_ptr<FixedBaseState> NewFixedBaseState(const EVP_PKEY*) { return nullptr; }
std::shared_ptr<FixedBaseState> NewFixedBaseState(const uint8_t[32], const uint8_t[32]) {
  return nullptr;
}

}  // namespace applepay

#endif
