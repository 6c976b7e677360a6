/**
 * A small in-memory job queue with workers, and a BytePort runbook for it that composes every
 * role: a Detector (polls the queue depth), a Diagnoser (concurrent probes with timeouts), a
 * Classifier (first match, in order), a Remediator (plans as data: Fallback, Propose, Escalate), a
 * Verifier that polls every 50 ms, action handlers with action-kind guardrails (rate limit, ceiling from the baseline,
 * approval for quarantines), runbook-level guardrails (minimum confidence) and next steps for a
 * human.
 */
import { type Duration, Effect, Schedule, Schema } from "effect"
import {
  Action,
  ActionHandler,
  Classifier,
  Detector,
  Diagnoser,
  Fact,
  Guardrail,
  Plan,
  Runbook,
  type Signal,
  TargetRef,
  Verifier
} from "@byteport/core"

/** One queue of the service. */
export interface Queue {
  readonly name: string
  workers: number
  depth: number
  /** A job that crashes every worker that takes it (a poison job), if any. */
  poison?: string | undefined
  quarantined: Array<string>
}

/** The service: named queues, and a log of every write made to it. */
export interface JobService {
  readonly queues: Map<string, Queue>
  readonly writes: Array<string>
}

/** Builds the service from its queues. */
export const makeService = (queues: ReadonlyArray<Omit<Queue, "quarantined">>): JobService => ({
  queues: new Map(queues.map((q) => [q.name, { ...q, quarantined: [] }])),
  writes: []
})

/** The target of a queue. */
export const queueTarget = (name: string) => TargetRef.make("jobs.queue", `default/${name}`)

const queueOf = (svc: JobService, target: TargetRef.TargetRef): Queue => {
  const q = svc.queues.get(target.ref.split("/")[1]!)
  if (!q) throw new Error(`no queue ${target.ref}`)
  return q
}

/** One tick of work on a queue: each worker drains 100 jobs, unless a poison job keeps crashing them. */
export const tick = (q: Queue) => {
  if (!q.poison) q.depth = Math.max(0, q.depth - q.workers * 100)
}

/** The facts the runbook learns. */
export interface JobFacts {
  readonly workers: number
  readonly depth: number
  readonly crashingJob: string | null
}

// ---- action handlers (registered by "the package" that owns the service) ----

/** Scales a queue's workers; at most once per queue per hour, and never above 2× the baseline. */
export const scaleWorkers = (svc: JobService) =>
  ActionHandler.make({
    kind: "jobs.scaleWorkers",
    params: Schema.Struct({ from: Schema.Number, to: Schema.Number }),
    guardrails: [
      Guardrail.rateLimit({ name: "one scale per queue per hour", key: Guardrail.keys.perTarget("jobs.scale"), max: 1, window: "1 hour" }),
      Guardrail.ceiling.multipleOfBaseline({ name: "≤2× baseline workers", baselineKey: "workers", factor: 2, proposed: (ctx) => Number(ctx.action.params["to"]) })
    ],
    apply: (p, ctx) =>
      Effect.sync((): ActionHandler.HandlerResult => {
        const q = queueOf(svc, ctx.action.target)
        if (q.workers !== p.from) throw new Error(`precondition failed: ${q.workers} workers, planned from ${p.from}`)
        if (ctx.dryRun) return { detail: `would scale ${q.name} from ${p.from} to ${p.to} workers`, result: {} }
        q.workers = p.to
        svc.writes.push(`scale ${q.name} ${p.from}->${p.to}`)
        return { detail: `scaled ${q.name} from ${p.from} to ${p.to} workers`, result: { workers: p.to } }
      })
  })

/** Moves a poison job aside; always needs a human's approval. */
export const quarantineJob = (svc: JobService) =>
  ActionHandler.make({
    kind: "jobs.quarantine",
    params: Schema.Struct({ job: Schema.String }),
    guardrails: [Guardrail.approval({ reason: "quarantining a job drops it from processing until someone replays it" })],
    apply: (p, ctx) =>
      Effect.sync((): ActionHandler.HandlerResult => {
        const q = queueOf(svc, ctx.action.target)
        if (ctx.dryRun) return { detail: `would quarantine ${p.job} on ${q.name}`, result: {} }
        q.poison = undefined
        q.quarantined.push(p.job)
        svc.writes.push(`quarantine ${q.name} ${p.job}`)
        return { detail: `quarantined ${p.job}`, result: { job: p.job } }
      })
  })

// ---- the runbook ----

/** Polls every queue once per `every`; a queue deeper than 1000 jobs is a `jobs.backlog` signal. */
export const detector = (svc: JobService, every: Duration.Input = "1 second") =>
  Detector.poll("queue-depth", {
    schedule: Schedule.spaced(every),
    poll: Effect.sync(() =>
      [...svc.queues.values()]
        .filter((q) => q.depth > 1000)
        .map((q): Signal.Signal => ({ type: "jobs.backlog", target: queueTarget(q.name), observedAt: Date.now(), evidence: { depth: q.depth } }))
    )
  })

/** Probes the queue concurrently, each probe with a timeout (a failed probe is an Unknown fact). */
export const diagnose = (svc: JobService): Diagnoser.Diagnoser<JobFacts> =>
  Diagnoser.make<JobFacts>(
    {
      workers: Diagnoser.probe("workers", (s) => Effect.sync(() => queueOf(svc, s.target).workers)),
      depth: Diagnoser.probe("depth", (s) => Effect.sync(() => queueOf(svc, s.target).depth)),
      crashingJob: Diagnoser.probe("worker crash log", (s) => Effect.sync(() => queueOf(svc, s.target).poison ?? null))
    },
    { timeout: "2 seconds" }
  )

/** In the order the runbook's spec lists them: a poison job first (more workers would only crash more). */
export const rules = [
  Classifier.rule<JobFacts>()({
    class: "poison_job",
    confidence: 0.92,
    needs: ["crashingJob"],
    when: (f) => ({ matched: f.crashingJob !== null, reasons: [`job ${f.crashingJob} crashes every worker that takes it`] })
  }),
  Classifier.rule<JobFacts>()({
    class: "too_few_workers",
    confidence: 0.85,
    needs: ["workers", "depth"],
    when: (f) => ({ matched: f.depth > 1000 && f.workers < 16, reasons: [`${f.depth} jobs queued for ${f.workers} workers`] })
  })
]

/** The value of a fact the classifier already required to be Known. */
const known = <A>(f: Fact.Fact<A>): A => Fact.value(f) as A

/** The runbook: every role composed. */
export const runbook = (svc: JobService) =>
  Runbook.make<JobFacts>({
    id: "examples.jobs.backlog",
    description: "A job queue backs up: scale its workers, or quarantine a poison job with approval",
    signals: ["jobs.backlog"],
    detector: detector(svc),
    diagnose: diagnose(svc),
    classify: Classifier.firstMatch(rules, { minConfidence: 0.7 }),
    remediate: (c, facts, signal) =>
      Effect.sync(() => {
        const target = signal.target
        if (c.class === "poison_job") {
          const job = known(facts.crashingJob) as string
          return Plan.make("examples.jobs.backlog", c.class, `quarantine ${job}, then propose a fix`, Plan.seq(
            Plan.act(Action.make({ kind: "jobs.quarantine", target, params: { job }, precondition: { crashingJob: job }, description: `quarantine job ${job}` })),
            Plan.propose({ title: `Handle malformed payloads in the worker (${job})`, target, body: `Job ${job} crashed every worker. Validate payloads before processing.` })
          ))
        }
        const from = known(facts.workers)
        return Plan.make("examples.jobs.backlog", c.class, `scale ${from} → ${from * 2} workers, else escalate`, Plan.fallback(
          Plan.act(Action.make({ kind: "jobs.scaleWorkers", target, params: { from, to: from * 2 }, precondition: { workers: from }, description: `scale ${target.ref} to ${from * 2} workers` })),
          Plan.escalate("scaling was refused or failed", ["look for a slow dependency of the workers"]),
          { on: ["denied", "failed"] }
        ))
      }),
    verify: Verifier.fromChecks((ctx) =>
      Effect.sync(() => {
        const q = queueOf(svc, ctx.signal.target)
        tick(q)
        return [
          { name: "queue below 100 jobs", ok: q.depth < 100, detail: `depth ${q.depth}` },
          { name: "no crashing job", ok: !q.poison, detail: q.poison ? `${q.poison} still crashes workers` : "none" }
        ]
      })
    ),
    verifySchedule: Verifier.every("50 millis", "600 millis"),
    guardrails: [Guardrail.minConfidence(0.8)],
    baseline: (facts) => ({ workers: known(facts.workers) }),
    nextSteps: (c) => (c._tag === "Classified" && c.class === "poison_job" ? ["replay the quarantined job once it is fixed"] : ["check the workers' dependencies"]),
    defaultMode: "auto",
    cooldown: "50 millis",
    approvalTimeout: "10 minutes"
  })

/** The registry parts of this service. */
export const handlers = (svc: JobService) => [scaleWorkers(svc), quarantineJob(svc)]
