/**
 * The incident catalogue of the Kubernetes family: each builder returns a ScenarioPart that
 * puts the cluster into one incident by cause, not by status flips (a plateau just above the
 * limit, a leak, a request-rate spike against a capped HPA, a heap flag above the limit, a
 * host process exhausting a node, a missing config, a bad image, …).
 */
import type { ScenarioPart, WorkloadSpec } from "./types"
import { parseQuantity } from "../controllers/quantity"

/** Options every workload builder accepts. */
export interface BaseOptions {
  readonly name?: string
  readonly namespace?: string
  readonly replicas?: number
  readonly image?: string
  /** Extra workload fields merged last. */
  readonly workload?: Partial<WorkloadSpec>
}

const bytes = (q: string): number => parseQuantity(q)
const mi = (b: number): string => `${Math.round(b / 2 ** 20)}Mi`

const readiness = { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5, failureThreshold: 3 }
const liveness = { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10, failureThreshold: 3 }

const base = (o: BaseOptions, dflt: string): WorkloadSpec & { name: string } => ({
  name: o.name ?? dflt,
  ...(o.namespace ? { namespace: o.namespace } : {}),
  replicas: o.replicas ?? 2,
  image: o.image ?? `registry.example.com/shop/${o.name ?? dflt}:1.4.2`,
  cpuRequest: "100m",
  readinessProbe: readiness,
  service: true,
  changeCause: `deploy ${o.name ?? dflt} 1.4.2 (commit 3f9c2ab)`
})

const target = (o: BaseOptions, dflt: string) => ({ kind: "Deployment", namespace: o.namespace ?? "default", name: o.name ?? dflt })

/** OOM family (k8s.oom.six-signal, k8s.oom.exit-137). */
export const oom = {
  /** Working set plateaus just above the limit (5%) after a 2-minute ramp: OOMKilled every run; a raised limit cures it. */
  undersizedLimit: (o: BaseOptions & { limit?: string; overshoot?: number } = {}): ScenarioPart => {
    const limit = o.limit ?? "512Mi"
    const w = base(o, "api")
    return {
      workloads: [{ ...w, memoryLimit: limit, memoryRequest: limit, memory: { kind: "plateau", plateauBytes: Math.round(bytes(limit) * (o.overshoot ?? 1.05)), startBytes: Math.round(bytes(limit) * 0.6), rampSeconds: 120 }, requestRate: 40, ...o.workload }],
      incident: { runbooks: ["k8s.oom.six-signal", "k8s.oom.exit-137"], class: "undersized_limit", target: target(o, "api"), description: `the working set settles at ${Math.round((o.overshoot ?? 1.05) * 100)}% of the ${limit} limit with no trend` }
    }
  },
  /** A leak: the working set grows steadily until the limit, every run, whatever the limit. */
  leak: (o: BaseOptions & { limit?: string; minutesToLimit?: number } = {}): ScenarioPart => {
    const limit = o.limit ?? "512Mi"
    const start = bytes(limit) * 0.3
    const perMin = (bytes(limit) - start) / (o.minutesToLimit ?? 20)
    return {
      workloads: [{ ...base(o, "api"), memoryLimit: limit, memoryRequest: limit, memory: { kind: "leak", baseBytes: Math.round(start), bytesPerMinute: Math.round(perMin) }, requestRate: 40, ...o.workload }],
      incident: { runbooks: ["k8s.oom.six-signal"], class: "genuine_memory_leak", target: target(o, "api"), description: `the working set climbs ${mi(perMin)}/min from ${mi(start)} on every run, uncorrelated with a constant request rate` }
    }
  },
  /**
   * Memory follows traffic (35% of the limit plus 0.65% per request/s a pod serves); a spike from 50
   * to `spikeRps` (default 400) rps, ramping over `rampSeconds` (default 120), overwhelms 2 replicas
   * while the HPA is capped at maxReplicas 3. Raising minReplicas/maxReplicas cures it.
   */
  trafficSpike: (o: BaseOptions & { limit?: string; spikeAfterSeconds?: number; spikeRps?: number; rampSeconds?: number; maxReplicas?: number } = {}): ScenarioPart => {
    const limit = bytes(o.limit ?? "512Mi")
    const at = o.spikeAfterSeconds ?? 300
    const spike = o.spikeRps ?? 400
    const ramp = o.rampSeconds ?? 120
    return {
      workloads: [{
        ...base(o, "api"),
        memoryLimit: o.limit ?? "512Mi",
        memoryRequest: o.limit ?? "512Mi",
        memory: { kind: "traffic", baseBytes: Math.round(limit * 0.35), bytesPerRps: Math.round((limit * 0.65) / 100) },
        hpa: { min: o.replicas ?? 2, max: o.maxReplicas ?? 3, rpsPerPod: 50 },
        requestRate: [[0, 50], [at, 50], [at + ramp, spike]],
        ...o.workload
      }],
      incident: { runbooks: ["k8s.oom.six-signal"], class: "traffic_spike", target: target(o, "api"), description: `requests rise from 50 to ${spike}/s over ${ramp}s after ${at}s; per-pod memory follows requests and the HPA is capped` }
    }
  },
  /** A runtime heap ceiling above the container limit (JAVA_TOOL_OPTIONS=-Xmx2g, GOMEMLIMIT or NODE_OPTIONS with a 1Gi limit). */
  runtimeHeapFlag: (o: BaseOptions & { runtime?: "jvm" | "go" | "node"; limit?: string; heap?: string } = {}): ScenarioPart => {
    const runtime = o.runtime ?? "jvm"
    const limit = o.limit ?? "1Gi"
    const heapBytes = bytes(o.heap ?? "2Gi")
    const env = runtime === "jvm"
      ? { name: "JAVA_TOOL_OPTIONS", value: `-Xmx${Math.round(heapBytes / 2 ** 30)}g -XX:+UseG1GC` }
      : runtime === "go"
      ? { name: "GOMEMLIMIT", value: `${Math.round(heapBytes / 2 ** 20)}MiB` }
      : { name: "NODE_OPTIONS", value: `--max-old-space-size=${Math.round(heapBytes / 2 ** 20)}` }
    return {
      workloads: [{ ...base(o, "api"), memoryLimit: limit, memoryRequest: limit, env: [env], memory: { kind: "runtimeHeap", overheadBytes: 200 * 2 ** 20, defaultHeapBytes: Math.round(bytes(limit) * 0.5), heapGrowthBytesPerMinute: Math.round(bytes(limit) / 4) }, requestRate: 40, ...o.workload }],
      incident: { runbooks: ["k8s.oom.six-signal"], class: "runtime_misconfig", target: target(o, "api"), description: `${env.name}=${env.value} lets the heap grow past the ${limit} limit` }
    }
  },
  /** A host process on `node` exhausts its memory: MemoryPressure, and the healthy pod there (working set 40% of its limit) is OOM-killed by the kernel. Cordon + drain cures it. */
  nodePressure: (o: BaseOptions & { node?: string; limit?: string } = {}): ScenarioPart => {
    const node = o.node ?? "node-2"
    const limit = o.limit ?? "1Gi"
    const ws = Math.round(bytes(limit) * 0.4)
    return {
      workloads: [{ ...base(o, "api"), replicas: o.replicas ?? 3, memoryLimit: limit, memoryRequest: mi(bytes(limit) / 2), memory: { kind: "steady", bytes: ws }, pdb: { maxUnavailable: 1 }, requestRate: 60, ...o.workload }],
      steps: [{ after: "1m", action: "nodeHost", node, host: { hostMemoryBytes: 8 * 2 ** 30 - Math.round(ws * 0.6), kernelLog: ["kernel: Out of memory: Killed process 48211 (api) total-vm:1893424kB, anon-rss:419430kB"] } }],
      incident: { runbooks: ["k8s.oom.six-signal", "k8s.node.pressure-drain"], class: "node_pressure", target: target(o, "api"), description: `a host process leaves ${node} without memory; the api pod there is healthy (40% of its limit) but OOM-killed` }
    }
  }
}

/** Crash-loop family (k8s.crashloop.*, k8s.restart-loop.container, k8s.image-pull). */
export const crashloop = {
  /** The app exits 1 at boot because an env var it needs is missing. */
  missingEnv: (o: BaseOptions & { env?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), behaviour: { requiredEnv: [o.env ?? "DATABASE_URL"] }, ...o.workload }],
    incident: { runbooks: ["k8s.crashloop.five-branch", "k8s.restart-loop.container"], class: "config_error_missing_env", classes: { "k8s.restart-loop.container": "config_or_secret" }, target: target(o, "api"), description: `${o.env ?? "DATABASE_URL"} is not set; the app exits 1 at boot` }
  }),
  /** An env var references a ConfigMap that does not exist: CreateContainerConfigError. */
  missingConfigMap: (o: BaseOptions & { configMap?: string; key?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), env: [{ name: "FEATURE_FLAGS", valueFrom: { configMapKeyRef: { name: o.configMap ?? "api-config", key: o.key ?? "flags" } } }], ...o.workload }],
    incident: { runbooks: ["k8s.crashloop.seven-class", "k8s.crashloop.exit-code"], class: "missing_configmap_or_secret", classes: { "k8s.crashloop.exit-code": "config_error" }, target: target(o, "api"), description: `configmap "${o.configMap ?? "api-config"}" not found` }
  }),
  /** An env var references a Secret that does not exist. */
  missingSecret: (o: BaseOptions & { secret?: string; key?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), env: [{ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: o.secret ?? "db-credentials", key: o.key ?? "password" } } }], ...o.workload }],
    incident: { runbooks: ["k8s.crashloop.seven-class", "k8s.crashloop.exit-code"], class: "missing_configmap_or_secret", classes: { "k8s.crashloop.exit-code": "config_error" }, target: target(o, "api"), description: `secret "${o.secret ?? "db-credentials"}" not found` }
  }),
  /** A rollout to a tag that does not exist: ErrImagePull/ImagePullBackOff on revision 2. */
  badImageTag: (o: BaseOptions & { badTag?: string } = {}): ScenarioPart => {
    const w = base(o, "api")
    const bad = `${w.image!.replace(/:[^:/]+$/, "")}:${o.badTag ?? "1.4.3-rc0"}`
    return {
      workloads: [{ ...w, ...o.workload }],
      images: { [bad]: "notFound" },
      steps: [{ action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: bad, changeCause: `deploy ${w.name} ${o.badTag ?? "1.4.3-rc0"} (commit 9d1e77c)` }],
      incident: { runbooks: ["k8s.crashloop.five-branch", "k8s.crashloop.seven-class", "k8s.image-pull"], class: "bad_image_or_tag", classes: { "k8s.image-pull": "bad_tag", "k8s.crashloop.five-branch": "image_pull_failure" }, target: target(o, "api"), description: `${bad}: not found` }
    }
  },
  /**
   * The registry rejects the pull (401). Without `pullSecret` the pod has no credentials for it;
   * with `pullSecret: "stale"` it names a `kubernetes.io/dockerconfigjson` secret (`regcred`, or
   * `secretName`) whose `auths` entry for the registry holds a rotated-away password; `"valid"`
   * holds the current one (the pull succeeds: the near-miss). `via: "serviceAccount"` attaches the
   * secret to the pods' ServiceAccount instead of the pod template.
   */
  imagePullAuth: (o: BaseOptions & { pullSecret?: "stale" | "valid"; secretName?: string; via?: "pod" | "serviceAccount"; authKey?: string } = {}): ScenarioPart => {
    const w = base(o, "api")
    const img = o.image ?? `private.registry.example.com/team/${w.name}:2.0.0`
    const ns = o.namespace ?? "default"
    if (!o.pullSecret) {
      return {
        workloads: [{ ...w, image: img, ...o.workload }],
        images: { [img]: "unauthorized" },
        incident: { runbooks: ["k8s.image-pull", "k8s.crashloop.exit-code"], class: "auth_failure", classes: { "k8s.crashloop.exit-code": "image_auth" }, target: target(o, "api"), description: `pulling ${img} answers 401 Unauthorized` }
      }
    }
    const host = img.split("/")[0]!.includes(".") ? img.split("/")[0]! : "docker.io"
    const user = { username: "ci-puller", password: "s3cr3t-2026-12" }
    const secret = o.secretName ?? "regcred"
    const password = o.pullSecret === "valid" ? user.password : "s3cr3t-2026-06"
    const config = { auths: { [o.authKey ?? host]: { username: user.username, password, auth: Buffer.from(`${user.username}:${password}`).toString("base64") } } }
    const viaSa = o.via === "serviceAccount"
    return {
      workloads: [{ ...w, image: img, ...(viaSa ? { serviceAccountName: `${w.name}-puller` } : { imagePullSecrets: [secret] }), ...o.workload }],
      registryUsers: { [host]: [user] },
      objects: [
        { apiVersion: "v1", kind: "Secret", metadata: { name: secret, namespace: ns }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") } },
        ...(viaSa ? [{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: `${w.name}-puller`, namespace: ns }, imagePullSecrets: [{ name: secret }] }] : [])
      ],
      incident: { runbooks: ["k8s.image-pull", "k8s.crashloop.exit-code"], class: "auth_failure", classes: { "k8s.crashloop.exit-code": "image_auth" }, target: target(o, "api"), description: o.pullSecret === "valid" ? `${secret} holds current credentials for ${host}: the pull succeeds` : `${secret}'s credentials for ${host} were rotated: pulling ${img} answers 401 Unauthorized` }
    }
  },
  /**
   * A mutable tag is re-pushed with a broken build: the workload pulls `Always`, so pods created
   * after the push (a rollout restart `after` the warm-up) get the new digest and panic at boot,
   * while the registry keeps the old digest pullable by `repo@sha256:…` (pinning it cures).
   */
  repushedTag: (o: BaseOptions & { after?: string } = {}): ScenarioPart => {
    const w = base(o, "api")
    const img = w.image!
    return {
      workloads: [{ ...w, imagePullPolicy: "Always", ...o.workload }],
      steps: [
        { after: o.after ?? "5m", action: "image", image: img, outcome: "push", push: { behaviour: { panicOnBoot: true } } },
        { action: "rollout", namespace: o.namespace ?? "default", workload: w.name, env: [{ name: "RESTARTED_AT", value: "after-repush" }], changeCause: `restart ${w.name} (config reload)` }
      ],
      incident: { runbooks: ["k8s.restart-loop.container", "k8s.crashloop.seven-class"], class: "image_pull", classes: { "k8s.crashloop.seven-class": "app_panic_on_boot" }, target: target(o, "api"), description: `${img} was re-pushed with a build that panics at boot; pods created since run the new digest` }
    }
  },
  /** A rollout to a tag published for linux/arm64 only: the amd64 nodes cannot pull it. */
  platformMismatch: (o: BaseOptions & { tag?: string } = {}): ScenarioPart => {
    const w = base(o, "api")
    const bad = `${w.image!.replace(/:[^:/]+$/, "")}:${o.tag ?? "1.5.0-arm64"}`
    return {
      workloads: [{ ...w, ...o.workload }],
      images: { [bad]: "platformMismatch" },
      steps: [{ action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: bad, changeCause: `deploy ${w.name} ${o.tag ?? "1.5.0-arm64"} (commit a4m64ff)` }],
      incident: { runbooks: ["k8s.image-pull", "k8s.crashloop.seven-class"], class: "bad_image_or_tag", classes: { "k8s.image-pull": "unclassified" }, target: target(o, "api"), description: `${bad} has no linux/amd64 image` }
    }
  },
  /** The registry cannot be reached (dial tcp … i/o timeout). */
  registryUnreachable: (o: BaseOptions = {}): ScenarioPart => {
    const w = base(o, "api")
    const img = o.image ?? `registry.internal.example.com/team/${w.name}:2.0.0`
    return {
      workloads: [{ ...w, image: img, ...o.workload }],
      images: { [img]: "unreachable" },
      incident: { runbooks: ["k8s.image-pull"], class: "network_misconfiguration", target: target(o, "api"), description: `the registry of ${img} times out` }
    }
  },
  /** The command names an executable the image lacks: 128 StartError, or 127 through a shell. */
  missingBinary: (o: BaseOptions & { binary?: string; viaShell?: boolean } = {}): ScenarioPart => {
    const bin = o.binary ?? "/app/server"
    return {
      workloads: [{ ...base(o, "api"), command: o.viaShell ? ["/bin/sh", "-c", `exec ${bin} --port 8080`] : [bin, "--port", "8080"], behaviour: { missingBinaries: [bin] }, ...o.workload }],
      incident: { runbooks: ["k8s.crashloop.exit-code"], class: "missing_binary", target: target(o, "api"), description: `${bin} is not in the image (exit ${o.viaShell ? 127 : 128})` }
    }
  },
  /** The init container (a migration) exits 1: Init:CrashLoopBackOff. */
  failedInit: (o: BaseOptions & { init?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), initContainers: [{ name: o.init ?? "migrate", command: ["/app/migrate", "up"], behaviour: { exitAfterSeconds: 3, exitCode: 1, logs: ["running migrations", "error: migration 0042_add_index failed: relation \"orders\" does not exist"] } }], ...o.workload }],
    incident: { runbooks: ["k8s.crashloop.seven-class"], class: "failed_init_container", target: target(o, "api"), description: `init container ${o.init ?? "migrate"} exits 1` }
  }),
  /** A liveness probe tighter than the app's start-up: killed before it ever answers. Loosening the probe cures it. */
  probeMisconfigured: (o: BaseOptions & { startupSeconds?: number } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), behaviour: { startupSeconds: o.startupSeconds ?? 45 }, livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 }, ...o.workload }],
    incident: { runbooks: ["k8s.crashloop.five-branch", "k8s.crashloop.seven-class"], class: "liveness_probe_misconfigured", classes: { "k8s.crashloop.seven-class": "probe_misconfigured" }, target: target(o, "api"), description: `liveness kills after 15s an app that needs ${o.startupSeconds ?? 45}s to start` }
  }),
  /** A new revision panics on boot (exit 2, Go panic in the previous logs). */
  panicOnBoot: (o: BaseOptions = {}): ScenarioPart => {
    const w = base(o, "api")
    return {
      workloads: [{ ...w, ...o.workload }],
      steps: [{ action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: w.image!.replace(/:[^:/]+$/, ":1.5.0"), behaviour: { panicOnBoot: true }, changeCause: `deploy ${w.name} 1.5.0 (commit c0ffee1)` }],
      incident: { runbooks: ["k8s.crashloop.seven-class", "k8s.restart-loop.container"], class: "app_panic_on_boot", classes: { "k8s.restart-loop.container": "unclassified" }, target: target(o, "api"), description: "revision 2 panics with a nil pointer dereference at boot" }
    }
  },
  /** A sidecar already holds the app's port: exit 1 with "bind: address already in use". */
  portInUse: (o: BaseOptions = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), sidecars: [{ name: "metrics-proxy", image: "registry.example.com/infra/metrics-proxy:0.9.1", ports: [8080] }], ...o.workload }],
    incident: { runbooks: ["k8s.restart-loop.container"], class: "port_bind", target: target(o, "api"), description: "the metrics-proxy sidecar binds :8080 before the app" }
  }),
  /** The app needs a dependency Service with no ready endpoints (its backing Deployment has 0 replicas); `makeDependencyReady` fixes it. */
  dependencyNotReady: (o: BaseOptions & { dependency?: string } = {}): ScenarioPart => {
    const dep = o.dependency ?? "postgres"
    return {
      workloads: [
        { name: dep, namespace: o.namespace ?? "default", replicas: 0, image: `registry.example.com/infra/${dep}:16`, port: 5432, service: { port: 5432 }, readinessProbe: { tcpSocket: { port: 5432 }, periodSeconds: 5 } },
        { ...base(o, "api"), behaviour: { dependsOn: [dep] }, ...o.workload }
      ],
      incident: { runbooks: ["k8s.crashloop.five-branch", "k8s.restart-loop.container"], class: "dependency_not_ready", classes: { "k8s.restart-loop.container": "dependency_failure" }, target: target(o, "api"), description: `service ${dep} has no ready endpoints; the app exits 1 with connection refused` }
    }
  },
  /** The container needs more memory than its limit right at start-up. */
  oomAtStartup: (o: BaseOptions & { limit?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), memoryLimit: o.limit ?? "256Mi", memory: { kind: "plateau", plateauBytes: Math.round(bytes(o.limit ?? "256Mi") * 1.4), rampSeconds: 8 }, ...o.workload }],
    incident: { runbooks: ["k8s.crashloop.five-branch", "k8s.crashloop.seven-class", "k8s.crashloop.exit-code"], class: "oom_at_startup", classes: { "k8s.crashloop.exit-code": "oom_killed" }, target: target(o, "api"), description: "OOMKilled within seconds of every start" }
  })
}

/** Pending pods (k8s.pending). */
export const pending = {
  /** Requests more memory than any node has free. */
  insufficientMemory: (o: BaseOptions & { request?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "batch"), replicas: o.replicas ?? 1, memoryRequest: o.request ?? "16Gi", ...o.workload }],
    incident: { runbooks: ["k8s.pending"], class: "resource_exhaustion", target: target(o, "batch"), description: "no node has the requested memory" }
  }),
  /** Requests more CPU than any node has free. */
  insufficientCpu: (o: BaseOptions & { request?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "batch"), replicas: o.replicas ?? 1, cpuRequest: o.request ?? "16", ...o.workload }],
    incident: { runbooks: ["k8s.pending"], class: "resource_exhaustion", target: target(o, "batch"), description: "no node has the requested cpu" }
  }),
  /** Mounts a PVC that stays Pending (no PersistentVolume, no provisioner). */
  unboundPvc: (o: BaseOptions & { claim?: string } = {}): ScenarioPart => ({
    objects: [{ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: o.claim ?? "data", namespace: o.namespace ?? "default" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } }, storageClassName: "manual" }, status: { phase: "Pending" } }],
    workloads: [{ ...base(o, "db"), replicas: 1, volumes: [{ name: "data", persistentVolumeClaim: { claimName: o.claim ?? "data" } }], volumeMounts: [{ name: "data", mountPath: "/var/lib/data" }], ...o.workload }],
    incident: { runbooks: ["k8s.pending"], class: "storage_constraints", target: target(o, "db"), description: `PVC ${o.claim ?? "data"} is unbound` }
  }),
  /** A nodeSelector no node satisfies. */
  affinityConflict: (o: BaseOptions & { selector?: Record<string, string> } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), replicas: o.replicas ?? 1, nodeSelector: o.selector ?? { disktype: "ssd" }, ...o.workload }],
    incident: { runbooks: ["k8s.pending"], class: "affinity_conflict", target: target(o, "api"), description: "no node matches the nodeSelector" }
  }),
  /** Every node carries a taint the pods do not tolerate. */
  untoleratedTaint: (o: BaseOptions & { taint?: { key: string; value?: string; effect: "NoSchedule" | "NoExecute" } } = {}): ScenarioPart => ({
    nodeTaints: [o.taint ?? { key: "dedicated", value: "gpu", effect: "NoSchedule" }],
    workloads: [{ ...base(o, "api"), replicas: o.replicas ?? 1, ...o.workload }],
    incident: { runbooks: ["k8s.pending"], class: "affinity_conflict", target: target(o, "api"), description: "every node has an untolerated taint" }
  }),
  /** Mounts a ConfigMap volume that does not exist: scheduled but stuck ContainerCreating (FailedMount). */
  missingConfigMapVolume: (o: BaseOptions & { configMap?: string } = {}): ScenarioPart => ({
    workloads: [{ ...base(o, "api"), replicas: o.replicas ?? 1, volumes: [{ name: "config", configMap: { name: o.configMap ?? "api-config" } }], volumeMounts: [{ name: "config", mountPath: "/etc/api" }], ...o.workload }],
    incident: { runbooks: ["k8s.pending"], class: "missing_dependencies", target: target(o, "api"), description: `configmap "${o.configMap ?? "api-config"}" not found for a volume` }
  })
}

/** The cause of a NotReady node. */
export type NotReadyCause = "kubelet-stopped" | "kubelet-failed" | "runtime-crash" | "network-plugin" | "hardware"

/** Node family (k8s.node.not-ready, k8s.node.pressure-drain). */
export const node = {
  /** A node goes NotReady for a chosen cause, after the workloads are running. */
  notReady: (o: { node?: string; cause?: NotReadyCause; workload?: BaseOptions } = {}): ScenarioPart => {
    const n = o.node ?? "node-2"
    const cause = o.cause ?? "kubelet-stopped"
    const host = cause === "kubelet-stopped"
      ? { kubelet: "inactive" as const, kubeletLog: ["systemd[1]: kubelet.service: Deactivated successfully.", "systemd[1]: Stopped kubelet: The Kubernetes Node Agent."] }
      : cause === "kubelet-failed"
      ? { kubelet: "failed" as const, kubeletLog: ["kubelet[2231]: E1128 run.go:74] \"command failed\" err=\"failed to run Kubelet: unable to load client CA file\"", "systemd[1]: kubelet.service: Failed with result 'exit-code'."] }
      : cause === "runtime-crash"
      ? { runtime: "failed" as const, kubeletLog: ["kubelet[2231]: E1128 remote_runtime.go:633] \"Status from runtime service failed\" err=\"rpc error: code = Unavailable desc = connection error: desc = \\\"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: connection refused\\\"\"", "kubelet[2231]: \"Container runtime not ready\" runtimeReady=\"RuntimeReady=false reason:ContainerRuntimeNotReady\""] }
      : cause === "network-plugin"
      ? { network: "down" as const, cniDaemonSet: "kube-system/calico-node", kubeletLog: ["kubelet[2231]: E1128 kubelet.go:2862] \"Container runtime network not ready\" networkReady=\"NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized\""] }
      : { hardwareFailure: true, kernelLog: ["kernel: mce: [Hardware Error]: CPU 3: Machine Check Exception: 5 Bank 4: b200000000070f0f", "kernel: mce: [Hardware Error]: Machine check events logged", "kernel: Kernel panic - not syncing: Fatal machine check"] }
    const wl = base(o.workload ?? {}, "api")
    const parts: ScenarioPart = {
      workloads: [
        { ...wl, replicas: o.workload?.replicas ?? 3, pdb: { maxUnavailable: 1 }, ...o.workload?.workload },
        ...(cause === "network-plugin" ? [{ kind: "DaemonSet" as const, name: "calico-node", namespace: "kube-system", image: "docker.io/calico/node:v3.28.1", hostNetwork: true, port: 9099, tolerations: [{ operator: "Exists" }], readinessProbe: { httpGet: { path: "/readiness", port: 9099 }, periodSeconds: 10 } }] : [])
      ],
      steps: [{ after: "1m", action: "nodeHost", node: n, host }],
      incident: { runbooks: ["k8s.node.not-ready", "k8s.node.pressure-drain"], class: cause === "kubelet-stopped" ? "transient_kubelet_hang" : cause === "runtime-crash" ? "runtime_crash" : cause === "network-plugin" ? "network_plugin_failure" : cause === "hardware" ? "hardware_cloud_failure" : "unknown", target: { kind: "Node", name: n }, description: `${n} NotReady: ${cause}` }
    }
    return parts
  },
  /** A BestEffort memory hog pinned to the node leaks until MemoryPressure; the kubelet evicts it; healthy pods stay. */
  memoryPressure: (o: { node?: string; hogGrowthPerMinute?: string } = {}): ScenarioPart => {
    const n = o.node ?? "node-2"
    return {
      workloads: [
        { ...base({}, "api"), replicas: 3, memoryLimit: "1Gi", memoryRequest: "512Mi", memory: { kind: "steady", bytes: 300 * 2 ** 20 } },
        { name: "cache-warmer", replicas: 1, nodeSelector: { "kubernetes.io/hostname": n }, memory: { kind: "leak", baseBytes: 256 * 2 ** 20, bytesPerMinute: o.hogGrowthPerMinute ?? "1Gi" } }
      ],
      incident: { runbooks: ["k8s.node.pressure-drain", "k8s.node.not-ready"], class: "resource_pressure_mem_pid", target: { kind: "Node", name: n }, description: `cache-warmer (BestEffort) leaks on ${n} until MemoryPressure and eviction` }
    }
  },
  /** A log-spamming pod fills the node's disk: DiskPressure and eviction. */
  diskPressure: (o: { node?: string } = {}): ScenarioPart => {
    const n = o.node ?? "node-2"
    return {
      workloads: [
        { ...base({}, "api"), replicas: 3 },
        { name: "log-spammer", replicas: 1, nodeSelector: { "kubernetes.io/hostname": n }, behaviour: { diskBytes: 12 * 2 ** 30 } }
      ],
      hosts: { [n]: { hostDiskBytes: 80 * 2 ** 30 } },
      incident: { runbooks: ["k8s.node.not-ready", "k8s.node.pressure-drain"], class: "resource_pressure_disk", target: { kind: "Node", name: n }, description: `log-spammer pushes ${n} past the nodefs.available threshold` }
    }
  },
  /** A fork-happy pod exhausts the node's PIDs: PIDPressure and eviction. */
  pidPressure: (o: { node?: string } = {}): ScenarioPart => {
    const n = o.node ?? "node-2"
    return {
      workloads: [
        { ...base({}, "api"), replicas: 3 },
        { name: "forker", replicas: 1, nodeSelector: { "kubernetes.io/hostname": n }, behaviour: { pids: 31_500 } }
      ],
      incident: { runbooks: ["k8s.node.not-ready", "k8s.node.pressure-drain"], class: "resource_pressure_mem_pid", target: { kind: "Node", name: n }, description: `forker exhausts the PIDs of ${n}` }
    }
  }
}

/** Rollout family (k8s.deploy.failed-rollout). */
export const rollout = {
  /** Revision 2's pods never pass readiness; the rollout stalls and hits ProgressDeadlineExceeded. Old pods keep serving. */
  neverReady: (o: BaseOptions & { progressDeadlineSeconds?: number } = {}): ScenarioPart => {
    const w = base(o, "api")
    return {
      workloads: [{ ...w, replicas: o.replicas ?? 3, progressDeadlineSeconds: o.progressDeadlineSeconds ?? 180, requestRate: 120, ...o.workload }],
      steps: [{ action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: w.image!.replace(/:[^:/]+$/, ":1.5.0"), behaviour: { neverReady: true }, changeCause: `deploy ${w.name} 1.5.0 (commit 7a1b2c3)` }],
      incident: { runbooks: ["k8s.deploy.failed-rollout"], class: "readiness_never_ready", target: target(o, "api"), description: "revision 2 fails readiness forever" }
    }
  },
  /** Recreate strategy with a never-ready revision: 0 ready pods and ProgressDeadlineExceeded. */
  stuck: (o: BaseOptions = {}): ScenarioPart => {
    const w = base(o, "api")
    return {
      workloads: [{ ...w, strategy: { type: "Recreate" }, progressDeadlineSeconds: 120, requestRate: 120, ...o.workload }],
      steps: [{ action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: w.image!.replace(/:[^:/]+$/, ":1.5.0"), behaviour: { neverReady: true }, changeCause: `deploy ${w.name} 1.5.0 (commit 7a1b2c3)` }],
      incident: { runbooks: ["k8s.deploy.failed-rollout"], class: "rollout_stuck", target: target(o, "api"), description: "no pod of revision 2 ever becomes ready and none of revision 1 is left" }
    }
  },
  /** Revision 2 answers 25% of requests with 5xx. */
  errorSpike: (o: BaseOptions & { errorRatio?: number } = {}): ScenarioPart => {
    const w = base(o, "api")
    return {
      workloads: [{ ...w, replicas: o.replicas ?? 3, requestRate: 300, behaviour: { errorRatio: 0.002 }, ...o.workload }],
      steps: [{ after: "5m", action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: w.image!.replace(/:[^:/]+$/, ":1.5.0"), behaviour: { errorRatio: o.errorRatio ?? 0.25 }, changeCause: `deploy ${w.name} 1.5.0 (commit 5e5e5e5)` }],
      incident: { runbooks: ["k8s.deploy.failed-rollout"], class: "deploy_5xx_spike", target: target(o, "api"), description: `revision 2 serves ${(o.errorRatio ?? 0.25) * 100}% 5xx` }
    }
  },
  /** Revision 2's p95 latency jumps from 120 ms to 1.8 s. */
  latencyRegression: (o: BaseOptions & { p95Seconds?: number } = {}): ScenarioPart => {
    const w = base(o, "api")
    return {
      workloads: [{ ...w, replicas: o.replicas ?? 3, requestRate: 300, ...o.workload }],
      steps: [{ after: "5m", action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: w.image!.replace(/:[^:/]+$/, ":1.5.0"), behaviour: { latencyP95Seconds: o.p95Seconds ?? 1.8 }, changeCause: `deploy ${w.name} 1.5.0 (commit 1a7e1c4)` }],
      incident: { runbooks: ["k8s.deploy.failed-rollout"], class: "deploy_health_regression", target: target(o, "api"), description: "p95 latency regresses on revision 2" }
    }
  },
  /** The 5xx started 10 minutes before the rollout (a failing downstream, with Warning events): rolling back would not help. */
  falseAttribution: (o: BaseOptions & { errorRatio?: number } = {}): ScenarioPart => {
    const w = base(o, "api")
    return {
      workloads: [
        { name: "payments", namespace: o.namespace ?? "default", replicas: 2, readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 10 }, behaviour: { probeLatencyMs: 3000 }, service: true },
        { ...w, replicas: o.replicas ?? 3, requestRate: 300, behaviour: { errorRatio: o.errorRatio ?? 0.15 }, ...o.workload }
      ],
      steps: [{ after: "10m", action: "rollout", namespace: o.namespace ?? "default", workload: w.name, image: w.image!.replace(/:[^:/]+$/, ":1.5.0"), changeCause: `deploy ${w.name} 1.5.0 (commit 0ddba11)` }],
      incident: { runbooks: ["k8s.deploy.failed-rollout"], class: "do_not_rollback", target: target(o, "api"), description: "5xx and Warning events on the payments dependency began 10 minutes before the rollout" }
    }
  },
  /** A canary Deployment (track=canary) burns its error budget faster than the stable one. */
  canarySloBurn: (o: BaseOptions & { canaryErrorRatio?: number } = {}): ScenarioPart => {
    const name = o.name ?? "api"
    const ns = o.namespace ?? "default"
    return {
      workloads: [
        { ...base(o, name), replicas: 4, labels: { track: "stable" }, requestRate: 400, behaviour: { errorRatio: 0.001 }, service: false },
        { ...base({ ...o, name: `${name}-canary` }, `${name}-canary`), replicas: 1, labels: { app: name, track: "canary" }, image: `registry.example.com/shop/${name}:1.5.0`, changeCause: `canary ${name} 1.5.0 (commit 8b8b8b8)`, requestRate: 100, behaviour: { errorRatio: o.canaryErrorRatio ?? 0.08 }, service: false }
      ],
      objects: [{ apiVersion: "v1", kind: "Service", metadata: { name, namespace: ns }, spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } }],
      incident: { runbooks: ["k8s.deploy.failed-rollout"], class: "canary_slo_burn", target: { kind: "Deployment", namespace: ns, name: `${name}-canary` }, description: `the canary serves ${(o.canaryErrorRatio ?? 0.08) * 100}% 5xx against 0.1% on stable` }
    }
  }
}
