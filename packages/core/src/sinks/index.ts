/**
 * Sinks: where BytePort's messages leave the process (ops channel, pager, tickets).
 *
 * @since 0.1.0
 */
/** The sink interface, SinkError, the OpsChannel / Pager / TicketSink roles and their guards. */
export * as Sink from "./Sink"
/** The messages sinks carry. */
export * as SinkMessage from "./SinkMessage"
/** Console sink. */
export * as ConsoleSink from "./ConsoleSink"
/** JSONL file sink. */
export * as FileSink from "./FileSink"
/** Generic webhook sink. */
export * as WebhookSink from "./WebhookSink"
/** Slack incoming-webhook sink. */
export * as SlackSink from "./SlackSink"
/** PagerDuty Events API v2 sink. */
export * as PagerDutySink from "./PagerDutySink"
/** Ticket webhook sink. */
export * as TicketWebhookSink from "./TicketWebhookSink"
/** The roles wired from `BYTEPORT_*` configuration. */
export * as SinkConfig from "./SinkConfig"
