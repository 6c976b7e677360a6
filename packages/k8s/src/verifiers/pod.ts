/**
 * The shared pod verifier of the pod-family runbooks (restarts, restores, holds): a pod counts
 * as recovered only once it has been **Ready for 2× its longest pre-crash run, and at least
 * 2 minutes** (a crash loop whose container dies after 90 s is not cured by a pod that has been
 * Ready for 60 s). Because that window depends on the incident (the pod's own runs), it is held
 * inside the verifier: it polls every `pollSeconds` (15) from the restart until the window is
 * met, and ends the attempt at once when a pod that was Ready stops being Ready, its container
 * restarts, or the window cannot be met any more (`startupGraceSeconds`, 120, for the
 * replacement to become Ready). The schedule then retries once 15 s later (`schedule`, the
 * seed's "retry once at 15 s"); core escalates when the retry fails too.
 *
 * `restarted` checks the replacement pods of a workload after a `k8s.restartPod` (the pods
 * created at or after the restart, never the deleted uid) — or the pod itself when no restart was
 * needed (`onlyUid`) — : the container started, Ready held, restartCount stable.
 *
 * One implementation for the whole family: `holdLoop` (the poll-until-held loop with its hard
 * failures and deadline), `isHeld`/`heldCheck` (Ready for the required hold with no termination
 * since it turned Ready), `longestRunMs` and `schedule` are what k8s.crashloop.five-branch,
 * k8s.crashloop.seven-class, k8s.restart-loop.container and k8s.crashloop.exit-code verify with;
 * their own verifiers only add the per-fix checks (readyReplicas, liveness kills, the dependency,
 * the memory bump).
 *
 * @since 0.3.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { Check, type Verdict, Verifier } from "@byteport/core"
import { Clock, Duration, Effect, Schema } from "effect"
import * as RestartPod from "../actions/restartPod"
import { Kube } from "../Kube"
import * as Quantity from "../Quantity"

type Check = Verdict.CheckResult

/** Settings of the held pod verification. */
export interface PodVerifySettings {
  /** A pod counts once Ready for this multiple of its longest pre-crash run (default 2). */
  readonly runFactor: number
  /** … and at least this long, in seconds (default 120). */
  readonly minHoldSeconds: number
  /** Poll interval within the hold, in seconds (default 15). */
  readonly pollSeconds: number
  /** How long the replacement may take to become Ready before the hold starts, in seconds (default 120). */
  readonly startupGraceSeconds: number
  /** The retry after a failed attempt, in seconds (default 15: the seed's "retry once at 15 s"). */
  readonly retrySeconds: number
}

/** The defaults. */
export const defaults: PodVerifySettings = { runFactor: 2, minHoldSeconds: 120, pollSeconds: 15, startupGraceSeconds: 120, retrySeconds: 15 }

/** How long a pod must be Ready to count (ms): max(runFactor × longest pre-crash run, minHold). */
export const requiredHoldMs = (longestRunMs: number | null, s: Pick<PodVerifySettings, "runFactor" | "minHoldSeconds"> = defaults): number =>
  Math.max(s.runFactor * Math.max(0, longestRunMs ?? 0), s.minHoldSeconds * 1000)

/** The schedule: one held attempt, then one retry `retrySeconds` after a failure. */
export const schedule = (s: PodVerifySettings = defaults): Verifier.VerifySchedule => {
  const base = Verifier.retryOnce(Duration.seconds(s.retrySeconds))
  return { ...base, description: `Ready held for max(${s.runFactor}× the longest pre-crash run, ${s.minHoldSeconds}s), polled every ${s.pollSeconds}s; ${base.description}` }
}

/** What the verifier looks at. */
export interface Subject {
  readonly namespace: string
  /** The owning workload (its pods are listed by its selector). */
  readonly workload: { readonly kind: string; readonly name: string }
  readonly container: string
  /** The pod that was restarted (never counted). */
  readonly replacedUid: string | null
  /** Check only this pod (no restart happened: the pod recovered in place); default: the replacements. */
  readonly onlyUid?: string | undefined
  readonly longestRunMs: number | null
}

const isReady = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")

const selectorOf = (w: { readonly spec?: { readonly selector?: { readonly matchLabels?: { readonly [k: string]: string } | undefined } | undefined } | undefined }) =>
  Object.entries(w.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(",")

/** A workload (Deployment, StatefulSet, DaemonSet) and its live pods (not terminating or finished), by its selector. */
export const workloadAndPods = (namespace: string, workload: Subject["workload"]) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const w = workload.kind === "StatefulSet"
      ? yield* kube.getStatefulSet(namespace, workload.name)
      : workload.kind === "DaemonSet"
      ? yield* kube.getDaemonSet(namespace, workload.name)
      : yield* kube.getDeployment(namespace, workload.name)
    const pods = yield* kube.listPods({ namespace, labelSelector: selectorOf(w) })
    return { workload: w, pods: pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== "Failed" && p.status?.phase !== "Succeeded") }
  })

/** The live pods of a workload (Deployment, StatefulSet, DaemonSet), by its selector. */
export const workloadPods = (namespace: string, workload: Subject["workload"]) =>
  Effect.map(workloadAndPods(namespace, workload), (x) => x.pods)

/** A Kubernetes timestamp (a Date from client-node, or an RFC 3339 string) in epoch ms; NaN when unreadable. */
export const epochMs = (t: unknown): number => (t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : Number.NaN)

/** Since when a pod has been Ready (epoch ms), or undefined when it is not Ready (or the time is unreadable). */
export const readySince = (p: V1Pod): number | undefined => {
  const c = (p.status?.conditions ?? []).find((x) => x.type === "Ready")
  if (c?.status !== "True") return undefined
  const at = epochMs(c.lastTransitionTime)
  return Number.isFinite(at) ? at : undefined
}

/** Whether a pod is held: Ready for `hold` ms at `now` with no container terminated since it turned Ready. */
export const isHeld = (p: V1Pod, now: number, hold: number): boolean => {
  const since = readySince(p)
  if (since === undefined || now - since < hold) return false
  return [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].every((c) => {
    const t = c.lastState?.terminated ?? c.state?.terminated
    return !t?.finishedAt || epochMs(t.finishedAt) < since
  })
}

/** The longest run (ms) of `container` before a crash, from the pods' termination states (0 when none). */
export const longestRunMs = (pods: ReadonlyArray<V1Pod>, container: string): number =>
  Math.max(0, ...pods.flatMap((p) =>
    [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].filter((c) => c.name === container).flatMap((c) =>
      [c.lastState?.terminated, c.state?.terminated].flatMap((t) => {
        const a = epochMs(t?.startedAt)
        const b = epochMs(t?.finishedAt)
        return Number.isFinite(a) && Number.isFinite(b) ? [b - a] : []
      })
    )
  ))

/**
 * The "a pod counts" check of every pod verifier: every pod (at least `want`) held Ready for
 * `requiredMs` ({@link requiredHoldMs}) with no termination since it turned Ready.
 */
export const heldCheck = (pods: ReadonlyArray<V1Pod>, now: number, requiredMs: number, o: { readonly want?: number; readonly runFactor?: number; readonly minHoldSeconds?: number } = {}): Check => {
  const want = o.want ?? 1
  const short = pods.filter((p) => !isHeld(p, now, requiredMs))
  return {
    name: `every pod Ready for ≥ ${Math.round(requiredMs / 1000)} s (${o.runFactor ?? defaults.runFactor}× the longest pre-crash run, ≥ ${o.minHoldSeconds ?? defaults.minHoldSeconds} s)`,
    ok: pods.length >= want && pods.length > 0 && short.length === 0,
    detail: pods.length === 0 ? "no pods" : `${pods.length - short.length}/${pods.length} held (want ${want})${short.length ? `; not yet: ${short.map((p) => p.metadata?.name).join(", ")}` : ""}`,
    observed: { pods: pods.length, held: pods.length - short.length, want, requiredMs }
  }
}

/**
 * Tracks the pods a verification saw Ready: `lost` names those created at or after `since` (the
 * replacements of the fix) that were Ready at an earlier poll and are not any more — a hard
 * failure that ends the attempt at once (the schedule's retry decides).
 */
export const readyTracker = (since: number) => {
  const seen = new Set<string>()
  return (pods: ReadonlyArray<V1Pod>): ReadonlyArray<string> => {
    const lost: Array<string> = []
    for (const p of pods) {
      const uid = p.metadata?.uid ?? p.metadata?.name ?? ""
      if (isReady(p)) seen.add(uid)
      else if (seen.has(uid) && created(p) >= since - 1000) lost.push(p.metadata?.name ?? uid)
    }
    return lost
  }
}

/** One poll of a held pod verification: its checks and, when set, why the attempt ends at once. */
export interface HoldPoll {
  readonly checks: ReadonlyArray<Check>
  readonly hardFail?: string | undefined
}

/**
 * The hold loop of every pod verifier: polls every `pollSeconds` until every check of a poll
 * passes (Recovered), a poll reports a hard failure, or `deadline` (epoch ms) has passed
 * (NotRecovered with the failing checks). A poll that cannot read the cluster is a failing check,
 * never a defect.
 */
export const holdLoop = <R>(poll: (now: number) => Effect.Effect<HoldPoll, unknown, R>, o: { readonly deadline: number; readonly pollSeconds: number }): Effect.Effect<Verdict.Verdict, never, R> =>
  Effect.gen(function*() {
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const r = yield* poll(now).pipe(Effect.catchCause((cause) => Effect.succeed<HoldPoll>({ checks: [{ name: "checks ran", ok: false, detail: `could not read the cluster: ${String(cause)}` }] })))
      const done = r.checks.length > 0 && r.checks.every((c) => c.ok)
      if (done) return { _tag: "Recovered", checks: r.checks, at: now } as Verdict.Verdict
      if (r.hardFail !== undefined || now >= o.deadline) {
        const failing = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join("; ")
        return { _tag: "NotRecovered", reason: r.hardFail !== undefined && failing === "" ? r.hardFail : failing, checks: r.checks, at: now } as Verdict.Verdict
      }
      const next = Math.min(o.deadline, now + o.pollSeconds * 1000)
      yield* Effect.sleep(Duration.millis(Math.max(1, next - now)))
    }
  })

const created = (p: V1Pod) => {
  const c = p.metadata?.creationTimestamp as unknown
  return c instanceof Date ? c.getTime() : typeof c === "string" ? Date.parse(c) : 0
}

/**
 * Verifies a restart: the workload's replacement pods (created at or after `ctx.since`, never
 * `replacedUid`) have the container started, Ready held for {@link requiredHoldMs}, and a stable
 * restartCount. `subjectOf` gives what to look at from the verification context (undefined:
 * Inconclusive).
 */
export const restarted = <F>(
  subjectOf: (ctx: Verifier.VerifyContext<F>) => Subject | undefined,
  s: PodVerifySettings = defaults
): Verifier.Verifier<F, Kube> =>
(ctx) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const subject = subjectOf(ctx)
    if (subject === undefined) return { _tag: "Inconclusive", reason: "no restarted pod to verify", checks: [], at: start } as Verdict.Verdict
    const required = requiredHoldMs(subject.longestRunMs, s)
    const deadline = start + s.startupGraceSeconds * 1000 + required
    const baseline = new Map<string, number>()
    const readySince = new Map<string, number>()
    const fmt = (ms: number) => `${Math.round(ms / 1000)}s`
    return yield* holdLoop((now) =>
      Effect.gen(function*() {
        const pods = (yield* workloadPods(subject.namespace, subject.workload)).filter((p) => subject.onlyUid !== undefined ? p.metadata?.uid === subject.onlyUid : p.metadata?.uid !== subject.replacedUid && created(p) >= ctx.since - 1000)
        const rows = pods.map((p) => {
          const uid = p.metadata?.uid ?? p.metadata?.name ?? ""
          const cs = p.status?.containerStatuses?.find((c) => c.name === subject.container)
          const count = cs?.restartCount ?? 0
          if (!baseline.has(uid)) baseline.set(uid, count)
          const ready = isReady(p)
          const wasReady = readySince.has(uid)
          if (ready && !wasReady) readySince.set(uid, now)
          return { name: p.metadata?.name ?? uid, started: cs?.started === true || cs?.state?.running !== undefined, count, restarted: count > baseline.get(uid)!, ready, lost: wasReady && !ready, heldMs: ready ? now - readySince.get(uid)! : 0 }
        })
        const checks: Array<Check> = [
          { name: "replacement pod present", ok: rows.length > 0, detail: rows.length ? rows.map((r) => r.name).join(", ") : "no pod created since the restart", observed: { pods: rows.length } },
          { name: "container started", ok: rows.length > 0 && rows.every((r) => r.started), detail: rows.map((r) => `${r.name}: ${r.started ? "started" : "not started"}`).join(", ") || "no pods" },
          { name: "restartCount stable", ok: rows.every((r) => !r.restarted), detail: rows.map((r) => `${r.name}: ${r.count} (was ${baseline.get(pods.find((p) => p.metadata?.name === r.name)?.metadata?.uid ?? "") ?? r.count})`).join(", ") || "no pods" },
          {
            name: `Ready for ${fmt(required)} (max(${s.runFactor}× longest pre-crash run ${subject.longestRunMs === null ? "unknown" : fmt(subject.longestRunMs)}, ${s.minHoldSeconds}s))`,
            ok: rows.length > 0 && rows.every((r) => r.ready && r.heldMs >= required),
            detail: rows.map((r) => `${r.name}: ${r.ready ? `Ready ${fmt(r.heldMs)}` : r.lost ? "lost Ready" : "not Ready"}`).join(", ") || "no pods",
            observed: { requiredMs: required }
          }
        ]
        const hard = rows.filter((r) => r.restarted || r.lost).map((r) => `${r.name} ${r.restarted ? "restarted" : "lost Ready"}`)
        return { checks, hardFail: hard.length > 0 ? hard.join(", ") : undefined }
      }), { deadline, pollSeconds: s.pollSeconds })
  }).pipe(Effect.catchCause((cause) => Effect.map(Clock.currentTimeMillis, (at): Verdict.Verdict => ({ _tag: "Inconclusive", reason: `pod verification could not run: ${String(cause)}`, checks: [], at }))))

/** The check kind: a restarted pod's replacement exists (same name, another uid) and its container runs. */
export const REPLACED_RUNNING = "k8s.pod.replacedRunning"

/** The params of the replaced-and-running check. */
export const ReplacedParams = Schema.Struct({
  namespace: Schema.String,
  pod: Schema.String,
  uid: Schema.String,
  container: Schema.String,
  /** Also require the replacement Ready (an OnDelete roll moves on only then). */
  ready: Schema.optionalKey(Schema.Boolean),
  /** Also require `container` to run this memory limit (bytes) in the replacement. */
  limitBytes: Schema.optionalKey(Schema.Finite)
})

/**
 * Passes once the pod named `pod` exists with a uid other than `uid` (a StatefulSet recreates the
 * same name) and `container` runs in it; plans `WaitFor` it after restarting an OnDelete
 * StatefulSet pod so verification starts with the replacement there. With `ready` the replacement
 * must be Ready too, with `limitBytes` its container must run that memory limit (an OnDelete roll
 * deletes the next pod only then).
 */
export const replacedRunning: Check.Check<Kube> = Check.make(REPLACED_RUNNING, (ref) =>
  Check.safely(ref.description, Effect.gen(function*() {
    const p = yield* Schema.decodeUnknownEffect(ReplacedParams)(ref.params)
    const kube = yield* Kube
    const live = yield* Effect.result(kube.getPod(p.namespace, p.pod))
    const at = `pod ${p.namespace}/${p.pod}`
    if (live._tag === "Failure") return { name: ref.description, ok: false, detail: `${at}: ${live.failure._tag === "KubeNotFound" ? "not recreated yet" : live.failure.message}` }
    const pod = live.success
    if (pod.metadata?.uid === p.uid) return { name: ref.description, ok: false, detail: `${at} is still the old pod${pod.metadata?.deletionTimestamp ? " (terminating)" : ""}` }
    const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])]
    const running = statuses.find((c) => c.name === p.container)?.state?.running !== undefined
    const readyNow = isReady(pod)
    const limit = RestartPod.memoryLimitOf(pod, p.container)
    const limitOk = p.limitBytes === undefined || limit === p.limitBytes
    const readyOk = p.ready !== true || readyNow
    const parts = [`container ${p.container} ${running ? "runs" : "not running yet"}`]
    if (p.ready === true) parts.push(readyNow ? "Ready" : "not Ready yet")
    if (p.limitBytes !== undefined) parts.push(limitOk ? `limit ${Quantity.formatBytes(p.limitBytes)}` : `limit ${limit === undefined ? "unset" : Quantity.formatBytes(limit)}, not ${Quantity.formatBytes(p.limitBytes)}`)
    return { name: ref.description, ok: running && readyOk && limitOk, detail: `${at} recreated (uid ${pod.metadata?.uid}); ${parts.join(", ")}` }
  })))
