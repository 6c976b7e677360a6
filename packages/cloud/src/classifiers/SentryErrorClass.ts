/**
 * `SentryErrorClass`: the facts and classifier of `deploy.sentry.classify`, in the seed's order —
 * `db_connection` (connect and pool errors, e.g. PostgreSQL 53300), `oom` (`OutOfMemoryError`,
 * "JavaScript heap out of memory" …), `deploy_correlation` (first seen within N minutes (default
 * 30) after a deploy of its first release — the release it was first seen in, so absent from the
 * one before; first seen before the deploy is not), `upstream_5xx` (an outbound HTTP ≥ 500 in the
 * exception or in an HTTP breadcrumb), `unknown` (anything else: escalate with a structured
 * summary). Patterns are documented per language (JavaScript/Node, Python, Java, Go) and all
 * apply whatever the event's platform (a Node service may log a Go sidecar's error). The seed
 * gives no confidences: 0.90, 0.90, 0.80, 0.78, 0.70.
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"

/** The classes, in the seed's order. */
export const Classes = ["db_connection", "oom", "deploy_correlation", "upstream_5xx", "unknown"] as const
/** A class. */
export type Class = typeof Classes[number]

/** The issue. */
export interface IssueFacts {
  readonly id: string
  readonly shortId: string
  readonly title: string
  readonly culprit: string | null
  readonly level: string | null
  readonly platform: string | null
  readonly org: string
  readonly project: string
  readonly firstSeen: number
  readonly lastSeen: number
  readonly count: number
  readonly permalink: string | null
  /** The release the issue was first seen in (null: events carry no release). */
  readonly firstRelease: string | null
}

/** One exception of the latest event (innermost last, as Sentry orders them). */
export interface ExceptionFacts {
  readonly type: string | null
  readonly value: string | null
  readonly module: string | null
  /** `module.function` (or `filename:function`) of each frame, outermost first. */
  readonly frames: ReadonlyArray<string>
}

/** A breadcrumb of the latest event (HTTP ones carry the status code). */
export interface BreadcrumbFacts {
  readonly category: string | null
  readonly message: string | null
  readonly method: string | null
  readonly url: string | null
  readonly statusCode: number | null
}

/** The issue's latest event. */
export interface EventFacts {
  readonly exceptions: ReadonlyArray<ExceptionFacts>
  readonly breadcrumbs: ReadonlyArray<BreadcrumbFacts>
  readonly message: string | null
}

/** The deploy of the issue's first release (the newest one finished), and the release before it. */
export interface DeployFacts {
  readonly release: string
  readonly environment: string
  readonly deployedAt: number
  readonly previousRelease: string | null
}

/** The facts of `deploy.sentry.classify`. */
export interface SentryFacts {
  readonly issue: IssueFacts
  readonly event: EventFacts
  /** null: the first release has no deploy (or the issue has no first release). */
  readonly deploy: DeployFacts | null
}

/** The patterns, per class and language. */
export interface Patterns {
  readonly db_connection: Readonly<Record<"javascript" | "python" | "java" | "go" | "any", RegExp>>
  readonly oom: Readonly<Record<"javascript" | "python" | "java" | "go" | "any", RegExp>>
  /** An HTTP status ≥ 500 named in an exception's type or value. */
  readonly upstream_5xx: RegExp
}

/** The default patterns. */
export const defaultPatterns: Patterns = {
  db_connection: {
    javascript: /(ECONNREFUSED[^\n]*:(5432|3306|27017|6379)|SequelizeConnection(Refused)?Error|Connection terminated unexpectedly|PrismaClientInitializationError|Can't reach database server|KnexTimeoutError|Timeout acquiring a connection|MongoServerSelectionError|too many clients already)/i,
    python: /(psycopg2?\.OperationalError|OperationalError: (could not connect|connection to server)|sqlalchemy\.exc\.(OperationalError|TimeoutError)|QueuePool limit of size|django\.db\.utils\.OperationalError|pymysql\.err\.OperationalError|asyncpg\.exceptions\.(TooManyConnectionsError|CannotConnectNowError))/i,
    java: /(CannotGetJdbcConnectionException|SQLTransientConnectionException|HikariPool-\d+ - Connection is not available|Communications link failure|CommunicationsException|PSQLException: (FATAL|Connection to))/i,
    go: /(dial tcp [^\s]+:(5432|3306): connect: connection refused|pq: sorry, too many clients|driver: bad connection|failed to connect to `host=|pgconn|sql: database is closed)/i,
    any: /(\b53300\b|\b57P0[123]\b|\b08006\b|\b08001\b|\b08004\b|too many connections|remaining connection slots are reserved|connection pool (exhausted|timeout))/i
  },
  oom: {
    javascript: /(JavaScript heap out of memory|Allocation failed - JavaScript heap|RangeError: Array buffer allocation failed)/i,
    python: /(\bMemoryError\b|Cannot allocate memory)/,
    java: /(java\.lang\.OutOfMemoryError|OutOfMemoryError: (Java heap space|GC overhead limit exceeded|Metaspace|unable to create native thread))/,
    go: /(fatal error: runtime: out of memory|runtime: out of memory|fatal error: runtime: cannot allocate memory)/,
    any: /(\bOutOfMemoryError\b|\bOOM[- ]?kill(ed)?\b|out of memory)/i
  },
  upstream_5xx: /(\b(status( code)?|HTTP|HTTPError|response code|returned)\b[^\n]{0,20}\b5\d\d\b|\b5\d\d (Internal Server Error|Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)\b|\bStatusCode: 5\d\d\b)/i
}

/** The default confidences (the seed gives none). */
export const defaultConfidences: Readonly<Record<Class, number>> = {
  db_connection: 0.9,
  oom: 0.9,
  deploy_correlation: 0.8,
  upstream_5xx: 0.78,
  unknown: 0.7
}

/** The text the patterns read: every exception's type, value and module, and the message. */
export const textOf = (e: EventFacts, issue: Pick<IssueFacts, "title">): string =>
  [issue.title, e.message ?? "", ...e.exceptions.flatMap((x) => [`${x.type ?? ""}: ${x.value ?? ""}`, x.module ? `${x.module}.${x.type ?? ""}` : ""])].join("\n")

const firstMatch = (rs: Readonly<Record<string, RegExp>>, text: string): { readonly language: string; readonly match: string } | undefined => {
  for (const [language, re] of Object.entries(rs)) {
    const m = re.exec(text)
    if (m) return { language, match: m[0] }
  }
  return undefined
}

/** Whether the issue was first seen within `windowMs` after the deploy of its first release (never before it). */
export const deployCorrelated = (issue: Pick<IssueFacts, "firstSeen" | "firstRelease">, deploy: DeployFacts | null, windowMs: number): boolean =>
  deploy !== null && issue.firstRelease === deploy.release && issue.firstSeen >= deploy.deployedAt && issue.firstSeen - deploy.deployedAt <= windowMs

/** Options of the rules. */
export interface Options {
  readonly patterns?: Partial<Patterns>
  readonly confidences?: Partial<Record<Class, number>>
  /** deploy_correlation: first seen at most this long after the deploy (default 30 minutes). */
  readonly correlationWindowMs?: number
}

/** The rules, in the seed's order. */
export const rules = (o: Options = {}): ReadonlyArray<Classifier.Rule<SentryFacts>> => {
  const p = { ...defaultPatterns, ...(o.patterns ?? {}) }
  const c = { ...defaultConfidences, ...(o.confidences ?? {}) }
  const window = o.correlationWindowMs ?? 30 * 60_000
  const rule = Classifier.rule<SentryFacts>()
  const patternRule = (cls: "db_connection" | "oom") =>
    rule({
      class: cls,
      confidence: c[cls],
      needs: ["issue", "event"],
      when: (f) => {
        const m = firstMatch(p[cls], textOf(f.event, f.issue))
        return m ? { matched: true, reasons: [`the exception matches the ${cls} pattern for ${m.language}: "${m.match}"`], evidence: { language: m.language, match: m.match } } : false
      }
    })
  return [
    patternRule("db_connection"),
    patternRule("oom"),
    rule({
      class: "deploy_correlation",
      confidence: c.deploy_correlation,
      needs: ["issue", "deploy"],
      when: (f) => {
        if (!deployCorrelated(f.issue, f.deploy, window)) return false
        const d = f.deploy!
        const minutes = (f.issue.firstSeen - d.deployedAt) / 60_000
        return {
          matched: true,
          reasons: [`first seen ${minutes.toFixed(1)} min after the ${d.environment} deploy of ${d.release}, the release it was first seen in (absent from ${d.previousRelease ?? "the releases before"})`],
          evidence: { release: d.release, previousRelease: d.previousRelease, minutesAfterDeploy: Number(minutes.toFixed(2)) }
        }
      }
    }),
    rule({
      class: "upstream_5xx",
      confidence: c.upstream_5xx,
      needs: ["issue", "event"],
      when: (f) => {
        const crumb = f.event.breadcrumbs.find((b) => b.statusCode !== null && b.statusCode >= 500)
        if (crumb) return { matched: true, reasons: [`an outbound HTTP call answered ${crumb.statusCode}: ${crumb.method ?? "?"} ${crumb.url ?? "?"}`], evidence: { statusCode: crumb.statusCode, url: crumb.url } }
        const m = p.upstream_5xx.exec(textOf(f.event, f.issue))
        return m ? { matched: true, reasons: [`the exception names an HTTP 5xx: "${m[0]}"`], evidence: { match: m[0] } } : false
      }
    }),
    rule({ class: "unknown", confidence: c.unknown, needs: ["issue"], when: () => ({ matched: true, reasons: ["no known pattern: a novel error"] }) })
  ]
}

/** The classifier (first match in the seed's order, minimum confidence 0.70). */
export const classifier = (o: Options & { readonly minConfidence?: number } = {}) => Classifier.firstMatch(rules(o), { minConfidence: o.minConfidence ?? 0.7 })
