// Local stand-ins for Google Cloud and the launcher that runs them all.
export { startGcsEmulator, type GcsEmulatorOptions, type RunningGcsEmulator } from './gcs/server.js';
export {
  startBigQueryEmulator,
  type BigQueryEmulatorOptions,
  type RunningBigQueryEmulator,
} from './bigquery/server.js';
export {
  DEFAULT_PROJECT_ID,
  DEFAULT_STACK_PORTS,
  STACK_SERVICES,
  formatEnv,
  stackEnv,
  startStack,
  type RunningStack,
  type StackEndpoint,
  type StackOptions,
  type StackService,
} from './stack/stack.js';
export { StackSetupError } from './stack/google-sdk.js';
export { freePort, isPortInUse, waitForHttp } from './stack/readiness.js';
export { startProcess, type ManagedProcess, type StartProcessOptions } from './stack/managed-process.js';
export {
  AZURITE_ACCOUNT_KEY,
  AZURITE_ACCOUNT_NAME,
  S3RVER_ACCESS_KEY_ID,
  S3RVER_REGION,
  S3RVER_SECRET_ACCESS_KEY,
  S3RVER_SCRIPT,
  azuriteAccountUrl,
  azuriteBlobCommand,
  azuriteConnectionString,
  s3ClientConfig,
  s3rverCommand,
} from './stack/aws-azure.js';
