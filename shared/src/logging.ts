// Logs a person can follow: JSON lines with Cloud Logging's `severity` in production, readable lines in
// a terminal, and every line of a task carrying its ids.
import type { Writable } from 'node:stream';
import winston from 'winston';
import { redact, redactText } from './redact.js';

// The key winston's transports write (triple-beam's MESSAGE, a registered symbol).
const MESSAGE = Symbol.for('message');

export type LogFields = Readonly<Record<string, unknown>>;

/** The logger every service and handler takes; child loggers add fields (operationId, taskId, ...) to each line. */
export interface Logger {
  critical(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export const LOG_LEVELS = ['critical', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'pretty';

// Cloud Logging's LogSeverity names.
const SEVERITIES: Record<LogLevel, string> = {
  critical: 'CRITICAL',
  error: 'ERROR',
  warn: 'WARNING',
  info: 'INFO',
  debug: 'DEBUG',
};

// Also accept Cloud Logging's spellings, so LOG_LEVEL=WARNING means what it says.
const LEVEL_ALIASES: Record<string, LogLevel> = { warning: 'warn' };

export interface LoggerOptions {
  readonly service: string;
  /** Default: `LOG_LEVEL`, else `info`. */
  readonly level?: LogLevel;
  /** Default: `LOG_FORMAT`, else `pretty` when the stream is a terminal and `json` otherwise. */
  readonly format?: LogFormat;
  /** Where lines go; default stdout. */
  readonly stream?: Writable;
  /** Where LOG_LEVEL and LOG_FORMAT are read; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Builds a service's root logger; throws on an unknown LOG_LEVEL or LOG_FORMAT so a typo fails at start-up. */
export function createLogger(options: LoggerOptions): Logger {
  const env = options.env ?? process.env;
  const stream = options.stream ?? process.stdout;
  const level = options.level ?? parseLevel(env.LOG_LEVEL);
  const format = options.format ?? parseFormat(env.LOG_FORMAT) ?? (isTerminal(stream) ? 'pretty' : 'json');
  const logger = winston.createLogger({
    levels: Object.fromEntries(LOG_LEVELS.map((name, i) => [name, i])),
    level,
    defaultMeta: { service: options.service },
    format: winston.format((info) => {
      const record = toRecord(info);
      (info as Record<symbol, unknown>)[MESSAGE] =
        format === 'json' ? toJsonLine(record) : toPrettyLine(record);
      return info;
    })(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return new WinstonLogger(logger);
}

function parseLevel(value: string | undefined): LogLevel {
  if (value === undefined || value === '') return 'info';
  const lower = value.toLowerCase();
  const level = LEVEL_ALIASES[lower] ?? LOG_LEVELS.find((l) => l === lower);
  if (!level)
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  return level;
}

function parseFormat(value: string | undefined): LogFormat | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'json' || value === 'pretty') return value;
  throw new Error(`LOG_FORMAT must be json or pretty, got ${JSON.stringify(value)}`);
}

const isTerminal = (stream: Writable): boolean => (stream as { isTTY?: boolean }).isTTY === true;

class WinstonLogger implements Logger {
  constructor(private readonly logger: winston.Logger) {}

  critical(message: string, fields?: LogFields): void {
    this.logger.log('critical', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.logger.log('error', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.logger.log('warn', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.logger.log('info', message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.logger.log('debug', message, fields);
  }
  child(fields: LogFields): Logger {
    return new WinstonLogger(this.logger.child(fields));
  }
}

/** A logger that drops everything, for tests. */
export function createSilentLogger(): Logger {
  const silent: Logger = {
    critical: () => undefined,
    error: () => undefined,
    warn: () => undefined,
    info: () => undefined,
    debug: () => undefined,
    child: () => silent,
  };
  return silent;
}

interface LogRecord {
  readonly severity: string;
  readonly time: Date;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

function toRecord(info: winston.Logform.TransformableInfo): LogRecord {
  const { level, message, ...fields } = info;
  return {
    severity: SEVERITIES[level as LogLevel] ?? level.toUpperCase(),
    time: new Date(),
    // Whatever a log call passes, no credential reaches a line (docs/security.md, "Credentials").
    message: redactText(typeof message === 'string' ? message : String(message)),
    fields: redact(toLoggable(fields)) as Record<string, unknown>,
  };
}

function toJsonLine({ severity, time, message, fields }: LogRecord): string {
  const reserved = { severity, time: time.toISOString(), message };
  // Reserved keys first for reading, and again last so metadata cannot overwrite them.
  return JSON.stringify(Object.assign({ ...reserved }, fields, reserved));
}

function toPrettyLine({ severity, time, message, fields }: LogRecord): string {
  const { service, ...rest } = fields;
  const clock = [time.getHours(), time.getMinutes(), time.getSeconds()].map((n) =>
    String(n).padStart(2, '0'),
  );
  const stamp = `${clock.join(':')}.${String(time.getMilliseconds()).padStart(3, '0')}`;
  const pairs = Object.entries(rest).map(([key, value]) => `${key}=${prettyValue(value)}`);
  return [stamp, severity.padEnd(8), String(service), message, ...pairs].join(' ');
}

function prettyValue(value: unknown): string {
  // An error reads as `Name: message` here; its stack is in the JSON format.
  if (isSerializedError(value)) return JSON.stringify(`${value.name}: ${value.message}`);
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

function isSerializedError(value: unknown): value is { name: string; message: string } {
  const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return (
    typeof fields.name === 'string' && typeof fields.message === 'string' && typeof fields.stack === 'string'
  );
}

// Errors' fields are not enumerable, so JSON would print `{}`. Only an allowlist is kept: client errors
// carry their request config, auth headers included, which must never reach the logs. Cycles and
// bigints are made printable so a log call never throws.
function toLoggable(value: unknown, ancestors: readonly object[] = []): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.includes(value)) return '[Circular]';
  if (ancestors.length >= 8) return '[Object]';
  const inner = [...ancestors, value];
  if (value instanceof Error) {
    const { code, reason, status, issues } = value as unknown as Record<string, unknown>;
    const { name, message, stack, cause } = value;
    const picked = { name, message, code, reason, status, issues, stack, cause };
    return toLoggable(Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined)), inner);
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  if (Array.isArray(value)) return value.map((item) => toLoggable(item, inner));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toLoggable(v, inner)]));
}
