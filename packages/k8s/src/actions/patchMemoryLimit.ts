/**
 * `k8s.patchMemoryLimit`: a strategic-merge patch of one container's `resources.limits.memory`
 * in a Deployment or StatefulSet, conditional on the workload's resourceVersion. When the
 * workload changed since planning (409: its status moves all the time), the handler re-reads it
 * and retries (up to 3 times) only if the container's limit is still the one the plan started from — the
 * state it was planned from — otherwise it fails as a conflict. A 429, a 5xx or a connection lost
 * before the answer (ambiguous: the patch may have applied) is retried, the same conditional
 * patch, after Retry-After or a backoff (1, 2, 4, 8 s; 5 attempts); a 409 whose re-read shows the
 * planned limit already in place is settled as applied (an attempt whose answer was lost), never
 * patched again; the reads after the patch (the 409's re-read, the rollout wait) retry the same
 * way, so a throttled read never fails an action that applied. In dry_run the patch is sent
 * with `dryRun=All` (the apiserver validates and admits it, nothing is persisted) and no Event
 * is recorded; otherwise a `MemoryLimitRaised` Event is recorded on the workload and the
 * handler waits (on the Effect Clock, polling every 2 s, up to `rolloutTimeoutSeconds`, default
 * 120) for the rollout to complete, so verification windows start once the new pods run.
 *
 * `observe` (used when an interrupted incident resumes) reads the container's limit: the planned
 * `toBytes` is applied, the planned `fromBytes` is not applied, anything else is unknown.
 *
 * Guardrails (on the action kind, so every runbook that bumps memory gets them):
 * - `never` on a `genuine_memory_leak` classification;
 * - `ceiling` ≤ `maxFactor` × the baseline limit (`baseline.memoryLimitBytes`, taken when the
 *   target's lease was acquired, so bumps never compound; a runbook without that baseline is
 *   measured from the plan's `fromBytes`);
 * - `ceiling` ≤ `nodeAllocatableRatio` × the node's allocatable memory (`params.nodeAllocatableBytes`;
 *   unknown allocatable denies);
 * - `rateLimit` `bumpsPerDay` per 24 h per workload container (the target ref), so a replacement
 *   pod of the same workload cannot be bumped again.
 *
 * Debug logging in the same patch (k8s.oom.exit-137): with `params.debugLogging` (the env var and
 * value the workload declares in `byteport.io/debug-logging`, and the value it had), the same
 * strategic-merge body also sets that env var (`SetDebugLogging.addDebugEnv`), so memory and
 * logging change in one rollout; the guardrail `never_undeclared_debug_logging` (read live) denies
 * it on a workload that does not declare exactly that switch, and the handler's timed undo (a
 * `k8s.setDebugLogging` undo, after `ttlSeconds` or 24 h) puts the previous value back. The undo
 * needs the `k8s.setDebugLogging` handler registered.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail } from "@byteport/core"
import { Clock, Duration, Effect, Schema } from "effect"
import * as SetDebugLogging from "./setDebugLogging"
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import { Kube } from "../Kube"
import { isRetryable, type KubeError } from "../KubeError"
import * as KubePatch from "../KubePatch"
import { formatBytes, humanBytes, parse as parseQuantity } from "../Quantity"
import { type ActionSettings, defaults } from "./settings"

/** The action kind. */
export const KIND = "k8s.patchMemoryLimit"

/** The params. */
export const Params = Schema.Struct({
  namespace: Schema.String,
  workloadKind: Schema.Literals(["Deployment", "StatefulSet"]),
  workloadName: Schema.String,
  container: Schema.String,
  fromBytes: Schema.Number,
  toBytes: Schema.Number.check(Schema.isGreaterThan(0)),
  nodeAllocatableBytes: Schema.NullOr(Schema.Number),
  reason: Schema.String,
  rolloutTimeoutSeconds: Schema.optionalKey(Schema.Number),
  /** The container is a native sidecar: patched under `initContainers` (never added to `containers`). */
  initContainer: Schema.optionalKey(Schema.Boolean),
  /** Debug logging switched on in the same patch (the workload's declared env var). */
  debugLogging: Schema.optionalKey(Schema.Struct({
    env: Schema.String,
    value: Schema.String,
    previous: Schema.NullOr(Schema.String),
    ttlSeconds: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThan(0)))
  }))
})

/** The params. */
export type Params = typeof Params.Type

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)
const isLeak = (c: Guardrail.GuardrailContext) => c.classification._tag === "Classified" && c.classification.class === "genuine_memory_leak"

/** The guardrails of the action kind. */
export const guardrails = (s: ActionSettings = defaults): ReadonlyArray<Guardrail.Guardrail<never>> => [
  Guardrail.never(isLeak, "never bump memory on a genuine_memory_leak", { name: "never_bump_a_leak" }),
  Guardrail.ceiling({
    name: `ceiling(${s.maxFactor}× baseline limit)`,
    proposed: (c) => num(c.action.params["toBytes"]),
    limit: (c) => {
      const base = Guardrail.numberFromJson(c.baseline["memoryLimitBytes"]) ?? num(c.action.params["fromBytes"])
      return base === undefined || base <= 0 ? undefined : base * s.maxFactor
    },
    describe: humanBytes
  }),
  Guardrail.ceiling({
    name: `ceiling(${s.nodeAllocatableRatio} of node allocatable)`,
    proposed: (c) => num(c.action.params["toBytes"]),
    limit: (c) => {
      const a = num(c.action.params["nodeAllocatableBytes"])
      return a === undefined ? undefined : a * s.nodeAllocatableRatio
    },
    describe: humanBytes
  }),
  Guardrail.rateLimit({
    name: `memory_bumps_per_workload_container(${s.bumpsPerDay}/24h)`,
    key: Guardrail.keys.perTarget("k8s.memory-bump"),
    max: s.bumpsPerDay,
    window: "24 hours"
  })
]

const ActionFailed = ActionHandler.ActionFailed

/** Attempts of a request on 429, 5xx or a lost connection. */
const RETRIES = 5

/** `eff` again after Retry-After or a backoff (1, 2, 4, 8 s) while it fails retryably (429, 5xx, a lost connection), `RETRIES` attempts in all. */
const retrying = <A>(eff: Effect.Effect<A, KubeError, Kube>, attempt = 1): Effect.Effect<A, KubeError, Kube> =>
  eff.pipe(
    Effect.catchIf(
      (e: KubeError) => isRetryable(e) && attempt < RETRIES,
      (e) => Effect.andThen(Effect.sleep(Duration.seconds(e._tag === "KubeTooManyRequests" ? e.retryAfterSeconds ?? 1 : Math.min(8, 2 ** (attempt - 1)))), retrying(eff, attempt + 1))
    )
  )

type Obj = V1Deployment | V1StatefulSet

/** Never debug logging the workload does not declare exactly (only when `params.debugLogging` is set; read live). */
export const neverUndeclaredDebug: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "never_undeclared_debug_logging",
  recheckOnResume: true,
  check: (ctx) =>
    Effect.gen(function*() {
      const d = ctx.action.params["debugLogging"] as { readonly env?: unknown; readonly value?: unknown } | undefined | null
      if (d === undefined || d === null) return Guardrail.pass
      const p = ctx.action.params as unknown as Params
      const live = yield* Effect.result(readWorkload(p))
      if (live._tag === "Failure") return Guardrail.deny(`never_undeclared_debug_logging: could not read ${p.workloadKind} ${p.namespace}/${p.workloadName} (${live.failure._tag})`)
      const declared = SetDebugLogging.declaredOn(live.success)
      return declared !== undefined && declared.env === d.env && declared.value === d.value
        ? Guardrail.pass
        : Guardrail.deny(`never_undeclared_debug_logging: ${p.workloadKind} ${p.namespace}/${p.workloadName} declares ${declared ? `env:${declared.env}=${declared.value}` : `no ${SetDebugLogging.ANNOTATION} annotation`}, not env:${String(d.env)}=${String(d.value)}`)
    })
})

const readWorkload = (p: Params): Effect.Effect<Obj, KubeError, Kube> =>
  Effect.flatMap(Kube, (k) => (p.workloadKind === "Deployment" ? k.getDeployment(p.namespace, p.workloadName) : k.getStatefulSet(p.namespace, p.workloadName)))

const limitOf = (o: Obj, container: string): string | undefined =>
  [...(o.spec?.template.spec?.containers ?? []), ...(o.spec?.template.spec?.initContainers ?? [])].find((c) => c.name === container)?.resources?.limits?.["memory"]

/** The handler. */
export const make = (s: ActionSettings = defaults): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: [...guardrails(s), neverUndeclaredDebug],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const to = formatBytes(p.toBytes)
        const list = p.initContainer === true ? "initContainers" : "containers"
        const limitBody = { spec: { template: { spec: { [list]: [{ name: p.container, resources: { limits: { memory: to } } }] } } } }
        const body = p.debugLogging && p.initContainer !== true ? SetDebugLogging.addDebugEnv(limitBody, p.container, p.debugLogging) : limitBody
        const once = (rv: string) => kube.patch(p.workloadKind, { namespace: p.namespace, name: p.workloadName }, KubePatch.strategic(rv, body), { dryRun: ctx.dryRun })
        // 429 / 5xx / a connection lost before the answer (ambiguous: it may have applied): the same
        // conditional patch again, after Retry-After or a backoff; if the first one did apply, the
        // resourceVersion moved and the retry is a 409, settled below by reading the limit
        const send = (rv: string): Effect.Effect<Obj, KubeError, Kube> => (rv === "" ? once(rv) : retrying(once(rv)))
        const rv = String(ctx.action.precondition["resourceVersion"] ?? "")
        // a 409 is settled by reading the limit: still the planned one → the patch again on the fresh
        // resourceVersion (a workload whose status moves on every pod restart — crash-looping
        // replicas — may conflict more than once: up to 3 times); another limit → a conflict
        const settle = (left: number): Effect.Effect<Obj, KubeError | ActionHandler.ActionFailed, Kube> =>
          Effect.gen(function*() {
            const fresh = yield* retrying(readWorkload(p))
            const current = limitOf(fresh, p.container)
            // an earlier attempt applied (its answer was lost): settled, as `observe` would, without a second write
            if (!ctx.dryRun && current !== undefined && parseQuantity(current) === p.toBytes) return fresh
            if (current !== formatBytes(p.fromBytes)) {
              return yield* new ActionFailed({ kind: KIND, conflict: true, message: `${p.workloadKind} ${p.namespace}/${p.workloadName} container ${p.container} limit is ${current ?? "unset"}, not the planned ${formatBytes(p.fromBytes)}` })
            }
            const again = send(fresh.metadata?.resourceVersion ?? "")
            return yield* (left > 1 ? again.pipe(Effect.catchTag("KubeConflict", () => settle(left - 1))) : again)
          })
        const patched = yield* send(rv).pipe(
          Effect.catchTag("KubeConflict", () => settle(3)),
          Effect.mapError((e) => (e._tag === "ActionFailed" ? e : new ActionFailed({ kind: KIND, conflict: e._tag === "KubeConflict", message: e.message })))
        )
        const what = `${p.workloadKind.toLowerCase()}/${p.workloadName} container ${p.container} memory limit ${formatBytes(p.fromBytes)} → ${to}${p.debugLogging ? ` and ${p.debugLogging.env}=${p.debugLogging.value}` : ""}`
        yield* recordEvent(patched, "MemoryLimitRaised", `BytePort raised the ${what} (${p.reason}; incident ${ctx.incidentId})`, {
          dryRun: ctx.dryRun,
          kind: p.workloadKind,
          apiVersion: "apps/v1"
        })
        let rollout = "not awaited"
        if (!ctx.dryRun) {
          const start = yield* Clock.currentTimeMillis
          const generation = patched.metadata?.generation ?? 0
          for (;;) {
            // the patch is applied: a read the apiserver throttles or fails is retried, never a failed action
            const w = yield* retrying(readWorkload(p)).pipe(Effect.mapError((e) => new ActionFailed({ kind: KIND, message: e.message })))
            const want = w.spec?.replicas ?? 1
            const st = w.status
            if ((st?.observedGeneration ?? 0) >= generation && (st?.updatedReplicas ?? 0) >= want && (st?.readyReplicas ?? 0) >= want && (st?.replicas ?? 0) === want) {
              rollout = "complete"
              break
            }
            if ((yield* Clock.currentTimeMillis) - start >= (p.rolloutTimeoutSeconds ?? 120) * 1000) {
              rollout = `not complete after ${p.rolloutTimeoutSeconds ?? 120}s (${st?.updatedReplicas ?? 0}/${want} updated, ${st?.readyReplicas ?? 0} ready)`
              break
            }
            yield* Effect.sleep("2 seconds")
          }
        }
        return {
          detail: ctx.dryRun ? `would raise ${what} (validated by the apiserver with dryRun=All)` : `raised ${what}; rollout ${rollout}`,
          result: { fromBytes: p.fromBytes, toBytes: p.toBytes, limit: to, resourceVersion: patched.metadata?.resourceVersion ?? "", rollout, dryRun: ctx.dryRun }
        }
      }),
    observe: (p) =>
      Effect.map(readWorkload(p), (w) => {
        const current = limitOf(w, p.container)
        const bytes = parseQuantity(current)
        const what = `${p.workloadKind} ${p.namespace}/${p.workloadName} container ${p.container} memory limit is ${current ?? "unset"}`
        if (bytes === p.toBytes) return ActionHandler.applied(what)
        if (bytes === p.fromBytes) return ActionHandler.notApplied(what)
        return ActionHandler.unknown(`${what}: neither the planned ${formatBytes(p.fromBytes)} nor ${formatBytes(p.toBytes)}`)
      }),
    timedUndo: (p, action) => {
      if (!p.debugLogging) return undefined
      const d = p.debugLogging
      const undo = Action.make({
        kind: SetDebugLogging.KIND,
        target: action.target,
        params: { container: p.container, env: d.env, value: d.value, previous: d.previous, undo: true, reason: `debug logging of the memory bump ran its TTL (${p.reason})` },
        description: `restore ${d.env}${d.previous === null ? " (unset)" : `=${d.previous}`} in container ${p.container} after debug logging`
      })
      return { after: d.ttlSeconds !== undefined ? Duration.seconds(d.ttlSeconds) : SetDebugLogging.DEFAULT_TTL, action: undo }
    }
  })

