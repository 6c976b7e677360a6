/**
 * Records an OOM fixture from a running cluster (kube-sim, or a real one through `kubectl proxy`)
 * into **your** directory: the pod, its node, its Deployment, the namespace's ReplicaSets and
 * HPAs, the metrics.k8s.io PodMetrics (or its 404 Status), the Prometheus `query_range` responses
 * the runbook reads (working set and request rate over the last hour), the previous container's
 * log and `meta.json` — the layout `OomFixture.decode` reads. It never writes inside
 * `node_modules` (the shipped fixtures stay as published); the default destination is
 * `./fixtures/oom/<name>` under the current directory.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { defaultQueries } from "../metrics/Metrics"

/** The default parent directory of recorded OOM fixtures, relative to the current directory. */
export const defaultDir = path.join("fixtures", "oom")

/** Options of `record`. */
export interface RecordOptions {
  /** The fixture's name: its directory under `dir`. */
  readonly name: string
  /** The API server's base URL: kube-sim's `sim.url`, or `http://127.0.0.1:8001` from `kubectl proxy`. */
  readonly server: string
  /** A bearer token for the API server (kube-sim's `sim.api.token` when it has one). */
  readonly token?: string | undefined
  /** The Prometheus base URL (default: `server`, as kube-sim serves both). */
  readonly prometheus?: string | undefined
  /** The pod's namespace (default `default`). */
  readonly namespace?: string | undefined
  /** The OOM-killed pod. */
  readonly pod: string
  /** Its container (default: the first one). */
  readonly container?: string | undefined
  /** The owning Deployment (default: found through the pod's ReplicaSet). */
  readonly deployment?: string | undefined
  /** The parent directory (default `./fixtures/oom`); never inside `node_modules`. */
  readonly dir?: string | undefined
  /** The instant of the recording, epoch ms (default: now; pass `sim.now()` for kube-sim). */
  readonly now?: number | undefined
}

/** A recording that could not be made (refused destination, unreachable server, unexpected response). */
export class RecordError extends Schema.TaggedError<RecordError>()("RecordError", {
  message: Schema.String
}) {}

/**
 * The directory a recording writes to (absolute), or a `RecordError` when it lies inside a
 * `node_modules` directory or the name is not a plain directory name.
 */
export const destination = (options: Pick<RecordOptions, "name" | "dir">): Effect.Effect<string, RecordError> =>
  Effect.suspend(() => {
    if (options.name === "" || options.name === "." || options.name === ".." || /[\\/]/.test(options.name)) {
      return Effect.fail(new RecordError({ message: `the fixture name must be a plain directory name (got ${JSON.stringify(options.name)})` }))
    }
    const target = path.resolve(options.dir ?? defaultDir, options.name)
    let real = target
    // follow symlinks of the part that exists (a link into node_modules is refused too)
    for (let p = target; ; p = path.dirname(p)) {
      if (fs.existsSync(p)) {
        real = path.join(fs.realpathSync(p), path.relative(p, target))
        break
      }
      if (path.dirname(p) === p) break
    }
    if ([target, real].some((t) => t.split(path.sep).includes("node_modules"))) {
      return Effect.fail(new RecordError({ message: `refusing to record into ${target}: it is inside node_modules (an installed package); record into your own directory, e.g. ./${defaultDir}` }))
    }
    return Effect.succeed(target)
  })

const ownerOf = (obj: unknown, kind: string): string | undefined =>
  ((obj as { metadata?: { ownerReferences?: ReadonlyArray<{ kind?: string; name?: string }> } }).metadata?.ownerReferences ?? [])
    .find((o) => o.kind === kind)?.name

/** Records one fixture; returns the directory written. */
export const record = (options: RecordOptions): Effect.Effect<string, RecordError> =>
  Effect.gen(function*() {
    const dir = yield* destination(options)
    const ns = options.namespace ?? "default"
    const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {}
    const call = (base: string, p: string, allow404 = false) =>
      Effect.tryPromise({
        try: async () => {
          const r = await fetch(`${base.replace(/\/$/, "")}${p}`, { headers })
          const text = await r.text()
          if (!r.ok && !(allow404 && r.status === 404)) throw new Error(`GET ${p}: HTTP ${r.status}: ${text.slice(0, 300)}`)
          return { status: r.status, json: r.headers.get("content-type")?.includes("json") === true, text }
        },
        catch: (e) => new RecordError({ message: e instanceof Error ? e.message : String(e) })
      })
    const json = (base: string, p: string, allow404 = false) =>
      Effect.flatMap(call(base, p, allow404), (r) =>
        Effect.try({ try: () => JSON.parse(r.text) as unknown, catch: () => new RecordError({ message: `GET ${p}: not JSON: ${r.text.slice(0, 200)}` }) }))
    const api = (p: string, allow404 = false) => json(options.server, p, allow404)

    const pod = (yield* api(`/api/v1/namespaces/${ns}/pods/${options.pod}`)) as { spec?: { nodeName?: string; containers?: ReadonlyArray<{ name: string }> } }
    const container = options.container ?? pod.spec?.containers?.[0]?.name
    if (container === undefined) return yield* new RecordError({ message: `pod ${ns}/${options.pod} has no containers` })
    let deployment = options.deployment
    if (deployment === undefined) {
      const rs = ownerOf(pod, "ReplicaSet")
      if (rs !== undefined) deployment = ownerOf(yield* api(`/apis/apps/v1/namespaces/${ns}/replicasets/${rs}`), "Deployment")
    }
    if (deployment === undefined) return yield* new RecordError({ message: `pod ${ns}/${options.pod} is not owned by a Deployment (through a ReplicaSet); pass deployment` })
    const node = pod.spec?.nodeName
    if (node === undefined) return yield* new RecordError({ message: `pod ${ns}/${options.pod} is not scheduled to a node` })

    const files: Array<readonly [string, unknown]> = [
      ["pod.json", { apiVersion: "v1", kind: "Pod", ...(pod as object) }],
      ["node.json", yield* api(`/api/v1/nodes/${node}`)],
      ["deployment.json", yield* api(`/apis/apps/v1/namespaces/${ns}/deployments/${deployment}`)],
      ["replicasets.json", yield* api(`/apis/apps/v1/namespaces/${ns}/replicasets`)],
      ["hpas.json", yield* api(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`)],
      ["podmetrics.json", yield* api(`/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/${options.pod}`, true)]
    ]
    const now = options.now ?? Date.now()
    const end = now / 1000
    const range = `start=${end - 3600}&end=${end}&step=15`
    const prom = options.prometheus ?? options.server
    const q = (expr: string) => json(prom, `/api/v1/query_range?query=${encodeURIComponent(expr)}&${range}`)
    files.push(["prometheus-memory.json", yield* q(defaultQueries.memorySeries({ namespace: ns, podPrefix: `${deployment}-`, container }))])
    files.push(["prometheus-rps.json", yield* q(defaultQueries.requestRate({ namespace: ns, workload: deployment }))])
    // no previous container (never restarted) → an empty log, as the live probe reads it
    const log = yield* call(options.server, `/api/v1/namespaces/${ns}/pods/${options.pod}/log?container=${encodeURIComponent(container)}&previous=true&tailLines=500`, true).pipe(
      Effect.map((r) => (r.status === 200 && !r.json ? r.text : "")),
      Effect.catch(() => Effect.succeed(""))
    )
    files.push(["meta.json", { container, now, scenario: options.name }])

    yield* Effect.try({
      try: () => {
        fs.mkdirSync(dir, { recursive: true })
        for (const [f, v] of files) fs.writeFileSync(path.join(dir, f), `${JSON.stringify(v, null, 2)}\n`)
        fs.writeFileSync(path.join(dir, "previous.log"), log)
      },
      catch: (e) => new RecordError({ message: `writing ${dir}: ${e instanceof Error ? e.message : String(e)}` })
    })
    return dir
  })
