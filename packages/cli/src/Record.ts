/**
 * `byteport record <runbook> --target <namespace>/<pod> --out <dir>`: saves from a live cluster
 * exactly the objects that runbook's probes read, as `kubectl get -o json` prints them, in the
 * layout its fixture decoder reads — so `byteport replay <runbook> <dir>` gives the plan a live
 * dry_run gave. Secrets are redacted before anything is written (Secret data, secret-named env
 * values, secrets in the container log). `capture.json` records the time, the cluster version and
 * the equivalent kubectl commands.
 *
 * Supported: the k8s runbooks listed in `supported`; any other id fails with
 * `UnsupportedRunbook` (exit code 2) naming the supported ones.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as path from "node:path"
import { Redactor, type Signal } from "@byteport/core"
import { CrashloopFiveBranch, Metrics, OomSixSignal, Targets } from "@byteport/k8s"
import { KubeConfig } from "@kubernetes/client-node"
import { Effect, Schema } from "effect"
import { onlyFlags, parseArgs, Usage } from "./Args"

/** The runbook has no recording recipe. */
export class UnsupportedRunbook extends Schema.TaggedError<UnsupportedRunbook>()("UnsupportedRunbook", {
  runbook: Schema.String,
  message: Schema.String
}) {}

/** A recording failed (the cluster answered an error, or the output could not be written). */
export class RecordFailed extends Schema.TaggedError<RecordFailed>()("RecordFailed", {
  message: Schema.String
}) {}

/** The options of `record`. */
export interface Options {
  readonly runbook: string
  /** `<namespace>/<pod>` (or `pod/<namespace>/<name>`). */
  readonly target: string
  readonly out: string
  /** The container (default: the first one). */
  readonly container?: string | undefined
  /** A kubeconfig file (default: KUBECONFIG, then ~/.kube/config). */
  readonly kubeconfig?: string | undefined
  readonly context?: string | undefined
  /** The cluster name in target refs (default: the kubeconfig's current cluster name). */
  readonly cluster?: string | undefined
  /** The instant of the recording, epoch ms (default: now; a simulator's virtual now). */
  readonly now?: number | undefined
  /** The Prometheus base URL (default: the API server, as kube-sim serves both). */
  readonly prometheus?: string | undefined
}

/** One GET the recording made: what was read, and the kubectl command that prints the same. */
interface Read {
  readonly file: string
  readonly kubectl: string
  readonly content: unknown
}

/** An API reader over a kubeconfig. */
interface Api {
  readonly server: string
  readonly cluster: string
  readonly get: (p: string, allowStatus?: ReadonlyArray<number>) => Effect.Effect<{ readonly status: number; readonly text: string }, RecordFailed>
}

const apiFrom = (o: Options): Effect.Effect<Api, RecordFailed> =>
  Effect.gen(function*() {
    const kc = new KubeConfig()
    yield* Effect.try({
      try: () => {
        if (o.kubeconfig) kc.loadFromFile(o.kubeconfig)
        else kc.loadFromDefault()
        if (o.context) kc.setCurrentContext(o.context)
      },
      catch: (e) => new RecordFailed({ message: `kubeconfig: ${(e as Error).message}` })
    })
    const current = kc.getCurrentCluster()
    if (!current) return yield* new RecordFailed({ message: "the kubeconfig names no current cluster" })
    const server = current.server.replace(/\/$/, "")
    const get = (p: string, allowStatus: ReadonlyArray<number> = []) =>
      Effect.tryPromise({
        try: async () => {
          const url = new URL(`${server}${p}`)
          const opts: https.RequestOptions = { method: "GET", headers: { accept: "application/json" } }
          await kc.applyToHTTPSOptions(opts)
          return await new Promise<{ status: number; text: string }>((resolve, reject) => {
            const req = (url.protocol === "https:" ? https : http).request(url, opts, (res) => {
              let text = ""
              res.setEncoding("utf8")
              res.on("data", (c) => (text += c))
              res.on("end", () => resolve({ status: res.statusCode ?? 0, text }))
            })
            req.on("error", reject)
            req.end()
          })
        },
        catch: (e) => new RecordFailed({ message: `GET ${p}: ${(e as Error).message}` })
      }).pipe(
        Effect.flatMap((r) =>
          r.status >= 200 && r.status < 300 || allowStatus.includes(r.status)
            ? Effect.succeed(r)
            : Effect.fail(new RecordFailed({ message: `GET ${p}: HTTP ${r.status}: ${r.text.slice(0, 300)}` }))
        )
      )
    return { server, cluster: o.cluster ?? current.name, get }
  })

const json = (api: Api, p: string, allowStatus: ReadonlyArray<number> = []) =>
  Effect.flatMap(api.get(p, allowStatus), (r) =>
    Effect.try({ try: () => JSON.parse(r.text) as unknown, catch: () => new RecordFailed({ message: `GET ${p}: not JSON: ${r.text.slice(0, 200)}` }) }))

const redactor = Redactor.make()

/** A base64 Secret value replaced by the marker (a docker config keeps its registry hosts, so pull-secret matching still decides). */
const redactSecretValue = (key: string, value: string): string => {
  if (key === ".dockerconfigjson" || key === ".dockercfg") {
    try {
      const cfg = JSON.parse(Buffer.from(value, "base64").toString("utf8")) as { auths?: Record<string, unknown> }
      const auths = cfg.auths ?? (cfg as Record<string, unknown>)
      const hosts = Object.fromEntries(Object.keys(auths).map((h) => [h, { auth: Buffer.from("REDACTED:REDACTED").toString("base64") }]))
      return Buffer.from(JSON.stringify(cfg.auths ? { auths: hosts } : hosts)).toString("base64")
    } catch {
      // not a docker config: redacted whole below
    }
  }
  return Buffer.from(Redactor.MARKER).toString("base64")
}

/**
 * Redacts the secrets of a Kubernetes object or list before it is written: every Secret's
 * `data` / `stringData` value, every container env `value` whose name names a secret, and
 * every `kubectl.kubernetes.io/last-applied-configuration` annotation (it repeats them).
 */
export const redactObject = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(redactObject)
  if (value === null || typeof value !== "object") return value
  const o = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  const isSecret = o["kind"] === "Secret" || (typeof o["type"] === "string" && o["data"] !== undefined && (o["type"] as string).includes("/"))
  for (const [k, v] of Object.entries(o)) {
    if (isSecret && (k === "data" || k === "stringData") && v && typeof v === "object") {
      out[k] = Object.fromEntries(Object.entries(v as Record<string, string>).map(([dk, dv]) => [dk, k === "data" ? redactSecretValue(dk, String(dv)) : Redactor.MARKER]))
    } else if (k === "env" && Array.isArray(v)) {
      out[k] = v.map((e) =>
        e && typeof e === "object" && typeof (e as { value?: unknown }).value === "string"
          ? { ...e, value: redactor.isSecretKey(String((e as { name?: unknown }).name ?? "")) ? Redactor.MARKER : redactor.redactString((e as { value: string }).value) }
          : e
      )
    } else if (k === "annotations" && v && typeof v === "object") {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, string>).map(([ak, av]) => [ak, ak === "kubectl.kubernetes.io/last-applied-configuration" ? Redactor.MARKER : av])
      )
    } else out[k] = redactObject(v)
  }
  return out
}

interface Subject {
  readonly namespace: string
  readonly pod: string
}

const parseTarget = (t: string): Subject => {
  const parts = t.split("/").filter((x) => x !== "")
  if (parts.length === 2) return { namespace: parts[0]!, pod: parts[1]! }
  if (parts.length === 3 && parts[0] === "pod") return { namespace: parts[1]!, pod: parts[2]! }
  throw new Usage(`--target ${t}: expected <namespace>/<pod> or pod/<namespace>/<name>`)
}

type PodJson = {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly ownerReferences?: ReadonlyArray<{ readonly kind?: string; readonly name?: string; readonly controller?: boolean }> }
  readonly spec: { readonly nodeName?: string; readonly containers: ReadonlyArray<{ readonly name: string }> }
}

const ownerOf = (obj: unknown, kind: string): string | undefined =>
  ((obj as { metadata?: { ownerReferences?: ReadonlyArray<{ kind?: string; name?: string }> } }).metadata?.ownerReferences ?? []).find((o) => o.kind === kind)?.name

const previousLog = (api: Api, s: Subject, container: string): Effect.Effect<Read, RecordFailed> =>
  Effect.map(
    api.get(`/api/v1/namespaces/${s.namespace}/pods/${s.pod}/log?container=${encodeURIComponent(container)}&previous=true&tailLines=500`, [400, 404]),
    (r) => {
      // what `kubectl logs --previous > previous.log 2>&1` leaves: the log, or kubectl's error line
      let text = r.text
      if (r.status !== 200) {
        const st = (() => {
          try {
            return JSON.parse(r.text) as { reason?: string; message?: string }
          } catch {
            return {}
          }
        })()
        text = `Error from server (${st.reason ?? "BadRequest"}): ${st.message ?? ""}\n`
      }
      return { file: "previous.log", kubectl: `kubectl logs -n ${s.namespace} ${s.pod} -c ${container} --previous --tail=500`, content: redactor.redactString(text) }
    }
  )

interface Recipe {
  readonly id: string
  readonly record: (api: Api, s: Subject, o: Options, now: number) => Effect.Effect<ReadonlyArray<Read>, RecordFailed>
}

const podFirst = (api: Api, s: Subject, o: Options) =>
  Effect.gen(function*() {
    const pod = (yield* json(api, `/api/v1/namespaces/${s.namespace}/pods/${s.pod}`)) as PodJson
    const container = o.container ?? pod.spec.containers[0]?.name
    if (container === undefined) return yield* new RecordFailed({ message: `pod ${s.namespace}/${s.pod} has no containers` })
    return { pod, container }
  })

/** k8s.oom.six-signal: the layout `OomFixture.decode` reads. */
const oomSixSignal: Recipe = {
  id: OomSixSignal.ID,
  record: (api, s, o, now) =>
    Effect.gen(function*() {
      const ns = s.namespace
      const { pod, container } = yield* podFirst(api, s, o)
      const rs = ownerOf(pod, "ReplicaSet")
      const deployment = rs === undefined ? undefined : ownerOf(yield* json(api, `/apis/apps/v1/namespaces/${ns}/replicasets/${rs}`), "Deployment")
      if (deployment === undefined) return yield* new RecordFailed({ message: `pod ${ns}/${s.pod} is not owned by a Deployment (through a ReplicaSet)` })
      const node = pod.spec.nodeName
      if (node === undefined) return yield* new RecordFailed({ message: `pod ${ns}/${s.pod} is not scheduled to a node` })
      const end = now / 1000
      const range = `start=${end - 3600}&end=${end}&step=15`
      const promBase = o.prometheus?.replace(/\/$/, "")
      const prom = (expr: string) => {
        const p = `/api/v1/query_range?query=${encodeURIComponent(expr)}&${range}`
        return promBase === undefined
          ? json(api, p)
          : Effect.tryPromise({ try: () => fetch(`${promBase}${p}`).then((r) => r.json() as Promise<unknown>), catch: (e) => new RecordFailed({ message: `Prometheus ${p}: ${(e as Error).message}` }) })
      }
      const memQ = Metrics.defaultQueries.memorySeries({ namespace: ns, podPrefix: `${deployment}-`, container })
      const rpsQ = Metrics.defaultQueries.requestRate({ namespace: ns, workload: deployment })
      return [
        { file: "pod.json", kubectl: `kubectl get pod -n ${ns} ${s.pod} -o json`, content: { apiVersion: "v1", kind: "Pod", ...(pod as object) } },
        { file: "node.json", kubectl: `kubectl get node ${node} -o json`, content: yield* json(api, `/api/v1/nodes/${node}`) },
        { file: "deployment.json", kubectl: `kubectl get deployment -n ${ns} ${deployment} -o json`, content: yield* json(api, `/apis/apps/v1/namespaces/${ns}/deployments/${deployment}`) },
        { file: "replicasets.json", kubectl: `kubectl get replicasets -n ${ns} -o json`, content: yield* json(api, `/apis/apps/v1/namespaces/${ns}/replicasets`) },
        { file: "hpas.json", kubectl: `kubectl get hpa.v2.autoscaling -n ${ns} -o json`, content: yield* json(api, `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`) },
        { file: "podmetrics.json", kubectl: `kubectl get --raw /apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/${s.pod}`, content: yield* json(api, `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/${s.pod}`, [404]) },
        { file: "prometheus-memory.json", kubectl: `GET <prometheus>/api/v1/query_range?query=${memQ}&${range}`, content: yield* prom(memQ) },
        { file: "prometheus-rps.json", kubectl: `GET <prometheus>/api/v1/query_range?query=${rpsQ}&${range}`, content: yield* prom(rpsQ) },
        yield* previousLog(api, s, container),
        { file: "meta.json", kubectl: "(written by byteport record)", content: { container, now, scenario: path.basename(o.out) } }
      ]
    })
}

/** k8s.crashloop.five-branch: the layout `FiveBranchFixture.decode` reads, with the crash-loop signal. */
const crashloopFiveBranch: Recipe = {
  id: CrashloopFiveBranch.ID,
  record: (api, s, o, now) =>
    Effect.gen(function*() {
      const ns = s.namespace
      const { pod, container } = yield* podFirst(api, s, o)
      const rs = ownerOf(pod, "ReplicaSet")
      const deployment = rs === undefined ? undefined : ownerOf(yield* json(api, `/apis/apps/v1/namespaces/${ns}/replicasets/${rs}`), "Deployment")
      const signal: Signal.Signal = {
        type: "k8s.pod.crash_loop_back_off",
        target: deployment !== undefined
          ? Targets.workload({ cluster: api.cluster, namespace: ns, kind: "Deployment", name: deployment, container })
          : Targets.pod({ cluster: api.cluster, namespace: ns, name: s.pod }),
        observedAt: now,
        evidence: { namespace: ns, pod: s.pod, container, node: pod.spec.nodeName ?? null }
      }
      const sel = encodeURIComponent(`involvedObject.name=${s.pod}`)
      return [
        { file: "pod.json", kubectl: `kubectl get pod -n ${ns} ${s.pod} -o json`, content: { apiVersion: "v1", kind: "Pod", ...(pod as object) } },
        { file: "events.json", kubectl: `kubectl get events -n ${ns} --field-selector involvedObject.name=${s.pod} -o json`, content: yield* json(api, `/api/v1/namespaces/${ns}/events?fieldSelector=${sel}`) },
        { file: "nodes.json", kubectl: "kubectl get nodes -o json", content: yield* json(api, "/api/v1/nodes") },
        { file: "deployments.json", kubectl: `kubectl get deployments -n ${ns} -o json`, content: yield* json(api, `/apis/apps/v1/namespaces/${ns}/deployments`) },
        { file: "replicasets.json", kubectl: `kubectl get replicasets -n ${ns} -o json`, content: yield* json(api, `/apis/apps/v1/namespaces/${ns}/replicasets`) },
        { file: "services.json", kubectl: `kubectl get services -n ${ns} -o json`, content: yield* json(api, `/api/v1/namespaces/${ns}/services`) },
        { file: "endpointslices.json", kubectl: `kubectl get endpointslices.discovery.k8s.io -n ${ns} -o json`, content: yield* json(api, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`) },
        yield* previousLog(api, s, container),
        { file: "meta.json", kubectl: "(written by byteport record)", content: { container, now, scenario: path.basename(o.out), signal } }
      ]
    })
}

/** The runbooks `record` supports. */
export const supported: ReadonlyArray<string> = [oomSixSignal.id, crashloopFiveBranch.id]

const recipes: ReadonlyArray<Recipe> = [oomSixSignal, crashloopFiveBranch]

/** What a recording wrote. */
export interface Recorded {
  readonly dir: string
  readonly files: ReadonlyArray<string>
}

/** Records one fixture directory from the cluster of the kubeconfig. */
export const record = (o: Options): Effect.Effect<Recorded, UnsupportedRunbook | RecordFailed> =>
  Effect.gen(function*() {
    const recipe = recipes.find((r) => r.id === o.runbook)
    if (!recipe) {
      return yield* new UnsupportedRunbook({
        runbook: o.runbook,
        message: `byteport record does not support ${o.runbook} yet; supported: ${supported.join(", ")}`
      })
    }
    const s = parseTarget(o.target)
    const dir = path.resolve(o.out)
    if (dir.split(path.sep).includes("node_modules")) return yield* new RecordFailed({ message: `refusing to record into ${dir}: it is inside node_modules` })
    const api = yield* apiFrom(o)
    const now = o.now ?? Date.now()
    const version = yield* json(api, "/version").pipe(Effect.orElseSucceed(() => ({ gitVersion: "unknown" })))
    const reads = yield* recipe.record(api, s, o, now)
    const capture = {
      runbook: o.runbook,
      target: `${s.namespace}/${s.pod}`,
      recordedAt: new Date(now).toISOString(),
      cluster: { name: api.cluster, server: api.server, version: (version as { gitVersion?: string }).gitVersion ?? "unknown" },
      redacted: "Secret data and stringData values, secret-named env values, last-applied-configuration annotations, secrets in logs",
      commands: reads.map((r) => ({ file: r.file, command: r.kubectl }))
    }
    // redacted in memory, then written
    const out: Array<readonly [string, string]> = reads.map((r) => [r.file, typeof r.content === "string" ? r.content : `${JSON.stringify(redactObject(r.content), null, 2)}\n`])
    out.push(["capture.json", `${JSON.stringify(capture, null, 2)}\n`])
    yield* Effect.try({
      try: () => {
        fs.mkdirSync(dir, { recursive: true })
        for (const [f, text] of out) fs.writeFileSync(path.join(dir, f), text)
      },
      catch: (e) => new RecordFailed({ message: `writing ${dir}: ${(e as Error).message}` })
    })
    return { dir, files: out.map(([f]) => f) }
  })

const parseNow = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
  if (!Number.isFinite(n)) throw new Usage(`--now ${v}: expected epoch milliseconds or an ISO time`)
  return n
}

/** `byteport record …` (argv after the command). */
export const command = (argv: ReadonlyArray<string>): Effect.Effect<number, UnsupportedRunbook | RecordFailed> =>
  Effect.gen(function*() {
    const parsed = parseArgs(argv)
    onlyFlags(parsed, ["target", "out", "container", "kubeconfig", "context", "cluster", "now", "prometheus"])
    const [runbook] = parsed.positionals
    const target = parsed.flags.get("target")
    const out = parsed.flags.get("out")
    if (!runbook || !target || !out || parsed.positionals.length > 1) throw new Usage("record needs <runbook-id> --target <namespace>/<pod> --out <dir>")
    const r = yield* record({
      runbook,
      target,
      out,
      container: parsed.flags.get("container"),
      kubeconfig: parsed.flags.get("kubeconfig"),
      context: parsed.flags.get("context"),
      cluster: parsed.flags.get("cluster"),
      now: parseNow(parsed.flags.get("now")),
      prometheus: parsed.flags.get("prometheus")
    })
    process.stdout.write(`recorded ${runbook} into ${r.dir}: ${r.files.join(", ")}\n`)
    return 0
  })
