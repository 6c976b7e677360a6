/**
 * The Kube service: BytePort's typed access to a Kubernetes API server over
 * `@kubernetes/client-node` 2.x.
 *
 * - Reads return client-node's typed models (timestamps are `Date`s). Objects that come from an
 *   informer are raw JSON (timestamps are strings); see `informers/Informer.ts`.
 * - Every write takes `{ dryRun: true }`, which sends `dryRun=All`: the apiserver validates and
 *   admits the change without persisting it. Action handlers pass `ApplyContext.dryRun` here.
 * - Every patch is a `KubePatch`: an explicit content type plus a precondition
 *   (`metadata.resourceVersion` or a JSON-patch `test`). A patch without one cannot be built.
 * - Every failure is a typed `KubeError` decoded from the Status body (see `KubeError.ts`).
 *
 * Layers: `Kube.layerFromKubeConfig(kc)`, `Kube.layerFromString(yaml)` (tests: kube-sim's
 * `sim.kubeconfig()`), `Kube.layerFromFile(path)`, `Kube.layerInCluster` and `Kube.layerDefault`
 * (`KUBECONFIG`, then `~/.kube/config`, then in-cluster).
 *
 * @example
 * ```ts
 * import { Kube, KubePatch } from "@byteport/k8s"
 * const program = Effect.gen(function*() {
 *   const kube = yield* Kube.Kube
 *   const d = yield* kube.getDeployment("shop", "web")
 *   yield* kube.patch("Deployment", { namespace: "shop", name: "web" },
 *     KubePatch.strategic(d.metadata!.resourceVersion!, { spec: { replicas: 4 } }), { dryRun: true })
 * }).pipe(Effect.provide(Kube.layerDefault))
 * ```
 *
 * @since 0.1.0
 */
import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  Exec,
  KubeConfig,
  Metrics as ClientMetrics,
  PolicyV1Api,
  setHeaderOptions
} from "@kubernetes/client-node"
import type {
  CoreV1Event,
  KubernetesObject,
  NodeMetricsList,
  PodMetricsList,
  V1DaemonSet,
  V1Deployment,
  V1Job,
  V1Lease,
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V1StatefulSet,
  V1Status,
  V2HorizontalPodAutoscaler
} from "@kubernetes/client-node"
import { Config, Context, Duration, Effect, Layer, Schema } from "effect"
import { Writable } from "node:stream"
import * as KubeError from "./KubeError"
import * as KubePatch from "./KubePatch"

/** The kubeconfig could not be loaded (missing file, bad YAML, not in a cluster, no current cluster). */
export class KubeConfigError extends Schema.TaggedError<KubeConfigError>()("KubeConfigError", {
  source: Schema.String,
  message: Schema.String
}) {}

/** Options of every write. */
export interface WriteOptions {
  /** Send `dryRun=All`: the server validates and admits the change but does not persist it. */
  readonly dryRun?: boolean | undefined
  /** The field manager recorded for the change (default `byteport`). */
  readonly fieldManager?: string | undefined
}

/** Options of list calls. Without `namespace`, lists across all namespaces. Pages are followed to the end. */
export interface ListOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Page size (default 500). */
  readonly pageSize?: number | undefined
}

/** Options of `podLogs`. */
export interface LogOptions {
  readonly container?: string | undefined
  /** The previous (terminated) container's log: what an OOM-killed container printed before it died. */
  readonly previous?: boolean | undefined
  readonly tailLines?: number | undefined
  readonly sinceSeconds?: number | undefined
  readonly limitBytes?: number | undefined
  readonly timestamps?: boolean | undefined
}

/** A namespaced (or, for nodes, cluster-scoped) object name. */
export interface ObjectName {
  readonly namespace?: string | undefined
  readonly name: string
}

/** The kinds `patch` accepts, and the model each returns. */
export interface PatchKinds {
  readonly Pod: V1Pod
  readonly Deployment: V1Deployment
  readonly StatefulSet: V1StatefulSet
  readonly ReplicaSet: V1ReplicaSet
  readonly DaemonSet: V1DaemonSet
  readonly Job: V1Job
  readonly Node: V1Node
  readonly HorizontalPodAutoscaler: V2HorizontalPodAutoscaler
  readonly PodDisruptionBudget: V1PodDisruptionBudget
  readonly Lease: V1Lease
}

/** A kind `patch` accepts. */
export type PatchKind = keyof PatchKinds

/** The result of `exec`. */
export interface ExecResult {
  readonly stdout: string
  readonly stderr: string
  /** The Status the server sent at the end (`Success`, or `Failure` with an exit code in details). */
  readonly status: V1Status | undefined
}

/** Strips every mutating method from a client-node API class (for the read-only escape hatch). */
export type ReadOnlyApi<T> = {
  readonly [K in keyof T as K extends `${"patch" | "replace" | "create" | "delete" | "connect"}${string}` ? never : K]: T[K]
}

/** The client-node API classes, read-only, for reads the service does not wrap. */
export interface ReadApis {
  readonly core: ReadOnlyApi<CoreV1Api>
  readonly apps: ReadOnlyApi<AppsV1Api>
  readonly autoscaling: ReadOnlyApi<AutoscalingV2Api>
  readonly policy: ReadOnlyApi<PolicyV1Api>
  readonly coordination: ReadOnlyApi<CoordinationV1Api>
  readonly batch: ReadOnlyApi<BatchV1Api>
  /** EndpointSlices (discovery.k8s.io/v1). */
  readonly discovery: ReadOnlyApi<DiscoveryV1Api>
}

type E = KubeError.KubeError

/** The Kube service interface. */
export interface KubeShape {
  /** The loaded configuration (informers, watches and exec are built from it). */
  readonly kubeConfig: KubeConfig
  /** The current context's default namespace (`default` when unset). */
  readonly defaultNamespace: string
  /** The current cluster's name in the kubeconfig, made safe for TargetRefs (`clusterNameOf`; `inCluster` in a pod). */
  readonly clusterName: string

  /** The client-node API classes with their mutating methods removed (informers list through these). */
  readonly readApis: ReadApis
  /** Any read through the client-node API classes, with error decoding and the request timeout. */
  readonly read: <A>(operation: string, f: (apis: ReadApis) => Promise<A>) => Effect.Effect<A, E>

  readonly getPod: (namespace: string, name: string) => Effect.Effect<V1Pod, E>
  readonly listPods: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V1Pod>, E>
  readonly getDeployment: (namespace: string, name: string) => Effect.Effect<V1Deployment, E>
  readonly listDeployments: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V1Deployment>, E>
  readonly getStatefulSet: (namespace: string, name: string) => Effect.Effect<V1StatefulSet, E>
  readonly listStatefulSets: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V1StatefulSet>, E>
  readonly getReplicaSet: (namespace: string, name: string) => Effect.Effect<V1ReplicaSet, E>
  readonly listReplicaSets: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V1ReplicaSet>, E>
  readonly getDaemonSet: (namespace: string, name: string) => Effect.Effect<V1DaemonSet, E>
  readonly listDaemonSets: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V1DaemonSet>, E>
  readonly getJob: (namespace: string, name: string) => Effect.Effect<V1Job, E>
  readonly getNode: (name: string) => Effect.Effect<V1Node, E>
  readonly listNodes: (options?: Omit<ListOptions, "namespace">) => Effect.Effect<ReadonlyArray<V1Node>, E>
  /** core/v1 Events (e.g. `fieldSelector: "involvedObject.name=web-1,reason=OOMKilling"`). */
  readonly listEvents: (options?: ListOptions) => Effect.Effect<ReadonlyArray<CoreV1Event>, E>
  /** autoscaling/v2 HorizontalPodAutoscalers. */
  readonly getHpa: (namespace: string, name: string) => Effect.Effect<V2HorizontalPodAutoscaler, E>
  readonly listHpas: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V2HorizontalPodAutoscaler>, E>
  readonly getPdb: (namespace: string, name: string) => Effect.Effect<V1PodDisruptionBudget, E>
  readonly listPdbs: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V1PodDisruptionBudget>, E>
  readonly getLease: (namespace: string, name: string) => Effect.Effect<V1Lease, E>
  readonly listLeases: (options?: ListOptions) => Effect.Effect<ReadonlyArray<V1Lease>, E>
  /** A pod's log as text (`previous: true` for the last terminated container). */
  readonly podLogs: (namespace: string, name: string, options?: LogOptions) => Effect.Effect<string, E>
  /**
   * metrics.k8s.io/v1beta1 pod metrics (metrics-server). With `name` (and `namespace`), one pod's
   * PodMetrics only (one small request): a list of that item, empty when metrics-server has no sample (404).
   */
  readonly podMetrics: (namespace?: string, name?: string) => Effect.Effect<PodMetricsList, E>
  /** metrics.k8s.io/v1beta1 node metrics (metrics-server). */
  readonly nodeMetrics: Effect.Effect<NodeMetricsList, E>

  /** Patches an object. The patch type makes the content type and the precondition explicit. */
  readonly patch: <K extends PatchKind>(kind: K, target: ObjectName, patch: KubePatch.KubePatch, options?: WriteOptions) => Effect.Effect<PatchKinds[K], E>
  /** Creates a core/v1 Event (see `events/EventRecorder.ts` for the recorder handlers use). */
  readonly createEvent: (namespace: string, event: CoreV1Event, options?: WriteOptions) => Effect.Effect<CoreV1Event, E>
  /** Evicts a pod through the Eviction API (PDB-aware: 429 `KubeTooManyRequests` when a budget forbids it). */
  readonly evict: (namespace: string, name: string, options?: WriteOptions & { readonly gracePeriodSeconds?: number | undefined; readonly uid?: string | undefined }) => Effect.Effect<void, E>
  /** Deletes a pod, conditional on its uid (and resourceVersion when given): a replacement pod with the same name is never deleted. */
  readonly deletePod: (namespace: string, name: string, precondition: { readonly uid: string; readonly resourceVersion?: string | undefined }, options?: WriteOptions & { readonly gracePeriodSeconds?: number | undefined }) => Effect.Effect<void, E>
  /** Creates a Lease (409 `KubeConflict` when it exists). */
  readonly createLease: (namespace: string, lease: V1Lease, options?: WriteOptions) => Effect.Effect<V1Lease, E>
  /** Replaces a Lease; `lease.metadata.resourceVersion` is required and acts as the compare-and-swap precondition (409 on mismatch). */
  readonly replaceLease: (namespace: string, lease: V1Lease & { readonly metadata: { readonly name: string; readonly resourceVersion: string } }, options?: WriteOptions) => Effect.Effect<V1Lease, E>
  /** Deletes a Lease, conditional on its resourceVersion. */
  readonly deleteLease: (namespace: string, name: string, resourceVersion: string, options?: WriteOptions) => Effect.Effect<void, E>
  /**
   * Runs a command (an argv array, never a shell string) in a container over the exec
   * WebSocket. For node-level work that needs a shell inside a pod (kube-sim serves it for node-shell DaemonSet pods).
   */
  readonly exec: (namespace: string, pod: string, container: string, command: ReadonlyArray<string>) => Effect.Effect<ExecResult, E>
}

/** The Kube service. */
export class Kube extends Context.Service<Kube, KubeShape>()("@byteport/k8s/Kube") {}

/** Options of `make`. */
export interface MakeOptions {
  /** Time limit of one request (default 30 seconds); exceeding it is `KubeUnavailable` with reason `Timeout`. */
  readonly requestTimeout?: Duration.Input | undefined
  /** The cluster name used in TargetRefs (default: the kubeconfig's current cluster name). */
  readonly clusterName?: string | undefined
}

const DEFAULT_FIELD_MANAGER = "byteport"

/**
 * A cluster name usable in TargetRefs: `/` and whitespace become `_` (kubeconfig cluster names
 * can be ARNs such as `arn:aws:eks:eu-west-1:123456789012:cluster/prod`).
 */
export const clusterNameOf = (name: string): string => {
  const s = name.trim().replace(/[/\s]+/g, "_")
  return s.length > 0 ? s : "default"
}

const q = (o: WriteOptions | undefined) => ({
  ...(o?.dryRun ? { dryRun: "All" } : {}),
  fieldManager: o?.fieldManager ?? DEFAULT_FIELD_MANAGER
})

const objName = (kind: string, t: ObjectName) => `${kind} ${t.namespace !== undefined ? `${t.namespace}/` : ""}${t.name}`

/** Builds the service over a loaded KubeConfig. */
export const make = (kc: KubeConfig, options: MakeOptions = {}): KubeShape => {
  const core = kc.makeApiClient(CoreV1Api)
  const apps = kc.makeApiClient(AppsV1Api)
  const autoscaling = kc.makeApiClient(AutoscalingV2Api)
  const policy = kc.makeApiClient(PolicyV1Api)
  const coordination = kc.makeApiClient(CoordinationV1Api)
  const batch = kc.makeApiClient(BatchV1Api)
  const discovery = kc.makeApiClient(DiscoveryV1Api)
  const metrics = new ClientMetrics(kc)
  const timeout = options.requestTimeout ?? "30 seconds"
  const apis: ReadApis = { core, apps, autoscaling, policy, coordination, batch, discovery }

  const call = <A>(operation: string, f: (signal: AbortSignal) => Promise<A>): Effect.Effect<A, E> =>
    Effect.tryPromise({ try: f, catch: (e) => KubeError.fromUnknown(operation, e) }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(new KubeError.KubeUnavailable({ operation, status: 0, reason: "Timeout", message: `${operation}: no answer within ${Duration.format(Duration.fromInputUnsafe(timeout))}` }))
      }),
      Effect.withSpan("Kube.request", { attributes: { operation } })
    )

  interface Page<T> {
    readonly items: Array<T>
    readonly metadata?: { readonly _continue?: string | undefined } | undefined
  }
  const listAll = <T>(operation: string, page: (token: string | undefined, limit: number) => Promise<Page<T>>, options: ListOptions | undefined): Effect.Effect<ReadonlyArray<T>, E> =>
    Effect.gen(function*() {
      const out: Array<T> = []
      let token: string | undefined
      const limit = options?.pageSize ?? 500
      for (let i = 0; i < 10_000; i++) {
        const p = yield* call(operation, () => page(token, limit))
        out.push(...p.items)
        token = p.metadata?._continue
        if (!token) break
      }
      return out
    })

  const sel = (o: ListOptions | undefined) => ({
    ...(o?.labelSelector !== undefined ? { labelSelector: o.labelSelector } : {}),
    ...(o?.fieldSelector !== undefined ? { fieldSelector: o.fieldSelector } : {})
  })
  const page = (o: ListOptions | undefined, token: string | undefined, limit: number) => ({ ...sel(o), limit, ...(token ? { _continue: token } : {}) })
  const where = (what: string, o: ListOptions | undefined) => `list ${what}${o?.namespace ? ` in ${o.namespace}` : ""}${o?.labelSelector ? ` (${o.labelSelector})` : ""}`

  type Patcher = (t: ObjectName, body: unknown, opts: ReturnType<typeof q>, header: ReturnType<typeof setHeaderOptions>) => Promise<unknown>
  const ns = (t: ObjectName) => t.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default"
  const patchers: { readonly [K in PatchKind]: Patcher } = {
    Pod: (t, body, o, h) => core.patchNamespacedPod({ name: t.name, namespace: ns(t), body, ...o }, h),
    Deployment: (t, body, o, h) => apps.patchNamespacedDeployment({ name: t.name, namespace: ns(t), body, ...o }, h),
    StatefulSet: (t, body, o, h) => apps.patchNamespacedStatefulSet({ name: t.name, namespace: ns(t), body, ...o }, h),
    ReplicaSet: (t, body, o, h) => apps.patchNamespacedReplicaSet({ name: t.name, namespace: ns(t), body, ...o }, h),
    DaemonSet: (t, body, o, h) => apps.patchNamespacedDaemonSet({ name: t.name, namespace: ns(t), body, ...o }, h),
    Job: (t, body, o, h) => batch.patchNamespacedJob({ name: t.name, namespace: ns(t), body, ...o }, h),
    Node: (t, body, o, h) => core.patchNode({ name: t.name, body, ...o }, h),
    HorizontalPodAutoscaler: (t, body, o, h) => autoscaling.patchNamespacedHorizontalPodAutoscaler({ name: t.name, namespace: ns(t), body, ...o }, h),
    PodDisruptionBudget: (t, body, o, h) => policy.patchNamespacedPodDisruptionBudget({ name: t.name, namespace: ns(t), body, ...o }, h),
    Lease: (t, body, o, h) => coordination.patchNamespacedLease({ name: t.name, namespace: ns(t), body, ...o }, h)
  }

  const execOnce = (namespace: string, pod: string, container: string, command: ReadonlyArray<string>, signal: AbortSignal) =>
    new Promise<ExecResult>((resolve, reject) => {
      // bytes, decoded once at the end: a character split across two frames stays whole
      const out: Array<Buffer> = []
      const err: Array<Buffer> = []
      const sink = (into: Array<Buffer>) =>
        new Writable({
          write(chunk, _enc, cb) {
            into.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)))
            cb()
          }
        })
      let done = false
      const finish = (status: V1Status | undefined) => {
        if (done) return
        done = true
        resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), status })
      }
      new Exec(kc)
        .exec(namespace, pod, container, [...command], sink(out), sink(err), null, false, (status) => finish(status))
        .then((ws) => {
          // a stream closed without a Status (the connection dropped) ends the exec without one
          ws.addEventListener("close", () => finish(undefined))
          // interrupted (a timeout): close the stream instead of leaving it open
          if (signal.aborted) ws.close()
          else signal.addEventListener("abort", () => ws.close(), { once: true })
        })
        .catch(reject)
    })

  return {
    kubeConfig: kc,
    defaultNamespace: kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default",
    clusterName: clusterNameOf(options.clusterName ?? kc.getCurrentCluster()?.name ?? "default"),
    readApis: apis,
    read: (operation, f) => call(operation, () => f(apis)),
    getPod: (namespace, name) => call(`get Pod ${namespace}/${name}`, () => core.readNamespacedPod({ namespace, name })),
    listPods: (o) =>
      listAll(where("Pods", o), (t, l) => (o?.namespace ? core.listNamespacedPod({ namespace: o.namespace, ...page(o, t, l) }) : core.listPodForAllNamespaces(page(o, t, l))), o),
    getDeployment: (namespace, name) => call(`get Deployment ${namespace}/${name}`, () => apps.readNamespacedDeployment({ namespace, name })),
    listDeployments: (o) =>
      listAll(where("Deployments", o), (t, l) => (o?.namespace ? apps.listNamespacedDeployment({ namespace: o.namespace, ...page(o, t, l) }) : apps.listDeploymentForAllNamespaces(page(o, t, l))), o),
    getStatefulSet: (namespace, name) => call(`get StatefulSet ${namespace}/${name}`, () => apps.readNamespacedStatefulSet({ namespace, name })),
    listStatefulSets: (o) =>
      listAll(where("StatefulSets", o), (t, l) => (o?.namespace ? apps.listNamespacedStatefulSet({ namespace: o.namespace, ...page(o, t, l) }) : apps.listStatefulSetForAllNamespaces(page(o, t, l))), o),
    getReplicaSet: (namespace, name) => call(`get ReplicaSet ${namespace}/${name}`, () => apps.readNamespacedReplicaSet({ namespace, name })),
    listReplicaSets: (o) =>
      listAll(where("ReplicaSets", o), (t, l) => (o?.namespace ? apps.listNamespacedReplicaSet({ namespace: o.namespace, ...page(o, t, l) }) : apps.listReplicaSetForAllNamespaces(page(o, t, l))), o),
    getDaemonSet: (namespace, name) => call(`get DaemonSet ${namespace}/${name}`, () => apps.readNamespacedDaemonSet({ namespace, name })),
    listDaemonSets: (o) =>
      listAll(where("DaemonSets", o), (t, l) => (o?.namespace ? apps.listNamespacedDaemonSet({ namespace: o.namespace, ...page(o, t, l) }) : apps.listDaemonSetForAllNamespaces(page(o, t, l))), o),
    getJob: (namespace, name) => call(`get Job ${namespace}/${name}`, () => batch.readNamespacedJob({ namespace, name })),
    getNode: (name) => call(`get Node ${name}`, () => core.readNode({ name })),
    listNodes: (o) => listAll(where("Nodes", o), (t, l) => core.listNode(page(o, t, l)), o),
    listEvents: (o) =>
      listAll(where("Events", o), (t, l) => (o?.namespace ? core.listNamespacedEvent({ namespace: o.namespace, ...page(o, t, l) }) : core.listEventForAllNamespaces(page(o, t, l))), o),
    getHpa: (namespace, name) => call(`get HorizontalPodAutoscaler ${namespace}/${name}`, () => autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace, name })),
    listHpas: (o) =>
      listAll(
        where("HorizontalPodAutoscalers", o),
        (t, l) =>
          o?.namespace
            ? autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: o.namespace, ...page(o, t, l) })
            : autoscaling.listHorizontalPodAutoscalerForAllNamespaces(page(o, t, l)),
        o
      ),
    getPdb: (namespace, name) => call(`get PodDisruptionBudget ${namespace}/${name}`, () => policy.readNamespacedPodDisruptionBudget({ namespace, name })),
    listPdbs: (o) =>
      listAll(
        where("PodDisruptionBudgets", o),
        (t, l) => (o?.namespace ? policy.listNamespacedPodDisruptionBudget({ namespace: o.namespace, ...page(o, t, l) }) : policy.listPodDisruptionBudgetForAllNamespaces(page(o, t, l))),
        o
      ),
    getLease: (namespace, name) => call(`get Lease ${namespace}/${name}`, () => coordination.readNamespacedLease({ namespace, name })),
    listLeases: (o) =>
      listAll(where("Leases", o), (t, l) => (o?.namespace ? coordination.listNamespacedLease({ namespace: o.namespace, ...page(o, t, l) }) : coordination.listLeaseForAllNamespaces(page(o, t, l))), o),
    podLogs: (namespace, name, o = {}) =>
      call(`get log of Pod ${namespace}/${name}${o.container ? ` container ${o.container}` : ""}${o.previous ? " (previous)" : ""}`, () =>
        core.readNamespacedPodLog({
          namespace,
          name,
          ...(o.container !== undefined ? { container: o.container } : {}),
          ...(o.previous !== undefined ? { previous: o.previous } : {}),
          ...(o.tailLines !== undefined ? { tailLines: o.tailLines } : {}),
          ...(o.sinceSeconds !== undefined ? { sinceSeconds: o.sinceSeconds } : {}),
          ...(o.limitBytes !== undefined ? { limitBytes: o.limitBytes } : {}),
          ...(o.timestamps !== undefined ? { timestamps: o.timestamps } : {})
        })
      ),
    podMetrics: (namespace, name) =>
      namespace && name
        ? call(`get pod metrics of ${namespace}/${name}`, () =>
          // client-node has no single-pod call: its own request helper on the single object's path
          (metrics as unknown as { metricsApiRequest: (path: string) => Promise<PodMetricsList["items"][number]> })
            .metricsApiRequest(`/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`)
            .then((item): PodMetricsList => ({ kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items: [item] }) as unknown as PodMetricsList)
        ).pipe(Effect.catchTag("KubeNotFound", () => Effect.succeed({ kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items: [] } as unknown as PodMetricsList)))
        : call(`get pod metrics${namespace ? ` in ${namespace}` : ""}`, () => metrics.getPodMetrics(namespace)),
    nodeMetrics: call("get node metrics", () => metrics.getNodeMetrics()),
    patch: <K extends PatchKind>(kind: K, target: ObjectName, patch: KubePatch.KubePatch, options?: WriteOptions) => {
      const operation = `patch ${objName(kind, target)}`
      const invalid = KubePatch.validate(patch)
      if (invalid !== undefined) {
        return Effect.fail(new KubeError.KubeBadRequest({ operation, status: 0, reason: "MissingPrecondition", message: `${operation}: ${invalid}` }))
      }
      const header = setHeaderOptions("Content-Type", KubePatch.contentType(patch))
      return call(operation, () => patchers[kind](target, KubePatch.body(patch), q(options), header) as Promise<PatchKinds[K]>).pipe(
        Effect.annotateLogs({ precondition: KubePatch.describePrecondition(patch), dryRun: options?.dryRun === true })
      )
    },
    createEvent: (namespace, body, o) => call(`create Event in ${namespace}`, () => core.createNamespacedEvent({ namespace, body, ...q(o) })),
    evict: (namespace, name, o = {}) =>
      call(`evict Pod ${namespace}/${name}`, () =>
        core.createNamespacedPodEviction({
          namespace,
          name,
          ...q(o),
          body: {
            apiVersion: "policy/v1",
            kind: "Eviction",
            metadata: { name, namespace },
            ...(o.dryRun || o.gracePeriodSeconds !== undefined || o.uid !== undefined
              ? {
                deleteOptions: {
                  ...(o.dryRun ? { dryRun: ["All"] } : {}),
                  ...(o.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: o.gracePeriodSeconds } : {}),
                  ...(o.uid !== undefined ? { preconditions: { uid: o.uid } } : {})
                }
              }
              : {})
          }
        })
      ).pipe(Effect.asVoid),
    deletePod: (namespace, name, precondition, o = {}) =>
      call(`delete Pod ${namespace}/${name}`, () =>
        core.deleteNamespacedPod({
          namespace,
          name,
          ...(o.dryRun ? { dryRun: "All" } : {}),
          ...(o.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: o.gracePeriodSeconds } : {}),
          body: { preconditions: { uid: precondition.uid, ...(precondition.resourceVersion ? { resourceVersion: precondition.resourceVersion } : {}) } }
        })
      ).pipe(Effect.asVoid),
    createLease: (namespace, body, o) => call(`create Lease ${namespace}/${body.metadata?.name ?? "?"}`, () => coordination.createNamespacedLease({ namespace, body, ...q(o) })),
    replaceLease: (namespace, body, o) =>
      call(`replace Lease ${namespace}/${body.metadata.name}`, () => coordination.replaceNamespacedLease({ namespace, name: body.metadata.name, body, ...q(o) })),
    deleteLease: (namespace, name, resourceVersion, o = {}) =>
      call(`delete Lease ${namespace}/${name}`, () =>
        coordination.deleteNamespacedLease({ namespace, name, ...(o.dryRun ? { dryRun: "All" } : {}), body: { preconditions: { resourceVersion } } })
      ).pipe(Effect.asVoid),
    exec: (namespace, pod, container, command) => call(`exec in Pod ${namespace}/${pod} container ${container}`, (signal) => execOnce(namespace, pod, container, command, signal))
  }
}

const loadLayer = (source: string, load: (kc: KubeConfig) => void, options?: MakeOptions): Layer.Layer<Kube, KubeConfigError> =>
  Layer.effect(
    Kube,
    Effect.try({
      try: () => {
        const kc = new KubeConfig()
        load(kc)
        if (!kc.getCurrentCluster()) throw new Error("the kubeconfig has no current cluster")
        return make(kc, options)
      },
      catch: (e) => new KubeConfigError({ source, message: e instanceof Error ? e.message : String(e) })
    })
  )

/** A layer over an already loaded KubeConfig. */
export const layerFromKubeConfig = (kc: KubeConfig, options?: MakeOptions): Layer.Layer<Kube> => Layer.succeed(Kube, make(kc, options))

/** A layer from kubeconfig YAML text (tests: `sim.kubeconfig()`). */
export const layerFromString = (yaml: string, options?: MakeOptions): Layer.Layer<Kube, KubeConfigError> =>
  loadLayer("string", (kc) => kc.loadFromString(yaml), options)

/** A layer from a kubeconfig file. */
export const layerFromFile = (path: string, options?: MakeOptions): Layer.Layer<Kube, KubeConfigError> =>
  loadLayer(`file:${path}`, (kc) => kc.loadFromFile(path), options)

/** A layer from the pod's service account (in-cluster: `KUBERNETES_SERVICE_HOST` and the mounted token). */
export const layerInCluster = (options?: MakeOptions): Layer.Layer<Kube, KubeConfigError> =>
  loadLayer(
    "in-cluster",
    (kc) => {
      if (!process.env.KUBERNETES_SERVICE_HOST) throw new Error("not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
      kc.loadFromCluster()
    },
    options
  )

/**
 * The default layer: the file named by Config `KUBECONFIG` when set, else client-node's default
 * loading (`~/.kube/config`, then in-cluster).
 */
export const layerDefault: Layer.Layer<Kube, KubeConfigError | Config.ConfigError> = Layer.unwrap(
  Effect.gen(function*() {
    const path = yield* Config.String("KUBECONFIG").pipe(Config.option)
    if (path._tag === "Some" && path.value.length > 0 && !path.value.includes(":")) return layerFromFile(path.value)
    return loadLayer("default", (kc) => kc.loadFromDefault())
  })
)

/** Re-export of the object shape every Kubernetes object has (for helpers over any kind). */
export type { KubernetesObject }
