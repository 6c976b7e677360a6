/**
 * Leader election with fencing, two agent processes (issue 18 §1): both run
 * `leader/agent.ts` (LeaderElection with a 2 s lease, a LeaseStore, the executor with core's
 * `Leadership`) against one kube-sim that lives in this process, so the cluster outlives them.
 * - kill -9 the leader mid-incident: the other leads within lease + retry and resumes the open
 *   incident from the store; the recorder shows one applied mutation.
 * - SIGSTOP the leader after its leadership check, before its fenced acquire, past its lease: the
 *   other leads (a newer epoch) and finishes the incident; SIGCONT: the old leader's acquire is
 *   refused as stale, it steps down, and it mutates nothing.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer } from "effect"
import { GuardrailStore } from "@byteport/core"
import * as KubeSim from "../../kube-sim/src/KubeSim"
import * as Kube from "../src/Kube"
import * as LeaseStore from "../src/stores/LeaseStore"

const AGENT = nodePath.join(__dirname, "leader/agent.ts")
const LEASE_MS = 2_000
const RETRY_MS = 250

let sim: KubeSim.KubeSim
let dir: string
let kubeconfig: string
const children: Array<ChildProcess> = []
beforeAll(async () => {
  sim = await KubeSim.start({ seed: 18, namespaces: ["default", "byteport"] })
  dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-leader-"))
  kubeconfig = nodePath.join(dir, "kubeconfig")
  sim.writeKubeconfig(kubeconfig)
})
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGCONT")
      c.kill("SIGKILL")
      await new Promise((r) => c.once("exit", r))
    }
  }
})
afterAll(async () => {
  await sim?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

interface Run {
  readonly child: ChildProcess
  readonly lines: Array<{ readonly at: number; readonly line: string }>
  readonly waitFor: (prefix: string, ms?: number) => Promise<{ readonly at: number; readonly line: string }>
}

const agent = (id: string, env: Record<string, string> = {}): Run => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", AGENT], {
    cwd: nodePath.join(__dirname, "../../.."),
    env: { ...process.env, LEADER_KUBECONFIG: kubeconfig, LEADER_ID: id, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  const lines: Array<{ at: number; line: string }> = []
  let buf = ""
  let err = ""
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString()
    const parts = buf.split("\n")
    buf = parts.pop()!
    for (const line of parts) lines.push({ at: Date.now(), line })
  })
  child.stderr!.on("data", (d: Buffer) => void (err += d.toString()))
  const waitFor = (prefix: string, ms = 60_000) =>
    new Promise<{ at: number; line: string }>((resolve, reject) => {
      const t0 = Date.now()
      const check = () => {
        const hit = lines.find((l) => l.line.startsWith(prefix))
        if (hit) return resolve(hit)
        if (child.exitCode !== null) return reject(new Error(`${id} exited (${child.exitCode}) before "${prefix}": ${lines.map((l) => l.line).join("\n")}\n${err.slice(-3000)}`))
        if (Date.now() - t0 > ms) return reject(new Error(`${id}: no "${prefix}" after ${ms} ms: ${lines.map((l) => l.line).join("\n")}\n${err.slice(-3000)}`))
        setTimeout(check, 20)
      }
      check()
    })
  return { child, lines, waitFor }
}

const store = <A>(f: (st: GuardrailStore.GuardrailStoreShape) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.flatMap(LeaseStore.make({ namespace: "byteport" }), f).pipe(
      Effect.provide(Layer.orDie(Kube.layerFromString(fs.readFileSync(kubeconfig, "utf8"))))
    ) as Effect.Effect<A, unknown>
  )
const open = (incidentId: string) =>
  store((st) => st.appendJournal({ incidentId, at: Date.now(), type: "opened", data: { runbook: "test.leader", targetKey: "svc:default/leader-test" } }))
/** The mutations applied for an incident: Events created (2xx) whose message names it. */
const applied = (incidentId: string) =>
  sim.recorder.requests({ method: "POST" }).filter((r) => r.path.endsWith("/events") && r.status < 400 && String(r.body ?? "").includes(`applied ${incidentId} `))

describe("leader election with fencing: two agent processes on kube-sim", () => {
  it("kill -9 the leader mid-incident: the other leads within lease + retry and resumes it, one mutation", async () => {
    await open("inc-k9")
    const a = agent("agent-a", { LEADER_HOLD_AT: "intent" })
    await a.waitFor("LEADING")
    await a.waitFor("BOUNDARY intent")
    const b = agent("agent-b")
    // b follows while a renews (its elector has seen a's record)
    await b.waitFor("FOLLOWING agent-a")
    await new Promise((r) => setTimeout(r, LEASE_MS))
    expect(b.lines.some((l) => l.line.startsWith("LEADING"))).toBe(false)
    const killedAt = Date.now()
    a.child.kill("SIGKILL")
    const led = await b.waitFor("LEADING")
    // lease + retry, plus one observation round and process scheduling on a loaded machine
    expect(led.at - killedAt).toBeLessThanOrEqual(LEASE_MS + RETRY_MS + 1_500)
    await b.waitFor("RESULT inc-k9 completed")
    expect(applied("inc-k9")).toHaveLength(1)
    const journal = await store((st) => st.readJournal("inc-k9"))
    expect(journal.map((e) => e.type)).toEqual(["opened", "intent", "intent", "acquired", "applied", "closed"])
  }, 120_000)

  it("SIGSTOP the leader past its lease, SIGCONT: its fenced acquire is refused, it steps down, no mutation from it", async () => {
    await open("inc-stop")
    const go = nodePath.join(dir, "go-stop")
    const a = agent("agent-c", { LEADER_PAUSE_FILE: go })
    await a.waitFor("LEADING")
    await a.waitFor("BOUNDARY acquire")
    const b = agent("agent-d")
    await b.waitFor("FOLLOWING agent-c")
    a.child.kill("SIGSTOP")
    await b.waitFor("LEADING", 30_000)
    await b.waitFor("RESULT inc-stop completed", 30_000)
    expect(applied("inc-stop")).toHaveLength(1)
    fs.writeFileSync(go, "")
    a.child.kill("SIGCONT")
    const down = await a.waitFor("STEPDOWN", 30_000)
    expect(down.line).toMatch(/refused epoch \d+ of byteport\/byteport-agent-leader \(a newer leader's is \d+\)/)
    await a.waitFor("STOPPED inc-stop", 30_000)
    await new Promise((r) => setTimeout(r, 500))
    expect(applied("inc-stop"), "the deposed leader mutated nothing").toHaveLength(1)
    expect(applied("inc-stop")[0]!.body).toContain("by agent-d")
  }, 120_000)
})
