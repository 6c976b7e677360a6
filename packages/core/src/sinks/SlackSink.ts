/**
 * A Slack incoming-webhook sink: POSTs `{ text, blocks }` (a header, mrkdwn sections and a
 * context line) to the webhook URL — itself a secret, so pass it `Redacted` — and expects
 * Slack's `200 ok`. The payload is redacted; 5xx and 429 are retried with backoff.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { denialDetail } from "../Guardrail"
import type { Json } from "../Json"
import * as Plan from "../Plan"
import * as Redactor from "../Redactor"
import * as Http from "./internal/http"
import type { Sink } from "./Sink"
import * as SinkMessage from "./SinkMessage"

/** Options of the Slack sink. */
export interface Options extends Omit<Http.HttpOptions, "url"> {
  /** The incoming webhook URL (https://hooks.slack.com/services/…). */
  readonly webhookUrl: Http.Secret
  readonly name?: string
  readonly redactor?: Redactor.Shape
}

/** A Slack Block Kit block (the subset BytePort sends). */
export type Block =
  | { readonly type: "header"; readonly text: { readonly type: "plain_text"; readonly text: string; readonly emoji: boolean } }
  | { readonly type: "section"; readonly text: { readonly type: "mrkdwn"; readonly text: string } }
  | { readonly type: "context"; readonly elements: ReadonlyArray<{ readonly type: "mrkdwn"; readonly text: string }> }
  | { readonly type: "divider" }

/** The webhook payload. */
export interface Payload {
  readonly text: string
  readonly blocks: ReadonlyArray<Block>
}

/** Escapes the three characters Slack's mrkdwn reserves. */
export const escape = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s)

/** Section text is limited to 3000 characters by Slack. */
const section = (text: string): Block => ({ type: "section", text: { type: "mrkdwn", text: truncate(text, 3000) } })

const codeBlock = (s: string): string => "```" + truncate(s.replace(/```/g, "'''"), 2900) + "```"

const EMOJI: Record<string, string> = { info: ":information_source:", warning: ":warning:", critical: ":rotating_light:" }

/** Builds the Slack payload of a message (before redaction). */
export const payload = (message: SinkMessage.SinkMessage): Payload => {
  const title = SinkMessage.title(message)
  const sev = SinkMessage.severity(message)
  const blocks: Array<Block> = [{ type: "header", text: { type: "plain_text", text: truncate(title, 150), emoji: true } }]
  switch (message.kind) {
    case "plan": {
      blocks.push(section(`*Dry run*: nothing was changed. This is what BytePort would do${message.target ? ` on ${escape(message.target.kind)} \`${escape(message.target.ref)}\`` : ""}:`))
      blocks.push(section(codeBlock(escape(SinkMessage.renderedPlan(message)))))
      const stops = message.decisions.filter((d) => d.decision !== "allow")
      blocks.push(section(
        stops.length
          ? `*Guardrails would stop:*\n${stops.map((d) => `• \`${escape(d.actionKind)}\` ${d.decision} by ${escape(denialDetail(d.guardrail, d.reason))}`).join("\n")}`
          : "All steps pass the guardrails' checks."
      ))
      break
    }
    case "escalation": {
      const e = message.escalation
      const c = e.classification
      const cls = c?._tag === "Classified"
        ? `${escape(c.class)} (confidence ${c.confidence.toFixed(2)})`
        : c?._tag === "Indeterminate"
        ? `indeterminate (unknown: ${escape(c.missing.join(", "))})`
        : "unclassified"
      blocks.push(section(`${EMOJI[e.severity] ?? ""} *${escape(e.reason)}*`))
      blocks.push(section(`*Target:* ${escape(e.signal.target.kind)} \`${escape(e.signal.target.ref)}\`\n*Signal:* \`${escape(e.signal.type)}\`\n*Classification:* ${cls}`))
      if (e.nextSteps.length) blocks.push(section(`*Next steps:*\n${e.nextSteps.map((s, i) => `${i + 1}. ${escape(s)}`).join("\n")}`))
      if (e.plan) blocks.push(section(`*Plan:*\n${codeBlock(escape(Plan.render(e.plan)))}`))
      if (e.proposals.length) blocks.push(section(`*Change proposals:*\n${e.proposals.map((p) => `• ${escape(p.title)}`).join("\n")}`))
      break
    }
    case "report": {
      const r = message.report
      const c = r.classification
      blocks.push(section(
        `*Status:* ${r.status} (mode \`${r.mode}\`)\n*Target:* ${escape(r.signal.target.kind)} \`${escape(r.signal.target.ref)}\`\n*Class:* ${
          c?._tag === "Classified" ? `${escape(c.class)} (${c.confidence.toFixed(2)})` : c?._tag ?? "—"
        }\n*Actions:* ${r.outcomes.map((o) => `\`${escape(o.kind)}\` ${o.status}`).join(", ") || "none"}`
      ))
      break
    }
    case "ticket":
      blocks.push(section(`*Ticket* \`${escape(message.ticket.dedupKey)}\` (${message.ticket.labels.map(escape).join(", ")})`))
      blocks.push(section(escape(message.ticket.body)))
      break
    case "notice":
      blocks.push(section(escape(message.text)))
      break
  }
  const ctx = [
    "BytePort",
    SinkMessage.incidentId(message) ? `incident \`${escape(SinkMessage.incidentId(message)!)}\`` : undefined,
    SinkMessage.runbook(message) ? `runbook \`${escape(SinkMessage.runbook(message)!)}\`` : undefined,
    `severity ${sev}`
  ].filter(Boolean).join(" · ")
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: ctx }] })
  return { text: `${EMOJI[sev] ?? ""} ${title}`.trim(), blocks }
}

/**
 * The request body for a message: the message is redacted first (so truncation can never cut a
 * secret out of reach of the patterns), then the payload is built and redacted again.
 */
export const encode = (message: SinkMessage.SinkMessage, redactor: Redactor.Shape = Redactor.defaultRedactor): string =>
  JSON.stringify(redactor.redact(payload(redactor.redact(message) as unknown as SinkMessage.SinkMessage)) as Json)

/** A Slack incoming-webhook sink. */
export const make = (options: Options): Sink<SinkMessage.SinkMessage> => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const name = options.name ?? "slack"
  const http: Http.HttpOptions = { ...options, url: options.webhookUrl }
  return {
    name,
    post: (message) =>
      Effect.flatMap(
        Effect.sync(() => encode(message, redactor)),
        (text) => Effect.asVoid(Http.postJson(name, http, text, redactor, (status, body) => status === 200 && body.trim() === "ok"))
      )
  }
}
