#!/usr/bin/env bash
# The addon under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build directory, with
# the native and vector test files run against it (npm run test:asan).
#
# build/Release/applepay_verify.node is never touched: binding.gyp and native/ are copied to
# $ASAN_DIR/src and built there with clang, and the tests find that build through
# APPLEPAY_VERIFY_TEST_ADDON, which only the test harness reads (test/support/setup-addon.ts); the package's
# loader (lib/native/loader.ts) reads no environment. node itself is not instrumented, so the ASan runtime is
# preloaded into it. Leak detection is off for the node process: V8 and node keep process-lifetime
# allocations that LSan reports at exit (scripts/valgrind.sh checks the addon for leaks instead).
# ASAN_SOURCE=REV builds native/ as committed at REV; ASAN_TEST_FILES overrides the test list.
# Any sanitizer report fails the run: reports go to files, and the run passes only if the tests
# pass and no report file exists.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/sanitizer-toolchain.sh
. scripts/sanitizer-toolchain.sh
ensure_sanitizer_toolchain

ASAN_DIR=${ASAN_DIR:-$ROOT/node_modules/.cache/applepay-verify/asan}
SRC=$ASAN_DIR/src
REPORTS=$ASAN_DIR/reports
rm -rf "$SRC" "$REPORTS"
mkdir -p "$SRC" "$REPORTS"
# ASAN_SOURCE=REV builds binding.gyp and native/ as committed at REV instead of the work tree
# (useful while someone's native change is half-way through in a shared tree).
if [ -n "${ASAN_SOURCE:-}" ]; then
  git archive "$ASAN_SOURCE" binding.gyp native | tar -x -C "$SRC"
else
  cp binding.gyp "$SRC/"
  cp -r native "$SRC/native"
fi
rm -rf "$SRC/native/fuzz"

# Offline machines build against the headers installed with node (npm passes its nodedir setting
# through the environment; a direct run finds them next to the node binary).
NODEDIR=${npm_config_nodedir:-}
prefix=$(dirname "$(dirname "$(command -v node)")")
[ -n "$NODEDIR" ] || [ ! -f "$prefix/include/node/node_api.h" ] || NODEDIR=$prefix
GYP_ARGS=(rebuild)
[ -z "$NODEDIR" ] || GYP_ARGS+=(--nodedir="$NODEDIR")

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1)
echo "building the instrumented addon in $SRC"
(
  cd "$SRC"
  # -shared-libsan: the addon resolves the runtime that is preloaded into node, rather than
  # carrying a second static copy.
  CC=clang CXX=clang++ CFLAGS="${SAN[*]}" CXXFLAGS="${SAN[*]} -D_GLIBCXX_ASSERTIONS" \
    LDFLAGS="-fsanitize=address,undefined -shared-libsan" \
    node "$ROOT/node_modules/node-gyp/bin/node-gyp.js" "${GYP_ARGS[@]}" >"$ASAN_DIR/build.log" 2>&1
) || { cat "$ASAN_DIR/build.log"; exit 1; }
ADDON=$SRC/build/Release/applepay_verify.node
nm -D "$ADDON" | grep __asan_report >/dev/null || { echo "the addon is not instrumented" >&2; exit 1; }

# Compiled TypeScript for the worker-thread fixtures that import dist/.
npx tsc -p tsconfig.json

export APPLEPAY_VERIFY_TEST_ADDON=$ADDON
export LD_PRELOAD=$ASAN_RUNTIME
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0:abort_on_error=0:log_path=$REPORTS/asan:alloc_dealloc_mismatch=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan"
# shellcheck disable=SC2206
FILES=(${ASAN_TEST_FILES:-test/native/boundary.test.ts test/native/kat.test.ts test/native/signature.test.ts test/native/token.test.ts test/native/workers.test.ts test/native/wycheproof.test.ts test/native/fixed-base.test.ts test/unit/codec-differential.test.ts test/unit/cms-differential.test.ts test/corpus/real-tokens.test.ts test/pipeline/codes.test.ts test/adversarial/bounds.test.ts test/adversarial/concurrency.test.ts test/adversarial/faults.test.ts test/adversarial/property.test.ts test/adversarial/secrecy.test.ts})
echo "running ${FILES[*]} against $ADDON"
set +e
npx vitest run "${FILES[@]}"
tests=$?
set -e
unset LD_PRELOAD
if [ -n "$(ls -A "$REPORTS")" ]; then
  for f in "$REPORTS"/*; do echo "== $f"; cat "$f"; done
  echo "sanitizer reports: $(ls -A "$REPORTS" | wc -l)" >&2
  exit 1
fi
[ $tests -eq 0 ] || { echo "tests failed under ASan (exit $tests)" >&2; exit $tests; }
echo "ASan + UBSan: tests passed, 0 sanitizer reports"
