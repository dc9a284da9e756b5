// Text scanning and canonical base64 decoding for the token's fields, on the JavaScript thread.
// TypeScript decides what a failure means (lib/codec/encoding.ts, lib/steps/token.ts); these
// functions only answer "where" and "is it canonical".
#pragma once

#include <napi.h>

namespace applepay {

// Adds mayHoldControlCharacters and decodeBase64Into to the addon's exports (see codec.cc).
void RegisterCodec(Napi::Env env, Napi::Object exports);

}  // namespace applepay
