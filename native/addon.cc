// The JavaScript boundary: argument checks, the key handle class, the synchronous and asynchronous
// entry points, and the single place (ToJsError) where a core Error becomes a thrown or rejected
// JavaScript Error with a stable `code`. Everything cryptographic lives in the core files, which
// know nothing about N-API. See native/README.md for the contract.
#include <napi.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codec.h"
#include "merchant_key.h"
#include "ossl.h"
#include "primitives.h"
#include "result.h"
#include "signer_key.h"
#include "token.h"

namespace applepay {
namespace {

// Real tokens carry a few hundred bytes of `data`; 1 MiB leaves room for any payload Apple could
// plausibly add while bounding what one call can make the addon allocate and copy.
constexpr size_t kMaxInputSize = 1024 * 1024;
// The signer's messageDigest attribute: a SHA-256 digest.
constexpr size_t kMessageDigestSize = 32;
// OpenSSL's PEM passphrase buffer is PEM_BUFSIZE (1024) bytes.
constexpr size_t kMaxPassphraseSize = 1024;

// Identifies objects created by importKey. A prototype can be forged from JavaScript; a type tag
// cannot, so the tag (not instanceof) is what lets a native pointer out of an object.
constexpr napi_type_tag kKeyHandleTag = {0x6170706c65706179ULL, 0x6b65792d68646c31ULL};
// Objects created by importPublicKey: a different tag, so neither handle passes for the other.
constexpr napi_type_tag kSignerHandleTag = {0x6170706c65706179ULL, 0x7369676e2d68646cULL};

const char* CodeOf(Error error) {
  switch (error) {
    case Error::kArgument: return "ERR_ARGUMENT";
    case Error::kKeyDecode: return "ERR_KEY_DECODE";
    case Error::kKeyUnsupported: return "ERR_KEY_UNSUPPORTED";
    case Error::kEphemeralKey: return "ERR_EPHEMERAL_KEY";
    case Error::kDecrypt: return "ERR_DECRYPT";
    case Error::kInternal: return "ERR_INTERNAL";
    case Error::kSignature: return "ERR_SIGNATURE";
    case Error::kDigest: return "ERR_DIGEST";
  }
  return "ERR_INTERNAL";
}

const char* MessageOf(Error error) {
  switch (error) {
    case Error::kArgument: return "Invalid argument";
    case Error::kKeyDecode: return "The key could not be decoded (format or passphrase)";
    case Error::kKeyUnsupported:
      return "Unsupported key: only EC P-256 and RSA of 2048 bits or more";
    case Error::kEphemeralKey: return "Invalid ephemeral public key";
    case Error::kDecrypt: return "Decryption failed";
    case Error::kInternal: return "Internal cryptographic failure";
    case Error::kSignature: return "The signature does not verify with the signer key";
    case Error::kDigest: return "The signed message digest does not match the signed content";
  }
  return "Internal cryptographic failure";
}

// THE conversion from the core's closed error set to JavaScript. Messages are fixed per code; the
// only variable part is the name of an offending argument (a string literal from this file), so
// no OpenSSL text and no input bytes can ever reach the caller.
Napi::Error ToJsError(Napi::Env env, Error error, const char* argument = nullptr) {
  std::string message = MessageOf(error);
  if (error == Error::kArgument && argument != nullptr) {
    message += ": ";
    message += argument;
  }
  Napi::Error js_error = Napi::Error::New(env, message);
  js_error.Set("code", Napi::String::New(env, CodeOf(error)));
  return js_error;
}

[[noreturn]] void ThrowArgument(Napi::Env env, const char* argument) {
  throw ToJsError(env, Error::kArgument, argument);
}

// Borrows the bytes of a Uint8Array (Buffer included, any byteOffset). The pointer stays valid for
// the rest of a synchronous call: nothing below runs JavaScript that could detach or resize it.
Bytes GetBytes(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_size,
               size_t max_size) {
  Napi::Value value = info[index];
  if (!value.IsTypedArray()) ThrowArgument(info.Env(), name);
  Napi::TypedArray typed = value.As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_uint8_array) ThrowArgument(info.Env(), name);
  Napi::Uint8Array array = value.As<Napi::Uint8Array>();
  if (array.ArrayBuffer().IsDetached()) ThrowArgument(info.Env(), name);
  const size_t size = array.ByteLength();
  if (size < min_size || size > max_size) ThrowArgument(info.Env(), name);
  if (size == 0) return Bytes();
  return Bytes(array.Data(), size);
}

Bytes GetInput(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return GetBytes(info, index, name, 1, kMaxInputSize);
}

Bytes GetOptionalInput(const Napi::CallbackInfo& info, size_t index, const char* name) {
  return GetBytes(info, index, name, 0, kMaxInputSize);
}

SecretBytes CopySecret(Bytes bytes) {
  SecretBytes copy(bytes.size);
  if (bytes.size > 0) std::copy(bytes.data, bytes.data + bytes.size, copy.data());
  return copy;
}

Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, const uint8_t* data, size_t size) {
  // Buffer::Copy: the JavaScript heap gets its own copy and our secret copy is wiped on return.
  return Napi::Buffer<uint8_t>::Copy(env, data, size);
}

// A core result as a JavaScript value: plaintexts and secrets as Buffers, verdicts as booleans.
template <typename T>
Napi::Value ToJs(Napi::Env env, const T& bytes) {
  return ToBuffer(env, bytes.data(), bytes.size());
}
Napi::Value ToJs(Napi::Env env, bool verified) { return Napi::Boolean::New(env, verified); }

template <typename T>
Napi::Value ReturnOrThrow(Napi::Env env, const Result<T>& result) {
  if (!result.ok()) throw ToJsError(env, result.error());
  return ToJs(env, result.value());
}

class Addon;

// The JavaScript object behind MerchantKeyHandle. It owns one reference to an immutable
// MerchantKey; in-flight AsyncWorkers hold others, so the key outlives the object if need be.
class KeyHandle : public Napi::ObjectWrap<KeyHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "MerchantKeyHandle",
        {
            InstanceAccessor<&KeyHandle::GetType>("type", napi_enumerable),
            InstanceAccessor<&KeyHandle::GetBits>("bits", napi_enumerable),
            InstanceAccessor<&KeyHandle::GetSpki>("spki", napi_enumerable),
            InstanceAccessor<&KeyHandle::GetCertificate>("certificate", napi_enumerable),
        });
  }

  explicit KeyHandle(const Napi::CallbackInfo& info);

  const std::shared_ptr<const MerchantKey>& key() const { return key_; }

 private:
  Napi::Value GetType(const Napi::CallbackInfo& info) {
    if (!key_) return info.Env().Undefined();
    return Napi::String::New(info.Env(), key_->type == KeyType::kEc ? "ec" : "rsa");
  }
  Napi::Value GetBits(const Napi::CallbackInfo& info) {
    if (!key_) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), key_->bits);
  }
  // Fresh copies on every read: a caller mutating the Buffer it got cannot alter the key's record.
  Napi::Value GetSpki(const Napi::CallbackInfo& info) {
    if (!key_) return info.Env().Undefined();
    return ToBuffer(info.Env(), key_->spki.data(), key_->spki.size());
  }
  Napi::Value GetCertificate(const Napi::CallbackInfo& info) {
    if (!key_) return info.Env().Undefined();
    if (!key_->certificate) return info.Env().Null();
    return ToBuffer(info.Env(), key_->certificate->data(), key_->certificate->size());
  }

  std::shared_ptr<const MerchantKey> key_;
};

// The JavaScript object behind SignerKeyHandle: one reference to an immutable SignerKey.
class SignerHandle : public Napi::ObjectWrap<SignerHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SignerKeyHandle",
                       {
                           InstanceAccessor<&SignerHandle::GetType>("type", napi_enumerable),
                           InstanceAccessor<&SignerHandle::GetBits>("bits", napi_enumerable),
                       });
  }

  explicit SignerHandle(const Napi::CallbackInfo& info);

  const std::shared_ptr<const SignerKey>& key() const { return key_; }

 private:
  Napi::Value GetType(const Napi::CallbackInfo& info) {
    if (!key_) return info.Env().Undefined();
    return Napi::String::New(info.Env(), key_->type() == KeyType::kEc ? "ec" : "rsa");
  }
  Napi::Value GetBits(const Napi::CallbackInfo& info) {
    if (!key_) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), key_->bits());
  }

  std::shared_ptr<const SignerKey> key_;
};

// What one token() call read from its arguments: key references and borrowed bytes.
struct TokenArgs {
  std::shared_ptr<const SignerKey> signer;
  std::shared_ptr<const MerchantKey> key;  // null: a refusal is pending, no decryption
  Bytes message;
  Bytes signature;
  Bytes message_digest;
  Bytes key_material;
  Bytes data;
  Bytes transaction_id;
  Bytes application_data;
  Bytes party_v;
  Napi::Float64Array phases;  // empty unless the caller asked for phase durations

  TokenInput Input() const {
    return TokenInput{signer.get(), message,        signature,        message_digest, key_material,
                      data,         transaction_id, application_data, key.get(),      party_v};
  }
};

// Phase durations (microseconds) into the caller's Float64Array: [signature, decrypt].
// A caller may have detached (transferred) the array's buffer while a pool job ran: a detached
// typed array reports no elements, and then nothing is written.
void WritePhases(Napi::Float64Array phases, const PhaseTimes& times) {
  if (phases.IsEmpty() || phases.ElementLength() < 2) return;
  phases[0] = times.signature_us;
  phases[1] = times.decrypt_us;
}

// The token's outcome as a JavaScript value: the plaintext, or null when only the signature was
// to be checked (and it verified).
Napi::Value TokenValue(Napi::Env env, bool verify_only, const SecretBytes& plaintext) {
  if (verify_only) return env.Null();
  return ToBuffer(env, plaintext.data(), plaintext.size());
}

// token() on libuv's pool, after node's CryptoJob pattern: the same arguments and the same RunToken
// as the synchronous form. The bytes are copied on the JS thread into one allocation, because the
// caller's ArrayBuffers may be detached or overwritten while the job is queued; the shared_ptrs
// keep the keys alive whatever happens to their handle objects.
class TokenJob : public Napi::AsyncWorker {
 public:
  TokenJob(Napi::Env env, const TokenArgs& args)
      : Napi::AsyncWorker(env, "applepay-verify:token"),
        deferred_(Napi::Promise::Deferred::New(env)),
        signer_(args.signer),
        key_(args.key) {
    const Bytes* parts[] = {&args.message,          &args.signature, &args.message_digest,
                            &args.key_material,     &args.data,      &args.transaction_id,
                            &args.application_data, &args.party_v};
    size_t total = 0;
    for (const Bytes* part : parts) total += part->size;
    storage_.resize(total);
    Bytes* copies[] = {&input_.message,          &input_.signature, &input_.message_digest,
                       &input_.key_material,     &input_.data,      &input_.transaction_id,
                       &input_.application_data, &input_.party_v};
    static_assert(std::size(parts) == std::size(copies));
    size_t offset = 0;
    for (size_t i = 0; i < std::size(parts); i++) {
      if (parts[i]->size > 0)
        std::copy(parts[i]->data, parts[i]->data + parts[i]->size, storage_.data() + offset);
      *copies[i] = Bytes(storage_.data() + offset, parts[i]->size);
      offset += parts[i]->size;
    }
    input_.signer = signer_.get();
    input_.key = key_.get();
    if (!args.phases.IsEmpty()) phases_ = Napi::Persistent(args.phases);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    ClearErrorOnReturn clear_errors;  // the pool thread has its own OpenSSL error queue
    try {
      result_ = RunToken(input_, &times_);
    } catch (const std::bad_alloc&) {
      result_ = Error::kInternal;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      if (!phases_.IsEmpty()) WritePhases(phases_.Value(), times_);
      if (!result_.ok()) {
        deferred_.Reject(ToJsError(env, result_.error()).Value());
        return;
      }
      deferred_.Resolve(TokenValue(env, key_ == nullptr, result_.value()));
    } catch (const Napi::Error& e) {
      RejectQuietly(e);
    }
  }

  void OnError(const Napi::Error& e) override { RejectQuietly(e); }

 private:
  // Nothing may escape OnOK/OnError: node-addon-api would rethrow into an environment that, when a
  // worker_thread is being terminated with jobs in flight, can no longer run JavaScript, and the
  // second throw ends in std::terminate. If even rejecting fails, no one is left to observe the
  // promise.
  void RejectQuietly(const Napi::Error& e) {
    try {
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<const SignerKey> signer_;
  std::shared_ptr<const MerchantKey> key_;
  std::vector<uint8_t> storage_;  // public bytes only (ciphertext, signature): nothing to wipe
  TokenInput input_;
  Napi::Reference<Napi::Float64Array> phases_;
  PhaseTimes times_;
  Result<SecretBytes> result_ = Error::kInternal;
};

// Per-environment state (one instance per main thread / worker_thread), registered through
// Napi::Addon so nothing lives in a static.
class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    key_handle_constructor_ = Napi::Persistent(KeyHandle::Define(env));
    signer_handle_constructor_ = Napi::Persistent(SignerHandle::Define(env));
    DefineAddon(exports,
                {
                    InstanceMethod<&Addon::ImportKey>("importKey", napi_enumerable),
                    InstanceMethod<&Addon::Token>("token", napi_enumerable),
                    InstanceMethod<&Addon::Ecdh>("ecdh", napi_enumerable),
                    InstanceMethod<&Addon::Kdf>("kdf", napi_enumerable),
                    InstanceMethod<&Addon::AesGcmDecryptJs>("aesGcmDecrypt", napi_enumerable),
                    InstanceMethod<&Addon::RsaOaepDecryptJs>("rsaOaepDecrypt", napi_enumerable),
                    InstanceMethod<&Addon::ImportPublicKey>("importPublicKey", napi_enumerable),
                    InstanceMethod<&Addon::VerifySignature>("verifySignature", napi_enumerable),
                });
    RegisterCodec(env, exports);
    // Test and bench hooks for the fixed-base verifier (see the methods).
    DefineProperties(exports,
                     {
                         InstanceMethod<&Addon::EvpVerify>("verifySignatureEvp"),
                         InstanceMethod<&Addon::FixedBaseVerify>("verifySignatureFixedBase"),
                         InstanceMethod<&Addon::FixedBaseState>("fixedBaseState"),
                     });
  }

  // Handed from ImportKey to the KeyHandle constructor within one synchronous call; empty at all
  // other times, which is how the constructor refuses `new handle.constructor()` from JavaScript.
  std::shared_ptr<const MerchantKey> TakePendingKey() { return std::move(pending_key_); }
  // The same handoff from ImportPublicKey to the SignerHandle constructor.
  std::shared_ptr<const SignerKey> TakePendingSigner() { return std::move(pending_signer_); }

 private:
  Napi::Value ImportKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ClearErrorOnReturn clear_errors;
    const Bytes data = GetInput(info, 0, "data");
    std::unique_ptr<SecretBytes> passphrase;
    if (!info[1].IsUndefined() && !info[1].IsNull()) {
      passphrase = std::make_unique<SecretBytes>(
          CopySecret(GetBytes(info, 1, "passphrase", 0, kMaxPassphraseSize)));
    }
    Result<std::shared_ptr<const MerchantKey>> key = applepay::ImportKey(data, passphrase.get());
    if (!key.ok()) throw ToJsError(env, key.error());
    return NewHandle(key_handle_constructor_, pending_key_, std::move(key.value()), &kKeyHandleTag);
  }

  Napi::Value ImportPublicKey(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const Bytes spki = GetInput(info, 0, "spki");
    Result<std::shared_ptr<const SignerKey>> key = applepay::ImportPublicKey(spki);
    if (!key.ok()) throw ToJsError(info.Env(), key.error());
    return NewHandle(signer_handle_constructor_, pending_signer_, std::move(key.value()),
                     &kSignerHandleTag);
  }

  // Runs the handle class's constructor, which takes `key` from `pending` (the only way to make
  // one), and tags the object so that GetKey / GetSigner can trust it.
  template <typename Key>
  static Napi::Object NewHandle(Napi::FunctionReference& constructor,
                                std::shared_ptr<const Key>& pending, std::shared_ptr<const Key> key,
                                const napi_type_tag* tag) {
    pending = std::move(key);
    Napi::Object handle;
    try {
      handle = constructor.New({});
    } catch (...) {
      pending.reset();
      throw;
    }
    pending.reset();
    handle.TypeTag(tag);
    return handle;
  }

  // The key argument: an object created by importKey in this environment, and nothing else.
  static std::shared_ptr<const MerchantKey> GetKey(const Napi::CallbackInfo& info, size_t index) {
    Napi::Value value = info[index];
    if (!value.IsObject()) ThrowArgument(info.Env(), "key");
    Napi::Object object = value.As<Napi::Object>();
    if (!object.CheckTypeTag(&kKeyHandleTag)) ThrowArgument(info.Env(), "key");
    KeyHandle* handle = KeyHandle::Unwrap(object);
    if (handle == nullptr || !handle->key()) ThrowArgument(info.Env(), "key");
    return handle->key();
  }

  static std::shared_ptr<const MerchantKey> GetKeyOfType(const Napi::CallbackInfo& info,
                                                         KeyType type, size_t index = 0) {
    std::shared_ptr<const MerchantKey> key = GetKey(info, index);
    if (key->type != type) ThrowArgument(info.Env(), "key");
    return key;
  }

  // A signer argument: an object created by importPublicKey in this environment.
  static std::shared_ptr<const SignerKey> GetSigner(const Napi::CallbackInfo& info, size_t index) {
    Napi::Value value = info[index];
    if (!value.IsObject()) ThrowArgument(info.Env(), "signer");
    Napi::Object object = value.As<Napi::Object>();
    if (!object.CheckTypeTag(&kSignerHandleTag)) ThrowArgument(info.Env(), "signer");
    SignerHandle* handle = SignerHandle::Unwrap(object);
    if (handle == nullptr || !handle->key()) ThrowArgument(info.Env(), "signer");
    return handle->key();
  }

  static bool IsAbsent(const Napi::Value& value) { return value.IsNull() || value.IsUndefined(); }

  // token(pool, signer, message, signature, key, headerKey, partyV, data, messageDigest,
  // transactionId, applicationData, phases): read once. headerKey, data and transactionId are
  // always required (with applicationData, when not null, they are the content messageDigest
  // covers, and messageDigest is exactly 32 bytes). key null means a refusal is pending: nothing is
  // decrypted and partyV must be null too; an RSA key takes no partyV. phases, if given, is a
  // Float64Array of at least 2 elements.
  static TokenArgs ReadTokenArgs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    TokenArgs args;
    args.signer = GetSigner(info, 1);
    args.message = GetOptionalInput(info, 2, "message");
    args.signature = GetInput(info, 3, "signature");
    if (IsAbsent(info[4])) {
      if (!IsAbsent(info[6])) ThrowArgument(env, "partyV");
    } else {
      args.key = GetKey(info, 4);
      if (args.key->type != args.signer->type()) ThrowArgument(env, "key");
    }
    args.key_material = GetInput(info, 5, "headerKey");
    if (args.key && args.key->type == KeyType::kEc) {
      args.party_v = GetInput(info, 6, "partyV");
    } else if (!IsAbsent(info[6])) {
      ThrowArgument(env, "partyV");
    }
    args.data = GetInput(info, 7, "data");
    args.message_digest =
        GetBytes(info, 8, "messageDigest", kMessageDigestSize, kMessageDigestSize);
    args.transaction_id = GetInput(info, 9, "transactionId");
    if (!IsAbsent(info[10])) args.application_data = GetInput(info, 10, "applicationData");
    if (!IsAbsent(info[11])) {
      if (!info[11].IsTypedArray() ||
          info[11].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
        ThrowArgument(env, "phases");
      }
      Napi::Float64Array phases = info[11].As<Napi::Float64Array>();
      if (phases.ElementLength() < 2 || phases.ArrayBuffer().IsDetached()) {
        ThrowArgument(env, "phases");
      }
      args.phases = phases;
    }
    return args;
  }

  // THE token entry point. pool false: RunToken inline, the result returned or thrown. pool true:
  // the same RunToken on libuv's pool, and a Promise that never throws (argument errors reject).
  Napi::Value Token(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBoolean()) ThrowArgument(env, "pool");
    if (!info[0].As<Napi::Boolean>().Value()) {
      ClearErrorOnReturn clear_errors;
      const TokenArgs args = ReadTokenArgs(info);
      PhaseTimes times;
      Result<SecretBytes> result = RunToken(args.Input(), &times);
      WritePhases(args.phases, times);
      if (!result.ok()) throw ToJsError(env, result.error());
      return TokenValue(env, args.key == nullptr, result.value());
    }
    try {
      auto job = std::make_unique<TokenJob>(env, ReadTokenArgs(info));
      Napi::Promise promise = job->Promise();
      job->Queue();
      job.release();  // owned by node-addon-api from here: deleted after OnOK / OnError
      return promise;
    } catch (const Napi::Error& e) {
      Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
      deferred.Reject(e.Value());
      return deferred.Promise();
    }
  }

  // verifySignature(signer, message, signature): the bare primitive, for the known-answer tests
  // and the bench's OpenSSL limit; the token path checks signatures through token().
  Napi::Value VerifySignature(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const auto signer = GetSigner(info, 0);
    const Bytes message = GetOptionalInput(info, 1, "message");
    const Bytes signature = GetInput(info, 2, "signature");
    return ReturnOrThrow(info.Env(), applepay::VerifySignature(*signer, message, signature));
  }

  // Test and bench hooks (not part of the package's API): the two verification paths forced, and
  // the key's fixed-base state ("none", "building", "ready"; null for an RSA key). The fixed-base
  // form builds the table on this thread when there is none, about a millisecond, once per key.
  Napi::Value EvpVerify(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const auto signer = GetSigner(info, 0);
    const Bytes message = GetOptionalInput(info, 1, "message");
    const Bytes signature = GetInput(info, 2, "signature");
    return ReturnOrThrow(info.Env(), applepay::VerifySignatureEvp(*signer, message, signature));
  }

  Napi::Value FixedBaseVerify(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const auto signer = GetSigner(info, 0);
    const Bytes message = GetOptionalInput(info, 1, "message");
    const Bytes signature = GetInput(info, 2, "signature");
    return ReturnOrThrow(info.Env(),
                         applepay::VerifySignatureFixedBase(*signer, message, signature));
  }

  // fixedBaseState(signer, keepOnEvp?): with `false` as the second argument, a key that has no
  // table and no build yet stays on the EVP path for good (the bench's A/B of the token operation).
  Napi::Value FixedBaseState(const Napi::CallbackInfo& info) {
    const auto signer = GetSigner(info, 0);
    applepay::FixedBaseState* state = signer->fixed_base();
    if (state == nullptr) return info.Env().Null();
    if (info.Length() > 1 && info[1].IsBoolean() && !info[1].As<Napi::Boolean>().Value()) {
      state->KeepOnEvp();
    }
    return Napi::String::New(info.Env(), state->Describe());
  }

  Napi::Value Ecdh(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const auto key = GetKeyOfType(info, KeyType::kEc);
    const Bytes ephemeral = GetInput(info, 1, "ephemeralPublicKey");
    return ReturnOrThrow(info.Env(), applepay::Ecdh(*key, ephemeral));
  }

  Napi::Value Kdf(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const Bytes z = GetInput(info, 0, "sharedSecret");
    const Bytes party_v = GetInput(info, 1, "partyV");
    return ReturnOrThrow(info.Env(), AppleKdf(EVP_sha256(), z, party_v));
  }

  Napi::Value AesGcmDecryptJs(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const Bytes key = GetInput(info, 0, "key");
    const Bytes iv = GetInput(info, 1, "iv");
    const Bytes aad = GetOptionalInput(info, 2, "aad");
    const Bytes ciphertext = GetOptionalInput(info, 3, "ciphertext");
    const Bytes tag = GetInput(info, 4, "tag");
    const EVP_CIPHER* cipher = nullptr;
    switch (key.size) {
      case 16: cipher = EVP_aes_128_gcm(); break;
      case 24: cipher = EVP_aes_192_gcm(); break;
      case 32: cipher = EVP_aes_256_gcm(); break;
      default: ThrowArgument(info.Env(), "key");
    }
    return ReturnOrThrow(info.Env(), AesGcmDecrypt(cipher, key, iv, aad, ciphertext, tag));
  }

  Napi::Value RsaOaepDecryptJs(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const auto key = GetKeyOfType(info, KeyType::kRsa);
    const Bytes ciphertext = GetInput(info, 1, "ciphertext");
    const Bytes label = GetOptionalInput(info, 2, "label");
    return ReturnOrThrow(info.Env(), RsaOaepDecrypt(*key, ciphertext, label));
  }

  Napi::FunctionReference key_handle_constructor_;
  Napi::FunctionReference signer_handle_constructor_;
  std::shared_ptr<const MerchantKey> pending_key_;
  std::shared_ptr<const SignerKey> pending_signer_;
};

KeyHandle::KeyHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KeyHandle>(info) {
  key_ = info.Env().GetInstanceData<Addon>()->TakePendingKey();
  if (!key_) ThrowArgument(info.Env(), "MerchantKeyHandle is created by importKey only");
}

SignerHandle::SignerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SignerHandle>(info) {
  key_ = info.Env().GetInstanceData<Addon>()->TakePendingSigner();
  if (!key_) ThrowArgument(info.Env(), "SignerKeyHandle is created by importPublicKey only");
}

}  // namespace
}  // namespace applepay

// The registration macro pastes the class name into an identifier, so it needs an unqualified one.
using ApplePayAddon = applepay::Addon;
NODE_API_ADDON(ApplePayAddon)
