/**
 * A PagerDuty Events API v2 sink (a Pager: escalations only). POSTs
 * `{ routing_key, event_action: "trigger", dedup_key, payload: { summary, source, severity,
 * timestamp, component, group, class, custom_details }, links, client }` to
 * `https://events.pagerduty.com/v2/enqueue` (configurable) and expects `202 { status: "success" }`.
 *
 * The routing key is a secret: it is added to the body after redaction, never logged and never
 * part of an error.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Escalation } from "../Escalation"
import * as Plan from "../Plan"
import * as Redactor from "../Redactor"
import * as Http from "./internal/http"
import { guardPager, type Sink, SinkError } from "./Sink"
import type { EscalationMessage } from "./SinkMessage"

/** The default Events API v2 endpoint. */
export const DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"

/** Options of the PagerDuty sink. */
export interface Options extends Omit<Http.HttpOptions, "url"> {
  /** The integration's routing key (a secret: pass it Redacted). */
  readonly routingKey: Http.Secret
  /** The endpoint (default `https://events.pagerduty.com/v2/enqueue`). */
  readonly url?: Http.Secret
  readonly name?: string
  readonly redactor?: Redactor.Shape
  /** `payload.source` (default: the target, `kind:ref`). */
  readonly source?: (escalation: Escalation) => string
  /** Links attached to the alert (runbook docs, dashboards). */
  readonly links?: (escalation: Escalation) => ReadonlyArray<{ readonly href: string; readonly text: string }>
}

/** PagerDuty severities. */
export type PdSeverity = "critical" | "error" | "warning" | "info"

const SEVERITY: Record<Escalation["severity"], PdSeverity> = { critical: "critical", warning: "warning", info: "info" }

/** The dedup key of an escalation: one alert per incident. */
export const dedupKey = (e: Escalation): string => `byteport/${e.runbook}/${e.incidentId}`

/** The event body without the routing key (before redaction). */
export const event = (e: Escalation, options: Pick<Options, "source" | "links"> = {}) => {
  const cls = e.classification?._tag === "Classified" ? e.classification.class : e.signal.type
  const summary = `[${e.runbook}] ${cls} on ${e.signal.target.kind} ${e.signal.target.ref}: ${e.reason}`
  return {
    event_action: "trigger" as const,
    dedup_key: dedupKey(e),
    payload: {
      summary: summary.length > 1024 ? `${summary.slice(0, 1023)}…` : summary,
      source: options.source ? options.source(e) : `${e.signal.target.kind}:${e.signal.target.ref}`,
      severity: SEVERITY[e.severity] ?? "warning",
      timestamp: new Date(e.at).toISOString(),
      component: e.signal.target.ref,
      group: e.runbook,
      class: cls,
      custom_details: {
        incident_id: e.incidentId,
        reason: e.reason,
        next_steps: e.nextSteps,
        classification: e.classification ?? null,
        signal: { type: e.signal.type, target: e.signal.target, observed_at: new Date(e.signal.observedAt).toISOString() },
        facts: e.facts,
        plan: e.plan ? Plan.render(e.plan) : null,
        outcomes: e.outcomes.map((o) => ({ step: o.stepPath, kind: o.kind, status: o.status, detail: o.detail })),
        verdicts: e.verdicts.map((v) => ({ verdict: v._tag, reason: v._tag === "Recovered" ? null : v.reason })),
        proposals: e.proposals.map((p) => p.title)
      }
    },
    links: [...(options.links ? options.links(e) : [])],
    client: "BytePort"
  }
}

/**
 * The request body: the escalation is redacted first (so truncating the summary can never cut a
 * secret out of reach of the patterns), the event is built and redacted again, and only then is
 * the routing key added.
 */
export const encode = (
  escalation: Escalation,
  routingKey: string,
  options: Pick<Options, "source" | "links"> = {},
  redactor: Redactor.Shape = Redactor.defaultRedactor
): string =>
  JSON.stringify({
    routing_key: routingKey,
    ...(redactor.redact(event(redactor.redact(escalation) as unknown as Escalation, options)) as object)
  })

/** A PagerDuty Events API v2 pager (accepts escalations only, checked at run time too). */
export const make = (options: Options): Sink<EscalationMessage> => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const name = options.name ?? "pagerduty"
  const http: Http.HttpOptions = { ...options, url: options.url ?? DEFAULT_URL }
  return guardPager({
    name,
    post: (message: EscalationMessage) =>
      Effect.gen(function*() {
        const key = Http.reveal(options.routingKey)
        if (!key) {
          return yield* new SinkError({ sink: name, reason: "config", message: `${name}: the routing key is empty`, attempts: 0, retryable: false })
        }
        const res = yield* Http.postJson(
          name,
          http,
          encode(message.escalation, key, options, redactor),
          redactor,
          (status, text) => {
            if (status !== 202) return false
            try {
              return (JSON.parse(text) as { status?: unknown }).status === "success"
            } catch {
              return false
            }
          },
          [key]
        )
        return res
      }).pipe(Effect.asVoid)
  })
}
