/**
 * The three sink roles wired from configuration (`BYTEPORT_*` environment variables through
 * effect's `Config`):
 *
 * | key | role |
 * |---|---|
 * | `BYTEPORT_SLACK_WEBHOOK_URL` | ops channel: Slack incoming webhook (preferred) |
 * | `BYTEPORT_OPS_WEBHOOK_URL` | ops channel: generic webhook (when no Slack URL) |
 * | `BYTEPORT_PAGERDUTY_ROUTING_KEY` | pager: PagerDuty Events API v2 |
 * | `BYTEPORT_PAGERDUTY_URL` | pager endpoint (default `https://events.pagerduty.com/v2/enqueue`) |
 * | `BYTEPORT_TICKET_WEBHOOK_URL` | ticket sink: ticket webhook |
 * | `BYTEPORT_SINK_TIMEOUT_MS` (10000), `BYTEPORT_SINK_RETRIES` (3) | HTTP delivery |
 *
 * Without an ops channel URL the console sink is used. Without a routing key, escalations go to
 * the ops channel through the pager guard (so they still reach a human, and a plan still can
 * never page). Without a ticket URL, tickets go to the ops channel through the ticket guard.
 * URLs and the routing key are read as `Redacted`.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Option } from "effect"
import * as Redactor from "../Redactor"
import * as Settings from "../Settings"
import * as ConsoleSink from "./ConsoleSink"
import * as PagerDutySink from "./PagerDutySink"
import * as Sink from "./Sink"
import type { EscalationMessage, SinkMessage, TicketMessage } from "./SinkMessage"
import * as SlackSink from "./SlackSink"
import * as TicketWebhookSink from "./TicketWebhookSink"
import * as WebhookSink from "./WebhookSink"

/** The sink configuration. */
export const config = Config.all({
  slackWebhookUrl: Config.option(Config.Redacted("BYTEPORT_SLACK_WEBHOOK_URL")),
  opsWebhookUrl: Config.option(Config.Redacted("BYTEPORT_OPS_WEBHOOK_URL")),
  pagerDutyRoutingKey: Config.option(Config.Redacted("BYTEPORT_PAGERDUTY_ROUTING_KEY")),
  pagerDutyUrl: Config.String("BYTEPORT_PAGERDUTY_URL").pipe(Config.withDefault(PagerDutySink.DEFAULT_URL)),
  ticketWebhookUrl: Config.option(Config.Redacted("BYTEPORT_TICKET_WEBHOOK_URL")),
  timeoutMs: Settings.positiveInt("BYTEPORT_SINK_TIMEOUT_MS").pipe(Config.withDefault(10_000)),
  retries: Settings.nonNegativeInt("BYTEPORT_SINK_RETRIES").pipe(Config.withDefault(3))
})

/** The sinks chosen for each role. */
export interface Roles {
  readonly ops: Sink.Sink<SinkMessage>
  readonly pager: Sink.Sink<EscalationMessage>
  readonly tickets: Sink.Sink<TicketMessage>
}

/** Chooses the sinks from configuration values. */
export const roles = (c: Config.Success<typeof config>, redactor: Redactor.Shape): Roles => {
  const http = { timeoutMs: c.timeoutMs, retries: c.retries, redactor }
  const ops: Sink.Sink<SinkMessage> = Option.isSome(c.slackWebhookUrl)
    ? SlackSink.make({ webhookUrl: c.slackWebhookUrl.value, ...http })
    : Option.isSome(c.opsWebhookUrl)
    ? WebhookSink.make({ url: c.opsWebhookUrl.value, name: "ops-webhook", ...http })
    : ConsoleSink.make({ redactor })
  const pager = Option.isSome(c.pagerDutyRoutingKey)
    ? PagerDutySink.make({ routingKey: c.pagerDutyRoutingKey.value, url: c.pagerDutyUrl, ...http })
    : ops
  const tickets = Option.isSome(c.ticketWebhookUrl) ? TicketWebhookSink.make({ url: c.ticketWebhookUrl.value, ...http }) : ops
  return { ops, pager, tickets }
}

/** OpsChannel, Pager and TicketSink from configuration (needs a Redactor). */
export const layer: Layer.Layer<Sink.OpsChannel | Sink.Pager | Sink.TicketSink, Config.ConfigError, Redactor.Redactor> = Layer
  .unwrap(
    Effect.gen(function*() {
      const c = yield* config
      const redactor = yield* Redactor.Redactor
      const r = roles(c, redactor)
      return Layer.mergeAll(Sink.layerOpsChannel(r.ops), Sink.layerPager(r.pager), Sink.layerTicketSink(r.tickets))
    })
  )
