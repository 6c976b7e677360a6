/**
 * Renders an IncidentReport to JSON (stable key order) and to a Markdown postmortem, and an
 * Escalation bundle to Markdown. Every rendering is redacted: the value is redacted deeply
 * before it is rendered and the rendered text is passed through the redactor once more.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ChangeProposal } from "./ChangeProposal"
import type { Classification } from "./Classification"
import type { DecisionRecord } from "./Decision"
import type { Attachment, Escalation } from "./Escalation"
import type { FactsJson } from "./Fact"
import type { IncidentReport, TimelineEntry } from "./IncidentReport"
import type { Json } from "./Json"
import type { Outcome } from "./Outcome"
import * as Plan from "./Plan"
import * as Redactor from "./Redactor"
import type { Signal } from "./Signal"
import type { Verdict } from "./Verdict"
import { windowOffsets } from "./Verifier"

/** Rendering options. */
export interface Options {
  /** The redactor to apply (default: `Redactor.defaultRedactor`). */
  readonly redactor?: Redactor.Shape
}

// ---------------------------------------------------------------------------------------------
// JSON

const sortKeys = (value: Json): Json => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {}
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, Json>)[k]!)
    return out
  }
  return value
}

/** The report as redacted JSON with sorted keys (2-space indent, trailing newline): byte-stable for equal reports. */
export const toJson = (report: IncidentReport, options: Options = {}): string => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  return JSON.stringify(sortKeys(redactor.redact(report)), null, 2) + "\n"
}

/** An escalation bundle as redacted JSON with sorted keys. */
export const escalationToJson = (escalation: Escalation, options: Options = {}): string => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  return JSON.stringify(sortKeys(redactor.redact(escalation)), null, 2) + "\n"
}

// ---------------------------------------------------------------------------------------------
// Markdown helpers

/** UTC ISO-8601 time of an epoch-ms timestamp ("—" when not a finite number). */
export const iso = (at: unknown): string =>
  typeof at === "number" && Number.isFinite(at) ? new Date(at).toISOString() : "—"

/** A human duration ("4m 12s"). */
export const duration = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return "—"
  if (ms < 1000) return `${Math.round(ms)}ms`
  let s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  return [h ? `${h}h` : "", m ? `${m}m` : "", s || (!h && !m) ? `${s}s` : ""].filter(Boolean).join(" ")
}

/** Escapes a value for a Markdown table cell. */
const cell = (v: unknown): string => {
  const s = typeof v === "string" ? v : v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v)
  const out = s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>")
  return out === "" ? " " : out
}

/** Inline code, with a fence longer than any backtick run inside. */
const code = (s: string): string => {
  const runs = s.match(/`+/g) ?? []
  const n = Math.max(0, ...runs.map((r) => r.length)) + 1
  const f = "`".repeat(n)
  return n > 1 ? `${f} ${s} ${f}` : `${f}${s}${f}`
}

/** A fenced block, with a fence longer than any backtick run inside. */
const fence = (lang: string, body: string): string => {
  const runs = body.match(/`{3,}/g) ?? []
  const f = "`".repeat(Math.max(3, ...runs.map((r) => r.length + 1)))
  return `${f}${lang}\n${body.replace(/\n+$/, "")}\n${f}`
}

const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<unknown>>): string =>
  [
    `| ${headers.map(cell).join(" | ")} |`,
    `|${headers.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${headers.map((_, i) => cell(r[i])).join(" | ")} |`)
  ].join("\n")

const isPlainObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === "object" && !Array.isArray(v)
const isScalar = (v: unknown): boolean => v === null || ["string", "number", "boolean"].includes(typeof v)
const isFlatObject = (v: unknown): v is Record<string, Json> => isPlainObject(v) && Object.values(v).every(isScalar)

/** "queryFingerprints" / "query_fingerprints" → "Query fingerprints". */
const humanize = (key: string): string => {
  const s = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .trim()
    .toLowerCase()
  return s.charAt(0).toUpperCase() + s.slice(1)
}

const scalarText = (v: Json | undefined): string =>
  v === null || v === undefined ? "—" : typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v)

/**
 * Renders any JSON value generically as Markdown: arrays of flat objects as tables (columns in
 * first-seen order), arrays of scalars as lists, flat objects as key/value tables, strings as
 * paragraphs, nested objects as sub-headings (JSON blocks below heading level 6).
 */
export const jsonToMarkdown = (value: Json, level = 3): string => {
  if (isScalar(value)) return scalarText(value as Json)
  if (Array.isArray(value)) {
    if (value.length === 0) return "_none_"
    if (value.every(isScalar)) return value.map((v) => `- ${scalarText(v)}`).join("\n")
    if (value.every(isFlatObject)) {
      const cols: Array<string> = []
      for (const row of value as ReadonlyArray<Record<string, Json>>) {
        for (const k of Object.keys(row)) if (!cols.includes(k)) cols.push(k)
      }
      return table(cols.map(humanize), (value as ReadonlyArray<Record<string, Json>>).map((row) => cols.map((c) => row[c])))
    }
    return fence("json", JSON.stringify(value, null, 2))
  }
  const obj = value as Record<string, Json>
  if (Object.keys(obj).length === 0) return "_none_"
  if (isFlatObject(obj)) return table(["Key", "Value"], Object.entries(obj).map(([k, v]) => [k, v]))
  if (level > 6) return fence("json", JSON.stringify(obj, null, 2))
  const parts: Array<string> = []
  const scalars = Object.entries(obj).filter(([, v]) => isScalar(v))
  if (scalars.length > 0) parts.push(table(["Key", "Value"], scalars.map(([k, v]) => [k, v])))
  for (const [k, v] of Object.entries(obj)) {
    if (isScalar(v)) continue
    parts.push(`${"#".repeat(level)} ${humanize(k)}`, jsonToMarkdown(v as Json, level + 1))
  }
  return parts.join("\n\n")
}

// ---------------------------------------------------------------------------------------------
// sections (shared by reports and escalations)

const target = (t: { readonly kind: string; readonly ref: string } | undefined): string =>
  t ? `${t.kind} ${code(t.ref)}` : "—"

const signalSection = (signal: Signal): string => {
  const lines = [
    `- **Type:** ${code(signal.type)}`,
    `- **Target:** ${target(signal.target)}`,
    `- **Observed at:** ${iso(signal.observedAt)}`
  ]
  if (signal.source) lines.push(`- **Source:** ${signal.source}`)
  if (signal.parent) lines.push(`- **Parent incident:** ${code(signal.parent.incidentId)} (${signal.parent.runbook}, hop ${signal.parent.hop})`)
  const ev = signal.evidence as Json
  const evidence = isPlainObject(ev) && Object.keys(ev).length > 0 ? `\n\n**Evidence**\n\n${jsonToMarkdown(ev, 4)}` : ""
  return `## Signal\n\n${lines.join("\n")}${evidence}`
}

const factsSection = (input: FactsJson): string => {
  // a fact whose name is secret-like was replaced by the marker as a whole: show it as Known
  const facts = Object.fromEntries(
    Object.entries(input).map(([k, f]) => [k, f !== null && typeof f === "object" && "_tag" in f ? f : { _tag: "Known", value: f as Json }])
  ) as FactsJson
  const known = Object.entries(facts).filter(([, f]) => f._tag === "Known") as Array<[string, { readonly value: Json }]>
  const unknown = Object.entries(facts).filter(([, f]) => f._tag === "Unknown") as Array<
    [string, { readonly probe: string; readonly reason: string }]
  >
  const parts = ["## Facts"]
  parts.push("### Known", known.length ? table(["Fact", "Value"], known.map(([k, f]) => [k, f.value])) : "_none_")
  parts.push(
    "### Unknown",
    unknown.length ? table(["Fact", "Probe", "Reason"], unknown.map(([k, f]) => [k, f.probe, f.reason])) : "_none_"
  )
  return parts.join("\n\n")
}

const classificationSection = (c: Classification | undefined): string => {
  if (!c) return "## Classification\n\n_not classified_"
  const reasons = c.reasons.length ? `\n\n**Reasons**\n\n${c.reasons.map((r) => `- ${r}`).join("\n")}` : ""
  switch (c._tag) {
    case "Classified": {
      const conf = typeof c.confidence === "number" ? c.confidence.toFixed(2) : String(c.confidence)
      const ev = c.evidence as Json
      const evidence = isPlainObject(ev) && Object.keys(ev).length ? `\n\n**Evidence**\n\n${jsonToMarkdown(ev, 4)}` : ""
      return `## Classification\n\n**${c.class}** — confidence ${conf}${reasons}${evidence}`
    }
    case "Unclassified":
      return `## Classification\n\n**Unclassified**${reasons}`
    case "Indeterminate":
      return `## Classification\n\n**Indeterminate** — rule ${code(c.rule)} needed unknown facts: ${
        c.missing.map(code).join(", ") || "—"
      }${reasons}`
  }
}

const planSection = (plan: Plan.Plan | undefined, digest?: string): string => {
  if (!plan) return "## Plan\n\n_no plan_"
  let rendered: string
  try {
    rendered = Plan.render(plan)
  } catch {
    rendered = JSON.stringify(plan, null, 2)
  }
  return `## Plan\n\n${digest ? `Digest: ${code(digest)}\n\n` : ""}${fence("text", rendered)}`
}

const decisionsSection = (ds: ReadonlyArray<DecisionRecord>): string =>
  `## Guardrail decisions\n\n${
    ds.length
      ? table(
        ["Time (UTC)", "Step", "Action", "Phase", "Decision", "Guardrail", "Reason"],
        ds.map((d) => [
          iso(d.at),
          d.stepPath,
          d.actionKind,
          d.phase,
          d.decision,
          d.guardrail,
          d.reason !== undefined && d.retryAfterMs !== undefined ? `${d.reason} (retry after ${duration(d.retryAfterMs)})` : d.reason
        ])
      )
      : "_none_"
  }`

const outcomesSection = (os: ReadonlyArray<Outcome>): string =>
  `## Outcomes\n\n${
    os.length
      ? table(
        ["Time (UTC)", "Step", "Kind", "Target", "Status", "Detail"],
        os.map((o) => [iso(o.at), o.stepPath, o.kind, `${o.target.kind} ${o.target.ref}`, o.status, o.detail])
      )
      : "_none_"
  }`

const checksTable = (v: Verdict): string =>
  table(
    ["Check", "OK", "Detail", "Observed"],
    v.checks.map((c) => [c.name, c.ok ? "yes" : "no", c.detail, c.observed === undefined ? undefined : c.observed])
  )

/** One hold window: a heading with how it ended, then every poll's checks and observed values. */
const windowSection = (polls: ReadonlyArray<Verdict>): string => {
  const first = polls[0]!
  const w = first.poll!.window!
  const total = windowOffsets(w).length
  const last = polls[polls.length - 1]!
  const ended = last._tag === "Recovered"
    ? polls.length === total ? `Recovered, ${total}/${total} polls passed` : `interrupted after ${polls.length}/${total} polls`
    : `${last._tag} at poll ${last.poll!.poll}/${total} (${iso(last.at)}): ${last.reason}`
  const rows = polls.flatMap((v) => {
    const p = v.poll!
    const head = [p.poll, iso(v.at), `+${p.offsetMs === 0 ? "0s" : duration(p.offsetMs)}`, v._tag]
    if (!v.checks.length) return [[...head, undefined, undefined, v._tag === "Recovered" ? "" : v.reason, undefined]]
    return v.checks.map((c) => [...head, c.name, c.ok ? "yes" : "no", c.detail, c.observed === undefined ? undefined : c.observed])
  })
  return [
    `### Window ${first.poll!.attempt}: every ${duration(w.everyMs)} for ${duration(w.forMs)} from ${iso(w.startedAt)} — ${ended}`,
    table(["Poll", "Time (UTC)", "Offset", "Result", "Check", "OK", "Detail", "Observed"], rows)
  ].join("\n\n")
}

const verdictsSection = (vs: ReadonlyArray<Verdict>): string => {
  if (!vs.length) return "## Verification\n\n_none_"
  const parts = ["## Verification"]
  for (let i = 0; i < vs.length;) {
    const v = vs[i]!
    if (v.poll?.window) {
      const attempt = v.poll.attempt
      const polls: Array<Verdict> = []
      while (i < vs.length && vs[i]!.poll?.window && vs[i]!.poll!.attempt === attempt) polls.push(vs[i++]!)
      parts.push(windowSection(polls))
      continue
    }
    i++
    const where = v.poll ? ` (check ${v.poll.attempt}, +${duration(v.poll.offsetMs)})` : ""
    parts.push(`### ${v._tag} at ${iso(v.at)}${where}${v._tag === "Recovered" ? "" : `: ${v.reason}`}`)
    if (v.checks.length) parts.push(checksTable(v))
  }
  return parts.join("\n\n")
}

const proposalsSection = (ps: ReadonlyArray<ChangeProposal>): string => {
  if (!ps.length) return "## Change proposals\n\n_none_"
  const parts = ["## Change proposals"]
  ps.forEach((p, i) => {
    parts.push(`### ${i + 1}. ${p.title}`, `Target: ${target(p.target)} — never applied by BytePort; open it as a pull request.`)
    parts.push(fence("markdown", `${p.title}\n\n${p.body}`))
    if (p.files?.length) {
      parts.push(p.files.map((f) => `- ${code(f.path)}: ${f.description}`).join("\n"))
      for (const f of p.files) {
        if (f.before !== undefined || f.after !== undefined) {
          parts.push(
            `${code(f.path)}`,
            fence(
              "diff",
              [
                ...(f.before ?? "").split("\n").filter((l) => f.before !== undefined && l !== "").map((l) => `- ${l}`),
                ...(f.after ?? "").split("\n").filter((l) => f.after !== undefined && l !== "").map((l) => `+ ${l}`)
              ].join("\n")
            )
          )
        }
      }
    }
    if (p.patch) parts.push(fence("diff", p.patch))
  })
  return parts.join("\n\n")
}

const attachmentsSection = (as: ReadonlyArray<Attachment>): string => {
  if (!as.length) return "## Attachments\n\n_none_"
  const parts = [
    "## Attachments",
    table(
      ["Name", "Type", "Encoding", "Size"],
      as.map((a) => [a.name, a.contentType, a.encoding, a.sizeBytes ?? (a.encoding === "utf8" ? Buffer.byteLength(a.content) : undefined)])
    )
  ]
  for (const a of as) {
    if (a.encoding === "utf8" && a.content.length <= 4096) parts.push(`**${a.name}**`, fence("", a.content))
    else if (a.encoding === "reference") parts.push(`**${a.name}**: ${a.content}`)
  }
  return parts.join("\n\n")
}

const nextStepsList = (steps: ReadonlyArray<string>): string =>
  steps.length ? steps.map((s, i) => `${i + 1}. ${s}`).join("\n") : "_none_"

const headline = (
  cls: Classification | undefined,
  signal: Signal
): string => `${cls?._tag === "Classified" ? cls.class : signal.type} on ${signal.target.kind} ${signal.target.ref}`

const summaryText = (r: IncidentReport): string => {
  const c = r.classification
  const cls = c?._tag === "Classified"
    ? `classified it as **${c.class}** (confidence ${typeof c.confidence === "number" ? c.confidence.toFixed(2) : c.confidence})`
    : c?._tag === "Indeterminate"
    ? `could not classify it safely (facts unknown: ${c.missing.join(", ") || "—"})`
    : "did not classify it"
  const applied = r.outcomes.filter((o) => o.status === "applied").length
  const denied = r.decisions.filter((d) => d.decision === "deny").length
  const verdict = r.verdicts.length ? r.verdicts[r.verdicts.length - 1]!._tag : undefined
  const end: Record<string, string> = {
    recovered: "The target recovered.",
    escalated: `Escalated to a human${r.escalation ? `: ${r.escalation.reason}` : "."}`,
    observed: "Observe mode: nothing was changed.",
    dry_run: "Dry run: the plan was posted to the ops channel and nothing was changed.",
    proposed: "Change proposals were produced for a human to review; nothing was applied.",
    handed_off: "The work was handed off to another runbook.",
    duplicate: "Another incident already holds this target; nothing was done here."
  }
  return [
    `Runbook ${code(r.runbook)} (mode ${code(r.mode)}) received ${code(r.signal.type)} for ${target(r.signal.target)} and ${cls}.`,
    `${applied} action(s) applied, ${denied} guardrail denial(s)${verdict ? `, last verdict ${verdict}` : ""}.`,
    end[r.status] ?? ""
  ].join(" ")
}

const timelineSection = (tl: ReadonlyArray<TimelineEntry>): string =>
  `## Timeline\n\n${
    tl.length ? table(["Time (UTC)", "Phase", "Event"], [...tl].sort((a, b) => a.at - b.at).map((e) => [iso(e.at), e.phase, e.message])) : "_none_"
  }`

const finish = (redactor: Redactor.Shape, parts: ReadonlyArray<string>): string =>
  redactor.redactString(parts.filter((p) => p !== "").join("\n\n")) + "\n"

// ---------------------------------------------------------------------------------------------
// documents

/** The report as a Markdown postmortem (redacted). Deterministic: equal reports render to equal text. */
export const toMarkdown = (input: IncidentReport, options: Options = {}): string => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const r = redactor.redact(input) as unknown as IncidentReport
  const overview: Array<[string, string]> = [
    ["Status", `**${r.status}**`],
    ["Runbook", code(r.runbook)],
    ["Mode", code(r.mode)],
    ["Target", target(r.signal.target)],
    ["Started", iso(r.startedAt)],
    ["Ended", iso(r.endedAt)],
    ["Duration", duration(r.endedAt - r.startedAt)]
  ]
  if (r.planDigest) overview.push(["Plan digest", code(r.planDigest)])
  if (r.parent) overview.push(["Parent incident", `${code(r.parent.incidentId)} (${r.parent.runbook}, hop ${r.parent.hop})`])
  const related = [
    r.parent ? `- Parent: ${code(r.parent.incidentId)} — runbook ${code(r.parent.runbook)}, hop ${r.parent.hop}` : "",
    (r as { readonly duplicateOf?: string }).duplicateOf
      ? `- Duplicate of: ${code((r as { readonly duplicateOf?: string }).duplicateOf!)}`
      : "",
    ...r.children.map((c) => `- Child: ${code(c)}`)
  ].filter(Boolean)
  const esc = r.escalation
  return finish(redactor, [
    `# Incident ${r.incidentId}: ${headline(r.classification, r.signal)}`,
    `| Field | Value |\n|---|---|\n${overview.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, "\\|")} |`).join("\n")}`,
    `## Summary\n\n${summaryText(r)}`,
    timelineSection(r.timeline),
    signalSection(r.signal),
    factsSection(r.facts),
    classificationSection(r.classification),
    planSection(r.plan, r.planDigest),
    decisionsSection(r.decisions),
    outcomesSection(r.outcomes),
    verdictsSection(r.verdicts),
    proposalsSection(r.proposals),
    esc
      ? `## Escalation\n\n**${esc.severity}** — ${esc.reason}\n\n**Next steps**\n\n${nextStepsList(esc.nextSteps)}`
      : "",
    `## Related incidents\n\n${related.length ? related.join("\n") : "_none_"}`,
    r.postmortem && Object.keys(r.postmortem).length ? `## Postmortem\n\n${jsonToMarkdown(r.postmortem as Json, 3)}` : ""
  ])
}

/** An escalation bundle as Markdown (redacted): what a human needs to take over. */
export const escalationToMarkdown = (input: Escalation, options: Options = {}): string => {
  const redactor = options.redactor ?? Redactor.defaultRedactor
  const e = redactor.redact(input) as unknown as Escalation
  return finish(redactor, [
    `# Escalation (${e.severity}): ${headline(e.classification, e.signal)}`,
    `| Field | Value |\n|---|---|\n${
      [
        ["Incident", code(e.incidentId)],
        ["Runbook", code(e.runbook)],
        ["Severity", `**${e.severity}**`],
        ["Target", target(e.signal.target)],
        ["Escalated at", iso(e.at)]
      ].map(([k, v]) => `| ${k} | ${v!.replace(/\|/g, "\\|")} |`).join("\n")
    }`,
    `## Reason\n\n${e.reason}`,
    `## Suggested next steps\n\n${nextStepsList(e.nextSteps)}`,
    signalSection(e.signal),
    factsSection(e.facts),
    classificationSection(e.classification),
    planSection(e.plan),
    decisionsSection(e.decisions),
    outcomesSection(e.outcomes),
    verdictsSection(e.verdicts),
    proposalsSection(e.proposals),
    attachmentsSection(e.attachments)
  ])
}

// ---------------------------------------------------------------------------------------------
// with the Redactor service (its extra keys and patterns apply)

/** `toJson` with the Redactor service. */
export const json = (report: IncidentReport): Effect.Effect<string, never, Redactor.Redactor> =>
  Effect.map(Effect.service(Redactor.Redactor), (redactor) => toJson(report, { redactor }))

/** `toMarkdown` with the Redactor service. */
export const markdown = (report: IncidentReport): Effect.Effect<string, never, Redactor.Redactor> =>
  Effect.map(Effect.service(Redactor.Redactor), (redactor) => toMarkdown(report, { redactor }))

/** `escalationToMarkdown` with the Redactor service. */
export const escalationMarkdown = (escalation: Escalation): Effect.Effect<string, never, Redactor.Redactor> =>
  Effect.map(Effect.service(Redactor.Redactor), (redactor) => escalationToMarkdown(escalation, { redactor }))
