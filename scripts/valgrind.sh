#!/usr/bin/env bash
# valgrind memcheck over 1,000+ verifications through the compiled package and the addon's own
# entry points (scripts/valgrind-driver.mjs), with the addon as built by npm install
# (npm run test:valgrind). Fails if any "definitely lost" block, or any memory error, has an
# addon frame (applepay_verify.node / applepay::) in its stack. Leaks of node and V8 themselves are
# reported in the summary but are not ours to judge.
#
# One kind of record is told apart rather than failed: OpenSSL's per-thread state (the error queue,
# the per-thread DRBG) created the first time a libuv pool thread runs the addon. OpenSSL frees it
# when the thread exits, and node never stops its pool threads, so valgrind sees it as lost at
# exit. It is one block per pool thread, whatever the number of verifications; the script checks
# exactly that (at most UV_THREADPOOL_SIZE blocks per record) so a real per-call leak cannot hide
# behind it.
#
#   scripts/valgrind.sh [VERIFICATIONS]       (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
[ -f build/Release/applepay_verify.node ] || npx node-gyp rebuild
npx tsc -p tsconfig.json

OUT=${VALGRIND_DIR:-node_modules/.cache/applepay-verify/valgrind}
mkdir -p "$OUT"
LOG=$OUT/memcheck.log
echo "valgrind memcheck (log $LOG); expect a few minutes"
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,possible --errors-for-leak-kinds=definite \
  --num-callers=40 --log-file="$LOG" \
  node --expose-gc scripts/valgrind-driver.mjs "${1:-1000}"

node - "$LOG" "${UV_THREADPOOL_SIZE:-4}" <<'JS'
const text = require('node:fs').readFileSync(process.argv[2], 'utf8');
const poolThreads = Number(process.argv[3]);
// Records are runs of "==PID== ..." lines separated by a bare "==PID==" line.
const records = text.split(/^==\d+==\s*$/m).map((r) => r.replace(/^==\d+== ?/gm, '').trim()).filter(Boolean);
const ours = (r) => /applepay_verify\.node|applepay::/.test(r);
const blocks = (r) => Number((/in ([\d,]+) blocks/.exec(r)?.[1] ?? '0').replace(/,/g, ''));
const bytesOf = (rs) => rs.reduce((n, r) => n + Number((/^([\d,]+)/.exec(r)?.[1] ?? '0').replace(/,/g, '')), 0);
// OpenSSL thread-local state first touched on a pool thread (see the header of this script).
const perThread = (r) => /ThreadPoolWork|threadpool\.c/.test(r) && /ossl_err_get_state_int|RAND_get0_(private|public)|rand_new_drbg/.test(r) && blocks(r) <= poolThreads;
const definite = records.filter((r) => /definitely lost in/.test(r));
const errors = records.filter((r) => /^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|Mismatched free|Source and destination overlap|Syscall param)/m.test(r));
const summary = records.find((r) => r.startsWith('LEAK SUMMARY')) ?? '(no leak summary)';
const addonLeaks = definite.filter((r) => ours(r) && !perThread(r));
const threadState = definite.filter((r) => ours(r) && perThread(r));
console.log(summary);
console.log(`definitely lost, addon frame: ${addonLeaks.length} records, ${bytesOf(addonLeaks)} bytes`);
console.log(`definitely lost, OpenSSL per-thread state of the ${poolThreads} pool threads: ${threadState.length} records, ${bytesOf(threadState)} bytes (${threadState.map(blocks).join(' + ') || 0} blocks)`);
console.log(`definitely lost, no addon frame (node, V8): ${definite.filter((r) => !ours(r)).length} records, ${bytesOf(definite.filter((r) => !ours(r)))} bytes`);
console.log(`memory errors with an addon frame: ${errors.filter(ours).length} (all memory errors, V8's conservative stack scan included: ${errors.length})`);
const bad = [...addonLeaks, ...errors.filter(ours)];
for (const r of bad) console.log(`\n${r}`);
process.exitCode = bad.length > 0 ? 1 : 0;
JS
