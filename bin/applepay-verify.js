#!/usr/bin/env node
// The package's command; everything lives in lib/cli/main.ts (compiled to dist/cli/main.js).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
