/**
 * Decrypted-payment payloads for minted tokens, shaped like Apple's (docs/token-format.md, payment data):
 * test card numbers, fixed cryptograms, nothing that is a real card.
 */

/** `3DSecure`: an in-app / web payment with an online cryptogram. `EMV`: EMV data and an encrypted PIN block.
 * `merchantToken`: a 3DSecure payment for a merchant token (MPAN, merchantTokenIdentifier, merchantTokenMetadata,
 * authenticationResponses), as Apple sends for recurring, automatic-reload and deferred payments. */
export type PresetName = '3DSecure' | 'EMV' | 'merchantToken';

export const PRESET_NAMES: readonly PresetName[] = ['3DSecure', 'EMV', 'merchantToken'];

export interface PresetOptions {
  /** transactionAmount, in the currency's minor units. */
  amount?: number;
  /** ISO 4217 numeric code, e.g. "840" (USD), "978" (EUR). */
  currencyCode?: string;
  /** For `merchantToken`: the merchant identifier in authenticationResponses. */
  merchantIdentifier?: string;
}

/** A fresh payload (callers may change it) for the named preset. */
export function presetPayment(name: PresetName, o: PresetOptions = {}): Record<string, unknown> {
  switch (name) {
    case '3DSecure':
      return {
        applicationPrimaryAccountNumber: '4111111111111111',
        applicationExpirationDate: '311231',
        currencyCode: o.currencyCode ?? '840',
        transactionAmount: o.amount ?? 1999,
        deviceManufacturerIdentifier: '040010030273',
        paymentDataType: '3DSecure',
        paymentData: { onlinePaymentCryptogram: 'AOA3rpYAAAAAAAAAAAAAAAAAAAA=', eciIndicator: '7' },
      };
    case 'EMV':
      return {
        applicationPrimaryAccountNumber: '5413330089010012',
        applicationExpirationDate: '301130',
        currencyCode: o.currencyCode ?? '978',
        transactionAmount: o.amount ?? 4250,
        deviceManufacturerIdentifier: '050110030273',
        paymentDataType: 'EMV',
        paymentData: {
          emvData: Buffer.from('9f2608c3a1b2d4e5f607089f2701809f360200419f100706010a03a00000', 'hex').toString('base64'),
          encryptedPINData: '8c1ab1c3d9a0ef61',
        },
      };
    case 'merchantToken': {
      const amount = o.amount ?? 1500;
      return {
        // The MPAN: a merchant token's account number stands where the device PAN would.
        applicationPrimaryAccountNumber: '4895370012003478',
        applicationExpirationDate: '291031',
        currencyCode: o.currencyCode ?? '840',
        transactionAmount: amount,
        deviceManufacturerIdentifier: '040010030273',
        paymentDataType: '3DSecure',
        paymentData: { onlinePaymentCryptogram: 'AgAAAAAABk4DWZ4C28yUQAAAAAA=', eciIndicator: '7' },
        merchantTokenIdentifier: 'DNITHE302408125716397421',
        merchantTokenMetadata: {
          cardArt: [{ url: 'https://example.invalid/card-art.png', width: 1536, height: 969 }],
          cardMetadata: { shortDescription: 'Visa 3478', cardType: 'credit' },
        },
        authenticationResponses: [
          {
            merchantIdentifier: o.merchantIdentifier ?? 'merchant.com.example.test',
            authenticationData: 'AAABBQhkZAAAAAAAAGRkAAAAAAA=',
            transactionAmount: String(amount),
          },
        ],
      };
    }
    default:
      throw new TypeError(`unknown preset ${JSON.stringify(name)}: expected one of ${PRESET_NAMES.join(', ')}`);
  }
}
