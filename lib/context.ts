// lastError(): the failure of the latest verification in the current async context.
//
// applepay-php keeps its last error in a process global, which a threaded or concurrent runtime
// shares between requests. Here every verification opens its own scope in AsyncLocalStorage, so
// code that awaits a verification (and everything it schedules afterwards) sees that verification's
// outcome, and a concurrent request never does.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ErrorCode, ErrorDetails } from './errors.js';
import type { ApplePayError } from './errors.js';

export interface LastError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: ErrorDetails;
  readonly time: Date;
}

interface Scope {
  error: LastError | null;
  readonly source: object;
}

const scopes = new AsyncLocalStorage<Scope>();

/** Opens the scope of one verification in the caller's context; the returned scope records its failure. */
export function openScope(source: object): Scope {
  const scope: Scope = { error: null, source };
  scopes.enterWith(scope);
  return scope;
}

export function recordFailure(scope: Scope, err: ApplePayError): void {
  scope.error = Object.freeze({ code: err.code, message: err.message, details: err.details, time: new Date() });
}

export function currentLastError(source?: object): LastError | null {
  const scope = scopes.getStore();
  if (scope === undefined) return null;
  if (source !== undefined && scope.source !== source) return null;
  return scope.error;
}
