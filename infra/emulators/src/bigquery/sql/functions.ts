// GoogleSQL functions → DuckDB SQL. Arguments arrive already translated; date parts (DAY, WEEK(MONDAY)...)
// arrive as upper-case words. Functions missing here are passed through under their own name.
import { invalidQuery } from '../api-error.js';
import { quoteString } from '../schema.js';

export interface Call {
  /** Upper-case GoogleSQL name. */
  name: string;
  args: string[];
  /** Each argument as a date-part word (`DAY`, `WEEK(MONDAY)`), when it is one. */
  parts: (string | undefined)[];
  /** Each argument's value when it is a plain string literal (formats, regexes). */
  literals: (string | undefined)[];
  distinct: boolean;
  ignoreNulls: boolean;
  orderBy?: string;
  limit?: string;
  /** Epoch ms of the query's CURRENT_TIMESTAMP(). */
  now: number;
  at: string;
}

type Translate = (call: Call) => string;

const nowIso = (now: number): string => new Date(now).toISOString();

const argsOf = (c: Call, min: number, max = min): string[] => {
  if (c.args.length < min || c.args.length > max)
    throw invalidQuery(
      `No matching signature for function ${c.name} for argument count ${c.args.length} at ${c.at}`,
    );
  return c.args;
};

const arg = (c: Call, i: number): string => c.args[i] ?? 'NULL';

const aggregate =
  (duck: string): Translate =>
  (c) =>
    `${duck}(${c.distinct ? 'DISTINCT ' : ''}${c.args.join(', ')}${c.orderBy !== undefined ? ` ORDER BY ${c.orderBy}` : ''})`;

const rename =
  (duck: string): Translate =>
  (c) =>
    `${duck}(${c.args.join(', ')})`;

/** GoogleSQL's NULL-propagating GREATEST/LEAST (DuckDB's skip NULLs). */
const strictNulls =
  (duck: string): Translate =>
  (c) =>
    `CASE WHEN ${c.args.map((a) => `(${a}) IS NULL`).join(' OR ')} THEN NULL ELSE ${duck}(${c.args.join(', ')}) END`;

const DATE_PARTS: Record<string, string> = {
  MICROSECOND: 'microseconds',
  MILLISECOND: 'milliseconds',
  SECOND: 'second',
  MINUTE: 'minute',
  HOUR: 'hour',
  DAY: 'day',
  WEEK: 'week',
  ISOWEEK: 'week',
  MONTH: 'month',
  QUARTER: 'quarter',
  YEAR: 'year',
  ISOYEAR: 'isoyear',
};

const WEEKDAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

function partOf(c: Call, i: number): string {
  const part = c.parts[i];
  if (part === undefined)
    throw invalidQuery(`A valid date part name is required but found ${arg(c, i)} at ${c.at}`);
  return part;
}

/** Days since the start of the week (`WEEK` = Sunday, `WEEK(<WEEKDAY>)`, `ISOWEEK` = Monday). */
function weekStartOffset(part: string, expr: string): string | undefined {
  const m = /^WEEK(?:\((\w+)\))?$/.exec(part);
  const day = part === 'ISOWEEK' ? 'MONDAY' : m !== null ? (m[1] ?? 'SUNDAY') : undefined;
  if (day === undefined) return undefined;
  const k = WEEKDAYS.indexOf(day);
  if (k < 0) throw invalidQuery(`Invalid week part ${part}`);
  return `CAST((dayofweek(${expr}) + ${7 - k}) % 7 AS INTEGER)`;
}

/** DATE_TRUNC / DATETIME_TRUNC / TIMESTAMP_TRUNC. */
function truncSql(kind: 'DATE' | 'DATETIME' | 'TIMESTAMP', expr: string, part: string): string {
  const week = weekStartOffset(part, expr);
  const truncated =
    week !== undefined
      ? `date_trunc('day', ${expr} - to_days(${week}))`
      : `date_trunc('${DATE_PARTS[part] ?? invalidPart(part)}', ${expr})`;
  if (kind === 'DATE') return `CAST(${truncated} AS DATE)`;
  if (kind === 'DATETIME') return `CAST(${truncated} AS TIMESTAMP)`;
  return truncated;
}

function invalidPart(part: string): never {
  throw invalidQuery(`A valid date part name is required but found ${part}`);
}

/** EXTRACT(part FROM expr). */
export function extractSql(part: string, expr: string): string {
  switch (part) {
    case 'DAYOFWEEK':
      return `(dayofweek(${expr}) + 1)`;
    case 'DAYOFYEAR':
      return `dayofyear(${expr})`;
    case 'WEEK':
      return `CAST(strftime(${expr}, '%U') AS BIGINT)`;
    case 'ISOWEEK':
      return `week(${expr})`;
    case 'ISOYEAR':
      return `isoyear(${expr})`;
    case 'MILLISECOND':
      return `(millisecond(${expr}) % 1000)`;
    case 'MICROSECOND':
      return `(microsecond(${expr}) % 1000000)`;
    case 'DATE':
      return `CAST(${expr} AS DATE)`;
    case 'TIME':
      return `CAST(${expr} AS TIME)`;
    case 'DATETIME':
      return `CAST(${expr} AS TIMESTAMP)`;
    case 'YEAR':
    case 'QUARTER':
    case 'MONTH':
    case 'DAY':
    case 'HOUR':
    case 'MINUTE':
    case 'SECOND':
      return `CAST(extract(${part.toLowerCase()} FROM ${expr}) AS BIGINT)`;
    default: {
      const week = /^WEEK\((\w+)\)$/.exec(part);
      if (week !== null) {
        const k = WEEKDAYS.indexOf(week[1] ?? '');
        if (k < 0) invalidPart(part);
        // Weeks start on that weekday; days before the first one are in week 0.
        return `CAST(floor((dayofyear(${expr}) - 1 + ((CAST(dayofweek(date_trunc('year', ${expr})) AS INTEGER) - ${k} + 7) % 7)) / 7) AS BIGINT)`;
      }
      return invalidPart(part);
    }
  }
}

/** strftime/strptime formats: GoogleSQL's extra elements in DuckDB's terms (https://cloud.google.com/bigquery/docs/reference/standard-sql/format-elements). */
export function duckFormat(format: string): string {
  return format
    .replaceAll('%F', '%Y-%m-%d')
    .replaceAll('%T', '%H:%M:%S')
    .replaceAll('%D', '%m/%d/%y')
    .replaceAll('%R', '%H:%M')
    .replaceAll('%E6S', '%S.%f')
    .replaceAll('%E3S', '%S.%g')
    .replaceAll('%E*S', '%S.%f')
    .replaceAll('%Ez', '+00:00')
    .replaceAll('%Z', 'UTC')
    .replaceAll('%e', '%-d')
    .replaceAll('%k', '%-H')
    .replaceAll('%l', '%-I')
    .replaceAll('%C', '20');
}

const formatArg = (c: Call, i: number): string => {
  const literal = c.literals[i];
  return literal !== undefined ? quoteString(duckFormat(literal)) : arg(c, i);
};

const inZone = (expr: string, zone: string | undefined): string =>
  zone === undefined ? `CAST(${expr} AS TIMESTAMP)` : `timezone(${zone}, ${expr})`;

/** REGEXP_EXTRACT returns the first capturing group when the pattern has one. */
const captureGroup = (c: Call, i: number): number => {
  const re = c.literals[i];
  return re !== undefined && /(^|[^\\])\((?!\?)/.test(re) ? 1 : 0;
};

const JSON_PATH_DEFAULT = quoteString('$');

export const FUNCTIONS: Record<string, Translate> = {
  // ---- aggregates ----
  COUNT: aggregate('count'),
  SUM: aggregate('sum'),
  AVG: aggregate('avg'),
  MIN: aggregate('min'),
  MAX: aggregate('max'),
  COUNTIF: aggregate('count_if'),
  ANY_VALUE: aggregate('any_value'),
  LOGICAL_AND: aggregate('bool_and'),
  LOGICAL_OR: aggregate('bool_or'),
  BIT_XOR: aggregate('bit_xor'),
  BIT_AND: aggregate('bit_and'),
  BIT_OR: aggregate('bit_or'),
  APPROX_COUNT_DISTINCT: aggregate('approx_count_distinct'),
  STDDEV: aggregate('stddev_samp'),
  STDDEV_SAMP: aggregate('stddev_samp'),
  STDDEV_POP: aggregate('stddev_pop'),
  VARIANCE: aggregate('var_samp'),
  VAR_SAMP: aggregate('var_samp'),
  VAR_POP: aggregate('var_pop'),
  ARRAY_AGG: (c) => {
    const x = arg(c, 0);
    const base = `array_agg(${c.distinct ? 'DISTINCT ' : ''}${x}${c.orderBy !== undefined ? ` ORDER BY ${c.orderBy}` : ''})`;
    const filtered = c.ignoreNulls ? `${base} FILTER (WHERE (${x}) IS NOT NULL)` : base;
    return c.limit !== undefined ? `list_slice(${filtered}, 1, ${c.limit})` : filtered;
  },
  STRING_AGG: (c) => {
    const [x, sep] = argsOf(c, 1, 2);
    return `string_agg(${c.distinct ? 'DISTINCT ' : ''}${x}, ${sep ?? "','"}${c.orderBy !== undefined ? ` ORDER BY ${c.orderBy}` : ''})`;
  },

  // ---- conditionals ----
  IF: (c) => {
    const [cond, a, b] = argsOf(c, 3);
    return `CASE WHEN ${cond} THEN ${a} ELSE ${b} END`;
  },
  IFNULL: (c) => `coalesce(${argsOf(c, 2).join(', ')})`,
  GREATEST: strictNulls('greatest'),
  LEAST: strictNulls('least'),
  ERROR: (c) => `error(${argsOf(c, 1).join('')})`,

  // ---- current time, fixed per query ----
  CURRENT_TIMESTAMP: (c) => `CAST('${nowIso(c.now)}' AS TIMESTAMPTZ)`,
  CURRENT_DATETIME: (c) => inZone(FUNCTIONS.CURRENT_TIMESTAMP!(c), c.args[0]),
  CURRENT_DATE: (c) => `CAST(${inZone(FUNCTIONS.CURRENT_TIMESTAMP!(c), c.args[0])} AS DATE)`,
  CURRENT_TIME: (c) => `CAST(${inZone(FUNCTIONS.CURRENT_TIMESTAMP!(c), c.args[0])} AS TIME)`,

  // ---- date and time ----
  TIMESTAMP_ADD: (c) => `(${arg(c, 0)} + ${arg(c, 1)})`,
  TIMESTAMP_SUB: (c) => `(${arg(c, 0)} - ${arg(c, 1)})`,
  DATETIME_ADD: (c) => `CAST(${arg(c, 0)} + ${arg(c, 1)} AS TIMESTAMP)`,
  DATETIME_SUB: (c) => `CAST(${arg(c, 0)} - ${arg(c, 1)} AS TIMESTAMP)`,
  TIME_ADD: (c) => `(${arg(c, 0)} + ${arg(c, 1)})`,
  TIME_SUB: (c) => `(${arg(c, 0)} - ${arg(c, 1)})`,
  DATE_ADD: (c) => `CAST(${arg(c, 0)} + ${arg(c, 1)} AS DATE)`,
  DATE_SUB: (c) => `CAST(${arg(c, 0)} - ${arg(c, 1)} AS DATE)`,
  // TIMESTAMP_DIFF counts whole elapsed units; DATE_DIFF / DATETIME_DIFF count part boundaries.
  TIMESTAMP_DIFF: (c) =>
    `date_sub('${DATE_PARTS[partOf(c, 2)] ?? invalidPart(partOf(c, 2))}', ${arg(c, 1)}, ${arg(c, 0)})`,
  TIME_DIFF: (c) =>
    `date_sub('${DATE_PARTS[partOf(c, 2)] ?? invalidPart(partOf(c, 2))}', ${arg(c, 1)}, ${arg(c, 0)})`,
  DATE_DIFF: (c) => diffSql(c),
  DATETIME_DIFF: (c) => diffSql(c),
  DATE_TRUNC: (c) => truncSql('DATE', arg(c, 0), partOf(c, 1)),
  DATETIME_TRUNC: (c) => truncSql('DATETIME', arg(c, 0), partOf(c, 1)),
  TIMESTAMP_TRUNC: (c) => {
    const zone = c.args[2];
    if (zone === undefined) return truncSql('TIMESTAMP', arg(c, 0), partOf(c, 1));
    return `timezone(${zone}, ${truncSql('DATETIME', `timezone(${zone}, ${arg(c, 0)})`, partOf(c, 1))})`;
  },
  TIME_TRUNC: (c) =>
    `CAST(${truncSql('DATETIME', `(TIMESTAMP '1970-01-01' + ${arg(c, 0)})`, partOf(c, 1))} AS TIME)`,
  TIMESTAMP_MICROS: (c) => `make_timestamptz(CAST(${arg(c, 0)} AS BIGINT))`,
  TIMESTAMP_MILLIS: (c) => `make_timestamptz(CAST(${arg(c, 0)} AS BIGINT) * 1000)`,
  TIMESTAMP_SECONDS: (c) => `make_timestamptz(CAST(${arg(c, 0)} AS BIGINT) * 1000000)`,
  UNIX_MICROS: (c) => `epoch_us(${arg(c, 0)})`,
  UNIX_MILLIS: (c) => `CAST(floor(epoch_us(${arg(c, 0)}) / 1000) AS BIGINT)`,
  UNIX_SECONDS: (c) => `CAST(floor(epoch_us(${arg(c, 0)}) / 1000000) AS BIGINT)`,
  UNIX_DATE: (c) => `CAST(${arg(c, 0)} - DATE '1970-01-01' AS BIGINT)`,
  DATE_FROM_UNIX_DATE: (c) => `CAST(DATE '1970-01-01' + CAST(${arg(c, 0)} AS INTEGER) AS DATE)`,
  DATE: (c) => {
    if (c.args.length === 3) return `make_date(${c.args.map((a) => `CAST(${a} AS BIGINT)`).join(', ')})`;
    if (c.args.length === 2) return `CAST(timezone(${arg(c, 1)}, ${arg(c, 0)}) AS DATE)`;
    return `CAST(${arg(c, 0)} AS DATE)`;
  },
  DATETIME: (c) => {
    if (c.args.length === 6) return `make_timestamp(${c.args.join(', ')})`;
    if (c.args.length === 2)
      return `(CASE WHEN typeof(${arg(c, 1)}) = 'TIME' THEN CAST(${arg(c, 0)} AS DATE) + CAST(${arg(c, 1)} AS TIME) ELSE timezone(CAST(${arg(c, 1)} AS VARCHAR), CAST(${arg(c, 0)} AS TIMESTAMPTZ)) END)`;
    return `CAST(${arg(c, 0)} AS TIMESTAMP)`;
  },
  TIME: (c) => {
    if (c.args.length === 3) return `make_time(${c.args.join(', ')})`;
    if (c.args.length === 2) return `CAST(timezone(${arg(c, 1)}, ${arg(c, 0)}) AS TIME)`;
    return `CAST(${arg(c, 0)} AS TIME)`;
  },
  TIMESTAMP: (c) => {
    const x = arg(c, 0);
    const zone = c.args[1];
    const literal = c.literals[0];
    if (literal !== undefined && zone === undefined)
      return `CAST(${quoteString(literal.trim().replace(/\s*UTC$/i, '+00'))} AS TIMESTAMPTZ)`;
    if (zone !== undefined) return `timezone(${zone}, CAST(${x} AS TIMESTAMP))`;
    return `CAST(${x} AS TIMESTAMPTZ)`;
  },
  FORMAT_TIMESTAMP: (c) => `strftime(${inZone(arg(c, 1), c.args[2])}, ${formatArg(c, 0)})`,
  FORMAT_DATETIME: (c) => `strftime(CAST(${arg(c, 1)} AS TIMESTAMP), ${formatArg(c, 0)})`,
  FORMAT_DATE: (c) => `strftime(CAST(${arg(c, 1)} AS DATE), ${formatArg(c, 0)})`,
  FORMAT_TIME: (c) => `strftime(TIMESTAMP '1970-01-01' + CAST(${arg(c, 1)} AS TIME), ${formatArg(c, 0)})`,
  PARSE_DATE: (c) => `CAST(strptime(${arg(c, 1)}, ${formatArg(c, 0)}) AS DATE)`,
  PARSE_DATETIME: (c) => `CAST(strptime(${arg(c, 1)}, ${formatArg(c, 0)}) AS TIMESTAMP)`,
  PARSE_TIME: (c) => `CAST(strptime(${arg(c, 1)}, ${formatArg(c, 0)}) AS TIME)`,
  PARSE_TIMESTAMP: (c) => {
    const parsed = `strptime(${arg(c, 1)}, ${formatArg(c, 0)})`;
    const zone = c.args[2];
    return zone === undefined
      ? `CAST(${parsed} AS TIMESTAMPTZ)`
      : `timezone(${zone}, CAST(${parsed} AS TIMESTAMP))`;
  },
  GENERATE_DATE_ARRAY: (c) => {
    const step = c.args[2] ?? 'INTERVAL 1 DAY';
    return `list_transform(generate_series(CAST(${arg(c, 0)} AS TIMESTAMP), CAST(${arg(c, 1)} AS TIMESTAMP), ${step}), lambda __d: CAST(__d AS DATE))`;
  },
  GENERATE_TIMESTAMP_ARRAY: (c) => `generate_series(${arg(c, 0)}, ${arg(c, 1)}, ${arg(c, 2)})`,

  // ---- strings and bytes ----
  LENGTH: (c) => {
    const x = arg(c, 0);
    return `CASE WHEN typeof(${x}) = 'BLOB' THEN octet_length(CAST(${x} AS BLOB)) ELSE length(CAST(${x} AS VARCHAR)) END`;
  },
  CHAR_LENGTH: rename('length'),
  CHARACTER_LENGTH: rename('length'),
  BYTE_LENGTH: (c) => `octet_length(CAST(${arg(c, 0)} AS BLOB))`,
  CONCAT: (c) => `(${c.args.join(' || ')})`,
  SUBSTR: (c) => substrSql(c),
  SUBSTRING: (c) => substrSql(c),
  REGEXP_CONTAINS: (c) => `regexp_matches(${argsOf(c, 2).join(', ')})`,
  REGEXP_EXTRACT: (c) => {
    const [s, re] = argsOf(c, 2, 4);
    return `CASE WHEN regexp_matches(${s}, ${re}) THEN regexp_extract(${s}, ${re}, ${captureGroup(c, 1)}) END`;
  },
  REGEXP_EXTRACT_ALL: (c) => `regexp_extract_all(${arg(c, 0)}, ${arg(c, 1)}, ${captureGroup(c, 1)})`,
  REGEXP_REPLACE: (c) => `regexp_replace(${argsOf(c, 3).join(', ')}, 'g')`,
  STARTS_WITH: rename('starts_with'),
  ENDS_WITH: rename('ends_with'),
  SPLIT: (c) => `string_split(${arg(c, 0)}, ${c.args[1] ?? "','"})`,
  STRPOS: rename('strpos'),
  LPAD: (c) => `lpad(${arg(c, 0)}, CAST(${arg(c, 1)} AS INTEGER), ${c.args[2] ?? "' '"})`,
  RPAD: (c) => `rpad(${arg(c, 0)}, CAST(${arg(c, 1)} AS INTEGER), ${c.args[2] ?? "' '"})`,
  FORMAT: rename('printf'),
  TO_HEX: (c) => `lower(hex(${arg(c, 0)}))`,
  FROM_HEX: (c) => `unhex(${arg(c, 0)})`,
  TO_BASE64: rename('to_base64'),
  FROM_BASE64: rename('from_base64'),
  MD5: (c) => `unhex(md5(${arg(c, 0)}))`,
  SHA1: (c) => `unhex(sha1(${arg(c, 0)}))`,
  SHA256: (c) => `unhex(sha256(${arg(c, 0)}))`,
  FARM_FINGERPRINT: (c) => `bq_farm_fingerprint(${argsOf(c, 1).join('')})`,
  GENERATE_UUID: () => 'CAST(uuid() AS VARCHAR)',
  SAFE_CONVERT_BYTES_TO_STRING: (c) => `try(decode(${arg(c, 0)}))`,

  // ---- arrays ----
  ARRAY_LENGTH: (c) => `len(${arg(c, 0)})`,
  ARRAY_TO_STRING: (c) =>
    c.args.length > 2
      ? `array_to_string(list_transform(${arg(c, 0)}, lambda __x: coalesce(__x, ${arg(c, 2)})), ${arg(c, 1)})`
      : `array_to_string(${arg(c, 0)}, ${arg(c, 1)})`,
  ARRAY_CONCAT: (c) => `list_concat(${c.args.join(', ')})`,
  ARRAY_REVERSE: rename('list_reverse'),
  GENERATE_ARRAY: (c) => `generate_series(${arg(c, 0)}, ${arg(c, 1)}, ${c.args[2] ?? '1'})`,

  // ---- math ----
  DIV: (c) => `(CAST(${arg(c, 0)} AS BIGINT) // CAST(${arg(c, 1)} AS BIGINT))`,
  MOD: (c) => `(${arg(c, 0)} % ${arg(c, 1)})`,
  SAFE_DIVIDE: (c) => `CASE WHEN (${arg(c, 1)}) = 0 THEN NULL ELSE ${arg(c, 0)} / ${arg(c, 1)} END`,
  IEEE_DIVIDE: (c) => `(CAST(${arg(c, 0)} AS DOUBLE) / ${arg(c, 1)})`,
  LOG: (c) => (c.args.length === 2 ? `(ln(${arg(c, 0)}) / ln(${arg(c, 1)}))` : `ln(${arg(c, 0)})`),
  RAND: () => 'random()',
  CEILING: rename('ceil'),

  // ---- JSON ----
  TO_JSON: (c) => `to_json(${arg(c, 0)})`,
  PARSE_JSON: (c) => `json(${arg(c, 0)})`,
  JSON_VALUE: (c) => `json_extract_string(${arg(c, 0)}, ${c.args[1] ?? JSON_PATH_DEFAULT})`,
  JSON_EXTRACT_SCALAR: (c) => `json_extract_string(${arg(c, 0)}, ${c.args[1] ?? JSON_PATH_DEFAULT})`,
  JSON_QUERY: (c) => `json_extract(${arg(c, 0)}, ${c.args[1] ?? JSON_PATH_DEFAULT})`,
  JSON_EXTRACT: (c) => `json_extract(${arg(c, 0)}, ${c.args[1] ?? JSON_PATH_DEFAULT})`,
  SESSION_USER: () => "'emulator@localhost'",
};

function diffSql(c: Call): string {
  const part = partOf(c, 2);
  const week = weekStartOffset(part, 'x');
  if (week !== undefined && part !== 'ISOWEEK') {
    // Week boundaries crossed: compare the week starts of both dates.
    const start = (e: string): string =>
      `date_trunc('day', ${e} - to_days(${weekStartOffset(part, e) as string}))`;
    return `CAST(date_diff('day', ${start(arg(c, 1))}, ${start(arg(c, 0))}) / 7 AS BIGINT)`;
  }
  return `date_diff('${DATE_PARTS[part] ?? invalidPart(part)}', ${arg(c, 1)}, ${arg(c, 0)})`;
}

function substrSql(c: Call): string {
  const [s, pos, len] = argsOf(c, 2, 3);
  const start = `CASE WHEN (${pos}) = 0 THEN 1 ELSE ${pos} END`;
  return len === undefined ? `substring(${s}, ${start})` : `substring(${s}, ${start}, ${len})`;
}

/** INTERVAL n UNIT → a DuckDB interval. */
export function intervalSql(amount: string, unit: string): string {
  const fn: Record<string, string> = {
    MICROSECOND: 'to_microseconds',
    MILLISECOND: 'to_milliseconds',
    SECOND: 'to_seconds',
    MINUTE: 'to_minutes',
    HOUR: 'to_hours',
    DAY: 'to_days',
    WEEK: 'to_weeks',
    MONTH: 'to_months',
    QUARTER: 'to_quarters',
    YEAR: 'to_years',
  };
  const name = fn[unit];
  if (name === undefined) throw invalidQuery(`Unsupported INTERVAL unit ${unit}`);
  return `${name}(CAST(${amount} AS BIGINT))`;
}

export const DATE_PART_WORDS = new Set([
  ...Object.keys(DATE_PARTS),
  'DAYOFWEEK',
  'DAYOFYEAR',
  'DATE',
  'TIME',
  'DATETIME',
]);
