// Finds the Google Cloud CLI's emulators and Java, and says in one line how to install what is missing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export class StackSetupError extends Error {
  override readonly name = 'StackSetupError';
}

const COMMON_SDK_ROOTS = [
  '/usr/lib/google-cloud-sdk',
  '/usr/share/google-cloud-sdk',
  '/opt/google-cloud-sdk',
  '/google-cloud-sdk',
];

export interface LaunchCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/** The SDK root: `CLOUDSDK_ROOT_DIR`, else what `gcloud info` says, else the usual install paths. */
export function findSdkRoot(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['CLOUDSDK_ROOT_DIR'];
  if (fromEnv) {
    if (!existsSync(join(fromEnv, 'platform'))) {
      throw new StackSetupError(
        `CLOUDSDK_ROOT_DIR=${fromEnv} is not a Google Cloud CLI root (no platform/ folder)`,
      );
    }
    return fromEnv;
  }
  const fromGcloud = gcloudSdkRoot();
  if (fromGcloud && existsSync(join(fromGcloud, 'platform'))) return fromGcloud;
  const found = COMMON_SDK_ROOTS.find((root) => existsSync(join(root, 'platform')));
  if (found) return found;
  throw new StackSetupError(
    'Google Cloud CLI not found: install it (https://cloud.google.com/sdk/docs/install) or set CLOUDSDK_ROOT_DIR',
  );
}

function gcloudSdkRoot(): string | undefined {
  try {
    const out = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 15_000,
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `java` from JAVA_HOME or PATH; both Google emulators are Java programs. */
export function findJava(env: NodeJS.ProcessEnv = process.env): string {
  const javaHome = env['JAVA_HOME'];
  if (javaHome && existsSync(join(javaHome, 'bin', 'java'))) return join(javaHome, 'bin', 'java');
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore', timeout: 15_000 });
    return 'java';
  } catch {
    throw new StackSetupError(
      'Java not found: the Pub/Sub and Firestore emulators need Java 11+ (apt-get install default-jre-headless)',
    );
  }
}

export function pubsubEmulatorCommand(sdkRoot: string, host: string, port: number): LaunchCommand {
  const script = join(sdkRoot, 'platform', 'pubsub-emulator', 'bin', 'cloud-pubsub-emulator');
  if (!existsSync(script)) {
    throw new StackSetupError(
      'Pub/Sub emulator not installed: apt-get install google-cloud-cli-pubsub-emulator (or gcloud components install pubsub-emulator)',
    );
  }
  // The script ends in `exec java`, so the process we start is the JVM itself.
  return { command: script, args: [`--host=${host}`, `--port=${port}`] };
}

export function firestoreEmulatorCommand(
  sdkRoot: string,
  java: string,
  host: string,
  port: number,
  projectId: string,
): LaunchCommand {
  const jar = join(sdkRoot, 'platform', 'cloud-firestore-emulator', 'cloud-firestore-emulator.jar');
  if (!existsSync(jar)) {
    throw new StackSetupError(
      'Firestore emulator not installed: apt-get install google-cloud-cli-firestore-emulator (or gcloud components install cloud-firestore-emulator)',
    );
  }
  // Run java directly: the SDK's wrapper script forks java, and stopping the wrapper would orphan it.
  return {
    command: java,
    args: [
      '-cp',
      jar,
      'com.google.cloud.datastore.emulator.firestore.CloudFirestore',
      'start',
      `--host=${host}`,
      `--port=${port}`,
      `--project_id=${projectId}`,
    ],
  };
}
