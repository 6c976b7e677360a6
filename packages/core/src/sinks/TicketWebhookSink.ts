/**
 * A ticket sink over a webhook: POSTs the generic JSON ticket shape
 * `{ title, body (Markdown), labels, severity, incidentId, dedupKey }` (redacted) to a ticket
 * system's intake endpoint, with the webhook sink's timeout and retries.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Redactor from "../Redactor"
import * as Http from "./internal/http"
import { guardTicket, type Sink } from "./Sink"
import type { Ticket, TicketMessage } from "./SinkMessage"

/** Options of the ticket webhook sink. */
export interface Options extends Http.HttpOptions {
  readonly name?: string
  readonly redactor?: Redactor.Shape
}

/** The JSON ticket body (before redaction). */
export const body = (ticket: Ticket) => ({
  title: ticket.title,
  body: ticket.body,
  labels: [...ticket.labels],
  severity: ticket.severity,
  incidentId: ticket.incidentId,
  dedupKey: ticket.dedupKey
})

/** The request body for a ticket (redacted). */
export const encode = (ticket: Ticket, redactor: Redactor.Shape = Redactor.defaultRedactor): string =>
  JSON.stringify(redactor.redact(body(ticket)))

/** A ticket webhook sink (accepts `ticket` messages only, checked at run time too). */
export const make = (options: Options): Sink<TicketMessage> => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const name = options.name ?? "ticket-webhook"
  return guardTicket({
    name,
    post: (message: TicketMessage) =>
      Effect.flatMap(
        Effect.sync(() => encode(message.ticket, redactor)),
        (text) => Effect.asVoid(Http.postJson(name, options, text, redactor))
      )
  })
}
