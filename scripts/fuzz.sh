#!/usr/bin/env bash
# libFuzzer over the addon's C++ core (native/fuzz/): builds the targets with ASan and UBSan
# against the system OpenSSL 3.0 (these binaries are not Node addons; the addon itself keeps
# linking node's OpenSSL), replays native/fuzz/regressions/, then fuzzes each target.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (npm run fuzz -- 60)
#
# SECONDS is per target (default 60); 0 only builds and replays the regressions. TARGETs default
# to all of: import_key decrypt_ec decrypt_rsa primitives signature. A crash leaves its input under
# $FUZZ_DIR/artifacts/TARGET/; once fixed, copy it to native/fuzz/regressions/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/sanitizer-toolchain.sh
. scripts/sanitizer-toolchain.sh
ensure_sanitizer_toolchain

SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(import_key decrypt_ec decrypt_rsa primitives signature)
FUZZ_DIR=${FUZZ_DIR:-$ROOT/node_modules/.cache/applepay-verify/fuzz}
mkdir -p "$FUZZ_DIR/bin"

CXXFLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GLIBCXX_ASSERTIONS)
CORE=(native/merchant_key.cc native/primitives.cc native/token.cc)

for target in "${TARGETS[@]}"; do
  src=native/fuzz/fuzz_$target.cc
  [ -f "$src" ] || { echo "no such target: $target ($src)" >&2; exit 2; }
  bin=$FUZZ_DIR/bin/fuzz_$target
  if [ ! -x "$bin" ] || [ -n "$(find "$src" native/fuzz/fuzz_common.h native/*.cc native/*.h -newer "$bin" 2>/dev/null)" ]; then
    echo "building $bin"
    clang++ "${CXXFLAGS[@]}" -o "$bin" "$src" "${CORE[@]}" -lcrypto
  fi
done

# The seed script reads the real tokens' CMS with the compiled library.
[ -f dist/steps/signed-data.js ] || npx tsc -p tsconfig.json
node scripts/fuzz-seeds.mjs "$FUZZ_DIR/seeds"

export APPLEPAY_FUZZ_ROOT=$ROOT
# Leak checking stays on: the core must free everything per call. halt_on_error makes UBSan fatal.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for target in "${TARGETS[@]}"; do
  bin=$FUZZ_DIR/bin/fuzz_$target
  regressions=native/fuzz/regressions/$target
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    echo "== $target: replaying $(ls -A "$regressions" | wc -l) regression input(s)"
    "$bin" -runs=1 "$regressions"/* >"$FUZZ_DIR/replay-$target.log" 2>&1 ||
      { cat "$FUZZ_DIR/replay-$target.log"; echo "REGRESSION in $target" >&2; status=1; continue; }
  fi
  [ "$SECONDS_PER_TARGET" -gt 0 ] || continue
  corpus=$FUZZ_DIR/corpus/$target
  artifacts=$FUZZ_DIR/artifacts/$target/
  mkdir -p "$corpus" "$artifacts"
  echo "== $target: fuzzing for ${SECONDS_PER_TARGET}s (corpus $corpus)"
  log=$FUZZ_DIR/fuzz-$target.log
  if "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "$FUZZ_DIR/seeds/$target" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "   ok: $execs executions, $cov, $(ls "$corpus" | wc -l) corpus entries"
  else
    tail -60 "$log"
    echo "CRASH in $target: input under $artifacts (log $log)" >&2
    status=1
  fi
done
exit $status
