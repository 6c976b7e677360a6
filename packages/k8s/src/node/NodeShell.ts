/**
 * `NodeShell`: how a runbook runs a command on a node's host (`systemctl is-active kubelet`,
 * `journalctl -k`, `df -i`, `crictl images -o json` …). A resolver, node name → core `Shell`,
 * supplied by the user:
 *
 * - `none` (the default): no node has a shell; node facts are Unknown and the runbook escalates.
 * - `layer(f)`: any resolver (`Shell.local` on the node itself, `@byteport/host`'s `Ssh` per node …).
 * - `fromShell(shell)`: one Shell for every node.
 * - `viaExec(options)`: `Kube.exec` into the privileged, hostPID DaemonSet pod on that node,
 *   running `nsenter -t 1 -m -u -i -n -p -- <argv>` (the host's mount, UTS, IPC, network and PID
 *   namespaces). RBAC: `pods` list and `pods/exec` create in the DaemonSet's namespace, and
 *   `daemonsets` list there when the DaemonSet is named.
 *
 * A command that could not run, was refused (no pod, 403, the API server unreachable) or timed out
 * is a `ShellError`; callers map it to Unknown, never to a guess. A non-zero exit code is a result.
 *
 * @since 0.2.0
 */
import { Shell } from "@byteport/core/shell"
import type { V1DaemonSet, V1Pod, V1Status } from "@kubernetes/client-node"
import { Context, Effect, Layer, Option } from "effect"
import type * as KubeError from "../KubeError"
import { Kube } from "../Kube"

/** The NodeShell service: the Shell of a node's host, if there is one. */
export class NodeShell extends Context.Service<NodeShell, {
  readonly forNode: (node: string) => Effect.Effect<Option.Option<Shell.ShellShape>>
}>()("@byteport/k8s/NodeShell") {}

/** The resolver a NodeShell is built from. */
export type Resolver = (node: string) => Effect.Effect<Option.Option<Shell.ShellShape>>

/** A NodeShell from a resolver (node name → Shell, or none for a node without one). */
export const make = (forNode: Resolver): NodeShell["Service"] => NodeShell.of({ forNode })

/** No node has a shell: every node fact is Unknown (the default). */
export const none: Layer.Layer<NodeShell> = Layer.succeed(NodeShell, make(() => Effect.succeed(Option.none())))

/** A NodeShell from a resolver. */
export const layer = (f: Resolver): Layer.Layer<NodeShell> => Layer.succeed(NodeShell, make(f))

/** One Shell for every node (e.g. `Shell.local` when BytePort runs on the node itself, or a test Shell). */
export const fromShell = (shell: Shell.ShellShape): Layer.Layer<NodeShell> => layer(() => Effect.succeed(Option.some(shell)))

/** The Shell of a node with the NodeShell service (none: no shell there). */
export const forNode = (node: string): Effect.Effect<Option.Option<Shell.ShellShape>, never, NodeShell> =>
  Effect.flatMap(Effect.service(NodeShell), (s) => s.forNode(node))

// ---------------------------------------------------------------------------------------------
// viaExec

/** Options of `viaExec`. */
export interface ViaExecOptions {
  /** The namespace of the node-shell DaemonSet (default `byteport-system`). */
  readonly namespace?: string
  /**
   * The label selector of its pods (default `app.kubernetes.io/name=byteport-node-shell`).
   * Ignored when `daemonSet` is set (its own selector is used).
   */
  readonly selector?: string
  /** The DaemonSet's name: its pods are found through its `spec.selector` (needs `daemonsets` list). */
  readonly daemonSet?: string
  /** The container to exec into (default: the pod's first container). */
  readonly container?: string
  /** The command prefix that enters the host (default `nsenter -t 1 -m -u -i -n -p --`). */
  readonly enter?: ReadonlyArray<string>
}

/** The default namespace of the node-shell DaemonSet. */
export const DEFAULT_NAMESPACE = "byteport-system"
/** The default label selector of the node-shell pods. */
export const DEFAULT_SELECTOR = "app.kubernetes.io/name=byteport-node-shell"
/** The default host-entering prefix: PID 1's mount, UTS, IPC, network and PID namespaces. */
export const DEFAULT_ENTER: ReadonlyArray<string> = ["nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--"]

const selectorOf = (ds: V1DaemonSet): string | undefined => {
  const sel = ds.spec?.selector
  const parts = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`)
  for (const e of sel?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(",")
    if (e.operator === "In") parts.push(`${e.key} in (${values})`)
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${values})`)
    else if (e.operator === "Exists") parts.push(e.key)
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`)
  }
  return parts.length === 0 ? undefined : parts.join(",")
}

const isRunning = (p: V1Pod): boolean =>
  p.status?.phase === "Running" && p.metadata?.deletionTimestamp === undefined &&
  (p.metadata?.ownerReferences ?? []).some((o) => o.kind === "DaemonSet" && o.controller === true)

/** The exit code of an exec's final Status: 0 for Success, N for NonZeroExitCode, undefined otherwise. */
export const exitCodeOf = (status: V1Status | undefined): number | undefined => {
  if (status === undefined) return undefined
  if (status.status === "Success") return 0
  if (status.reason !== "NonZeroExitCode") return undefined
  const cause = (status.details?.causes ?? []).find((c) => c.reason === "ExitCode")
  const n = cause?.message !== undefined && /^\d+$/.test(cause.message) ? Number(cause.message) : undefined
  return n
}

const reasonOf = (e: KubeError.KubeError): string => e.reason

/**
 * A NodeShell that runs commands through `Kube.exec` in the node-shell DaemonSet's pod on the node
 * (privileged, `hostPID: true`), prefixed with `nsenter -t 1 -m -u -i -n -p --`. The pod is looked
 * up for every command (it may have been recreated). Every node gets a Shell named `exec:<node>`;
 * a command fails with a `ShellError` (`SpawnFailed`) when there is no running pod on the node, the
 * API refuses the exec or the stream ends without an exit status; `TimedOut` past its timeout.
 */
export const viaExec = (options: ViaExecOptions = {}): Layer.Layer<NodeShell, never, Kube> =>
  Layer.effect(
    NodeShell,
    Effect.gen(function*() {
      const kube = yield* Kube
      const namespace = options.namespace ?? DEFAULT_NAMESPACE
      const enter = options.enter ?? DEFAULT_ENTER
      const podOn = (node: string): Effect.Effect<V1Pod | string, KubeError.KubeError> =>
        Effect.gen(function*() {
          let selector = options.selector ?? DEFAULT_SELECTOR
          if (options.daemonSet !== undefined) {
            const dss = yield* kube.listDaemonSets({ namespace, fieldSelector: `metadata.name=${options.daemonSet}` })
            const ds = dss.find((d) => d.metadata?.name === options.daemonSet)
            if (ds === undefined) return `no DaemonSet ${namespace}/${options.daemonSet}`
            const s = selectorOf(ds)
            if (s === undefined) return `DaemonSet ${namespace}/${options.daemonSet} has no selector`
            selector = s
          }
          const pods = yield* kube.listPods({ namespace, labelSelector: selector, fieldSelector: `spec.nodeName=${node}` })
          const running = pods.filter((p) => p.spec?.nodeName === node && isRunning(p))
          return running[0] ?? `no running node-shell pod on node ${node} (${namespace}, ${selector})`
        })
      const shellFor = (node: string): Shell.ShellShape => {
        const name = `exec:${node}`
        return Shell.make((request) =>
          Effect.gen(function*() {
            const spawnFailed = (message: string, code?: string) =>
              Shell.error(name, request, "SpawnFailed", { message: `${request.argv[0]}: ${message}`, ...(code !== undefined ? { code } : {}) })
            if (request.stdin !== undefined || request.cwd !== undefined) {
              return yield* Effect.fail(Shell.error(name, request, "InvalidCommand", { message: `${request.argv[0]}: a node shell over exec passes neither stdin nor a working directory` }))
            }
            const envPrefix = Object.keys(request.env).length > 0 || !request.inheritEnv
              ? ["env", ...(request.inheritEnv ? [] : ["-i"]), ...Object.entries(request.env).map(([k, v]) => `${k}=${v}`)]
              : []
            const pod = yield* podOn(node).pipe(Effect.mapError((e) => spawnFailed(`could not find the node-shell pod: ${e.message}`, reasonOf(e))))
            if (typeof pod === "string") return yield* Effect.fail(spawnFailed(pod, "NoPod"))
            const container = options.container ?? pod.spec?.containers[0]?.name ?? ""
            const r = yield* kube.exec(namespace, pod.metadata?.name ?? "", container, [...enter, ...envPrefix, ...request.argv]).pipe(
              Effect.mapError((e) => spawnFailed(`exec refused: ${e.message}`, reasonOf(e)))
            )
            const exitCode = exitCodeOf(r.status)
            if (exitCode === undefined) {
              return yield* Effect.fail(spawnFailed(r.status === undefined
                ? "the exec stream ended without an exit status"
                : `exec failed: ${r.status.reason ?? "Failure"}: ${r.status.message ?? ""}`, r.status?.reason ?? "NoStatus"))
            }
            return { exitCode, stdout: r.stdout, stderr: r.stderr }
          }), { name })
      }
      return make((node) => Effect.succeed(Option.some(shellFor(node))))
    })
  )
