/**
 * Certificate issuance lives in the test kit (lib/testing/x509.ts), shared with applepay-verify/testing.
 * This module keeps the generator's import path and adds the corpus PKI's merchant identifiers.
 */
export * from '../../lib/testing/x509.js';

/** Merchant identifiers of the committed test PKI. */
export const MERCHANT_IDS = {
  ec: 'merchant.com.example.applepay-verify.ec',
  rsa: 'merchant.com.example.applepay-verify.rsa',
  /**
   * SHA-256("merchant.com.example.zero.491") = 00c7e48f...: the first n >= 0 whose
   * hash starts with a 0x00 byte (found by counting up from 0). It catches code that
   * turns the .6.32 hash into a number or strips "leading" bytes.
   */
  zero: 'merchant.com.example.zero.491',
} as const;
