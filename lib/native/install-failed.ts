// Run by the package's install script when node-gyp-build found no prebuild for this machine and
// node-gyp could not compile one (package.json: "install": "node-gyp-build || node dist/native/install-failed.js").
// Prints what the package needs, after node-gyp's own errors, and fails the install.
import { installFailureAdvice } from './loader.js';

process.stderr.write(installFailureAdvice());
process.exitCode = 1;
