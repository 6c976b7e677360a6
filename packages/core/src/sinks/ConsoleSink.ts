/**
 * A sink that prints messages to the console (effect's `Console`, so tests can capture it):
 * a title line and the Markdown body, redacted.
 *
 * @since 0.1.0
 */
import { Console, Effect } from "effect"
import * as Redactor from "../Redactor"
import type { Sink } from "./Sink"
import * as SinkMessage from "./SinkMessage"

/** Options of the console sink. */
export interface Options {
  readonly name?: string
  readonly redactor?: Redactor.Shape
}

/** The text the console sink prints for a message (redacted). */
export const format = (message: SinkMessage.SinkMessage, redactor: Redactor.Shape = Redactor.defaultRedactor): string => {
  const sev = SinkMessage.severity(message).toUpperCase()
  const head = `[byteport] ${sev} ${message.kind}: ${SinkMessage.title(message)}`
  return redactor.redactString(`${head}\n${"-".repeat(Math.min(head.length, 100))}\n${SinkMessage.toMarkdown(message)}`)
}

/** A console sink. */
export const make = (options: Options = {}): Sink<SinkMessage.SinkMessage> => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  return {
    name: options.name ?? "console",
    post: (message) => Console.log(format(message, redactor)).pipe(Effect.asVoid)
  }
}
