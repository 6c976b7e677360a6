/**
 * POST JSON with a timeout and retries with exponential backoff on 5xx, 429, timeouts and
 * network errors (a Retry-After header in seconds adds its wait, capped at 30 s). Uses the global `fetch`. Errors never carry the URL's path, headers or body.
 *
 * @internal
 */
import { Effect, Redacted, Schedule } from "effect"
import type * as Redactor from "../../Redactor"
import { SinkError } from "../Sink"

/** A string or a Redacted string (URLs with secrets, header values). */
export type Secret = string | Redacted.Redacted<string>

/** HTTP delivery options shared by the HTTP sinks. */
export interface HttpOptions {
  /** The endpoint. Often a secret itself (Slack webhook URLs): pass it Redacted. */
  readonly url: Secret
  /** Extra headers (values may be Redacted). */
  readonly headers?: Readonly<Record<string, Secret>>
  /** Per-attempt timeout in ms (default 10 000). */
  readonly timeoutMs?: number
  /** Retries after the first attempt on 5xx / 429 / timeout / network errors (default 3). */
  readonly retries?: number
  /** First backoff delay in ms, doubled per retry (default 500). */
  readonly backoffMs?: number
}

/** The answer of a successful POST. */
export interface HttpResponse {
  readonly status: number
  readonly text: string
  /** The Retry-After header, in ms, when the endpoint sent one (seconds form). */
  readonly retryAfterMs?: number
}

/** Reveals a Secret. */
export const reveal = (s: Secret): string => (Redacted.isRedacted(s) ? Redacted.value(s) : s)

/** The scheme, host and port of a URL (for messages; never the path, which may be a secret). */
export const origin = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return "(invalid url)"
  }
}

/**
 * POSTs `body` (already redacted JSON text) and returns the response when `ok(status, text)`
 * holds (default: 2xx). 5xx and 429 are retried; other statuses fail at once as `http_status`
 * (or as `rejected` when the status is 2xx but `ok` refused the body).
 */
export const postJson = (
  sink: string,
  options: HttpOptions,
  body: string,
  redactor: Redactor.Shape,
  ok: (status: number, text: string) => boolean = (s) => s >= 200 && s < 300,
  secrets: ReadonlyArray<string> = []
): Effect.Effect<HttpResponse, SinkError> => {
  // literal secrets scrubbed from every error message: the caller's (a routing key), Redacted
  // header values and a Redacted URL's path and query (an endpoint may echo them back)
  const scrub = [...secrets]
  for (const v of Object.values(options.headers ?? {})) if (Redacted.isRedacted(v)) scrub.push(Redacted.value(v))
  if (Redacted.isRedacted(options.url)) {
    try {
      const u = new URL(Redacted.value(options.url))
      scrub.push(Redacted.value(options.url), `${u.pathname}${u.search}`)
    } catch {
      scrub.push(Redacted.value(options.url))
    }
  }
  const scrubbed = scrub.filter((x) => x.length >= 4 && x !== "/").sort((a, b) => b.length - a.length)
  const clean = (message: string): string => {
    let out = message
    for (const x of scrubbed) out = out.split(x).join(redactor.marker)
    return redactor.redactString(out)
  }
  const timeoutMs = options.timeoutMs ?? 10_000
  const retries = Math.max(0, Math.floor(options.retries ?? 3))
  const backoffMs = Math.max(1, options.backoffMs ?? 500)
  let attempts = 0
  const fail = (reason: SinkError["reason"], message: string, retryable: boolean, status?: number) =>
    new SinkError({
      sink,
      reason,
      message: clean(message),
      attempts,
      retryable,
      ...(status !== undefined ? { status } : {})
    })

  const attempt = Effect.suspend(() => {
    attempts++
    let url: string
    try {
      url = reveal(options.url)
      new URL(url)
    } catch {
      return Effect.fail(fail("config", `${sink}: the endpoint URL is not a valid URL`, false))
    }
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "byteport" }
    for (const [k, v] of Object.entries(options.headers ?? {})) headers[k.toLowerCase()] = reveal(v)
    return Effect.tryPromise({
      try: async (signal) => {
        const controller = new AbortController()
        const timer = setTimeout(() => controller.abort(new Error("timeout")), timeoutMs)
        const onAbort = () => controller.abort(signal.reason)
        signal.addEventListener("abort", onAbort, { once: true })
        try {
          const res = await fetch(url, { method: "POST", headers, body, signal: controller.signal, redirect: "manual" })
          const text = await res.text()
          const ra = Number(res.headers.get("retry-after"))
          return { status: res.status, text, ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: ra * 1000 } : {}) } satisfies HttpResponse
        } catch (e) {
          if (controller.signal.aborted && !signal.aborted) throw new TimeoutMarker()
          throw e
        } finally {
          clearTimeout(timer)
          signal.removeEventListener("abort", onAbort)
        }
      },
      catch: (e) =>
        e instanceof TimeoutMarker
          ? fail("timeout", `${sink}: no answer from ${origin(url)} within ${timeoutMs}ms`, true)
          : fail("network", `${sink}: cannot reach ${origin(url)}: ${describe(e)}`, true)
    }).pipe(
      Effect.flatMap((res) => {
        if (res.status === 429 || res.status >= 500) {
          const error = fail("http_status", `${sink}: ${origin(url)} answered ${res.status}: ${snippet(res.text)}`, true, res.status)
          // honour Retry-After (seconds) on 429/503 when retries remain, capped at 30 s
          const wait = attempts <= retries ? Math.min(res.retryAfterMs ?? 0, 30_000) : 0
          return wait > 0 ? Effect.andThen(Effect.sleep(`${wait} millis`), Effect.fail(error)) : Effect.fail(error)
        }
        if (res.status < 200 || res.status >= 300) {
          return Effect.fail(fail("http_status", `${sink}: ${origin(url)} answered ${res.status}: ${snippet(res.text)}`, false, res.status))
        }
        if (!ok(res.status, res.text)) {
          return Effect.fail(fail("rejected", `${sink}: ${origin(url)} refused the message: ${snippet(res.text)}`, false, res.status))
        }
        return Effect.succeed(res)
      })
    )
  })

  return attempt.pipe(
    Effect.retry({
      schedule: Schedule.exponential(`${backoffMs} millis`),
      times: retries,
      while: (e: SinkError) => e.retryable
    }),
    // report the final attempt count
    Effect.mapError((e) => (e.attempts === attempts ? e : new SinkError({ ...errorFields(e), attempts })))
  )
}

class TimeoutMarker extends Error {}

const errorFields = (e: SinkError) => ({
  sink: e.sink,
  reason: e.reason,
  message: e.message,
  retryable: e.retryable,
  ...(e.status !== undefined ? { status: e.status } : {})
})

const describe = (e: unknown): string => {
  if (e instanceof Error) {
    const cause = (e as any).cause
    return cause instanceof Error ? `${e.message} (${(cause as any).code ?? cause.message})` : e.message
  }
  return String(e)
}

const snippet = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text)
