#!/usr/bin/env node
// The package's command; everything lives in lib/cli.ts (compiled to dist/cli.js).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
