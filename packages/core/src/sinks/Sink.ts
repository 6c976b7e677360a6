/**
 * A Sink is where a message leaves BytePort: a console, a JSONL file, a webhook, Slack,
 * PagerDuty, a ticket system. Three roles are services:
 * - `OpsChannel`: dry_run plans, notices, reports and copies of escalations (chat or webhook —
 *   never the pager);
 * - `Pager`: escalations that page a human. It accepts only `escalation` messages — by type
 *   (`Sink<EscalationMessage>`) and at run time (`guardPager`), so a dry_run plan can never page;
 * - `TicketSink`: tickets (e.g. a genuine memory leak opens one).
 *
 * Every implementation redacts what it sends.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Ref, Schema } from "effect"
import type { EscalationMessage, Kind, SinkMessage, TicketMessage } from "./SinkMessage"

/** Why a sink could not deliver a message. */
export const SinkErrorReason = Schema.Literals([
  "http_status", // the endpoint answered with an error status
  "timeout", // no answer in time
  "network", // connection refused, reset, DNS …
  "rejected", // the endpoint answered but refused the message (e.g. Slack "invalid_payload")
  "forbidden", // the message kind is not allowed on this sink (a plan to the pager)
  "io", // a local file could not be written
  "config" // the sink is misconfigured
])

/** A sink failed to deliver a message. Never carries the message body, URL secrets or keys. */
export class SinkError extends Schema.TaggedError<SinkError>()("SinkError", {
  sink: Schema.String,
  reason: SinkErrorReason,
  message: Schema.String,
  status: Schema.optionalKey(Schema.Finite),
  attempts: Schema.Finite,
  retryable: Schema.Boolean
}) {}

/** A sink of messages of type `M`. */
export interface Sink<M extends SinkMessage = SinkMessage> {
  /** A name for logs and errors ("slack", "pagerduty", "ops-webhook" …); never a URL or key. */
  readonly name: string
  /** Delivers one message. */
  readonly post: (message: M) => Effect.Effect<void, SinkError>
}

/** The ops channel: dry_run plans, notices, reports, escalation copies. Never the pager. */
export class OpsChannel extends Context.Service<OpsChannel, Sink<SinkMessage>>()("@byteport/core/OpsChannel") {}

/** The pager: escalations only. */
export class Pager extends Context.Service<Pager, Sink<EscalationMessage>>()("@byteport/core/Pager") {}

/** The ticket sink: tickets only. */
export class TicketSink extends Context.Service<TicketSink, Sink<TicketMessage>>()("@byteport/core/TicketSink") {}

const forbidden = (sink: string, role: string, kind: string) =>
  new SinkError({
    sink,
    reason: "forbidden",
    message: `a ${kind} message can never be sent to the ${role} (it accepts escalations only)`,
    attempts: 0,
    retryable: false
  })

/**
 * Restricts a sink to the kinds given: any other kind fails with a `forbidden` SinkError before
 * anything is sent. The runtime half of the "a plan never pages" guarantee (the type is the other).
 */
export const restrict = <K extends Kind>(
  sink: Sink<Extract<SinkMessage, { readonly kind: K }>>,
  kinds: ReadonlyArray<K>,
  role: string
): Sink<Extract<SinkMessage, { readonly kind: K }>> => ({
  name: sink.name,
  post: (message) =>
    message && typeof message === "object" && (kinds as ReadonlyArray<string>).includes((message as SinkMessage).kind)
      ? sink.post(message)
      : Effect.fail(forbidden(sink.name, role, kindOf(message)))
})

/** The kind of a message for an error, whatever a (JavaScript) caller passed. */
const kindOf = (message: unknown): string =>
  message !== null && typeof message === "object" && "kind" in message ? String(message.kind) : typeof message

/** A pager sink: only escalations pass (checked at run time too). */
export const guardPager = (sink: Sink<EscalationMessage>): Sink<EscalationMessage> => restrict(sink, ["escalation"], "pager")

/** A ticket sink: only tickets pass (checked at run time too). */
export const guardTicket = (sink: Sink<TicketMessage>): Sink<TicketMessage> => restrict(sink, ["ticket"], "ticket sink")

/** The OpsChannel layer for a sink. */
export const layerOpsChannel = (sink: Sink<SinkMessage>): Layer.Layer<OpsChannel> => Layer.succeed(OpsChannel, sink)

/** The Pager layer for a sink (guarded: only escalations reach it). */
export const layerPager = (sink: Sink<EscalationMessage>): Layer.Layer<Pager> => Layer.succeed(Pager, guardPager(sink))

/** The TicketSink layer for a sink (guarded: only tickets reach it). */
export const layerTicketSink = (sink: Sink<TicketMessage>): Layer.Layer<TicketSink> => Layer.succeed(TicketSink, guardTicket(sink))

/** Posts a message to the ops channel. */
export const postToOpsChannel = (message: SinkMessage): Effect.Effect<void, SinkError, OpsChannel> =>
  Effect.flatMap(Effect.service(OpsChannel), (s) => s.post(message))

/** Pages with an escalation (the type admits nothing else). */
export const page = (message: EscalationMessage): Effect.Effect<void, SinkError, Pager> =>
  Effect.flatMap(Effect.service(Pager), (s) => s.post(message))

/** Opens a ticket. */
export const openTicket = (message: TicketMessage): Effect.Effect<void, SinkError, TicketSink> =>
  Effect.flatMap(Effect.service(TicketSink), (s) => s.post(message))

/**
 * Posts to every sink concurrently; all are tried. Fails with the first failure (in sink order)
 * when any failed.
 */
export const fanOut = <M extends SinkMessage>(name: string, sinks: ReadonlyArray<Sink<M>>): Sink<M> => ({
  name,
  post: (message) =>
    Effect.flatMap(
      Effect.forEach(sinks, (s) => Effect.result(s.post(message)), { concurrency: "unbounded" }),
      (results) => {
        const failed = results.find((r) => r._tag === "Failure")
        return failed && failed._tag === "Failure" ? Effect.fail(failed.failure) : Effect.void
      }
    )
})

/** A sink that discards everything. */
export const discard = (name = "discard"): Sink<SinkMessage> => ({ name, post: () => Effect.void })

/** An in-memory sink (tests): the messages it received, in order. */
export interface MemorySink extends Sink<SinkMessage> {
  readonly messages: Effect.Effect<ReadonlyArray<SinkMessage>>
}

/** Builds an in-memory sink. */
export const memory = (name = "memory"): Effect.Effect<MemorySink> =>
  Effect.map(Ref.make<ReadonlyArray<SinkMessage>>([]), (ref) => ({
    name,
    post: (m: SinkMessage) => Ref.update(ref, (xs) => [...xs, m]),
    messages: Ref.get(ref)
  }))
