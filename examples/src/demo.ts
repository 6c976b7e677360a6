/**
 * The BytePort demo: a job queue service, one runbook composing every role, four incidents —
 * auto (recovered), a guardrail denial (escalated), a dry_run (plan posted, nothing written) and
 * an approval (paused, approved over the HTTP channel, resumed) — each printed as a timeline,
 * then the Markdown postmortem. Ends by itself.
 *
 *   npm start
 */
import { Effect, Layer, Redacted, Stream } from "effect"
import {
  ActionRegistry,
  Approval,
  Detector,
  IncidentBus,
  type IncidentReport,
  MemoryStore,
  Notifier,
  Report,
  Runbook
} from "@byteport/core"
import * as Jobs from "./jobs"

const svc = Jobs.makeService([
  { name: "emails", workers: 2, depth: 1800 },
  { name: "reports", workers: 4, depth: 2500 },
  { name: "billing", workers: 3, depth: 1200, poison: "job-8841" }
])

const layer = Layer.mergeAll(
  MemoryStore.layer,
  ActionRegistry.layer({ handlers: Jobs.handlers(svc) }),
  IncidentBus.layer(),
  Notifier.memory
)

const say = (line = "") => Effect.sync(() => console.log(line))

const time = (at: number) => new Date(at).toISOString().slice(11, 23)

const printTimeline = (title: string, r: Runbook.HandleResult) =>
  Effect.gen(function*() {
    yield* say(`\n=== ${title} ===`)
    if (Runbook.isAwaitingApproval(r)) {
      yield* say(`  paused: ${r.incidentId} awaits approval of plan ${r.planDigest.slice(0, 12)}… (${r.reason})`)
      return
    }
    for (const t of r.timeline) yield* say(`  ${time(t.at)}  ${t.phase.padEnd(10)} ${t.message}`)
    yield* say(`  → ${r.status}${r.escalation ? ` (escalated: ${r.escalation.reason})` : ""}`)
  })

const program = Effect.gen(function*() {
  const rb = Jobs.runbook(svc)
  yield* say("BytePort demo — job queues: emails (2 workers, 1800 queued), reports (4, 2500), billing (3, 1200, a poison job)")

  // 1. auto: the detector sees the emails backlog; Runbook.run handles it (one detector poll).
  let first: Runbook.HandleResult | undefined
  const once = { ...rb, detector: Detector.fromStream("queue-depth (once)", Stream.take(rb.detector!.signals, 1)) }
  yield* Runbook.run(once, { handOffs: false, onResult: (r) => Effect.sync(() => void (first = r)) })
  yield* printTimeline("1. auto — emails backlog: detect → diagnose → classify → plan → guardrails → act → verify", first!)

  // 2. a guardrail denial: the backlog comes back within the hour; the rate limit refuses a second scale.
  svc.queues.get("emails")!.depth = 1500
  yield* Effect.sleep("60 millis") // past the short cooldown
  const denied = yield* Runbook.handle(rb, { type: "jobs.backlog", target: Jobs.queueTarget("emails"), observedAt: Date.now(), evidence: { depth: 1500 } })
  yield* printTimeline("2. guardrail denial — emails again within the hour", denied)

  // 3. dry_run: the same runbook, trusted less for the reports queue: the plan is posted, nothing is written.
  const writesBefore = svc.writes.length
  const dry = yield* Runbook.handle(rb, { type: "jobs.backlog", target: Jobs.queueTarget("reports"), observedAt: Date.now(), evidence: { depth: 2500 } }, { mode: "dry_run" })
  yield* printTimeline("3. dry_run — reports backlog", dry)
  const posted = (yield* (yield* Notifier.NotifierRecording).get).plans
  yield* say(`  plan posted to the ops channel:\n${posted[posted.length - 1]!.rendered.split("\n").map((l) => `    ${l}`).join("\n")}`)
  yield* say(`  writes during the dry run: ${svc.writes.length - writesBefore}`)

  // 4. approval: a poison job; quarantine needs a human. Approve over the HTTP channel, then resume.
  const server = yield* Approval.serveHttp({ token: Redacted.make("demo-token") })
  const paused = yield* Runbook.handle(rb, { type: "jobs.backlog", target: Jobs.queueTarget("billing"), observedAt: Date.now(), evidence: { depth: 1200 } })
  yield* printTimeline("4. approval — billing has a poison job", paused)
  if (!Runbook.isAwaitingApproval(paused)) return yield* Effect.die(new Error("expected a pause for approval"))
  yield* say(`  approve with: ${server.channel.instructions(paused).replace(/\{.*\}/, "{…}")}`)
  const res = yield* Effect.promise(() =>
    fetch(`${server.url}/approvals/${paused.incidentId}`, {
      method: "POST",
      headers: { "content-type": "application/json", [Approval.tokenHeader]: "demo-token" },
      body: JSON.stringify({ planDigest: paused.planDigest, approver: "oncall@example.com" })
    })
  )
  yield* say(`  POST /approvals/${paused.incidentId} → ${res.status}`)
  const approved = yield* Approval.awaitDecision(rb, paused, { pollEvery: "20 millis" })
  yield* printTimeline("4. approval — resumed after approval", approved)

  yield* say(`\nwrites made to the service: ${svc.writes.join(", ")}`)
  yield* say("\n=== postmortem ===\n")
  yield* say(Report.toMarkdown(first as IncidentReport.IncidentReport))
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer))).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
