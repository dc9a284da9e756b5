#!/usr/bin/env bash
# One platform's prebuild, for release.yml: install, build with warnings as errors, run the native and
# real-token tests against that build, then `npm run prebuild` and check that the prebuild loads on its
# own (no build/ beside it).
set -euo pipefail
npm ci
npx node-gyp rebuild --werror=1
npx tsc -p tsconfig.json
npx vitest run test/native/kat.test.ts test/corpus/real-tokens.test.ts test/integration/addon-load.test.ts
rm -rf build prebuilds
npm run prebuild
ls -l prebuilds/*
node --input-type=module -e "const b = await import('./dist/binding.js'); b.loadAddon(); console.log('prebuild loads:', b.describeMachine());"
