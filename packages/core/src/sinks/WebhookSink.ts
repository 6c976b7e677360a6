/**
 * A generic webhook sink: POSTs each message as JSON, with configurable headers, a per-attempt
 * timeout and retries with exponential backoff on 5xx / 429 / timeouts / network errors.
 *
 * The default body is `{ kind, severity, title, incidentId, runbook, text, data }` where `text`
 * is the Markdown rendering and `data` the structured message; the whole body is redacted.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Json } from "../Json"
import * as Redactor from "../Redactor"
import * as Http from "./internal/http"
import type { Sink } from "./Sink"
import * as SinkMessage from "./SinkMessage"

/** Options of the webhook sink. */
export interface Options extends Http.HttpOptions {
  readonly name?: string
  readonly redactor?: Redactor.Shape
  /** Builds the body from a message (default: `body`). The result is redacted before sending. */
  readonly encode?: (message: SinkMessage.SinkMessage) => unknown
}

/** The default JSON body for a message (before redaction). */
export const body = (message: SinkMessage.SinkMessage): { readonly [k: string]: unknown } => ({
  kind: message.kind,
  severity: SinkMessage.severity(message),
  title: SinkMessage.title(message),
  incidentId: SinkMessage.incidentId(message) ?? null,
  runbook: SinkMessage.runbook(message) ?? null,
  text: SinkMessage.toMarkdown(message),
  data: message
})

/** A webhook sink. */
export const make = (options: Options): Sink<SinkMessage.SinkMessage> => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const name = options.name ?? "webhook"
  const encode = options.encode ?? body
  return {
    name,
    post: (message) =>
      Effect.flatMap(
        Effect.sync(() => JSON.stringify(redactor.redact(encode(redactor.redact(message) as unknown as SinkMessage.SinkMessage)) as Json)),
        (text) => Effect.asVoid(Http.postJson(name, options, text, redactor))
      )
  }
}
