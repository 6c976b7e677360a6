/**
 * A sink that appends each message as one redacted JSON line to a file (opened with O_APPEND
 * per post, directories created as needed).
 *
 * @since 0.1.0
 */
import { appendFile, mkdir } from "node:fs/promises"
import { dirname } from "node:path"
import { Clock, Effect } from "effect"
import * as Redactor from "../Redactor"
import { type Sink, SinkError } from "./Sink"
import * as SinkMessage from "./SinkMessage"

/** Options of the JSONL file sink. */
export interface Options {
  readonly path: string
  readonly name?: string
  readonly redactor?: Redactor.Shape
}

/** The JSON line written for a message (redacted): `{ at, kind, title, incidentId, runbook, message }`. */
export const line = (message: SinkMessage.SinkMessage, at: number, redactor: Redactor.Shape = Redactor.defaultRedactor): string =>
  JSON.stringify(
    redactor.redact({
      at: new Date(at).toISOString(),
      kind: message.kind,
      title: SinkMessage.title(message),
      incidentId: SinkMessage.incidentId(message) ?? null,
      runbook: SinkMessage.runbook(message) ?? null,
      message
    })
  ) + "\n"

/** A JSONL file sink. */
export const make = (options: Options): Sink<SinkMessage.SinkMessage> => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const name = options.name ?? "file"
  return {
    name,
    post: (message) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({
          try: async () => {
            await mkdir(dirname(options.path), { recursive: true })
            await appendFile(options.path, line(message, now, redactor), { flag: "a" })
          },
          catch: (e) =>
            new SinkError({
              sink: name,
              reason: "io",
              message: redactor.redactString(`${name}: cannot append to ${options.path}: ${e instanceof Error ? e.message : String(e)}`),
              attempts: 1,
              retryable: false
            })
        }))
  }
}
