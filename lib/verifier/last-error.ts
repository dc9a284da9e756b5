// lastError(): the failure of the latest verification in the current async context, for verifiers
// created with `trackLastError: true`.
//
// applepay-php keeps its last error in a process global, which a threaded or concurrent runtime
// shares between requests. Here a tracking verifier opens a scope in AsyncLocalStorage for every
// verification, so code that awaits a verification (and everything it schedules afterwards) sees
// that verification's outcome, and a concurrent request never does.
//
// It is opt-in because of what it costs the rest of the process: on Node 20, entering any
// AsyncLocalStorage store turns on promise hooks for the whole process, and from then on every
// `await` anywhere costs two to three times as much (measured by `npm run bench`). A verifier that
// does not track never touches the storage, so it costs the application nothing; its failures are
// still thrown (or rejected) as ApplePayErrors carrying the same code, message and details.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ErrorCode, ErrorDetails } from '../errors.js';
import type { ApplePayError } from '../errors.js';

export interface LastError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: ErrorDetails;
  readonly time: Date;
}

export interface Scope {
  error: LastError | null;
  readonly source: object;
}

// Creating the storage is free; only entering a store (enterWith below) enables the hooks.
const scopes = new AsyncLocalStorage<Scope>();

/**
 * Opens the scope of one verification in the caller's context when `track` is set; the returned
 * scope records its failure. Null (and nothing entered) otherwise.
 */
export function openScope(source: object, track: boolean): Scope | null {
  if (!track) return null;
  const scope: Scope = { error: null, source };
  scopes.enterWith(scope);
  return scope;
}

export function recordFailure(scope: Scope | null, err: ApplePayError): void {
  if (scope === null) return;
  scope.error = Object.freeze({ code: err.code, message: err.message, details: err.details, time: new Date() });
}

export function currentLastError(source?: object): LastError | null {
  const scope = scopes.getStore();
  if (scope === undefined) return null;
  if (source !== undefined && scope.source !== source) return null;
  return scope.error;
}
