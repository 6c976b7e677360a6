/**
 * kill -9 mid-remediation, k8s.oom.six-signal (issue 17 §1, fourth bullet). The agent is a child
 * process (`kill9/oom-agent.ts`: the real runbook, client-node, a FileStore journal); kube-sim
 * runs in this process, so the cluster outlives the agent. The child is killed with a real
 * SIGKILL at each journal boundary — after intent, after a guardrail's window acquire but before
 * the `acquired` entry, after acquire, with the PATCH in flight, after
 * applied, during the verification hold window, while awaiting approval — and a new process
 * resumes the incident (`Runbook.resume`). The recorder must show exactly one applied memory
 * PATCH per workload (one per idempotency key) and the limit the planned one; where `observe`
 * cannot tell (a human changed the limit meanwhile) the resume escalates "interrupted, outcome
 * unknown" and patches nothing; the lease of an agent that never returns expires and another
 * agent takes the incident over.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect } from "effect"
import { FileStore, GuardrailStore } from "@byteport/core"
import * as ApprovalRecord from "../../core/src/guardrails/approvalRecord"
import { Scenario, startSim, type Sim } from "../../kube-sim/src/scenario/index"

const DEPLOYMENTS = { group: "apps", version: "v1", resource: "deployments" }
const CASES = ["intent", "window", "acquired", "inflight", "applied", "verify", "approval", "unknown", "expiry"] as const
const AGENT = nodePath.join(__dirname, "kill9/oom-agent.ts")

let s: Sim
let dir: string
let kubeconfig: string
beforeAll(async () => {
  const spec = CASES.reduce((b, c) => b.with(Scenario.oom.undersizedLimit({ name: `k9-${c}`, limit: "512Mi", replicas: 1 })), Scenario.cluster({ nodes: 3 })).build()
  s = await startSim({ scenario: spec, seed: 17, now: "2026-01-01T00:00:00Z" })
  s.advance(60_000) // every workload OOMKilled at least once
  dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-kill9-"))
  kubeconfig = nodePath.join(dir, "kubeconfig")
  fs.writeFileSync(kubeconfig, s.kubeconfig())
})
afterAll(async () => {
  await s?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

interface Run {
  readonly child: ChildProcess
  readonly lines: Array<string>
  readonly exited: Promise<number | null>
  readonly waitFor: (prefix: string, ms?: number) => Promise<string>
}

const agent = (env: Record<string, string>): Run => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", AGENT], {
    cwd: nodePath.join(__dirname, "../../.."),
    env: { ...process.env, KILL9_KUBECONFIG: kubeconfig, KILL9_SIM_URL: s.url, KILL9_STORE_DIR: nodePath.join(dir, "store"), BYTEPORT_AGENT_ID: "agent-a", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  let buf = ""
  const waiters: Array<() => void> = []
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString()
    const parts = buf.split("\n")
    buf = parts.pop()!
    lines.push(...parts)
    waiters.splice(0).forEach((w) => w())
  })
  let err = ""
  child.stderr!.on("data", (d: Buffer) => void (err += d.toString()))
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => {
    if (code !== 0 && code !== null) lines.push(`STDERR ${err.slice(-3000)}`)
    waiters.splice(0).forEach((w) => w())
    r(code)
  }))
  const waitFor = (prefix: string, ms = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const t0 = Date.now()
      const check = () => {
        const hit = lines.find((l) => l.startsWith(prefix))
        if (hit) return resolve(hit)
        if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`agent exited (${child.exitCode ?? child.signalCode}) before "${prefix}": ${lines.join("\n")}\n${err.slice(-3000)}`))
        if (Date.now() - t0 > ms) return reject(new Error(`no "${prefix}" after ${ms} ms: ${lines.join("\n")}\n${err.slice(-3000)}`))
        waiters.push(check)
        setTimeout(check, 200)
      }
      check()
    })
  return { child, lines, exited, waitFor }
}

/** SIGKILL, for real, and wait for the process to be gone. */
const kill9 = async (r: Run) => {
  r.child.kill("SIGKILL")
  await r.exited
  expect(r.child.signalCode).toBe("SIGKILL")
}

const result = (line: string) => JSON.parse(line.slice("RESULT ".length)) as { tag: string; status?: string; planDigest?: string; outcomes: Array<{ kind: string; status: string; detail: string }>; escalation?: string }

const store = <A>(f: (st: GuardrailStore.GuardrailStoreShape) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(Effect.flatMap(FileStore.make({ directory: nodePath.join(dir, "store") }), f) as Effect.Effect<A, unknown>)
const journal = (incidentId: string) => store((st) => st.readJournal(incidentId))

/**
 * The mutations of the workload's Deployment the apiserver applied (PATCH, not dryRun, not refused:
 * 2xx, or no answer recorded — the client died, the server applied it). A 409 of a stale
 * conditional patch applied nothing.
 */
const appliedPatches = (name: string) =>
  s.api.recorder.requests({ method: "PATCH" }).filter((r) => r.path.endsWith(`/deployments/${name}`) && !r.dryRun && r.status < 400)
const limitOf = (name: string) => (s.api.store.get(DEPLOYMENTS, "default", name) as any).spec.template.spec.containers[0].resources.limits.memory as string

/** Kills the agent at `at`, returns the journal's step-0 entry types at the kill. */
const killAt = async (c: string, at: string, env: Record<string, string> = {}) => {
  const a = agent({ KILL9_MODE: "handle", KILL9_WORKLOAD: `k9-${c}`, KILL9_INCIDENT: `inc-${c}`, BYTEPORT_KILL9_AT: at, ...env })
  await a.waitFor(`BOUNDARY ${at}`, 120_000)
  await kill9(a)
  return a
}
const resume = async (c: string, env: Record<string, string> = {}) => {
  const a = agent({ KILL9_MODE: "resume", KILL9_INCIDENT: `inc-${c}`, ...env })
  const line = await a.waitFor("RESULT", 120_000)
  expect(await a.exited).toBe(0)
  return result(line)
}
/** Units taken in the store's windows whose key names `workload` (the FileStore's windows.json). */
const windowUnits = (workload: string): number => {
  const path = nodePath.join(dir, "store", "windows.json")
  if (!fs.existsSync(path)) return 0
  const state = JSON.parse(fs.readFileSync(path, "utf8")) as { entries: Array<[string, { entries: Array<{ w: number }> }]> }
  return state.entries.filter(([key]) => key.includes(workload)).reduce((n, [, slot]) => n + slot.entries.reduce((m, e) => m + e.w, 0), 0)
}
const stepTypes = async (c: string) => (await journal(`inc-${c}`)).filter((e) => e.stepPath === "0").map((e) => e.type)
const patchOutcomes = (r: ReturnType<typeof result>) => r.outcomes.filter((o) => o.kind === "k8s.patchMemoryLimit")

describe("kill -9 mid-remediation: k8s.oom.six-signal over a FileStore, kube-sim outliving the agent", () => {
  it("after intent: the resume acquires, patches once", async () => {
    await killAt("intent", "intent")
    expect(await stepTypes("intent")).toEqual(["intent"])
    expect(appliedPatches("k9-intent")).toHaveLength(0)
    const r = await resume("intent")
    expect(patchOutcomes(r).map((o) => o.status)).toEqual(["applied"])
    expect(appliedPatches("k9-intent")).toHaveLength(1)
    expect(limitOf("k9-intent")).toBe("768Mi")
    expect(r.status).toBe("recovered")
  })

  it("after the window acquire, before `acquired` is journaled: the resume finds its unit by its token, the budget counts once, patches once", async () => {
    await killAt("window", "window")
    expect(await stepTypes("window")).toEqual(["intent"])
    expect(windowUnits("k9-window"), "the dead agent's unit is in the store").toBe(1)
    expect(appliedPatches("k9-window")).toHaveLength(0)
    const r = await resume("window")
    expect(patchOutcomes(r).map((o) => o.status), JSON.stringify(r)).toEqual(["applied"])
    expect(await stepTypes("window")).toEqual(["intent", "intent", "acquired", "applied"])
    expect(windowUnits("k9-window"), "the resumed acquire took no second unit").toBe(1)
    expect(appliedPatches("k9-window")).toHaveLength(1)
    expect(limitOf("k9-window")).toBe("768Mi")
    expect(r.status).toBe("recovered")
  })

  it("after acquire: observe reads the limit unchanged, the step runs once with the budget already taken", async () => {
    await killAt("acquired", "acquired")
    expect(await stepTypes("acquired")).toEqual(["intent", "acquired"])
    const r = await resume("acquired")
    expect(patchOutcomes(r).map((o) => o.status)).toEqual(["applied"])
    expect(appliedPatches("k9-acquired")).toHaveLength(1)
    expect(limitOf("k9-acquired")).toBe("768Mi")
    expect(r.status).toBe("recovered")
  })

  it("mutation in flight: the apiserver applies the PATCH after the agent died; observe settles it, no second PATCH", async () => {
    const slow = s.api.faults.latency({ method: "PATCH", pathPattern: /\/deployments\/k9-inflight$/, ms: 3_000 })
    const a = agent({ KILL9_MODE: "handle", KILL9_WORKLOAD: "k9-inflight", KILL9_INCIDENT: "inc-inflight" })
    const t0 = Date.now()
    while (!s.api.recorder.requests({ method: "PATCH" }).some((r) => r.path.endsWith("/deployments/k9-inflight") && !r.dryRun)) {
      if (Date.now() - t0 > 120_000 || a.child.exitCode !== null) throw new Error(`no PATCH sent: ${a.lines.join("\n")}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    await kill9(a)
    expect(await stepTypes("inflight")).toEqual(["intent", "acquired"])
    // the server finishes the request of the dead client
    await new Promise((r) => setTimeout(r, 3_500))
    slow.remove()
    expect(appliedPatches("k9-inflight")).toHaveLength(1)
    expect(limitOf("k9-inflight"), "the apiserver applied the dead agent's PATCH").toBe("768Mi")
    const r = await resume("inflight")
    expect(patchOutcomes(r).map((o) => o.status), JSON.stringify(r)).toEqual(["applied"])
    expect(patchOutcomes(r)[0]!.detail).toContain("observed applied after the restart")
    expect(appliedPatches("k9-inflight")).toHaveLength(1)
    expect(limitOf("k9-inflight")).toBe("768Mi")
  })

  it("after applied: the resume verifies and closes, no second PATCH", async () => {
    await killAt("applied", "applied")
    expect(await stepTypes("applied")).toEqual(["intent", "acquired", "applied"])
    expect(appliedPatches("k9-applied")).toHaveLength(1)
    const r = await resume("applied")
    // the step is done: reported from the journal, not re-run
    expect(patchOutcomes(r).map((o) => o.status), JSON.stringify(r)).toEqual(["applied"])
    expect(r.status).toBe("recovered")
    expect(appliedPatches("k9-applied")).toHaveLength(1)
    expect(limitOf("k9-applied")).toBe("768Mi")
  })

  it("during the verification hold window: the resume verifies again, no second PATCH", async () => {
    await killAt("verify", "verify")
    const types = (await journal("inc-verify")).map((e) => e.type)
    expect(types).toContain("applied")
    expect(types).not.toContain("closed")
    const r = await resume("verify")
    expect(r.status).toBe("recovered")
    expect(appliedPatches("k9-verify")).toHaveLength(1)
    expect(limitOf("k9-verify")).toBe("768Mi")
  })

  it("while awaiting approval: approved later, the resume patches once", async () => {
    await killAt("approval", "approval", { KILL9_APPROVAL: "1" })
    const entries = await journal("inc-approval")
    const awaiting = entries.find((e) => e.type === "awaiting_approval")
    expect(awaiting).toBeDefined()
    expect(entries.some((e) => e.stepPath !== undefined)).toBe(false)
    expect(appliedPatches("k9-approval")).toHaveLength(0)
    const grant = (planDigest: string) => {
      const now = s.now()
      return Effect.runPromise(Effect.provide(
        ApprovalRecord.grant("inc-approval", { planDigest, approver: "oncall", expiresAt: now + 3600_000, approvedAt: now }),
        FileStore.layer({ directory: nodePath.join(dir, "store") })
      ))
    }
    await grant(String(awaiting!.data["planDigest"]))
    // the cluster lives on while the agent is dead: the pod's OOM restarts update the Deployment's
    // status, so its resourceVersion (the patch's precondition) moves
    s.advance(5 * 60_000)
    const r = await resume("approval", { KILL9_APPROVAL: "1" })
    // The resume diagnoses again; the re-made plan differs from the approved one only in that
    // precondition, so the journaled, approved plan runs (core: an approval binds the plan it was
    // given; a plan whose actions changed escalates "plan changed since approval"): one PATCH.
    expect(r.tag, JSON.stringify(r)).not.toBe("AwaitingApproval")
    expect(patchOutcomes(r).map((o) => o.status), JSON.stringify(r)).toEqual(["applied"])
    expect(appliedPatches("k9-approval")).toHaveLength(1)
    expect(limitOf("k9-approval")).toBe("768Mi")
  })

  it("observe cannot tell (the limit changed by hand meanwhile): escalates interrupted, outcome unknown, patches nothing", async () => {
    await killAt("unknown", "acquired")
    const d = structuredClone(s.api.store.get(DEPLOYMENTS, "default", "k9-unknown")) as any
    d.spec.template.spec.containers[0].resources.limits.memory = "640Mi"
    s.api.store.update(DEPLOYMENTS, d)
    const before = s.api.recorder.requests({ method: "PATCH" }).filter((r) => r.path.endsWith("/deployments/k9-unknown") && !r.dryRun).length
    const r = await resume("unknown")
    expect(r.status).toBe("escalated")
    expect(r.escalation).toContain("interrupted, outcome unknown")
    expect(s.api.recorder.requests({ method: "PATCH" }).filter((r) => r.path.endsWith("/deployments/k9-unknown") && !r.dryRun).length).toBe(before)
    expect(limitOf("k9-unknown")).toBe("640Mi")
  })

  it("an agent that never returns: its lease holds the incident until it expires, then another agent takes it over and patches once", async () => {
    await killAt("expiry", "acquired")
    const held = await resume("expiry", { BYTEPORT_AGENT_ID: "agent-b" })
    expect(held.status).toBe("duplicate")
    expect(appliedPatches("k9-expiry")).toHaveLength(0)
    const open = (await store((st) => st.listIncidents())).find((i) => i.incidentId === "inc-expiry")
    expect(open?.closed).toBe(false)
    const lease = await store((st) => st.getLease(`target:${open!.targetKey}`))
    expect(lease?.holder).toBe("inc-expiry@agent-a")
    expect(lease!.expiresAt).toBeGreaterThan(s.now())
    // agent-a's lease TTL (k8s.oom.six-signal's, ≥ 30 min) passes on the cluster's clock
    s.advance(lease!.expiresAt - s.now() + 60_000)
    const r = await resume("expiry", { BYTEPORT_AGENT_ID: "agent-b" })
    expect(patchOutcomes(r).map((o) => o.status), JSON.stringify(r)).toEqual(["applied"])
    expect(appliedPatches("k9-expiry").map((p) => `${p.status} ${p.body}`), JSON.stringify(r)).toHaveLength(1)
    expect(limitOf("k9-expiry")).toBe("768Mi")
  })
})
