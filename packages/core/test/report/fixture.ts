/**
 * A representative incident: k8s.oom.six-signal classified a genuine memory leak, tried a
 * guarded limit bump (allowed) and a second bump (denied), did not recover, proposed a heap fix
 * as a PR, escalated with a heap profile and opened a ticket; a child incident was handed off.
 * Secrets are planted where they hide in real life, so the golden files also prove redaction.
 */
import type { Escalation } from "../../src/Escalation"
import type { IncidentReport } from "../../src/IncidentReport"
import type { JsonObject } from "../../src/Json"
import * as Plan from "../../src/Plan"
import type { Signal } from "../../src/Signal"

const T0 = Date.UTC(2026, 10, 28, 3, 14, 0)
const target = { kind: "k8s.workload", ref: "prod-eu/payments/Deployment/ledger/app" }

/** Secrets planted in the fixture (none may appear in any rendering). */
export const PLANTED = [
  "hunter2-Pg-Sx9",
  "ghp_Sx0123456789abcdefghijklmnopqrstuvwx",
  "Sx-bearer-7c1d0a5e9f",
  "SxAwsSecretKey/0123456789abcdefghijklmn0",
  "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjSx"
] as const

const bump = (from: string, to: string, key: string) => ({
  kind: "k8s.patchMemoryLimit",
  target,
  params: { container: "app", from, to },
  idempotencyKey: key,
  precondition: { resourceVersion: "48121", limit: from },
  timeout: 30_000,
  description: `raise memory limit of payments/ledger (app) from ${from} to ${to}`,
  undo: {
    kind: "k8s.patchMemoryLimit",
    target,
    params: { container: "app", from: to, to: from },
    idempotencyKey: `${key}:undo`,
    precondition: {},
    timeout: 30_000,
    description: `restore memory limit of payments/ledger (app) to ${from}`
  }
})

const plan: Plan.Plan = Plan.make(
  "k8s.oom.six-signal",
  "genuine_memory_leak",
  "buy time with one guarded bump, propose the heap fix, escalate the leak",
  Plan.seq(
    Plan.fallback(Plan.act(bump("512Mi", "768Mi", "bump-1")), Plan.escalate("limit bump denied or failed", []), {
      on: ["failed", "denied"]
    }),
    Plan.waitFor(Plan.check("k8s.podsReady", target, { minReady: 3 }, "3 ledger pods ready"), { timeoutMs: 120_000, intervalMs: 15_000 }),
    Plan.propose({
      title: "ledger: cap the JVM heap below the container limit",
      body: "The heap grows ~40 MiB/h without bound (see the heap profile).\n\n- set `-Xmx` to 75% of the limit\n- fix the cache in `LedgerCache` (unbounded `HashMap`)",
      target,
      files: [{ path: "deploy/ledger/values.yaml", description: "JAVA_OPTS", before: "javaOpts: \"\"", after: "javaOpts: \"-Xmx576m\"" }]
    }),
    Plan.handOff(
      { type: "DependencyDegraded", target: { kind: "db.postgres", ref: "prod-eu/ledger-db" }, observedAt: T0 + 200_000, evidence: {} },
      "connection storms from the restarts"
    ),
    Plan.escalate("genuine memory leak: needs a code fix", ["review the heap profile", "merge the -Xmx PR"])
  )
)

const signal: Signal = {
  type: "OOMKilled",
  target,
  observedAt: T0,
  source: "k8s.oom.six-signal/detector",
  evidence: {
    pod: "ledger-7d9f8b6c4-x2x9q",
    restarts: 7,
    lastState: "OOMKilled (exit 137)",
    // secrets that leaked into evidence (the pod spec's env and a log line)
    env: [
      { name: "DATABASE_URL", value: "postgres://ledger:hunter2-Pg-Sx9@ledger-db:5432/ledger" },
      { name: "GITHUB_TOKEN", value: "ghp_Sx0123456789abcdefghijklmnopqrstuvwx" },
      { name: "JAVA_OPTS", value: "-XX:+UseG1GC" },
      { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "ledger-db", key: "password" } } }
    ],
    lastLog: "GET /v1/balances Authorization: Bearer Sx-bearer-7c1d0a5e9f -> 200"
  } as JsonObject
}

const facts = {
  memoryTrend: { _tag: "Known" as const, value: { slopeMiBPerHour: 41.5, r2: 0.97, window: "6h" } },
  limit: { _tag: "Known" as const, value: "512Mi" },
  nodePressure: { _tag: "Known" as const, value: false },
  awsCredentials: { _tag: "Known" as const, value: { accessKeyId: "AKIAIOSFODNN7SXAMPLE", secretKey: "SxAwsSecretKey/0123456789abcdefghijklmn0" } },
  hpa: { _tag: "Unknown" as const, probe: "k8s.hpa", reason: "no HorizontalPodAutoscaler targets the workload" },
  prometheusErrors: { _tag: "Unknown" as const, probe: "prometheus.query", reason: "timeout after 5000ms" }
}

const classification = {
  _tag: "Classified" as const,
  class: "genuine_memory_leak",
  confidence: 0.85,
  reasons: ["working set grows 41.5 MiB/h (r² 0.97) over 6h", "OOMKilled 7 times with the same limit", "no traffic increase"],
  evidence: { slopeMiBPerHour: 41.5, oomKills24h: 7 }
}

const decisions = [
  { stepPath: "0.0.p", actionKind: "k8s.patchMemoryLimit", idempotencyKey: "bump-1", phase: "check" as const, decision: "allow" as const, at: T0 + 20_000 },
  {
    stepPath: "0.0.p",
    actionKind: "k8s.patchMemoryLimit",
    idempotencyKey: "bump-1",
    phase: "acquire" as const,
    decision: "allow" as const,
    permitId: "permit-01",
    at: T0 + 21_000
  },
  {
    stepPath: "0.0.p",
    actionKind: "k8s.patchMemoryLimit",
    idempotencyKey: "bump-2",
    phase: "check" as const,
    decision: "deny" as const,
    guardrail: "rateLimit(1 bump/pod/24h)",
    reason: "1 bump already in the last 24h",
    retryAfterMs: 86_100_000,
    at: T0 + 140_000
  }
]

const outcomes = [
  {
    stepPath: "0.0.p",
    kind: "k8s.patchMemoryLimit",
    target,
    idempotencyKey: "bump-1",
    status: "applied" as const,
    detail: "limit 512Mi → 768Mi (resourceVersion 48121 → 48177)",
    result: { resourceVersion: "48177" },
    at: T0 + 22_000
  },
  { stepPath: "0.1", kind: "wait", target, status: "check_passed" as const, detail: "3/3 pods ready after 45s", at: T0 + 67_000 },
  { stepPath: "0.2", kind: "propose", target, status: "proposed" as const, detail: "PR text recorded", at: T0 + 68_000 },
  {
    stepPath: "0.3",
    kind: "handoff",
    target: { kind: "db.postgres", ref: "prod-eu/ledger-db" },
    status: "handed_off" as const,
    detail: "to db.postgres.pool (child inc-20261128-0314-b)",
    at: T0 + 69_000
  }
]

const verdicts = [
  {
    _tag: "NotRecovered" as const,
    reason: "oom-kills: 1 OOMKill after the bump",
    checks: [
      { name: "oom-kills", ok: false, detail: "1 OOMKill after the bump", observed: 1 },
      { name: "ready", ok: true, detail: "3/3 ready", observed: { ready: 3, desired: 3 } }
    ],
    at: T0 + 130_000
  }
]

const escalation: Escalation = {
  incidentId: "inc-20261128-0314-a",
  runbook: "k8s.oom.six-signal",
  reason: "genuine memory leak: the bump bought time but the pod still OOMs",
  severity: "critical",
  signal,
  facts,
  classification,
  plan,
  decisions,
  outcomes,
  verdicts,
  nextSteps: ["review the attached heap profile", "merge the -Xmx PR", "page the ledger team if OOMs continue"],
  proposals: [plan.root._tag === "Seq" && plan.root.steps[2]?._tag === "Propose" ? plan.root.steps[2].proposal : (undefined as never)],
  attachments: [
    { name: "heap-top.txt", contentType: "text/plain", encoding: "utf8", content: "  1. LedgerCache$Entry  412 MiB\n  2. byte[]  88 MiB\n" },
    { name: "heap.hprof", contentType: "application/octet-stream", encoding: "reference", content: "s3://byteport-artifacts/inc-20261128-0314-a/heap.hprof", sizeBytes: 734003200 },
    {
      name: "tls.key",
      contentType: "application/x-pem-file",
      encoding: "utf8",
      content: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjSx\n-----END PRIVATE KEY-----\n"
    }
  ],
  at: T0 + 131_000
}

/** The representative report. */
export const report: IncidentReport = {
  incidentId: "inc-20261128-0314-a",
  runbook: "k8s.oom.six-signal",
  mode: "auto",
  status: "escalated",
  signal,
  facts,
  classification,
  plan,
  planDigest: Plan.digest(plan),
  decisions,
  outcomes,
  verdicts,
  proposals: escalation.proposals,
  escalation,
  children: ["inc-20261128-0314-b"],
  timeline: [
    { at: T0, phase: "detect", message: "OOMKilled ledger-7d9f8b6c4-x2x9q (7 restarts)" },
    { at: T0 + 9_000, phase: "diagnose", message: "6 probes, 2 Unknown (hpa, prometheus.query)" },
    { at: T0 + 10_000, phase: "classify", message: "genuine_memory_leak 0.85" },
    { at: T0 + 12_000, phase: "plan", message: "5 steps; digest recorded" },
    { at: T0 + 20_000, phase: "guardrails", message: "all steps pass the checks" },
    { at: T0 + 22_000, phase: "act", message: "limit 512Mi → 768Mi" },
    { at: T0 + 69_000, phase: "handoff", message: "DependencyDegraded → db.postgres.pool" },
    { at: T0 + 130_000, phase: "verify", message: "NotRecovered: 1 OOMKill after the bump" },
    { at: T0 + 131_000, phase: "escalate", message: "paged (critical) and ticket opened" },
    { at: T0 + 132_000, phase: "close", message: "escalated" }
  ],
  postmortem: {
    rootCause: "unbounded LedgerCache map; heap grows ~40 MiB/h until the container limit",
    permanentFixes: [
      { action: "cap the heap at 75% of the limit (-Xmx576m)", owner: "ledger", pr: "proposed" },
      { action: "bound LedgerCache (LRU, 50k entries)", owner: "ledger", pr: "to do" }
    ],
    queryFingerprints: [
      { fingerprint: "9f2c1a", query: "SELECT * FROM balances WHERE account_id = $1", calls: 18211, meanMs: 2.4 },
      { fingerprint: "77ab03", query: "UPDATE ledger SET amount = amount | $1", calls: 930, meanMs: 11.9 }
    ],
    contributing: ["no HPA on the workload", "Prometheus query timed out during diagnosis"],
    connection: { dsn: "postgres://ledger:hunter2-Pg-Sx9@ledger-db:5432/ledger", pool: { max: 20, idle: 3 } }
  },
  startedAt: T0,
  endedAt: T0 + 132_000
}

/** The escalation bundle of the representative report. */
export const bundle: Escalation = escalation
