// Vitest setup (vitest.config.ts): the sanitizer runs (scripts/asan.sh) point the tests at their
// instrumented build through APPLEPAY_VERIFY_TEST_ADDON. Only the test harness reads that variable;
// the package's loader (lib/native/loader.ts) reads no environment at all.
import { useAddonForTesting } from '../../lib/native/loader.js';

const path = process.env.APPLEPAY_VERIFY_TEST_ADDON;
if (path !== undefined && path !== '') useAddonForTesting(path);
