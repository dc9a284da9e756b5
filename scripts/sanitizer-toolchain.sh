# Sourced by asan.sh and fuzz.sh: makes sure clang, its sanitizer runtimes and the OpenSSL 3.0
# headers are installed (Debian packages; these scripts run as root on the project's machines),
# and names the ASan runtime that must be preloaded into an uninstrumented node.
# shellcheck shell=bash

ensure_sanitizer_toolchain() {
  local missing=()
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  command -v clang++ >/dev/null 2>&1 || missing+=(clang)
  [ -f /usr/include/openssl/opensslv.h ] || missing+=(libssl-dev)
  if [ -z "$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null | grep /)" ] ||
    [ ! -f "$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)" ] ||
    [ ! -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ]; then
    missing+=(runtime)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing the sanitizer toolchain (missing: ${missing[*]})" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    local major
    # The runtime package is versioned like the compiler: find the one that matches clang.
    apt-get install -y -qq clang libssl-dev >/dev/null
    major=$(clang --version | sed -n 's/.*clang version \([0-9]*\)\..*/\1/p' | head -1)
    apt-get install -y -qq "libclang-rt-${major}-dev" >/dev/null 2>&1 || true
  fi
  ASAN_RUNTIME=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
  if [ ! -f "$ASAN_RUNTIME" ]; then
    echo "no ASan runtime found for $(clang --version | head -1)" >&2
    return 1
  fi
  # The addon gets its OpenSSL from node (3.0.x); the fuzz binaries link the system one, which
  # must be the same series for the results to speak for the addon.
  local ours
  ours=$(sed -n 's/^# *define OPENSSL_VERSION_STR "\(.*\)"/\1/p' /usr/include/openssl/opensslv.h)
  case "$ours" in
    3.0.*) ;;
    *) echo "warning: system OpenSSL headers are $ours, node ships $(node -p process.versions.openssl)" >&2 ;;
  esac
  export ASAN_RUNTIME
}
