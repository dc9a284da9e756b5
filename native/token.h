// The two token paths, built only from primitives.h. Shared by the synchronous entry points (JS
// thread) and the AsyncWorkers (libuv pool): everything here is reentrant and touches the key
// read-only.
#pragma once

#include "merchant_key.h"
#include "ossl.h"
#include "result.h"
#include "signer_key.h"

namespace applepay {

// EC_v1: ECDH -> AppleKdf -> AES-256-GCM(16 zero bytes IV, no AAD, tag = last 16 bytes of data).
// data shorter than 17 bytes is kDecrypt (a token that cannot carry a tag and one byte of payload).
Result<SecretBytes> DecryptEcToken(const MerchantKey& key, Bytes ephemeral_spki, Bytes party_v,
                                   Bytes data);

// RSA_v1: RSA-OAEP(SHA-256, MGF1-SHA-256, empty label) -> 16-byte key -> AES-128-GCM as above.
// An OAEP failure, an unwrapped key of another length and a bad tag are all the same kDecrypt.
Result<SecretBytes> DecryptRsaToken(const MerchantKey& key, Bytes wrapped_key, Bytes data);

// The two paths behind the signer's signature: VerifySignature over `message` (the re-tagged signed
// attributes) first, and the decryption above only if it verifies; kSignature otherwise, whatever
// the rest of the token holds. Argument errors (a signer or merchant key of the other type, a
// partyV that is not 32 bytes) come before the signature, since they are the caller's mistakes.
Result<SecretBytes> VerifyAndDecryptEcToken(const SignerKey& signer, Bytes message,
                                            Bytes signature, const MerchantKey& key,
                                            Bytes ephemeral_spki, Bytes party_v, Bytes data);
Result<SecretBytes> VerifyAndDecryptRsaToken(const SignerKey& signer, Bytes message,
                                             Bytes signature, const MerchantKey& key,
                                             Bytes wrapped_key, Bytes data);

}  // namespace applepay
