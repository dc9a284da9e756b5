// The JavaScript boundary: argument checks, the key handle class, the synchronous and asynchronous
// entry points, and the single place (ToJsError) where a core Error becomes a thrown or rejected
// JavaScript Error with a stable `code`. Everything cryptographic lives in the core files, which
// know nothing about N-API. See native/README.md for the contract.
#include <napi.h>

#include <algorithm>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

std::vector<uint8_t> CopyBytes(Bytes bytes) {
  return std::vector<uint8_t>(bytes.data, bytes.data + bytes.size);
}

class Addon;

// The JavaScript object behind MerchantKeyHandle. It owns one reference to an immutable
// MerchantKey; in-flight AsyncWorkers hold others, so the key outlives the object if need be.
class KeyHandle : public Napi::ObjectWrap<KeyHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MerchantKeyHandle",
                       {
                           InstanceAccessor<&KeyHandle::GetType>("type", napi_enumerable),
                           InstanceAccessor<&KeyHandle::GetBits>("bits", napi_enumerable),
                           InstanceAccessor<&KeyHandle::GetSpki>("spki", napi_enumerable),
                           InstanceAccessor<&KeyHandle::GetCertificate>("certificate",
                                                                       napi_enumerable),
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

enum class TokenKind { kEc, kRsa };

// Runs one core call on libuv's pool and settles a Promise with its Result. Subclasses copy their
// inputs in their constructors, on the JS thread, because the caller's ArrayBuffers may be detached
// or overwritten while the job is queued. Hold keeps a handle object alive (the subclass's
// shared_ptr keeps the key itself) until the worker is deleted after OnOK / OnError.
template <typename T>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  PromiseWorker(Napi::Env env, const char* resource_name)
      : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

  void Hold(Napi::Object handle) { handle_refs_.push_back(Napi::Persistent(handle)); }

  // The core call, on the pool thread.
  virtual Result<T> Run() = 0;

  void Execute() final {
    ClearErrorOnReturn clear_errors;  // the pool thread has its own OpenSSL error queue
    try {
      result_ = Run();
    } catch (const std::bad_alloc&) {
      result_ = Error::kInternal;
    }
  }

  void OnOK() final {
    Napi::Env env = Env();
    try {
      if (!result_.ok()) {
        deferred_.Reject(ToJsError(env, result_.error()).Value());
        return;
      }
      deferred_.Resolve(ToJs(env, result_.value()));
    } catch (const Napi::Error& e) {
      RejectQuietly(e);
    }
  }

  void OnError(const Napi::Error& e) final { RejectQuietly(e); }

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
  std::vector<Napi::ObjectReference> handle_refs_;
  Result<T> result_ = Error::kInternal;
};

// The signer half of a verify-and-decrypt call as the boundary read it (borrowed bytes).
struct SignerArgs {
  Napi::Object handle;
  std::shared_ptr<const SignerKey> key;
  Bytes message;
  Bytes signature;
};

// One token on the pool: decryption alone (decryptECAsync / decryptRSAAsync), or the signature
// check and then the decryption in the same job (verifyAndDecrypt*Async), so a token costs one
// thread-pool hop whatever it needs.
class DecryptWorker : public PromiseWorker<SecretBytes> {
 public:
  DecryptWorker(Napi::Env env, Napi::Object handle, std::shared_ptr<const MerchantKey> key,
                TokenKind kind, Bytes header_key, Bytes party_v, Bytes data,
                const SignerArgs* signer = nullptr)
      : PromiseWorker<SecretBytes>(env, signer != nullptr ? "applepay-verify:verify-decrypt"
                                                          : "applepay-verify:decrypt"),
        key_(std::move(key)),
        kind_(kind),
        header_key_(CopyBytes(header_key)),
        party_v_(CopyBytes(party_v)),
        data_(CopyBytes(data)) {
    Hold(handle);
    if (signer != nullptr) {
      Hold(signer->handle);
      signer_ = signer->key;
      message_ = CopyBytes(signer->message);
      signature_ = CopyBytes(signer->signature);
    }
  }

 protected:
  Result<SecretBytes> Run() override {
    if (signer_) {
      return kind_ == TokenKind::kEc
                 ? VerifyAndDecryptEcToken(*signer_, Bytes(message_), Bytes(signature_), *key_,
                                           Bytes(header_key_), Bytes(party_v_), Bytes(data_))
                 : VerifyAndDecryptRsaToken(*signer_, Bytes(message_), Bytes(signature_), *key_,
                                            Bytes(header_key_), Bytes(data_));
    }
    return kind_ == TokenKind::kEc
               ? DecryptEcToken(*key_, Bytes(header_key_), Bytes(party_v_), Bytes(data_))
               : DecryptRsaToken(*key_, Bytes(header_key_), Bytes(data_));
  }

 private:
  std::shared_ptr<const MerchantKey> key_;
  TokenKind kind_;
  std::vector<uint8_t> header_key_;
  std::vector<uint8_t> party_v_;
  std::vector<uint8_t> data_;
  std::shared_ptr<const SignerKey> signer_;  // null: decryption only
  std::vector<uint8_t> message_;
  std::vector<uint8_t> signature_;
};

// verifySignatureAsync: the signature check alone.
class VerifyWorker : public PromiseWorker<bool> {
 public:
  explicit VerifyWorker(Napi::Env env, const SignerArgs& signer)
      : PromiseWorker<bool>(env, "applepay-verify:verify"),
        signer_(signer.key),
        message_(CopyBytes(signer.message)),
        signature_(CopyBytes(signer.signature)) {
    Hold(signer.handle);
  }

 protected:
  Result<bool> Run() override {
    return VerifySignature(*signer_, Bytes(message_), Bytes(signature_));
  }

 private:
  std::shared_ptr<const SignerKey> signer_;
  std::vector<uint8_t> message_;
  std::vector<uint8_t> signature_;
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
                    InstanceMethod<&Addon::DecryptEC>("decryptEC", napi_enumerable),
                    InstanceMethod<&Addon::DecryptECAsync>("decryptECAsync", napi_enumerable),
                    InstanceMethod<&Addon::DecryptRSA>("decryptRSA", napi_enumerable),
                    InstanceMethod<&Addon::DecryptRSAAsync>("decryptRSAAsync", napi_enumerable),
                    InstanceMethod<&Addon::Ecdh>("ecdh", napi_enumerable),
                    InstanceMethod<&Addon::Kdf>("kdf", napi_enumerable),
                    InstanceMethod<&Addon::AesGcmDecryptJs>("aesGcmDecrypt", napi_enumerable),
                    InstanceMethod<&Addon::RsaOaepDecryptJs>("rsaOaepDecrypt", napi_enumerable),
                    InstanceMethod<&Addon::ImportPublicKey>("importPublicKey", napi_enumerable),
                    InstanceMethod<&Addon::VerifySignature>("verifySignature", napi_enumerable),
                    InstanceMethod<&Addon::VerifySignatureAsync>("verifySignatureAsync",
                                                                 napi_enumerable),
                    InstanceMethod<&Addon::VerifyAndDecryptEC>("verifyAndDecryptEC",
                                                               napi_enumerable),
                    InstanceMethod<&Addon::VerifyAndDecryptECAsync>("verifyAndDecryptECAsync",
                                                                    napi_enumerable),
                    InstanceMethod<&Addon::VerifyAndDecryptRSA>("verifyAndDecryptRSA",
                                                                napi_enumerable),
                    InstanceMethod<&Addon::VerifyAndDecryptRSAAsync>("verifyAndDecryptRSAAsync",
                                                                     napi_enumerable),
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
                                std::shared_ptr<const Key>& pending,
                                std::shared_ptr<const Key> key, const napi_type_tag* tag) {
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

  // Arguments 0 to 2 of every signature call: signer (an object created by importPublicKey in this
  // environment, of `type` if given), message (may be empty: SHA-256 of nothing is well defined)
  // and signature.
  static SignerArgs GetSignerArgs(const Napi::CallbackInfo& info, std::optional<KeyType> type) {
    Napi::Value value = info[0];
    if (!value.IsObject()) ThrowArgument(info.Env(), "signer");
    Napi::Object object = value.As<Napi::Object>();
    if (!object.CheckTypeTag(&kSignerHandleTag)) ThrowArgument(info.Env(), "signer");
    SignerHandle* handle = SignerHandle::Unwrap(object);
    if (handle == nullptr || !handle->key()) ThrowArgument(info.Env(), "signer");
    if (type && handle->key()->type() != *type) ThrowArgument(info.Env(), "signer");
    SignerArgs args{object, handle->key(), Bytes(), Bytes()};
    args.message = GetOptionalInput(info, 1, "message");
    args.signature = GetInput(info, 2, "signature");
    return args;
  }

  Napi::Value VerifySignature(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const SignerArgs signer = GetSignerArgs(info, std::nullopt);
    return ReturnOrThrow(info.Env(),
                         applepay::VerifySignature(*signer.key, signer.message, signer.signature));
  }

  Napi::Value VerifySignatureAsync(const Napi::CallbackInfo& info) {
    return Queue(info, [&]() {
      const SignerArgs signer = GetSignerArgs(info, std::nullopt);
      return std::make_unique<VerifyWorker>(info.Env(), signer);
    });
  }

  // verifyAndDecryptEC(signer, message, signature, key, ephemeralPublicKey, partyV, data)
  Napi::Value VerifyAndDecryptEC(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const SignerArgs signer = GetSignerArgs(info, KeyType::kEc);
    const auto key = GetKeyOfType(info, KeyType::kEc, 3);
    const Bytes ephemeral = GetInput(info, 4, "ephemeralPublicKey");
    const Bytes party_v = GetInput(info, 5, "partyV");
    const Bytes data = GetInput(info, 6, "data");
    return ReturnOrThrow(info.Env(), VerifyAndDecryptEcToken(*signer.key, signer.message,
                                                             signer.signature, *key, ephemeral,
                                                             party_v, data));
  }

  Napi::Value VerifyAndDecryptECAsync(const Napi::CallbackInfo& info) {
    return Queue(info, [&]() {
      const SignerArgs signer = GetSignerArgs(info, KeyType::kEc);
      const auto key = GetKeyOfType(info, KeyType::kEc, 3);
      const Bytes ephemeral = GetInput(info, 4, "ephemeralPublicKey");
      const Bytes party_v = GetInput(info, 5, "partyV");
      const Bytes data = GetInput(info, 6, "data");
      return std::make_unique<DecryptWorker>(info.Env(), info[3].As<Napi::Object>(), key,
                                             TokenKind::kEc, ephemeral, party_v, data, &signer);
    });
  }

  // verifyAndDecryptRSA(signer, message, signature, key, wrappedKey, data)
  Napi::Value VerifyAndDecryptRSA(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const SignerArgs signer = GetSignerArgs(info, KeyType::kRsa);
    const auto key = GetKeyOfType(info, KeyType::kRsa, 3);
    const Bytes wrapped = GetInput(info, 4, "wrappedKey");
    const Bytes data = GetInput(info, 5, "data");
    return ReturnOrThrow(info.Env(), VerifyAndDecryptRsaToken(*signer.key, signer.message,
                                                              signer.signature, *key, wrapped,
                                                              data));
  }

  Napi::Value VerifyAndDecryptRSAAsync(const Napi::CallbackInfo& info) {
    return Queue(info, [&]() {
      const SignerArgs signer = GetSignerArgs(info, KeyType::kRsa);
      const auto key = GetKeyOfType(info, KeyType::kRsa, 3);
      const Bytes wrapped = GetInput(info, 4, "wrappedKey");
      const Bytes data = GetInput(info, 5, "data");
      return std::make_unique<DecryptWorker>(info.Env(), info[3].As<Napi::Object>(), key,
                                             TokenKind::kRsa, wrapped, Bytes(), data, &signer);
    });
  }

  Napi::Value DecryptEC(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const auto key = GetKeyOfType(info, KeyType::kEc);
    const Bytes ephemeral = GetInput(info, 1, "ephemeralPublicKey");
    const Bytes party_v = GetInput(info, 2, "partyV");
    const Bytes data = GetInput(info, 3, "data");
    return ReturnOrThrow(info.Env(), DecryptEcToken(*key, ephemeral, party_v, data));
  }

  Napi::Value DecryptRSA(const Napi::CallbackInfo& info) {
    ClearErrorOnReturn clear_errors;
    const auto key = GetKeyOfType(info, KeyType::kRsa);
    const Bytes wrapped = GetInput(info, 1, "wrappedKey");
    const Bytes data = GetInput(info, 2, "data");
    return ReturnOrThrow(info.Env(), DecryptRsaToken(*key, wrapped, data));
  }

  // Promise-returning entry points never throw: argument errors reject like decryption errors.
  Napi::Value DecryptECAsync(const Napi::CallbackInfo& info) {
    return Queue(info, [&]() {
      const auto key = GetKeyOfType(info, KeyType::kEc);
      const Bytes ephemeral = GetInput(info, 1, "ephemeralPublicKey");
      const Bytes party_v = GetInput(info, 2, "partyV");
      const Bytes data = GetInput(info, 3, "data");
      return std::make_unique<DecryptWorker>(info.Env(), info[0].As<Napi::Object>(), key,
                                             TokenKind::kEc, ephemeral, party_v, data);
    });
  }

  Napi::Value DecryptRSAAsync(const Napi::CallbackInfo& info) {
    return Queue(info, [&]() {
      const auto key = GetKeyOfType(info, KeyType::kRsa);
      const Bytes wrapped = GetInput(info, 1, "wrappedKey");
      const Bytes data = GetInput(info, 2, "data");
      return std::make_unique<DecryptWorker>(info.Env(), info[0].As<Napi::Object>(), key,
                                             TokenKind::kRsa, wrapped, Bytes(), data);
    });
  }

  template <typename MakeWorker>
  static Napi::Value Queue(const Napi::CallbackInfo& info, MakeWorker make_worker) {
    Napi::Env env = info.Env();
    try {
      auto worker = make_worker();  // a std::unique_ptr to a PromiseWorker
      Napi::Promise promise = worker->Promise();
      worker->Queue();
      worker.release();  // owned by node-addon-api from here: deleted after OnOK / OnError
      return promise;
    } catch (const Napi::Error& e) {
      Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
      deferred.Reject(e.Value());
      return deferred.Promise();
    }
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
