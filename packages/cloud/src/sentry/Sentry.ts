/**
 * `Sentry`: a small client of Sentry's web API (`/api/0/…`) over `fetch`, as a
 * `Context.Service`: issues, an issue's latest event (exception, stack trace, breadcrumbs),
 * releases and their deploys. Responses are decoded with Schema from Sentry's documented JSON.
 * The auth token is `Redacted` and sent as `Authorization: Bearer`; it never reaches a log,
 * an error or a report.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Redacted, Schema } from "effect"

/** A Sentry API call failed. */
export class SentryError extends Schema.TaggedError<SentryError>()("SentryError", {
  method: Schema.String,
  path: Schema.String,
  /** HTTP status (0: no response). */
  status: Schema.Number,
  message: Schema.String
}) {}

const Release = Schema.Struct({ version: Schema.String, dateCreated: Schema.optionalKey(Schema.String) })

/** An issue, as Sentry returns it (the fields BytePort reads). */
export const Issue = Schema.Struct({
  id: Schema.String,
  shortId: Schema.String,
  title: Schema.String,
  culprit: Schema.optionalKey(Schema.NullOr(Schema.String)),
  level: Schema.optionalKey(Schema.String),
  status: Schema.optionalKey(Schema.String),
  platform: Schema.optionalKey(Schema.NullOr(Schema.String)),
  firstSeen: Schema.String,
  lastSeen: Schema.String,
  count: Schema.Union([Schema.String, Schema.Number]),
  permalink: Schema.optionalKey(Schema.String),
  project: Schema.Struct({ id: Schema.String, slug: Schema.String }),
  firstRelease: Schema.optionalKey(Schema.NullOr(Release)),
  lastRelease: Schema.optionalKey(Schema.NullOr(Release))
})
/** An issue. */
export type Issue = typeof Issue.Type

const Frame = Schema.Struct({
  filename: Schema.optionalKey(Schema.NullOr(Schema.String)),
  function: Schema.optionalKey(Schema.NullOr(Schema.String)),
  module: Schema.optionalKey(Schema.NullOr(Schema.String)),
  lineNo: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  inApp: Schema.optionalKey(Schema.NullOr(Schema.Boolean))
})

/** An event entry (`exception`, `breadcrumbs`, …): its data is read per type. */
export const Entry = Schema.Struct({ type: Schema.String, data: Schema.Unknown })

/** An event, as Sentry returns it (the fields BytePort reads). */
export const Event = Schema.Struct({
  eventID: Schema.String,
  dateCreated: Schema.optionalKey(Schema.String),
  platform: Schema.optionalKey(Schema.NullOr(Schema.String)),
  message: Schema.optionalKey(Schema.NullOr(Schema.String)),
  title: Schema.optionalKey(Schema.String),
  release: Schema.optionalKey(Schema.NullOr(Release)),
  tags: Schema.optionalKey(Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.String }))),
  entries: Schema.Array(Entry)
})
/** An event. */
export type Event = typeof Event.Type

/** An exception value of an `exception` entry. */
export const ExceptionValue = Schema.Struct({
  type: Schema.optionalKey(Schema.NullOr(Schema.String)),
  value: Schema.optionalKey(Schema.NullOr(Schema.String)),
  module: Schema.optionalKey(Schema.NullOr(Schema.String)),
  stacktrace: Schema.optionalKey(Schema.NullOr(Schema.Struct({ frames: Schema.Array(Frame) })))
})

/** A breadcrumb of a `breadcrumbs` entry. */
export const Breadcrumb = Schema.Struct({
  type: Schema.optionalKey(Schema.NullOr(Schema.String)),
  category: Schema.optionalKey(Schema.NullOr(Schema.String)),
  message: Schema.optionalKey(Schema.NullOr(Schema.String)),
  level: Schema.optionalKey(Schema.NullOr(Schema.String)),
  timestamp: Schema.optionalKey(Schema.NullOr(Schema.String)),
  data: Schema.optionalKey(Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown)))
})

/** A release of a project list. */
export const ReleaseSummary = Schema.Struct({ version: Schema.String, dateCreated: Schema.String })
/** A deploy of a release. */
export const Deploy = Schema.Struct({
  id: Schema.String,
  environment: Schema.String,
  dateStarted: Schema.optionalKey(Schema.NullOr(Schema.String)),
  dateFinished: Schema.String,
  name: Schema.optionalKey(Schema.NullOr(Schema.String))
})
/** A deploy of a release. */
export type Deploy = typeof Deploy.Type

/** The client. */
export interface Shape {
  /** Unresolved issues of a project seen in the last `statsPeriod` (default `24h`). */
  readonly listIssues: (org: string, project: string, statsPeriod?: string) => Effect.Effect<ReadonlyArray<Issue>, SentryError>
  readonly getIssue: (org: string, issueId: string) => Effect.Effect<Issue, SentryError>
  readonly latestEvent: (org: string, issueId: string) => Effect.Effect<Event, SentryError>
  /** A project's releases, newest first. */
  readonly listReleases: (org: string, project: string) => Effect.Effect<ReadonlyArray<typeof ReleaseSummary.Type>, SentryError>
  readonly releaseDeploys: (org: string, version: string) => Effect.Effect<ReadonlyArray<Deploy>, SentryError>
}

/** The Sentry client service. */
export class Sentry extends Context.Service<Sentry, Shape>()("@byteport/cloud/Sentry") {}

/** Options of {@link make}. */
export interface Options {
  /** Default `https://sentry.io` (self-hosted: your host; tests: the fake's url). */
  readonly baseUrl?: string
  readonly token: Redacted.Redacted<string>
  readonly timeoutMs?: number
}

/** Builds a client. */
export const make = (options: Options): Shape => {
  const base = (options.baseUrl ?? "https://sentry.io").replace(/\/+$/, "")
  const get = <A>(path: string, schema: Schema.Codec<A, unknown>, query: Record<string, string> = {}) =>
    Effect.gen(function*() {
      const u = new URL(`${base}/api/0${path}`)
      for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v)
      const fail = (status: number, message: string) => new SentryError({ method: "GET", path, status, message })
      const res = yield* Effect.tryPromise({
        try: (signal) => fetch(u, { headers: { authorization: `Bearer ${Redacted.value(options.token)}`, accept: "application/json" }, signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs ?? 30_000)]) }),
        catch: (e) => fail(0, `request failed: ${e instanceof Error ? e.message : String(e)}`)
      })
      const text = yield* Effect.tryPromise({ try: () => res.text(), catch: (e) => fail(res.status, String(e)) })
      const body = yield* Effect.try({ try: () => (text.length ? JSON.parse(text) as unknown : null), catch: () => fail(res.status, "response is not JSON") })
      if (res.status >= 400) return yield* fail(res.status, typeof body === "object" && body !== null && "detail" in body ? String((body as { detail: unknown }).detail) : `HTTP ${res.status}`)
      return yield* Schema.decodeUnknownEffect(schema)(body).pipe(Effect.mapError((e) => fail(res.status, `unexpected response shape: ${e.message}`)))
    })
  const e = encodeURIComponent
  return {
    listIssues: (org, project, statsPeriod = "24h") => get(`/projects/${e(org)}/${e(project)}/issues/`, Schema.Array(Issue), { query: "is:unresolved", statsPeriod }),
    getIssue: (org, id) => get(`/organizations/${e(org)}/issues/${e(id)}/`, Issue),
    latestEvent: (org, id) => get(`/organizations/${e(org)}/issues/${e(id)}/events/latest/`, Event),
    listReleases: (org, project) => get(`/projects/${e(org)}/${e(project)}/releases/`, Schema.Array(ReleaseSummary)),
    releaseDeploys: (org, version) => get(`/organizations/${e(org)}/releases/${e(version)}/deploys/`, Schema.Array(Deploy))
  }
}

/** A layer of the client. */
export const layer = (options: Options): Layer.Layer<Sentry> => Layer.sync(Sentry, () => make(options))

/** The token's configuration key. */
export const TOKEN_KEY = "BYTEPORT_SENTRY_TOKEN"
/** The API root's configuration key (default `https://sentry.io`). */
export const URL_KEY = "BYTEPORT_SENTRY_URL"

/** A layer from configuration: `BYTEPORT_SENTRY_TOKEN` (required, redacted), `BYTEPORT_SENTRY_URL`. */
export const layerConfig: Layer.Layer<Sentry, Config.ConfigError> = Layer.effect(
  Sentry,
  Effect.gen(function*() {
    const token = yield* Config.Redacted(TOKEN_KEY)
    const baseUrl = yield* Config.String(URL_KEY).pipe(Config.withDefault("https://sentry.io"))
    return make({ token, baseUrl })
  })
)
