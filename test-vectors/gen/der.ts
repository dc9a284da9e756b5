// The DER encoder lives in the test kit (lib/testing/der.ts): one generator for users and for this corpus.
export * from '../../lib/testing/der.js';
