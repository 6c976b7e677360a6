/**
 * kube-sim list/watch benchmark (not a test): 10,000 realistic pods, typed list through
 * client-node, paginated list, informer start, 1,000 writes observed by the informer; prints
 * times and memory. Run: `npm run bench -w @byteport/kube-sim`. Each step is also printed as a
 * `BENCH {json}` row for the combined table of `scripts/bench.ts` (`npm run bench`).
 */
import { CoreV1Api, KubeConfig, makeInformer, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { Keys, KubeSim } from "../src/index"
import type { KubeObject } from "../src/index"

const N = Number(process.env["KUBE_SIM_BENCH_PODS"] ?? 10_000)
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`
const gc = () => (globalThis as { gc?: () => void }).gc?.()
const mem = () => {
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, heap: m.heapUsed }
}
const time = async <A>(label: string, f: () => Promise<A> | A): Promise<A> => {
  const t = performance.now()
  const a = await f()
  const ms = performance.now() - t
  console.log(`${label.padEnd(52)} ${ms.toFixed(0).padStart(6)} ms`)
  console.log(`BENCH ${JSON.stringify({ metric: `kube-sim: ${label}`, byteport: ms, unit: "ms", runs: 1 })}`)
  return a
}

const pod = (i: number): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: `web-${String(i).padStart(5, "0")}`,
    namespace: "bench",
    labels: { app: "web", shard: String(i % 10), "pod-template-hash": "5d8f7b9c4d" },
    annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "9090" }
  },
  spec: {
    nodeName: `node-${i % 20}`,
    containers: [
      {
        name: "app",
        image: "registry.local/web:1.4.2",
        ports: [{ containerPort: 8080, name: "http" }, { containerPort: 9090, name: "metrics" }],
        env: Array.from({ length: 8 }, (_, j) => ({ name: `ENV_${j}`, value: `value-${j}-${i}` })),
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
        readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5 },
        livenessProbe: { httpGet: { path: "/live", port: 8080 }, periodSeconds: 10, failureThreshold: 3 },
        volumeMounts: [{ name: "config", mountPath: "/etc/web" }, { name: "tmp", mountPath: "/tmp" }]
      }
    ],
    volumes: [{ name: "config", configMap: { name: "web-config" } }, { name: "tmp", emptyDir: {} }],
    tolerations: [
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }
    ]
  }
})

const main = async () => {
  console.log(`kube-sim list/watch benchmark: ${N} pods, Node ${process.version}, gc ${typeof (globalThis as { gc?: unknown }).gc === "function" ? "exposed" : "not exposed (run with --expose-gc for steadier memory figures)"}`)
  const base = mem()
  const sim = await KubeSim.start({ seed: 1 })
  const kc = new KubeConfig()
  kc.loadFromString(sim.kubeconfig())
  const core = kc.makeApiClient(CoreV1Api)
  await core.createNamespace({ body: { metadata: { name: "bench" } } })
  await time(`store.create x ${N} (in-process)`, () => {
    for (let i = 0; i < N; i++) sim.store.create(Keys.pods, pod(i))
  })
  sim.store.scan(Keys.pods, "bench")
  const stored = mem()
  console.log(`${"simulator memory for the pods".padEnd(52)} heap +${mib(stored.heap - base.heap)}, RSS +${mib(stored.rss - base.rss)}`)
  const httpN = Number(process.env["KUBE_SIM_BENCH_WRITES"] ?? Math.min(1000, N))
  await time(`client-node createNamespacedPod x ${httpN} (HTTP, sequential)`, async () => {
    for (let i = 0; i < httpN; i++) {
      const p = pod(N + i)
      await core.createNamespacedPod({ namespace: "bench", body: p as never })
    }
  })
  const total = N + httpN
  await time(`server-side list assembly of ${total} pods (in-process)`, () => {
    const body = `{"items":[${sim.store.scan(Keys.pods, "bench").map((e) => e.json).join(",")}]}`
    if (body.length < total) throw new Error("empty")
  })
  await time(`raw fetch (text, no parse) of ${total} pods`, async () => (await fetch(`${sim.url}/api/v1/namespaces/bench/pods`)).text())
  const raw = await time(`raw fetch + JSON.parse of ${total} pods`, async () => (await (await fetch(`${sim.url}/api/v1/namespaces/bench/pods`)).json()) as { items: Array<unknown> })
  console.log(`${"list payload".padEnd(52)} ${mib(JSON.stringify(raw).length)}`)
  for (let r = 1; r <= 3; r++) {
    const list = await time(`client-node listNamespacedPod (typed) run ${r}`, () => core.listNamespacedPod({ namespace: "bench" }))
    if (list.items.length !== total) throw new Error(`expected ${total} pods, got ${list.items.length}`)
  }
  await time("client-node paginated list (limit=500)", async () => {
    let cont: string | undefined
    let n = 0
    do {
      const page = await core.listNamespacedPod({ namespace: "bench", limit: 500, ...(cont ? { _continue: cont } : {}) })
      n += page.items.length
      cont = page.metadata?._continue
    } while (cont)
    if (n !== total) throw new Error(`paginated ${n} != ${total}`)
  })
  await time("label-selected list (shard=3)", () => core.listNamespacedPod({ namespace: "bench", labelSelector: "shard=3" }))
  const informer = makeInformer(kc, "/api/v1/namespaces/bench/pods", () => core.listNamespacedPod({ namespace: "bench" }))
  let updates = 0
  informer.on("update", () => updates++)
  await time(`informer start (list ${total} + watch)`, () => informer.start())
  const writes = Math.min(httpN, 1000)
  await time(`${writes} merge PATCHes observed by the informer`, async () => {
    const opts = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
    for (let i = 0; i < writes; i++) {
      await core.patchNamespacedPod({ namespace: "bench", name: pod(i).metadata.name, body: { metadata: { annotations: { bench: String(i) } } } }, opts)
    }
    const start = Date.now()
    while (updates < writes) {
      if (Date.now() - start > 30_000) throw new Error(`informer saw ${updates}/${writes} updates`)
      await new Promise((r) => setTimeout(r, 5))
    }
  })
  await informer.stop()
  const end = mem()
  console.log(`${"process memory at the end".padEnd(52)} RSS ${mib(end.rss)}, heap ${mib(end.heap)}`)
  console.log(`BENCH ${JSON.stringify({ metric: `kube-sim: RSS with ${N + httpN} pods`, byteport: end.rss / 2 ** 20, unit: "MiB", runs: 1 })}`)
  await sim.close()
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
