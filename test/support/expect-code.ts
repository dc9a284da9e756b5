// The tests' one way of asserting a failure by its code. A coded error is either an ApplePayError (the
// library's verdict) or an error of the addon, whose message must be one of the addon's fixed
// messages: no OpenSSL text, no input bytes ever reach a caller.
import { expect } from 'vitest';
import { ApplePayError } from '../../lib/index.js';

/** The fixed messages of native/addon.cc: nothing else may ever reach a caller. */
export const NATIVE_MESSAGES: ReadonlySet<string> = new Set([
  'Invalid argument',
  'The key could not be decoded (format or passphrase)',
  'Unsupported key: only EC P-256 and RSA of 2048 bits or more',
  'Invalid ephemeral public key',
  'Decryption failed',
  'Internal cryptographic failure',
  'The signature does not verify with the signer key',
]);

function checkCoded(thrown: unknown, code: string): void {
  expect(thrown, `expected ${code}`).toBeInstanceOf(Error);
  expect(thrown).toMatchObject({ code });
  if (thrown instanceof ApplePayError) return;
  // "Invalid argument: <which>" names the argument, never its value.
  const message = (thrown as Error).message.replace(/^(Invalid argument): .*$/, '$1');
  expect(NATIVE_MESSAGES.has(message), message).toBe(true);
}

/** fn must throw, synchronously, an error with this code. */
export function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  checkCoded(thrown, code);
}

/** p must reject with an error with this code. Await it: an un-awaited assertion cannot fail. */
export async function expectRejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  let thrown: unknown;
  try {
    await p;
  } catch (err) {
    thrown = err;
  }
  checkCoded(thrown, code);
}
