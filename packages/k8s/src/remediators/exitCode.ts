/**
 * The plans of `k8s.crashloop.exit-code` and the check they wait on.
 *
 * - `oom_killed` → core's `oom.observed` hand-off (`HandOffs.OomObserved`) on the workload
 *   container, awaited: the OOM runbooks (k8s.oom.six-signal, k8s.oom.exit-137) own OOM kills;
 *   a crash-loop runbook never bumps memory.
 * - `missing_binary`, `image_auth`, `config_error` → wait until the cause is verified gone
 *   (`WaitFor` the `k8s.exitcode.causeGone` check, which reads the cluster again), then one
 *   `k8s.restartPod` of the crashing pod, so the fix is picked up now instead of after the
 *   kubelet's back-off (up to 5 min). Not gone within `waitMinutes` (10) → the step fails and
 *   the incident escalates. The restart is skipped when the pod needs none any more
 *   (`k8s.exitcode.noRestartNeeded`: gone, replaced, or its container runs again). What "gone"
 *   means per class:
 *   - config_error from CreateContainerConfigError: every missing ConfigMap/Secret (and key) the
 *     kubelet named exists now;
 *   - config_error from exit 78: a ConfigMap or Secret the container reads changed (or appeared);
 *   - image_auth: a pull secret of the pod, or its ServiceAccount, changed (or appeared);
 *   - missing_binary: a ConfigMap or Secret volume the container mounts (scripts) changed; with
 *     none, nothing BytePort can watch would fix it (a new image or command rolls out by
 *     itself): escalate.
 * - A bare pod → escalate (`Leases.barePodEscalation`), nothing written.
 *
 * @since 0.3.0
 */
import { Action, Check, type Classification, Fact, HandOffs, Plan, type Signal } from "@byteport/core"
import { Effect, Schema } from "effect"
import type { ExitCodeClass, ExitCodeFacts, Ref } from "../classifiers/exitCode"
import { lastTermination, statusOf } from "../classifiers/exitCode"
import * as RestartPod from "../actions/restartPod"
import { Kube } from "../Kube"
import * as PodRefs from "../probes/podRefs"
import { parse as parseQuantity } from "../Quantity"
import { barePodEscalation } from "../targets/leases"
import * as Targets from "../targets/Targets"

/** The runbook id. */
export const RUNBOOK_ID = "k8s.crashloop.exit-code"

/** The check kind: the cause of a crash loop is gone. */
export const CAUSE_GONE = "k8s.exitcode.causeGone"

/** Remediation settings. */
export interface ExitCodeRemediation {
  /** How long to wait for the cause to be fixed before escalating (minutes, default 10). */
  readonly waitMinutes: number
  /** How often to read the cause again (seconds, default 15). */
  readonly pollSeconds: number
  /** How long the oom.observed hand-off is awaited (minutes, default 20). */
  readonly handOffAwaitMinutes: number
}

/** The defaults. */
export const defaults: ExitCodeRemediation = { waitMinutes: 10, pollSeconds: 15, handOffAwaitMinutes: 20 }

/** The params of the cause-gone check. */
export const CauseGoneParams = Schema.Struct({
  namespace: Schema.String,
  /** `exist`: every ref exists (with its key); `changed`: some ref's resourceVersion differs from the one recorded. */
  mode: Schema.Literals(["exist", "changed"]),
  refs: Schema.Array(Schema.Struct({
    kind: Schema.Literals(["ConfigMap", "Secret", "ServiceAccount"]),
    name: Schema.String,
    key: Schema.NullOr(Schema.String),
    resourceVersion: Schema.NullOr(Schema.String)
  }))
})

/** The params of the cause-gone check. */
export type CauseGoneParams = typeof CauseGoneParams.Type

const use = (r: Ref) => (r.use === "imagePullSecret" || r.use === "serviceAccount" ? "pull" : "config")

/** The refs whose change would remove the cause of a class, and how (undefined: none to watch). */
export const causeRefs = (cls: ExitCodeClass, facts: ExitCodeFacts): { readonly mode: "exist" | "changed"; readonly refs: ReadonlyArray<Ref> } | undefined => {
  const { pod, container } = facts.subject
  const config = facts.refs.filter((r) => use(r) === "config")
  switch (cls) {
    case "config_error": {
      if (statusOf(pod, container)?.state?.waiting?.reason === "CreateContainerConfigError") {
        const missing = config.filter((r) => r.resourceVersion === null || r.hasKey === false)
        return missing.length ? { mode: "exist", refs: missing } : undefined
      }
      return config.length ? { mode: "changed", refs: config } : undefined
    }
    case "image_auth": {
      const pull = facts.refs.filter((r) => use(r) === "pull")
      return pull.length ? { mode: "changed", refs: pull } : undefined
    }
    case "missing_binary": {
      const volumes = config.filter((r) => r.use === "volume")
      return volumes.length ? { mode: "changed", refs: volumes } : undefined
    }
    default:
      return undefined
  }
}

/** Runs the cause-gone check against the cluster. */
export const causeGone = (p: CauseGoneParams): Effect.Effect<Verdict, never, Kube> =>
  Effect.gen(function*() {
    const now = yield* Effect.forEach(p.refs, (r) => PodRefs.read(p.namespace, { kind: r.kind, name: r.name, key: r.key, use: "env" }), { concurrency: 4 })
    const rows = p.refs.map((r, i) => ({ was: r, now: now[i]! }))
    const label = (r: { kind: string; name: string; key: string | null }) => `${r.kind} ${p.namespace}/${r.name}${r.key ? ` key ${r.key}` : ""}`
    if (p.mode === "exist") {
      const still = rows.filter((x) => x.now.resourceVersion === null || x.now.hasKey === false)
      return { ok: still.length === 0, detail: still.length ? `still missing: ${still.map((x) => label(x.was)).join(", ")}` : `present now: ${rows.map((x) => label(x.was)).join(", ")}` }
    }
    const changed = rows.filter((x) => x.now.resourceVersion !== null && x.now.resourceVersion !== x.was.resourceVersion)
    return { ok: changed.length > 0, detail: changed.length ? `changed since diagnosis: ${changed.map((x) => label(x.was)).join(", ")}` : `unchanged since diagnosis: ${rows.map((x) => label(x.was)).join(", ")}` }
  }).pipe(Effect.catchCause((cause) => Effect.succeed({ ok: false, detail: `could not read the references: ${String(cause)}` })))

type Verdict = { readonly ok: boolean; readonly detail: string }

/** The registered check (`k8s.exitcode.causeGone`). */
export const check: Check.Check<Kube> = Check.make(CAUSE_GONE, (ref) =>
  Effect.gen(function*() {
    const p = yield* Schema.decodeUnknownEffect(CauseGoneParams)(ref.params)
    const r = yield* causeGone(p)
    return { name: ref.description, ok: r.ok, detail: r.detail }
  }).pipe(Effect.catchCause((cause) => Effect.succeed({ name: ref.description, ok: false, detail: `bad params: ${String(cause)}` }))))

/** The check kind: nothing is left to restart (the pod is gone or terminating, or its container runs). */
export const NO_RESTART_NEEDED = "k8s.exitcode.noRestartNeeded"

/** The params of the no-restart-needed check. */
export const NoRestartParams = Schema.Struct({ namespace: Schema.String, pod: Schema.String, uid: Schema.String, container: Schema.String })

/**
 * Whether the planned pod no longer needs a restart: it is gone, replaced, terminating, or its
 * container runs again (the kubelet retried on its own, as it does for CreateContainerConfigError).
 */
export const noRestartNeeded: Check.Check<Kube> = Check.make(NO_RESTART_NEEDED, (ref) =>
  Check.safely(ref.description, Effect.gen(function*() {
    const p = yield* Schema.decodeUnknownEffect(NoRestartParams)(ref.params)
    const kube = yield* Kube
    const live = yield* Effect.result(kube.getPod(p.namespace, p.pod))
    const at = `pod ${p.namespace}/${p.pod}`
    if (live._tag === "Failure") {
      return live.failure._tag === "KubeNotFound" ? { name: ref.description, ok: true, detail: `${at} is gone` } : { name: ref.description, ok: false, detail: `${at}: ${live.failure.message}` }
    }
    const pod = live.success
    if (pod.metadata?.uid !== p.uid) return { name: ref.description, ok: true, detail: `${at} was replaced (uid ${pod.metadata?.uid})` }
    if (pod.metadata?.deletionTimestamp) return { name: ref.description, ok: true, detail: `${at} is terminating` }
    const cs = pod.status?.containerStatuses?.find((c) => c.name === p.container)
    if (cs?.state?.running) return { name: ref.description, ok: true, detail: `${at} container ${p.container} runs again` }
    return { name: ref.description, ok: false, detail: `${at} container ${p.container} is ${cs?.state?.waiting?.reason ?? "not running"}` }
  })))

/** The checks the plans reference (register them with the handlers). */
export const checks: ReadonlyArray<Check.Check<Kube>> = [check, noRestartNeeded]

/** The `oom.observed` hand-off signal for an OOM-killed container of a workload. */
export const oomObserved = (signal: Signal.Signal, facts: ExitCodeFacts, observedAt: number): Effect.Effect<Signal.Signal, HandOffs.InvalidHandOff> =>
  Effect.gen(function*() {
    const { pod, container } = facts.subject
    const cs = statusOf(pod, container)
    const t = lastTermination(pod, container)
    const limit = parseQuantity(pod.spec.containers.find((c) => c.name === container)?.resources?.limits?.["memory"])
    const finished = t?.finishedAt ? Date.parse(t.finishedAt) : Number.NaN
    const w = Targets.parseSync(signal.target)
    const target = w instanceof Targets.InvalidTargetRef || w._tag !== "Workload" ? signal.target : Targets.toTargetRef({ ...w, container })
    return yield* HandOffs.signal(HandOffs.OomObserved, {
      target,
      evidence: {
        container,
        count: Math.max(1, cs?.restartCount ?? 1),
        lastAt: Number.isFinite(finished) ? finished : observedAt,
        ...(limit !== undefined && limit > 0 ? { limitBytes: Math.round(limit) } : {})
      },
      observedAt,
      source: RUNBOOK_ID
    })
  })

/** Builds the plan of a classified incident. */
export const plan = (
  classification: Classification.Classified,
  facts: Fact.Facts<ExitCodeFacts>,
  signal: Signal.Signal,
  s: ExitCodeRemediation = defaults
): Effect.Effect<Plan.Plan> =>
  Effect.gen(function*() {
    const cls = classification.class as ExitCodeClass
    const subject = Fact.value(facts.subject)!
    const owner = Fact.value(facts.owner)
    const refs = Fact.value(facts.refs)
    const pod = subject.pod
    const ns = pod.metadata.namespace ?? "default"
    const podName = `${ns}/${pod.metadata.name}`
    const make = (summary: string, root: Plan.Step) => Plan.make(RUNBOOK_ID, cls, summary, root)
    if (cls === "oom_killed") {
      const handOff = yield* Effect.result(oomObserved(signal, { subject, owner: owner ?? null, refs: refs ?? [] }, signal.observedAt))
      if (handOff._tag === "Failure") return make("escalate: the oom.observed hand-off could not be built", Plan.escalate(`OOMKilled ${podName}/${subject.container}: ${handOff.failure.message}`))
      return make(
        `hand ${podName} container ${subject.container} (OOMKilled) to the OOM runbooks`,
        Plan.handOff(handOff.success, { await: `${s.handOffAwaitMinutes} minutes`, reason: `OOMKilled: the OOM runbooks own memory (k8s.oom.six-signal, k8s.oom.exit-137); a crash-loop runbook never bumps memory` })
      )
    }
    if (owner === undefined) return make("escalate: the owning workload is unknown", Plan.escalate(`the owner of ${podName} could not be read: no restart without it`))
    if (owner === null || owner.kind === "Pod") return make("escalate: bare pod", Plan.escalate(barePodEscalation(signal.target)))
    if (refs === undefined) return make("escalate: the pod's ConfigMaps and Secrets could not be read", Plan.escalate(`the references of ${podName}/${subject.container} could not be read: the cause cannot be verified gone`))
    const cause = causeRefs(cls, { subject, owner, refs })
    if (cause === undefined) {
      const what = cls === "missing_binary"
        ? "the image or the command lacks the executable; push a fixed image or fix the command (a template change rolls the pods out by itself)"
        : cls === "image_auth"
        ? "no pull secret or ServiceAccount to watch; add imagePullSecrets with valid credentials for the registry"
        : "the kubelet named nothing missing BytePort could watch; fix the configuration"
      return make(`escalate: nothing to watch for the ${cls} fix`, Plan.escalate(`${cls} on ${podName}/${subject.container}: ${what}`))
    }
    const w = Targets.parseSync(signal.target)
    const cluster = w instanceof Targets.InvalidTargetRef ? "default" : w.cluster
    const checkRef = Plan.check(
      CAUSE_GONE,
      Targets.pod({ cluster, namespace: ns, name: pod.metadata.name }),
      { namespace: ns, mode: cause.mode, refs: cause.refs.map((r) => ({ kind: r.kind, name: r.name, key: r.key, resourceVersion: r.resourceVersion })) },
      `${cls} gone: ${cause.mode === "exist" ? "exists now" : "changed"}: ${cause.refs.map((r) => `${r.kind} ${r.name}${r.key ? `/${r.key}` : ""}`).join(", ")}`
    )
    const restart = Action.make({
      kind: RestartPod.KIND,
      target: Targets.pod({ cluster, namespace: ns, name: pod.metadata.name }),
      params: { uid: pod.metadata.uid ?? "", reason: `${cls}: ${classification.reasons[0] ?? ""}`.slice(0, 300) },
      description: `restart pod ${podName} once the ${cls} cause is gone (beats the kubelet's back-off)`
    })
    const done = Plan.check(
      NO_RESTART_NEEDED,
      Targets.pod({ cluster, namespace: ns, name: pod.metadata.name }),
      { namespace: ns, pod: pod.metadata.name, uid: pod.metadata.uid ?? "", container: subject.container },
      `${podName} needs no restart (gone, replaced or running)`
    )
    return make(
      `wait until the ${cls} cause is gone, then restart ${podName}`,
      Plan.seq(
        Plan.waitFor(checkRef, { timeoutMs: s.waitMinutes * 60_000, intervalMs: s.pollSeconds * 1000 }),
        // the fact again, right before acting: a kubelet that already started the container needs no restart
        Plan.until(done, Plan.act(restart))
      )
    )
  })
