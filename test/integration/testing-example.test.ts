// An HTTP endpoint test against minted tokens (README, "Testing your integration").
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createVerifier, isApplePayError, type Verifier } from 'applepay-verify';
import { createTestPki, mintToken, mutators, testVerifierOptions } from 'applepay-verify/testing';

// The service under test: production builds its verifier from its configuration, the test from the test PKI.
function paymentServer(verifier: Verifier): Server {
  return createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      const { payment, transactionId } = await verifier.verifyAndDecrypt(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, transactionId, amount: payment.transactionAmount }));
    } catch (err) {
      if (!isApplePayError(err)) throw err;
      res.writeHead(422, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, code: err.code }));
    }
  });
}

const pki = createTestPki();
const server = paymentServer(createVerifier(testVerifierOptions(pki)));
let url = '';

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pay`;
});
afterAll(() => server.close());

const post = (token: unknown): Promise<Response> => fetch(url, { method: 'POST', body: JSON.stringify(token) });

test('charges a valid Apple Pay JS token', async () => {
  const minted = mintToken(pki, { version: 'EC_v1', amount: 2500, wrapper: true });
  const res = await post(minted.token);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true, transactionId: minted.transactionId, amount: 2500 });
});

test('refuses a token altered in transit', async () => {
  const bad = mutators.tamperedCiphertext(pki, { version: 'RSA_v1' });
  const res = await post(bad.token);
  expect(res.status).toBe(422);
  expect(await res.json()).toEqual({ ok: false, code: 'SIGNATURE_INVALID' });
});
