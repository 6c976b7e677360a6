/**
 * Benchmark (not a test): kube-sim and BytePort's agent as separate processes (issue 17 §2), so
 * the agent's RSS and CPU are its own and the cluster outlives it.
 *
 * **Per cluster size** (`BENCH_SIZES`, default `0,1000,10000,30000` pods; 20 pods a node): kube-sim's
 * API server in its own process (`bench/sim-server.ts`, `SIM_MODE=store`), the shipped OOMKilled
 * detector (default config) in another (`bench/agent.ts`). Measured: process start → modules
 * loaded → pod watch open (`watching`: the list is done); API requests over an idle window with
 * the open watches listed apart (`BENCH_IDLE_SECONDS`, real time: client-node's timers are real, so
 * `/_sim/advance` cannot stand in for them; it runs at `BENCH_IDLE_AT` pods only); the agent's CPU
 * seconds over that window; `BENCH_INJECTIONS` OOMKills written into kube-sim (the kubelet's
 * status update) → the agent's Signal line; the agent's peak RSS (`maxRSS`). The growth per 1,000
 * pods is the slope between the smallest and the largest non-zero size.
 *
 * **Baseline** at `BENCH_BASELINE_AT` pods: `kubectl get pods -A -o json | jq` against the same
 * kube-sim process, CPU of kubectl + jq (`BENCH_KUBECTL_RUNS`).
 *
 * **End to end** (`BENCH_E2E_PODS`, default 10,000, `0` skips): kube-sim with its controllers in its
 * own process (`SIM_MODE=controllers`), the k8s.oom.six-signal runbook in dry_run in the agent
 * process; each of `BENCH_E2E_INJECTIONS` undersized-limit Deployments is advanced in virtual
 * seconds inside kube-sim until OOMKilled (no scenario warm-up per injection) → Signal and → first
 * action (the runbook's `dryRun=All` PATCH reaching kube-sim), p50 / p99.
 *
 * Prints `BENCH {json}` rows for `scripts/bench.ts`.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const SIZES = (process.env["BENCH_SIZES"] ?? "0,1000,10000,30000").split(",").map(Number)
const IDLE_S = Number(process.env["BENCH_IDLE_SECONDS"] ?? 600)
const IDLE_AT = Number(process.env["BENCH_IDLE_AT"] ?? 10_000)
const BASELINE_AT = Number(process.env["BENCH_BASELINE_AT"] ?? 10_000)
const INJECTIONS = Number(process.env["BENCH_INJECTIONS"] ?? 20)
const KUBECTL_RUNS = Number(process.env["BENCH_KUBECTL_RUNS"] ?? 3)
const E2E_PODS = Number(process.env["BENCH_E2E_PODS"] ?? 10_000)
const E2E_INJECTIONS = Number(process.env["BENCH_E2E_INJECTIONS"] ?? 20)
const ACTION_WAIT_MS = Number(process.env["BENCH_ACTION_WAIT_MS"] ?? 30_000)

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
const MiB = 2 ** 20
const emit = (row: { metric: string; byteport?: number | undefined; baseline?: number | undefined; unit: string; runs: number; spread?: string | undefined; note?: string | undefined }) =>
  console.log(`BENCH ${JSON.stringify(row)}`)
const load = () => loadavg().map((l) => l.toFixed(1)).join(" / ")

/** A child process spoken to in lines: `send` a command, `next(prefix)` the next line starting with it. */
class Proc {
  readonly child: ChildProcess
  private readonly lines: Array<string> = []
  private readonly waiters: Array<() => void> = []
  readonly exited: Promise<number | null>
  constructor(readonly name: string, script: string, env: Record<string, string>, private readonly onLine?: (l: string) => void) {
    this.child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", path.join(here, script)], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] })
    createInterface({ input: this.child.stdout! }).on("line", (l) => {
      this.onLine?.(l)
      if (process.env["BENCH_VERBOSE"] && !/^(signal|stats|since|mark|watch-at|rss|loaded|ready) /.test(l)) console.log(`  ${name} | ${l.slice(0, 300)}`)
      if (!l.startsWith("signal ")) this.lines.push(l)
      this.waiters.splice(0).forEach((w) => w())
    })
    createInterface({ input: this.child.stderr! }).on("line", (l) => console.log(`  ${name} ! ${l}`))
    this.exited = new Promise((r) => this.child.on("exit", (code) => r(code)))
  }
  send(line: string) {
    this.child.stdin!.write(`${line}\n`)
  }
  async next(prefix: string, timeoutMs = 600_000): Promise<string> {
    const end = Date.now() + timeoutMs
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(`${prefix} `) || l === prefix)
      if (i >= 0) return this.lines.splice(i, 1)[0]!.slice(prefix.length + 1)
      if (Date.now() > end) throw new Error(`${this.name}: no "${prefix}" line within ${timeoutMs} ms`)
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode}) before "${prefix}"`)
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 200)
      })
    }
  }
  async ask<A>(cmd: string, prefix = cmd.split(" ")[0]!): Promise<A> {
    this.send(cmd)
    return JSON.parse(await this.next(prefix)) as A
  }
  async stop() {
    this.child.stdin!.end()
    const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000)
    await this.exited
    clearTimeout(t)
  }
}

interface Stats { readonly rss: number; readonly maxRss: number; readonly heapUsed: number; readonly cpuUser: number; readonly cpuSystem: number }
const cpuOf = (s: Stats) => s.cpuUser + s.cpuSystem

/** `kubectl get pods -A -o json | jq` once: wall ms and CPU seconds of both. */
const kubectlPoll = async (kubeconfig: string) => {
  const t = performance.now()
  const child = spawn("bash", ["-c", `TIMEFORMAT='%U %S'; time (kubectl --kubeconfig "$KCFG" get pods -A -o json | jq -c '[.items[] | select(any(.status.containerStatuses[]?; .lastState.terminated.reason == "OOMKilled")) | .metadata.name] | length' > /dev/null)`], { env: { ...process.env, KCFG: kubeconfig }, stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()))
  const status = await new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  const [u, sy] = (stderr.trim().split("\n").pop() ?? "").split(" ").map(Number)
  if (status !== 0) throw new Error(`kubectl | jq failed: ${stderr.slice(-500)}`)
  return { wall: performance.now() - t, cpu: (u ?? NaN) + (sy ?? NaN) }
}

console.log(`processes bench: sizes ${SIZES.join(", ")} pods; idle window ${IDLE_S} s at ${IDLE_AT} pods; ${INJECTIONS} injections per size; e2e ${E2E_PODS} pods × ${E2E_INJECTIONS}; ${cpus().length} cores, load ${load()}`)

const rssBySize = new Map<number, number>()
for (const pods of SIZES) {
  const t0 = performance.now()
  const sim = new Proc("kube-sim", "sim-server.ts", { SIM_MODE: "store", SIM_PODS: String(pods), SIM_NODES: String(Math.max(1, Math.ceil(pods / 20))) })
  const ready = JSON.parse(await sim.next("ready")) as { kubeconfig: string; url: string; pods: number }
  console.log(`[${pods} pods] kube-sim process ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${ready.pods} pods; load ${load()})`)
  const signals = new Map<string, number>()
  const spawnAt = now()
  const agent = new Proc("agent", "agent.ts", { BENCH_KUBECONFIG: ready.kubeconfig, BENCH_AGENT_MODE: "detector" }, (l) => {
    if (l.startsWith("signal ")) {
      const [, key, t] = l.split(" ")
      if (!signals.has(key!)) signals.set(key!, Number(t))
    }
  })
  const loadedAt = Number(await agent.next("loaded"))
  let watchAt = 0
  while (!watchAt) {
    sim.send("watch-at /api/v1/pods")
    watchAt = Number(await sim.next("watch-at"))
    if (!watchAt) await sleep(20)
  }
  const startMs = watchAt - spawnAt
  console.log(`  agent: modules loaded ${(loadedAt - spawnAt).toFixed(0)} ms after spawn, pod watch open ${startMs.toFixed(0)} ms after spawn`)
  emit({ metric: `agent process start → watching (${ready.pods} pods)`, byteport: startMs, unit: "ms", runs: 1, spread: `modules loaded at ${(loadedAt - spawnAt).toFixed(0)} ms` })
  await sleep(1000)

  if (pods === IDLE_AT) {
    sim.send("mark")
    const mark = Number(await sim.next("mark"))
    const s0 = await agent.ask<Stats>("stats")
    console.log(`  idle window: ${IDLE_S} s (real time; load ${load()}) …`)
    await sleep(IDLE_S * 1000)
    const s1 = await agent.ask<Stats>("stats")
    const idle = await sim.ask<{ total: number; watches: number; lists: number; other: number; openWatches: number; paths: Record<string, number> }>(`since ${mark}`)
    const minutes = IDLE_S / 60
    console.log(`  idle: ${idle.total} requests (${idle.watches} watch re-opens, ${idle.lists} lists, ${idle.other} other) with ${idle.openWatches} watch(es) open: ${JSON.stringify(idle.paths)}; agent CPU ${(cpuOf(s1) - cpuOf(s0)).toFixed(2)} s`)
    emit({ metric: `idle API requests over ${IDLE_S >= 60 ? `${minutes.toFixed(minutes % 1 ? 1 : 0)} min` : `${IDLE_S} s`} (${ready.pods} pods, agent alone)`, byteport: idle.total, baseline: Math.floor(IDLE_S / 10), unit: "requests", runs: 1, spread: `${idle.openWatches} watch(es) open, ${idle.watches} re-opened`, note: `baseline: one list per 10 s poll; open watches listed apart (${idle.openWatches} held open, not counted as requests)` })
    emit({ metric: `agent CPU per idle minute (${ready.pods} pods)`, byteport: (cpuOf(s1) - cpuOf(s0)) / minutes, unit: "s", runs: 1, note: "the agent process alone (process.cpuUsage)" })
  }

  if (pods > 0) {
    const lat: Array<number> = []
    for (let i = 0; i < INJECTIONS; i++) {
      sim.send(`oom ${(i * 997) % pods}`)
      const [key, t] = (await sim.next("injected")).split(" ")
      const until = Date.now() + 5_000
      while (!signals.has(key!) && Date.now() < until) await sleep(2)
      if (signals.has(key!)) lat.push(signals.get(key!)! - Number(t))
      await sleep(50)
    }
    console.log(`  OOMKill → Signal: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms (${lat.length}/${INJECTIONS})`)
    emit({ metric: `OOMKill → Signal p50 (${ready.pods} pods, processes)`, byteport: pct(lat, 50), baseline: 5_000, unit: "ms", runs: lat.length, spread: `${Math.min(...lat).toFixed(1)}–${Math.max(...lat).toFixed(1)} ms`, note: "kube-sim and the agent in separate processes; baseline: half the 10 s poll interval alone (plus one kubectl | jq, below)" })
    emit({ metric: `OOMKill → Signal p99 (${ready.pods} pods, processes)`, byteport: pct(lat, 99), baseline: 9_900, unit: "ms", runs: lat.length })
  }

  const st = await agent.ask<Stats>("stats")
  rssBySize.set(ready.pods, st.maxRss)
  console.log(`  agent: peak RSS ${(st.maxRss / MiB).toFixed(0)} MiB, RSS now ${(st.rss / MiB).toFixed(0)} MiB, heap ${(st.heapUsed / MiB).toFixed(0)} MiB, CPU ${cpuOf(st).toFixed(2)} s since start`)
  emit({ metric: `agent peak RSS, alone (${ready.pods} pods)`, byteport: st.maxRss / MiB, unit: "MiB", runs: 1, spread: `heap ${(st.heapUsed / MiB).toFixed(0)} MiB` })
  emit({ metric: `agent CPU, start + list + ${pods > 0 ? INJECTIONS : 0} OOMKills (${ready.pods} pods)`, byteport: cpuOf(st), unit: "s", runs: 1 })

  if (pods === BASELINE_AT) {
    const polls: Array<{ wall: number; cpu: number }> = []
    for (let i = 0; i < KUBECTL_RUNS; i++) polls.push(await kubectlPoll(ready.kubeconfig))
    const cpu = polls.reduce((a, p) => a + p.cpu, 0) / polls.length
    const walls = polls.map((p) => p.wall)
    console.log(`  kubectl get pods -A -o json | jq: p50 ${pct(walls, 50).toFixed(0)} ms, CPU ${cpu.toFixed(2)} s per poll`)
    emit({ metric: `one poll: kubectl get pods -A -o json | jq (${ready.pods} pods, kube-sim its own process)`, baseline: pct(walls, 50), unit: "ms", runs: polls.length, spread: `${Math.min(...walls).toFixed(0)}–${Math.max(...walls).toFixed(0)} ms` })
    emit({ metric: `CPU per idle minute: agent alone vs kubectl + jq every 10 s (${ready.pods} pods)`, baseline: 6 * cpu, unit: "s", runs: polls.length, note: "BytePort's figure: the 'agent CPU per idle minute' row" })
  }
  await agent.stop()
  sim.send("rss")
  console.log(`  kube-sim process RSS ${(Number(await sim.next("rss")) / MiB).toFixed(0)} MiB (not the agent's)`)
  await sim.stop()
}

const sizes = [...rssBySize.keys()].filter((n) => n > 0).sort((a, b) => a - b)
if (sizes.length >= 2) {
  const lo = sizes[0]!
  const hi = sizes[sizes.length - 1]!
  const per1k = ((rssBySize.get(hi)! - rssBySize.get(lo)!) / MiB) / ((hi - lo) / 1000)
  emit({ metric: `agent RSS growth per 1,000 pods (${lo}→${hi})`, byteport: per1k, unit: "MiB", runs: 1, spread: sizes.map((n) => `${n}: ${(rssBySize.get(n)! / MiB).toFixed(0)} MiB`).join(", ") })
}

if (E2E_PODS > 0 && E2E_INJECTIONS > 0) {
  const t0 = performance.now()
  console.log(`[end to end] kube-sim with controllers, ${E2E_PODS} pods, its own process …`)
  const sim = new Proc("kube-sim", "sim-server.ts", { SIM_MODE: "controllers", SIM_INJECTABLE: String(E2E_INJECTIONS), SIM_PODS: String(E2E_PODS), SIM_NODES: String(Math.max(1, Math.ceil(E2E_PODS / 20))) })
  const ready = JSON.parse(await sim.next("ready", 3_600_000)) as { kubeconfig: string; url: string; prometheusUrl: string; pods: number }
  console.log(`  ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${ready.pods} running pods; load ${load()})`)
  const signals = new Map<string, number>()
  const agent = new Proc("agent", "agent.ts", { BENCH_KUBECONFIG: ready.kubeconfig, BENCH_AGENT_MODE: "runbook", BENCH_PROM_URL: ready.prometheusUrl, BENCH_SIM_URL: ready.url }, (l) => {
    if (l.startsWith("signal ")) {
      const [, key, t] = l.split(" ")
      const name = key!.split("-").slice(0, 2).join("-")
      if (!signals.has(name)) signals.set(name, Number(t))
    }
  })
  await agent.next("loaded")
  let watchAt = 0
  while (!watchAt) {
    sim.send("watch-at /api/v1/pods")
    watchAt = Number(await sim.next("watch-at"))
    if (!watchAt) await sleep(50)
  }
  await sleep(3000)
  const toSignal: Array<number> = []
  const toAction: Array<number> = []
  for (let i = 0; i < E2E_INJECTIONS; i++) {
    const name = `oom-${i}`
    sim.send(`inject ${name} ${ACTION_WAIT_MS}`)
    const first = await sim.next("killed").catch(() => "")
    const killedAt = Number(first.split(" ")[1])
    const action = await sim.next("action", ACTION_WAIT_MS + 10_000).catch(() => undefined)
    if (action === undefined) await sim.next("noaction", 5_000).catch(() => undefined)
    const until = Date.now() + 2_000
    while (!signals.has(name) && Date.now() < until) await sleep(5)
    if (signals.has(name)) toSignal.push(signals.get(name)! - killedAt)
    if (action !== undefined) toAction.push(Number(action.split(" ")[1]) - killedAt)
    console.log(`  injection ${i + 1}/${E2E_INJECTIONS}: signal ${signals.has(name) ? `${(signals.get(name)! - killedAt).toFixed(0)} ms` : "none"}, first action ${action !== undefined ? `${(Number(action.split(" ")[1]) - killedAt).toFixed(0)} ms` : "none"}`)
  }
  const st = await agent.ask<Stats>("stats")
  emit({ metric: `end to end, processes: OOMKill → Signal p50 (${ready.pods} pods, controllers)`, byteport: pct(toSignal, 50), unit: "ms", runs: toSignal.length, spread: `p99 ${pct(toSignal, 99).toFixed(0)} ms` })
  emit({ metric: `end to end, processes: OOMKill → first action p50 (${ready.pods} pods)`, byteport: pct(toAction, 50), unit: "ms", runs: toAction.length, spread: `p99 ${pct(toAction, 99).toFixed(0)} ms; ${toAction.length}/${E2E_INJECTIONS} acted within ${ACTION_WAIT_MS / 1000} s` })
  emit({ metric: `end to end, processes: OOMKill → first action p99 (${ready.pods} pods)`, byteport: pct(toAction, 99), unit: "ms", runs: toAction.length })
  emit({ metric: `agent peak RSS, runbook in dry_run (${ready.pods} pods)`, byteport: st.maxRss / MiB, unit: "MiB", runs: 1, spread: `CPU ${cpuOf(st).toFixed(1)} s` })
  await agent.stop()
  await sim.stop()
}
writeFileSync(path.join(tmpdir(), "byteport-bench-processes.done"), String(Date.now()))
process.exit(0)
