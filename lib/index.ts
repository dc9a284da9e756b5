// The package entry: re-exports only. The verifier and its options live in
// lib/verifier/verifier.ts, the pipeline in lib/pipeline/, one module per step of Apple's procedure in
// lib/steps/, the error codes and their families in lib/errors.ts.
export * from './verifier/verifier.js';
export { ApplePayError, ERROR_CODES, ERROR_FAMILIES, HTTP_STATUS_BY_FAMILY, errorFamily, httpStatus, isApplePayError } from './errors.js';
export type { ErrorCode, ErrorDetails, ErrorFamily } from './errors.js';
export { AddonLoadError, type AddonAttempt, type AddonPlatform } from './native/loader.js';
export type { LastError } from './verifier/last-error.js';
export type { MerchantOptions } from './steps/merchant-key.js';
export type { Payment, ThreeDSecurePaymentData, EmvPaymentData, AuthenticationResponse } from './steps/payment.js';
export type { Result } from './pipeline/verify.js';
export type { TokenVersion } from './steps/token.js';
export { APPLE_ROOT_CA_G3, APPLE_ROOT_CA_G3_FINGERPRINT } from './x509/apple-roots.js';
export { memoryReplayGuard } from './replay/guard.js';
export type { ReplayGuard, MemoryReplayGuard, MemoryReplayGuardOptions, ReplayWarning, StoreReplayGuard } from './replay/guard.js';
export {
  postgresReplayGuard,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
  type PostgresReplayGuardOptions,
} from './replay/postgres.js';
export {
  redisReplayGuard,
  DEFAULT_REDIS_KEY_PREFIX,
  type RedisReplayGuardOptions,
  type RedisReplayClient,
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- still exported for one minor version (CHANGELOG)
  type RedisSetNxClient,
} from './replay/redis.js';
export { VERIFY_CHANNEL_NAME } from './verifier/diagnostics.js';
export type { VerifyEvent, Step } from './verifier/diagnostics.js';
export type { Environment } from './verifier/environment.js';
export {
  inspectToken,
  createInspector,
  type Inspector,
  type TokenFacts,
  type CertificateFacts,
  type InspectOptions,
} from './diagnose/inspect.js';
export type { MerchantKeyInfo } from './keys/merchant-keys.js';
export {
  diagnoseToken,
  DIAGNOSIS_CAUSES,
  type Diagnosis,
  type DiagnosisCause,
  type DiagnoseOptions,
  type ConfiguredKey,
} from './diagnose/diagnose.js';
