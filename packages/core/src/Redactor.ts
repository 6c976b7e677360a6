/**
 * The one redactor applied to everything that leaves the process: reports, the audit log,
 * escalations, sink bodies, logs, span attributes and error causes.
 *
 * What it removes (each replaced by a fixed marker, `[REDACTED]` by default, keeping the key so
 * the output stays readable):
 * - values of secret-like keys (`password`, `passwd`, `pwd`, `secret`, `token`, `apiKey`,
 *   `authorization`, `cookie`, `privateKey`, `credentials`, `dsn`, `passphrase`, `routingKey` …),
 *   matched per word in camelCase, snake_case, kebab-case or dotted form, case-insensitively.
 *   A key whose last word names a reference or a property of the secret (`secretKeyRef`,
 *   `secretName`, `passwordFile`, `tokenCount`, `passwordEnabled`) is not a secret;
 * - `{ name, value }` / `{ key, value }` entries (Kubernetes `env`, header lists) whose NAME is
 *   secret-like (`valueFrom.secretKeyRef` is a reference and is kept);
 * - every value of `data` / `stringData` in a Kubernetes `Secret` object, whatever its key;
 * - in every string: URL userinfo passwords (`postgres://user:[REDACTED]@host`), Authorization /
 *   Cookie header values, bearer/basic credentials, JWTs, GitHub tokens, Slack tokens and
 *   webhook URLs, AWS access key ids and the secret keys next to them, PEM private keys, and
 *   `password=…` style pairs (libpq connection strings, query strings, YAML/JSON text);
 * - `Redacted` values from effect, and every extra pattern or key configured on the layer.
 *
 * `redact` is deep and total: it returns a new JSON-safe value for any input (cycles, Errors with
 * their cause chains, Buffers, Dates, Maps, Sets, class instances, bigint) and never throws.
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer, Logger, Redacted, References, Tracer } from "effect"
import * as Cause from "effect/Cause"
import type { Json } from "./Json"

/** The default replacement marker. */
export const MARKER = "[REDACTED]"

/** Options for a redactor. */
export interface Options {
  /** The replacement marker (default `[REDACTED]`). */
  readonly marker?: string
  /** Extra secret-like keys: a string is one more secret word (matched like the built-in ones), a RegExp is tested against the whole key. */
  readonly extraKeys?: ReadonlyArray<string | RegExp>
  /** Extra patterns: every match in every string is replaced by the marker (a global flag is added). */
  readonly extraPatterns?: ReadonlyArray<RegExp>
  /** Keys never treated as secret (exact, case-insensitive), e.g. `["tokenBucket"]`. */
  readonly allowKeys?: ReadonlyArray<string>
  /** Depth beyond which values are replaced by `[MaxDepth]` (default 64). */
  readonly maxDepth?: number
}

/** The redactor's operations. */
export interface Shape {
  /** Deeply redacts any value into a new JSON-safe value. Never throws. */
  readonly redact: (value: unknown) => Json
  /** Redacts the secrets found in one string. */
  readonly redactString: (s: string) => string
  /** Whether a key (property name, env var name, header name) names a secret. */
  readonly isSecretKey: (key: string) => boolean
  /** Redacts a record of span attributes: secret-like keys get the marker, other values are redacted deeply. */
  readonly redactAttributes: (attributes: Readonly<Record<string, unknown>>) => Record<string, Json>
  /** The marker used. */
  readonly marker: string
}

// ---------------------------------------------------------------------------------------------
// keys

/** Words that make a key secret wherever they appear in it. */
const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "pwd",
  "secret",
  "token",
  "apikey",
  "authorization",
  "cookie",
  "cookies",
  "credential",
  "credentials",
  "creds",
  "privatekey",
  "passphrase",
  "dsn",
  "sessionid",
  "jwt",
  "bearer",
  "routingkey",
  "webhookurl"
])

/** Two consecutive words that make a key secret ("api key", "private key" …). */
const SECRET_PAIRS = new Set([
  "api key",
  "private key",
  "access key",
  "secret key",
  "signing key",
  "encryption key",
  "master key",
  "client key",
  "ssh key",
  "tls key",
  "routing key",
  "integration key",
  "connection string",
  "session id",
  "webhook url",
  "set cookie",
  "x api"
])

/** Fragments that make a word secret even inside a longer word ("PGPASSWORD", "sslpassword"). */
const SECRET_FRAGMENTS = [
  "password",
  "passwd",
  "passphrase",
  "credential",
  "apikey",
  "privatekey",
  "secretkey",
  "accesstoken",
  "authtoken",
  "clientsecret",
  "authorization"
]

/** Words that make a key secret when they are its last word ("DB_PASS", "basicAuth"). */
const SECRET_LAST_WORDS = new Set(["pass", "auth", "pat"])

/** Last words that turn a secret-like key into a reference to, or a property of, the secret. */
const REFERENCE_SUFFIXES = new Set([
  "ref",
  "refs",
  "name",
  "names",
  "file",
  "path",
  "enabled",
  "required",
  "set",
  "length",
  "count",
  "ttl",
  "expiry",
  "expires",
  "type",
  "kind",
  "policy",
  "hint",
  "mode",
  "namespace",
  "store",
  "provider",
  "version",
  "stdin",
  "prompt"
])

/** Splits a key into lower-case words at camelCase, snake_case, kebab-case, dots, spaces and digits boundaries. */
const words = (key: string): Array<string> =>
  key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase())

const makeIsSecretKey = (extraWords: ReadonlyArray<string>, extraRegex: ReadonlyArray<RegExp>, allow: ReadonlySet<string>) => {
  const extra = new Set(extraWords.map((w) => w.toLowerCase().replace(/[^a-z0-9]/g, "")))
  const cache = new Map<string, boolean>()
  const compute = (key: string): boolean => {
    if (allow.has(key.toLowerCase())) return false
    if (extraRegex.some((r) => { r.lastIndex = 0; return r.test(key) })) return true
    const ws = words(key)
    if (ws.length === 0) return false
    const last = ws[ws.length - 1]!
    if (ws.length > 1 && REFERENCE_SUFFIXES.has(last)) return false
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!
      if (SECRET_WORDS.has(w) || extra.has(w)) return true
      if (w.length > 6 && SECRET_FRAGMENTS.some((f) => w.includes(f))) return true
      if (i + 1 < ws.length) {
        const pair = `${w} ${ws[i + 1]}`
        if (SECRET_PAIRS.has(pair) || extra.has(`${w}${ws[i + 1]}`)) return true
      }
    }
    if (SECRET_LAST_WORDS.has(last)) return true
    const joined = ws.join("")
    return extra.has(joined)
  }
  return (key: string): boolean => {
    let r = cache.get(key)
    if (r === undefined) {
      r = compute(key)
      if (cache.size < 10_000) cache.set(key, r)
    }
    return r
  }
}

// ---------------------------------------------------------------------------------------------
// strings

/** A replacement rule over strings. */
interface Rule {
  /** A cheap pre-check: the rule runs only when it holds. */
  readonly test: (s: string) => boolean
  readonly re: RegExp
  readonly replace: (marker: string, isSecretKey: (k: string) => boolean) => (match: string, ...groups: Array<any>) => string
}

/** The marker in the quotes of `value` (`"…"`, `'…'`, JSON-escaped `\\"…\\"`, or none). */
const quoted = (value: string, marker: string): string => {
  const q = value.startsWith("\\\"") ? "\\\"" : value[0] === "\"" || value[0] === "'" ? value[0] : ""
  return `${q}${marker}${q}`
}

/** A mysql / mariadb client command (where `-pSECRET` is a password, not a port). */
const MYSQL_CLIENT = /\b(?:mysql|mysqladmin|mysqldump|mysqlsh|mysqlimport|mysqlcheck|mysqlpump|mariadb|mariadb-dump|mariadb-admin)\b/

/** An argv element that is a flag: `--password`, `-token` (single dash: names of 4 or more letters). */
const FLAG = /^(?:--([A-Za-z][A-Za-z0-9_.-]*)|-([A-Za-z][A-Za-z0-9_.-]{3,}))$/

/** A flag and its value as the next word (quoted or bare); the value never starts with `-`. */
const CLI_FLAG = /(^|[\s"'`(\[,;])(--?)([A-Za-z][A-Za-z0-9_.-]*)([ \t]+)((?!-)(?:\\"(?:[^"\\\r\n]|\\[^"\r\n])*(?:\\"|$)|"(?:[^"\\\r\n]|\\.)*(?:"|$)|'[^'\r\n]*(?:'|$)|(?:[^\s"'`\\]|\\(?!"))+))/g

/** A flag and its value in the JSON text of an argv array: `"--password","x"` (also JSON-escaped inside JSON). */
const JSON_FLAG = /(\\?")(--?)([A-Za-z][A-Za-z0-9_.-]*)\1([ \t]*,[ \t\r\n]*)\1(?!-)((?:(?!\1)[^\r\n])*)(?:\1|$)/g

/** The mysql-style attached password flag: `mysql -uroot -pSecret` (only in a mysql/mariadb command line). Runs after the flag rules. */
const MYSQL_P: Rule = {
  test: (s) => MYSQL_CLIENT.test(s) && s.includes("-p"),
  re: /(^|[\s"'`=,[]|\\")-p(?!\s)((?:\\"(?:[^"\\\r\n]|\\[^"\r\n])*(?:\\"|$)|"(?:[^"\\\r\n]|\\.)*(?:"|$)|'[^'\r\n]*(?:'|$)|(?:[^\s"'`,\]\\]|\\(?!"))+))/g,
  replace: (m) => (all: string, lead: string, value: string, offset: number, whole: string) =>
    value.includes(m) || whole.startsWith(m, offset + lead.length + 2)
      ? all
      : `${lead}-p${quoted(value, m)}`
}

const PEM =
  /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g

const rules: ReadonlyArray<Rule> = [
  // PEM private keys (also truncated ones: to the end of the string)
  {
    test: (s) => s.includes("PRIVATE KEY"),
    re: PEM,
    replace: (m) => (_all, kind: string, block: string | undefined) =>
      `-----BEGIN ${kind}PRIVATE KEY${block ?? ""}-----${m}-----END ${kind}PRIVATE KEY${block ?? ""}-----`
  },
  // Slack incoming webhook URLs
  {
    test: (s) => s.includes("hooks.slack"),
    re: /\bhttps?:\/\/hooks\.slack(?:-gov)?\.com\/(services|workflows|triggers)\/[A-Za-z0-9/_-]+/g,
    replace: (m) => (all: string, kind: string) => `${all.slice(0, all.indexOf(kind) + kind.length)}/${m}`
  },
  // URL userinfo password: scheme://user:password@host. The password runs to the last `@` before
  // the host, so it may hold `@`, `:` and `/` (encoded or not); `host:8080/path/@x` (a port, then a
  // path with an `@`) is not a password
  {
    test: (s) => s.includes("://") && s.includes("@"),
    re: /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^\s:/?#@"'<>]*):([^\s?#"'<>]*)@(?=[^\s@/?#"'<>]*(?:[\s/?#"'<>]|$))/g,
    replace: (m) => (all: string, scheme: string, user: string, pass: string) =>
      pass === m || /^[0-9]{1,5}\//.test(pass) ? all : `${scheme}${user}:${m}@`
  },
  // scheme-less DSNs: `user:pass@tcp(host:3306)/db` (Go MySQL), `user:pass@unix(/sock)/db`,
  // `user:pass@host:5432/db`, `user:pass@host/db` (bounded lengths keep the scan linear); the user
  // starts with a letter (not `0.0.0.0:5432@…`) and an image digest (`web:1.0@sha256:…`) is no host
  {
    test: (s) => s.includes("@") && s.includes(":"),
    re:
      /(^|[\s"'`=(,;[{])((?:[A-Za-z_][A-Za-z0-9_.+-]{0,63})?):(?!\/\/)([^\s"'`<>]{1,256})@(?!(?:sha|md)[0-9]+(?::|$))(?=(?:tcp|unix|udp)?\(|[A-Za-z0-9_-][A-Za-z0-9_.-]*(?::[0-9]{1,5})?(?:\/|(?=[\s"'`)\],;}]|$)(?<=:[0-9]{1,5})))/g,
    replace: (m) => (all: string, lead: string, user: string, pass: string) =>
      pass.includes(m) || pass.includes("://") || /^[0-9]{1,5}\//.test(pass) ? all : `${lead}${user}:${m}@`
  },
  // a URL cut after its password (a truncated message): scheme://user:pass<end>, unless pass is a port
  {
    test: (s) => s.includes("://"),
    re: /\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^\s:/?#@"'<>]*):(?![0-9]*$)([^\s/?#@"'<>]+)$/g,
    replace: (m) => (all: string, scheme: string, user: string, pass: string) => (pass === m ? all : `${scheme}${user}:${m}`)
  },
  // Authorization / Cookie header lines: the whole value to the end of the line
  {
    test: (s) => /authorization|cookie|x-api-key|x-auth-token/i.test(s),
    re: /\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|x-auth-token)([ \t]*:[ \t]*)(?!["'])([^\r\n"'\\]+)/gi,
    replace: (m) => (all: string, name: string, sep: string, value: string) => (value.startsWith(m) ? all : `${name}${sep}${m}`)
  },
  // bearer / basic / token credentials
  {
    test: (s) => /Bearer|Basic|Token|Digest/.test(s),
    re: /\b(Bearer|Basic|Token|Digest)([ \t]+)([A-Za-z0-9._~+/=:-]{8,})/g,
    replace: (m) => (_all, scheme: string, sp: string) => `${scheme}${sp}${m}`
  },
  // JWTs
  { test: (s) => s.includes("eyJ"), re: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?/g, replace: (m) => () => m },
  // GitHub tokens
  { test: (s) => /gh[pousr]_|github_pat_/.test(s), re: /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})\b/g, replace: (m) => () => m },
  // Slack tokens
  { test: (s) => /xox|xapp/.test(s), re: /\b(?:xox[abpors]|xoxe(?:\.xox[bp])?|xapp)-[A-Za-z0-9-]{8,}/g, replace: (m) => () => m },
  // JSON text of { "name": "<secret-like>", "value": "…" } entries (a Kubernetes env array printed as JSON)
  {
    test: (s) => s.includes("\"value\""),
    re: /("(?:name|key)"[ \t]*:[ \t]*"([^"\\\r\n]*)"[ \t]*,[ \t\r\n]*"value"[ \t]*:[ \t]*)("(?:[^"\\\r\n]|\\.)*(?:"|$))/g,
    replace: (m, isSecretKey) => (all: string, head: string, name: string) => (isSecretKey(name) ? `${head}"${m}"` : all)
  },
  // YAML text of `- name: <secret-like>` followed by `value: …`
  {
    test: (s) => s.includes("value:"),
    re: /((?:^|\n)[ \t]*-?[ \t]*name:[ \t]*["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?[ \t]*\r?\n[ \t]*value:[ \t]*)([^\r\n]*)/g,
    replace: (m, isSecretKey) => (all: string, head: string, name: string, value: string) =>
      isSecretKey(name) && value.trim() !== "" && !value.includes(m) ? `${head}${m}` : all
  }
]

/** The value of a secret pair: a JSON-escaped, double- or single-quoted string, or a bare word. */
const PAIR_VALUE = /^(?:\\"(?:[^"\\]|\\[^"])*(?:\\"|$)|"(?:[^"\\\r\n]|\\.)*(?:"|$)|'[^'\r\n]*(?:'|$)|[^\s&;,'"}\]]+)/

/** AWS access key ids. */
const AWS_KEY_ID = /\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[A-Z0-9]{16}\b/g
/** A 40-character AWS secret access key (only redacted next to an access key id). */
const AWS_SECRET = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])/g
const AWS_SECRET_EXACT = /^[A-Za-z0-9/+=]{40}$/

const hasAwsKeyId = (s: string): boolean => {
  AWS_KEY_ID.lastIndex = 0
  return AWS_KEY_ID.test(s)
}

// ---------------------------------------------------------------------------------------------
// the redactor

/** Builds a redactor (pure; no services needed). */
export const make = (options: Options = {}): Shape => {
  const marker = options.marker ?? MARKER
  const maxDepth = options.maxDepth ?? 64
  const extraKeyWords = (options.extraKeys ?? []).filter((k): k is string => typeof k === "string")
  const extraKeyRegex = (options.extraKeys ?? []).filter((k): k is RegExp => k instanceof RegExp)
  const allow = new Set((options.allowKeys ?? []).map((k) => k.toLowerCase()))
  const isSecretKey = makeIsSecretKey(extraKeyWords, extraKeyRegex, allow)
  const extraPatterns = (options.extraPatterns ?? []).map((r) => new RegExp(r.source, r.flags.includes("g") ? r.flags : r.flags + "g"))
  const compiled = rules.map((r) => ({ test: r.test, re: r.re, fn: r.replace(marker, isSecretKey) }))
  const mysqlP = MYSQL_P.replace(marker, isSecretKey)

  /**
   * `key=value` / `key: value` pairs whose key is secret-like (libpq strings, query strings,
   * YAML or JSON text, also JSON escaped inside JSON). Scans key-and-separator candidates and
   * consumes a value only when the key is secret, so a pair nested in another pair's value is
   * still found.
   */
  const redactPairs = (s: string): string => {
    const KEY_SEP = /(\\?["']?)([A-Za-z_][A-Za-z0-9_.-]{0,127})\1((?:[ \t]*=|:)[ \t]*)/g
    let out = ""
    let last = 0
    let m: RegExpExecArray | null
    while ((m = KEY_SEP.exec(s)) !== null) {
      if (m[0].length === 0) {
        KEY_SEP.lastIndex++
        continue
      }
      if (!isSecretKey(m[2]!)) continue
      const start = m.index + m[0].length
      const v = PAIR_VALUE.exec(s.slice(start))
      if (!v || v[0].length === 0) continue
      const value = v[0]
      if (value.includes(marker) || marker.startsWith(value)) continue
      const q = value.startsWith("\\\"") ? "\\\"" : value[0] === "\"" || value[0] === "'" ? value[0] : ""
      out += s.slice(last, start) + q + marker + q
      last = start + value.length
      KEY_SEP.lastIndex = last
    }
    return last === 0 ? s : out + s.slice(last)
  }

  /**
   * Command-line flags whose name is secret-like, with their value as the next word:
   * `--password x`, `--token "x y"`, `--api-key x`, `-secret x` (`--password=x` is a pair).
   */
  const redactFlags = (s: string): string =>
    s.replace(CLI_FLAG, (all: string, lead: string, dashes: string, name: string, sp: string, value: string) =>
      (dashes === "-" && name.length < 4) || !isSecretKey(name) || value.includes(marker)
        ? all
        : `${lead}${dashes}${name}${sp}${quoted(value, marker)}`
    ).replace(JSON_FLAG, (all: string, q: string, dashes: string, name: string, sep: string, value: string) =>
      (dashes === "-" && name.length < 4) || !isSecretKey(name) || value === marker
        ? all
        : `${q}${dashes}${name}${q}${sep}${q}${marker}${q}`
    )

  /**
   * An argv array: the element after a secret-like flag (`["--password", "x"]`) is its value,
   * and in a mysql/mariadb command `-pSECRET` is a password.
   */
  const redactArgv = (arr: ReadonlyArray<unknown>, seen: Set<object>, depth: number): Array<Json> => {
    const mysql = arr.some((v) => typeof v === "string" && MYSQL_CLIENT.test(v.split("/").pop() ?? ""))
    return arr.map((v, i) => {
      if (typeof v === "string") {
        const prev = i > 0 ? arr[i - 1] : undefined
        const flag = typeof prev === "string" ? FLAG.exec(prev) : null
        if (flag && isSecretKey(flag[1] ?? flag[2]!) && !v.startsWith("-")) return marker
        if (mysql && /^-p./.test(v)) return `-p${marker}`
      }
      return go(v, seen, depth + 1)
    })
  }

  const redactString = (input: string): string => {
    let s = input
    const aws = hasAwsKeyId(s)
    for (const r of compiled) {
      if (!r.test(s)) continue
      r.re.lastIndex = 0
      s = s.replace(r.re, r.fn as any)
    }
    if (s.includes("=") || s.includes(":")) s = redactPairs(s)
    if (s.includes("-")) s = redactFlags(s)
    if (MYSQL_P.test(s)) {
      MYSQL_P.re.lastIndex = 0
      s = s.replace(MYSQL_P.re, mysqlP as any)
    }
    if (aws || hasAwsKeyId(s)) {
      AWS_KEY_ID.lastIndex = 0
      s = s.replace(AWS_KEY_ID, marker)
      AWS_SECRET.lastIndex = 0
      s = s.replace(AWS_SECRET, marker)
    }
    for (const re of extraPatterns) {
      re.lastIndex = 0
      s = s.replace(re, marker)
    }
    return s
  }

  const redactError = (e: Error, seen: Set<object>, depth: number): Json => {
    const out: Record<string, Json> = {}
    out.name = redactString(String(e.name ?? "Error"))
    out.message = redactString(String(e.message ?? ""))
    for (const k of Object.keys(e)) {
      if (k === "name" || k === "message" || k === "stack" || k === "cause") continue
      out[k] = redactEntry(k, (e as any)[k], seen, depth + 1)
    }
    if (typeof e.stack === "string") out.stack = redactString(e.stack)
    if ("cause" in e && (e as any).cause !== undefined) out.cause = go((e as any).cause, seen, depth + 1)
    if (typeof AggregateError !== "undefined" && e instanceof AggregateError && !("errors" in out)) {
      out.errors = go(e.errors, seen, depth + 1)
    }
    return out
  }

  const redactEntry = (key: string, value: unknown, seen: Set<object>, depth: number): Json => {
    if (isSecretKey(key) && value !== null && value !== undefined && typeof value !== "boolean") return redactAll(value, depth, new Set())
    return go(value, seen, depth)
  }

  /**
   * Everything under a secret key: plain objects and arrays keep their shape (and `_tag`
   * discriminators, so tagged data such as a Fact still decodes), every other leaf becomes the marker.
   */
  const redactAll = (value: unknown, depth: number, seen: Set<object>): Json => {
    if (value === null || value === undefined || typeof value === "boolean") return value ?? null
    if (depth > maxDepth || typeof value !== "object" || Redacted.isRedacted(value)) return marker
    if (seen.has(value)) return "[Circular]"
    seen.add(value)
    try {
      if (Array.isArray(value)) return value.map((v) => redactAll(v, depth + 1, seen))
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return marker
      const out: Record<string, Json> = {}
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === "function" || typeof v === "symbol") continue
        out[redactString(k)] = k === "_tag" && typeof v === "string" ? redactString(v) : redactAll(v, depth + 1, seen)
      }
      return out
    } finally {
      seen.delete(value)
    }
  }

  const redactObjectEntries = (entries: Array<[string, unknown]>, seen: Set<object>, depth: number): Record<string, Json> => {
    const out: Record<string, Json> = {}
    // { name, value } / { key, value } entries (Kubernetes env, header lists) with a secret-like name
    const label = entries.find(([k]) => k === "name" || k === "key")
    const secretLabel = label !== undefined && typeof label[1] === "string" && entries.some(([k]) => k === "value") &&
      isSecretKey(label[1])
    // an AWS access key id among the values makes a sibling 40-character value its secret key
    const awsNearby = entries.some(([, v]) => typeof v === "string" && hasAwsKeyId(v))
    // a Kubernetes Secret object: every value of data / stringData is secret, whatever its key
    const k8sSecret = entries.some(([k, v]) => k === "kind" && v === "Secret") &&
      entries.some(([k, v]) => k === "apiVersion" && v === "v1" || (k === "data" || k === "stringData"))
    for (const [k, v] of entries) {
      if (v === undefined || typeof v === "function" || typeof v === "symbol") continue
      const rk = redactString(k)
      if (k8sSecret && (k === "data" || k === "stringData") && v !== null) out[rk] = redactAll(v, depth + 1, new Set())
      else if (secretLabel && k === "value" && v !== null) out[rk] = marker
      else if (awsNearby && typeof v === "string" && AWS_SECRET_EXACT.test(v)) out[rk] = marker
      else out[rk] = redactEntry(k, v, seen, depth + 1)
    }
    return out
  }

  const go = (value: unknown, seen: Set<object>, depth: number): Json => {
    try {
      switch (typeof value) {
        case "string":
          return redactString(value)
        case "number":
          return Number.isFinite(value) ? value : null
        case "boolean":
          return value
        case "bigint":
          return value.toString()
        case "undefined":
          return null
        case "symbol":
          return redactString(value.toString())
        case "function":
          return `[Function${value.name ? ` ${redactString(value.name)}` : ""}]`
      }
      if (value === null) return null
      const obj = value as object
      if (depth > maxDepth) return "[MaxDepth]"
      if (Redacted.isRedacted(obj)) return marker
      if (seen.has(obj)) return "[Circular]"
      if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString()
      if (obj instanceof RegExp) return redactString(obj.toString())
      if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && obj instanceof SharedArrayBuffer)) {
        const name = typeof Buffer !== "undefined" && Buffer.isBuffer(obj) ? "Buffer" : obj.constructor?.name ?? "binary"
        return `[${name}: ${(obj as ArrayBufferView | ArrayBuffer).byteLength} bytes]`
      }
      seen.add(obj)
      try {
        if (obj instanceof Error) return redactError(obj, seen, depth)
        if (Array.isArray(obj)) return redactArgv(obj, seen, depth)
        if (obj instanceof Map) {
          return redactObjectEntries([...obj.entries()].map(([k, v]) => [typeof k === "string" ? k : JSON.stringify(go(k, seen, depth + 1)), v]), seen, depth)
        }
        if (obj instanceof Set) return [...obj].map((v) => go(v, seen, depth + 1))
        if (typeof (obj as any).toJSON === "function") {
          const j = (obj as any).toJSON()
          if (j !== obj) return go(j, new Set([...seen]), depth + 1)
        }
        if (obj instanceof Promise || obj instanceof WeakMap || obj instanceof WeakSet) return `[${obj.constructor.name}]`
        return redactObjectEntries(Object.entries(obj), seen, depth)
      } finally {
        seen.delete(obj)
      }
    } catch {
      return "[Unredactable]"
    }
  }

  const redact = (value: unknown): Json => go(value, new Set(), 0)

  const redactAttributes = (attributes: Readonly<Record<string, unknown>>): Record<string, Json> => {
    const out: Record<string, Json> = {}
    const r = redact(attributes)
    if (r !== null && typeof r === "object" && !Array.isArray(r)) Object.assign(out, r)
    return out
  }

  return { redact, redactString, isSecretKey, redactAttributes, marker }
}

/** A redactor with the default rules (for pure helpers such as `Report.toMarkdown`). */
export const defaultRedactor: Shape = make()

/** The Redactor service. */
export class Redactor extends Context.Service<Redactor, Shape>()("@byteport/core/Redactor") {}

/** A layer with the default rules plus the given extra keys, patterns and allowed keys. */
export const layer = (options: Options = {}): Layer.Layer<Redactor> => Layer.succeed(Redactor, make(options))

/** The default layer. */
export const layerDefault: Layer.Layer<Redactor> = layer()

/** Redacts a value with the Redactor service. */
export const redact = (value: unknown): Effect.Effect<Json, never, Redactor> => Effect.map(Effect.service(Redactor), (r) => r.redact(value))

// ---------------------------------------------------------------------------------------------
// errors and causes

/** A plain Error carrying the redacted name, message, stack and cause chain of another error. */
export const redactError = (redactor: Shape, error: unknown): Error => {
  const build = (e: unknown, depth: number): unknown => {
    if (!(e instanceof Error)) return redactor.redact(e)
    const out = new Error(redactor.redactString(String(e.message ?? "")))
    out.name = redactor.redactString(String(e.name ?? "Error"))
    out.stack = typeof e.stack === "string" ? redactor.redactString(e.stack) : out.stack
    if (e.cause !== undefined && depth < 16) (out as any).cause = build(e.cause, depth + 1)
    for (const k of Object.keys(e)) {
      if (k === "cause" || k === "message" || k === "name" || k === "stack") continue
      ;(out as any)[k] = redactor.isSecretKey(k) ? redactor.marker : redactor.redact((e as any)[k])
    }
    return out
  }
  return build(error, 0) as Error
}

/** A Cause with every failure and defect redacted (interruptions kept). */
export const redactCause = <E>(redactor: Shape, cause: Cause.Cause<E>): Cause.Cause<unknown> =>
  Cause.fromReasons(
    cause.reasons.map((r) =>
      Cause.isFailReason(r)
        ? Cause.makeFailReason(r.error instanceof Error ? redactError(redactor, r.error) : redactor.redact(r.error))
        : Cause.isDieReason(r)
        ? Cause.makeDieReason(r.defect instanceof Error ? redactError(redactor, r.defect) : redactor.redact(r.defect))
        : r
    )
  )

// ---------------------------------------------------------------------------------------------
// logging

/**
 * Wraps a Logger so that everything it sees is redacted first: the message (each part, deeply),
 * the cause (errors, their stacks and cause chains) and the fiber's log annotations.
 */
export const logger = <Output>(redactor: Shape, inner: Logger.Logger<unknown, Output>): Logger.Logger<unknown, Output> =>
  Logger.make((options) => {
    const message = Array.isArray(options.message)
      ? options.message.map((m) => (typeof m === "string" ? redactor.redactString(m) : redactor.redact(m)))
      : typeof options.message === "string"
      ? redactor.redactString(options.message)
      : redactor.redact(options.message)
    const cause = options.cause.reasons.length > 0 ? redactCause(redactor, options.cause) : options.cause
    const fiber = options.fiber
    const redactedFiber = new Proxy(fiber, {
      get(target, prop) {
        if (prop === "getRef") {
          return (ref: any) => {
            const v = target.getRef(ref)
            return ref === References.CurrentLogAnnotations ? redactor.redactAttributes(v as Record<string, unknown>) : v
          }
        }
        const v = (target as any)[prop]
        return typeof v === "function" ? v.bind(target) : v
      }
    })
    return inner.log({ ...options, message, cause, fiber: redactedFiber })
  })

/** A layer that replaces the loggers with redacting wrappers of `loggers` (default: the default logger). */
export const layerLogger = (
  loggers: ReadonlyArray<Logger.Logger<unknown, unknown>> = [Logger.defaultLogger]
): Layer.Layer<never, never, Redactor> =>
  Layer.unwrap(Effect.map(Effect.service(Redactor), (r) => Logger.layer(loggers.map((l) => logger(r, l)))))

// ---------------------------------------------------------------------------------------------
// tracing

/** Redacts span attributes with the given redactor. */
export const spanAttributes = (redactor: Shape, attributes: Readonly<Record<string, unknown>>): Record<string, Json> =>
  redactor.redactAttributes(attributes)

/**
 * Wraps a Tracer so that every span attribute and event attribute is redacted before the inner
 * tracer's span sees it (and so before any exporter does).
 */
export const tracer = (redactor: Shape, inner: Tracer.Tracer): Tracer.Tracer =>
  Tracer.make({
    span(options) {
      const span = inner.span({ ...options, name: redactor.redactString(options.name) })
      // attributes arrive one at a time: an AWS access key id in one makes a 40-character
      // attribute (before or after it) its secret key
      let awsSeen = false
      const awsCandidates: Array<string> = []
      return new Proxy(span, {
        get(target, prop) {
          if (prop === "attribute") {
            return (key: string, value: unknown) => {
              if (typeof value === "string" && hasAwsKeyId(value) && !awsSeen) {
                awsSeen = true
                for (const k of awsCandidates) target.attribute(k, redactor.marker)
              }
              const secret = (redactor.isSecretKey(key) && value !== null && value !== undefined && typeof value !== "boolean") ||
                (typeof value === "string" && AWS_SECRET_EXACT.test(value) && (awsSeen || (awsCandidates.push(key), false)))
              target.attribute(key, secret ? redactor.marker : redactor.redact(value))
            }
          }
          if (prop === "event") {
            return (name: string, startTime: bigint, attributes?: Record<string, unknown>) =>
              target.event(redactor.redactString(name), startTime, attributes ? redactor.redactAttributes(attributes) : attributes)
          }
          if (prop === "end") {
            return (endTime: bigint, exit: Exit.Exit<unknown, unknown>) =>
              target.end(endTime, Exit.isFailure(exit) ? Exit.failCause(redactCause(redactor, exit.cause)) : exit)
          }
          const v = (target as any)[prop]
          return typeof v === "function" ? v.bind(target) : v
        }
      })
    },
    ...(inner.context ? { context: inner.context } : {})
  })

/** A layer that installs a redacting wrapper around the current tracer. */
export const layerTracer: Layer.Layer<never, never, Redactor> = Layer.unwrap(
  Effect.gen(function*() {
    const r = yield* Redactor
    const current = yield* Effect.tracer
    return Layer.succeed(Tracer.Tracer, tracer(r, current))
  })
)
