/**
 * kube-sim as its own process for `bench/processes.ts` (not a test, not a library): the cluster
 * outlives and never shares a heap or an event loop with the agent it is measured against.
 *
 *   SIM_MODE=store        kube-sim's API server alone; `SIM_PODS` Running pods (Deployments of
 *                         `SIM_REPLICAS`, ReplicaSets, `SIM_NODES` nodes) written straight into its
 *                         store. An OOMKill is the status update a kubelet writes.
 *   SIM_MODE=controllers  kube-sim with its controllers, metrics-server and Prometheus API
 *                         (`startSim`), `SIM_PODS` pods on `SIM_NODES` nodes, virtual time advanced
 *                         here (what `POST /_sim/advance` does) and through `/_sim/advance`.
 *
 * Prints `ready {"kubeconfig","url","prometheusUrl"}` once serving, then answers one command per
 * stdin line with one stdout line (times are epoch ms, `performance.timeOrigin + now()`):
 *
 *   oom <i>             (store) OOMKill pod i → `injected <pod>/<finishedAt> <t>`
 *   inject <name> <ms>  (controllers) workload `oom-<i>` (one of `SIM_INJECTABLE`, applied at start
 *                       at 90 % of its limit) moves 5 % over it; virtual seconds until the kernel kills it → `killed <name> <t>`, then waits up to <ms> for the runbook's
 *                       dryRun PATCH of the Deployment → `action <name> <t>` or `noaction <name>`
 *   mark                → `mark <n>` (requests recorded so far)
 *   since <n>           → `since {"total","watches","lists","other","openWatches","paths"}` requests after mark n
 *   watch-at <path>     → `watch-at <t>` the first watch request of that collection path (0: none yet)
 *   rss                 → `rss <bytes>` of this process (kube-sim's, for the log)
 */
import { performance } from "node:perf_hooks"
import { createInterface } from "node:readline"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const MODE = process.env["SIM_MODE"] ?? "store"
const PODS = Number(process.env["SIM_PODS"] ?? 1000)
const NODES = Number(process.env["SIM_NODES"] ?? Math.max(1, Math.ceil(PODS / 20)))
const REPLICAS = Number(process.env["SIM_REPLICAS"] ?? 100)
/** controllers mode: how many `oom-<i>` workloads `inject` can push over their limit. */
const INJECTABLE = Number(process.env["SIM_INJECTABLE"] ?? 0)
const now = () => performance.timeOrigin + performance.now()
const out = (line: string): void => void process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const POD_KEY = { group: "", version: "v1", resource: "pods" }

interface Api {
  readonly store: { get: (k: unknown, ns: string | undefined, n: string) => unknown; list: (k: unknown, o?: unknown) => ReadonlyArray<unknown>; update: (k: unknown, o: unknown) => unknown; create: (k: unknown, o: unknown) => unknown }
  readonly recorder: { requests: (f?: Record<string, unknown>) => ReadonlyArray<{ readonly method: string; readonly path: string; readonly watch: boolean; readonly dryRun: boolean; readonly time: number }>; count: (f?: Record<string, unknown>) => number }
  readonly openWatches: number
  close: () => Promise<void>
}

const dir = mkdtempSync(join(tmpdir(), "byteport-bench-sim-"))
const kubeconfigPath = join(dir, "kubeconfig")
let api: Api
let sim: Awaited<ReturnType<typeof import("../../kube-sim/src/scenario/index").startSim>> | undefined
let Scenario: typeof import("../../kube-sim/src/scenario/index").Scenario | undefined
const podNames: Array<string> = []

if (MODE === "store") {
  const { KubeSim } = await import("@byteport/kube-sim")
  const s = await KubeSim.start({ seed: 7 })
  api = s as unknown as Api
  const K = { nodes: { group: "", version: "v1", resource: "nodes" }, pods: POD_KEY, deployments: { group: "apps", version: "v1", resource: "deployments" }, replicasets: { group: "apps", version: "v1", resource: "replicasets" } }
  for (let n = 0; n < NODES; n++) {
    s.store.create(K.nodes, { apiVersion: "v1", kind: "Node", metadata: { name: `node-${n}` }, status: { allocatable: { memory: "256Gi", cpu: "64", pods: "110" }, conditions: [{ type: "Ready", status: "True" }, { type: "MemoryPressure", status: "False" }] } } as never)
  }
  for (let d = 0; podNames.length < PODS; d++) {
    const labels = { app: `svc-${d}` }
    const dep = s.store.create(K.deployments, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: `svc-${d}`, namespace: "default" }, spec: { replicas: REPLICAS, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "registry.example.com/svc:1", resources: { limits: { memory: "256Mi" } } }] } } } } as never) as { metadata: { uid: string } }
    s.store.create(K.replicasets, { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: { name: `svc-${d}-rs`, namespace: "default", labels, ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: `svc-${d}`, uid: dep.metadata.uid, controller: true }] }, spec: { replicas: REPLICAS, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "i" }] } } } } as never)
    for (let r = 0; r < REPLICAS && podNames.length < PODS; r++) {
      const name = `svc-${d}-rs-${r}`
      s.store.create(K.pods, {
        apiVersion: "v1", kind: "Pod",
        metadata: { name, namespace: "default", labels, ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: `svc-${d}-rs`, uid: "rs", controller: true }] },
        spec: { nodeName: `node-${podNames.length % NODES}`, containers: [{ name: "app", image: "registry.example.com/svc:1", resources: { limits: { memory: "256Mi" } } }] },
        status: { phase: "Running", containerStatuses: [{ name: "app", ready: true, restartCount: 0, image: "i", imageID: "", state: { running: { startedAt: "2026-01-01T00:00:00Z" } } }] }
      } as never)
      podNames.push(name)
    }
  }
  s.writeKubeconfig(kubeconfigPath)
  out(`ready ${JSON.stringify({ kubeconfig: kubeconfigPath, url: s.url, prometheusUrl: null, pods: podNames.length, nodes: NODES })}`)
} else {
  const mod = await import("../../kube-sim/src/scenario/index")
  Scenario = mod.Scenario
  const workloads = Array.from({ length: Math.ceil(PODS / 10) }, (_, i) => ({
    name: `svc-${i}`,
    replicas: 10,
    image: `registry.example.com/bench/svc:${i % 7}`,
    memoryLimit: "256Mi",
    memoryRequest: "64Mi",
    cpuRequest: "10m",
    memory: { kind: "steady" as const, bytes: 64 * 2 ** 20 }
  }))
  // the workloads OOMKilled later (`inject`), applied up front: 90 % of their 128 Mi limit, so
  // Prometheus holds their plateau when the limit is crossed (one shared warm-up, never one per injection)
  const injected = Array.from({ length: INJECTABLE }, (_, i) => ({
    ...mod.Scenario.oom.undersizedLimit({ name: `oom-${i}`, limit: "128Mi", replicas: 1 }).workloads![0]!,
    memory: { kind: "steady" as const, bytes: Math.round(0.9 * 128 * 2 ** 20) }
  }))
  sim = await mod.startSim({ scenario: mod.Scenario.cluster({ nodes: NODES, nodeDefaults: { cpu: "64", memory: "256Gi", pods: 110 }, warmup: "0s", workloads: [...workloads, ...injected] }).build(), seed: 7 })
  sim.advance(INJECTABLE > 0 ? "5m" : "1m")
  api = sim.api as unknown as Api
  const running = (sim.api.store.list(POD_KEY) as Array<{ status?: { phase?: string } }>).filter((p) => p.status?.phase === "Running").length
  sim.api.writeKubeconfig(kubeconfigPath)
  out(`ready ${JSON.stringify({ kubeconfig: kubeconfigPath, url: sim.url, prometheusUrl: sim.prometheusUrl, pods: running, nodes: NODES })}`)
}

const killedOf = (pod: any) =>
  pod?.status?.containerStatuses?.[0]?.lastState?.terminated?.reason === "OOMKilled" || pod?.status?.containerStatuses?.[0]?.state?.terminated?.reason === "OOMKilled"

const commands: Record<string, (args: ReadonlyArray<string>) => Promise<void> | void> = {
  oom: ([i]) => {
    const name = podNames[Number(i) % podNames.length]!
    const cur = api.store.get(POD_KEY, "default", name) as any
    const cs = cur.status.containerStatuses[0]
    const finishedAt = new Date(Date.UTC(2026, 0, 1, 0, 10, 0) + Number(i) * 1000).toISOString().replace(".000", "")
    const t = now()
    api.store.update(POD_KEY, { ...cur, status: { ...cur.status, containerStatuses: [{ ...cs, ready: false, restartCount: cs.restartCount + 1, lastState: { terminated: { reason: "OOMKilled", exitCode: 137, startedAt: "2026-01-01T00:00:00Z", finishedAt } }, state: { waiting: { reason: "CrashLoopBackOff" } } }] } })
    out(`injected ${name}/${finishedAt} ${t}`)
  },
  inject: async ([name, waitMs]) => {
    if (!sim || !Scenario) return out(`error inject needs SIM_MODE=controllers`)
    // the workload's working set moves 5 % over its limit (kube-sim's undersized_limit plateau);
    // no scenario applied, so no warm-up of the whole cluster per injection
    const over = { kind: "steady" as const, bytes: Math.round(1.05 * 128 * 2 ** 20) }
    sim.setMemoryModel({ namespace: "default", workload: name! }, over)
    // a running container keeps the behaviour it started with: move the running one too
    const kubelet = (sim.controllers as unknown as { kubelet: { pods: Map<string, { containers: Map<string, { behaviour: Record<string, unknown>; model?: unknown }> }> } }).kubelet
    for (const p of sim.api.store.list(POD_KEY, { namespace: "default" }) as Array<any>) {
      if (!p.metadata.name.startsWith(`${name}-`)) continue
      for (const cr of kubelet.pods.get(p.metadata.uid)?.containers.values() ?? []) {
        cr.behaviour = { ...cr.behaviour, memory: over }
        cr.model = over
      }
    }
    sim.settle()
    let killedAt = 0
    for (let s = 0; s < 180 && !killedAt; s++) {
      sim.advance("1s")
      const pod = (sim.api.store.list(POD_KEY, { namespace: "default" }) as Array<any>).find((p) => p.metadata.name.startsWith(`${name}-`))
      if (killedOf(pod)) killedAt = now()
      await sleep(1)
    }
    if (!killedAt) return out(`nokill ${name}`)
    out(`killed ${name} ${killedAt}`)
    const wallKill = Date.now()
    for (;;) {
      const patch = sim.api.recorder.requests({ method: "PATCH", dryRun: true }).find((r) => r.path.endsWith(`/deployments/${name}`) && r.time >= wallKill - 5)
      if (patch) return out(`action ${name} ${killedAt + (patch.time - wallKill)}`)
      if (Date.now() - wallKill > Number(waitMs ?? 30_000)) return out(`noaction ${name}`)
      await sleep(5)
    }
  },
  mark: () => out(`mark ${api.recorder.count()}`),
  since: ([n]) => {
    const rs = api.recorder.requests().slice(Number(n))
    const paths: Record<string, number> = {}
    for (const r of rs) paths[`${r.watch ? "WATCH" : r.method} ${r.path}`] = (paths[`${r.watch ? "WATCH" : r.method} ${r.path}`] ?? 0) + 1
    out(`since ${JSON.stringify({ total: rs.length, watches: rs.filter((r) => r.watch).length, lists: rs.filter((r) => !r.watch && r.method === "GET").length, other: rs.filter((r) => !r.watch && r.method !== "GET").length, openWatches: api.openWatches, paths })}`)
  },
  "watch-at": ([path]) => out(`watch-at ${api.recorder.requests({ watch: true }).find((r) => r.path === path)?.time ?? 0}`),
  rss: () => out(`rss ${process.memoryUsage().rss}`)
}

// one command at a time, in order
let chain: Promise<void> = Promise.resolve()
createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, ...args] = line.trim().split(/\s+/)
  chain = chain.then(async () => {
    const f = commands[cmd ?? ""]
    if (f) await f(args)
    else out(`error unknown command ${cmd}`)
  })
}).on("close", () => {
  void chain.then(async () => {
    await (sim ? sim.close() : api.close())
    process.exit(0)
  })
})
