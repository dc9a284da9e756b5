// lib/errors.ts: every code has exactly one family, each family one HTTP status, and the error carries
// its family without changing its JSON shape.
import { describe, expect, test } from 'vitest';
import { ApplePayError, ERROR_CODES, ERROR_FAMILIES, HTTP_STATUS_BY_FAMILY, errorFamily, httpStatus } from '../../lib/index.js';

describe('error families', () => {
  test('the families partition the codes', () => {
    expect(Object.keys(ERROR_FAMILIES).sort()).toEqual([...ERROR_CODES].sort());
    const by = (family: string) => ERROR_CODES.filter((c) => errorFamily(c) === family).sort();
    expect(by('malformed')).toEqual(['TOKEN_MALFORMED', 'TOKEN_TOO_LARGE', 'UNSUPPORTED_VERSION']);
    expect(by('replayed')).toEqual(['REPLAY_DETECTED']);
    expect(by('unavailable')).toEqual(['REPLAY_STORE_UNAVAILABLE']);
    expect(by('internal')).toEqual(['INTERNAL']);
    expect(by('configuration')).toEqual(['CONFIG_INVALID', 'MERCHANT_CERT_INVALID', 'MERCHANT_KEY_INVALID', 'ROOT_CERT_INVALID']);
    expect(by('rejected')).toContain('SIGNATURE_INVALID');
  });

  test('statuses: 400 malformed, 422 rejected, 409 replayed, 503 unavailable, 500 ours', () => {
    expect(HTTP_STATUS_BY_FAMILY).toEqual({
      malformed: 400,
      rejected: 422,
      replayed: 409,
      unavailable: 503,
      configuration: 500,
      internal: 500,
    });
    expect(httpStatus('TOKEN_TOO_LARGE')).toBe(400);
    expect(httpStatus('DECRYPTION_FAILED')).toBe(422);
    expect(httpStatus('REPLAY_STORE_UNAVAILABLE')).toBe(503);
  });

  test('an ApplePayError knows its family; toJSON keeps its shape', () => {
    const err = new ApplePayError('REPLAY_STORE_UNAVAILABLE', 'store down');
    expect(err.family).toBe('unavailable');
    expect(err.toJSON()).toEqual({ name: 'ApplePayError', code: 'REPLAY_STORE_UNAVAILABLE', message: 'store down', details: {} });
  });
});
