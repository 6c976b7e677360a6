/**
 * `k8s.setDebugLogging`: switches one container of a workload to debug logging, only the way
 * the workload declares (the annotation `byteport.io/debug-logging: env:LOG_LEVEL=debug` on the
 * Deployment, StatefulSet or DaemonSet: set that env var to that value), and undoes it after
 * `debugLoggingTtl` (default 24 h, `BYTEPORT_DEBUG_LOGGING_TTL`) by a journaled timed undo
 * (`TimedUndo` in @byteport/core): the executor stores the undo before the change, and the
 * agent loop runs it when due, also after a restart. The undo is the same kind with
 * `undo: true`: it puts back the value the plan started from (`previous`; `null` removes the
 * var). A workload without the annotation gets a ChangeProposal instead (`step`).
 *
 * Patch: strategic merge of `containers[name].env[name]`, conditional on the workload's
 * resourceVersion; `dryRun=All` in dry_run (no Event); a `DebugLoggingEnabled` /
 * `DebugLoggingRestored` Event otherwise. `observe`: the env var holds the planned value →
 * applied; holds the value it was planned from → not applied; else unknown.
 *
 * Guardrails (on the kind): `never_undeclared_debug_logging` — never on a workload whose
 * annotation does not declare exactly this env var and value (read live; unreadable denies;
 * undos pass, they put back what was there).
 *
 * `addDebugEnv` puts the same env change into an existing strategic-merge patch body (the
 * exit-137 runbook raises memory and switches on debug logging in one rollout).
 *
 * @since 0.3.0
 */
import { Action, ActionHandler, type ChangeProposal, Guardrail, Plan, type TargetRef } from "@byteport/core"
import { Config, Duration, Effect, Schema } from "effect"
import type { EventRecorder } from "../events/EventRecorder"
import type { Kube } from "../Kube"
import * as Targets from "../targets/Targets"
import * as W from "./podWorkload"

/** The action kind. */
export const KIND = "k8s.setDebugLogging"

/** The workload annotation that declares how to switch on debug logging. */
export const ANNOTATION = "byteport.io/debug-logging"

/** The default TTL of debug logging (24 h). */
export const DEFAULT_TTL: Duration.Input = "24 hours"

/** `debugLoggingTtl` from `BYTEPORT_DEBUG_LOGGING_TTL` (a duration, default 24 hours). */
export const ttlConfig: Config.Config<Duration.Duration> = Config.Duration("BYTEPORT_DEBUG_LOGGING_TTL").pipe(Config.withDefault(Duration.fromInputUnsafe(DEFAULT_TTL)))

/** The params. */
export const Params = Schema.Struct({
  container: Schema.String,
  /** The env var and value the annotation declares. */
  env: Schema.String,
  value: Schema.String,
  /** Its value when the plan was made (`null`: not set). */
  previous: Schema.NullOr(Schema.String),
  /** True for the timed undo: put `previous` back. */
  undo: Schema.optionalKey(Schema.Boolean),
  /** The TTL in seconds (default `debugLoggingTtl`). */
  ttlSeconds: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThan(0))),
  reason: Schema.String
})

/** The params. */
export type Params = typeof Params.Type

/** A declared debug switch: set env `name` to `value`. */
export interface Declared {
  readonly env: string
  readonly value: string
}

/** Parses the annotation (`env:NAME=value`); anything else is undefined (no declared way). */
export const parseAnnotation = (text: string | undefined): Declared | undefined => {
  const m = /^\s*env:([A-Za-z_][A-Za-z0-9_]*)=(.*?)\s*$/.exec(text ?? "")
  return m && m[2]!.length > 0 ? { env: m[1]!, value: m[2]! } : undefined
}

/** The declared switch of a workload object (its metadata annotation). */
export const declaredOn = (obj: { readonly metadata?: { readonly annotations?: { readonly [k: string]: string } | undefined } | undefined }): Declared | undefined =>
  parseAnnotation(obj.metadata?.annotations?.[ANNOTATION])

/** Adds `env[name] = value` of `container` to a strategic-merge patch body of a pod-template workload (returns a new body). */
export const addDebugEnv = <B extends object>(body: B, container: string, declared: Declared): B => {
  const b = body as { readonly spec?: { readonly template?: { readonly spec?: { readonly containers?: ReadonlyArray<{ readonly name: string; readonly env?: ReadonlyArray<unknown> }> } } } }
  const containers = [...(b.spec?.template?.spec?.containers ?? [])]
  const i = containers.findIndex((c) => c.name === container)
  const env = { name: declared.env, value: declared.value }
  if (i === -1) containers.push({ name: container, env: [env] })
  else containers[i] = { ...containers[i]!, env: [...(containers[i]!.env ?? []).filter((e) => (e as { name?: string }).name !== declared.env), env] }
  const template = { ...b.spec?.template, spec: { ...b.spec?.template?.spec, containers } }
  return { ...body, spec: { ...b.spec, template } } as B
}

const envValue = (w: W.TemplateWorkload, container: string, name: string): string | null => {
  const e = W.containerOf(w, container)?.env?.find((x) => x.name === name)
  return e === undefined ? null : e.value ?? ""
}

/** Never on a workload that does not declare exactly this switch (undos pass). */
export const neverUndeclared: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "never_undeclared_debug_logging",
  recheckOnResume: true,
  check: (ctx) =>
    Effect.gen(function*() {
      if (ctx.action.params["undo"] === true) return Guardrail.pass
      const t = yield* Effect.result(W.containerTarget(KIND, ctx.action.target, String(ctx.action.params["container"] ?? "")))
      if (t._tag === "Failure") return Guardrail.deny(`never_undeclared_debug_logging: ${t.failure.message}`)
      const live = yield* Effect.result(W.read(t.success))
      if (live._tag === "Failure") return Guardrail.deny(`never_undeclared_debug_logging: could not read ${t.success.kind} ${t.success.namespace}/${t.success.name} (${live.failure._tag})`)
      const d = declaredOn(live.success)
      return d !== undefined && d.env === ctx.action.params["env"] && d.value === ctx.action.params["value"]
        ? Guardrail.pass
        : Guardrail.deny(`never_undeclared_debug_logging: ${t.success.kind} ${t.success.namespace}/${t.success.name} declares ${d ? `env:${d.env}=${d.value}` : `no ${ANNOTATION} annotation`}, not env:${String(ctx.action.params["env"])}=${String(ctx.action.params["value"])}`)
    })
})

/** The undo of a switch: the same kind putting `previous` back. */
export const undoOf = (action: Action.Action, p: Params): Action.Action =>
  Action.make({
    kind: KIND,
    target: action.target,
    params: { ...p, undo: true },
    description: `restore ${p.env}${p.previous === null ? " (unset)" : `=${p.previous}`} in container ${p.container} after debug logging`
  })

/** Options of the handler. */
export interface Options {
  /** How long debug logging stays on (default 24 h; a plan's `ttlSeconds` wins). */
  readonly ttl?: Duration.Input | undefined
}

/** The handler. */
export const make = (options: Options = {}): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make<Params, Kube | EventRecorder>({
    kind: KIND,
    params: Params,
    guardrails: [neverUndeclared],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const t = yield* W.containerTarget(KIND, ctx.action.target, p.container)
        const live = yield* W.readOrFail(KIND, t)
        if (W.containerOf(live, t.container) === undefined) return yield* W.failed(KIND, `${t.kind} ${t.namespace}/${t.name} has no container ${t.container}`)
        const want = p.undo ? p.previous : p.value
        const from = p.undo ? p.value : p.previous
        const now = envValue(live, t.container, p.env)
        if (now !== from && now !== want) {
          return yield* W.failed(KIND, `${t.kind} ${t.namespace}/${t.name} container ${t.container} has ${p.env}=${now ?? "(unset)"}, not the planned ${from ?? "(unset)"}`, { conflict: true })
        }
        if (!p.undo) {
          // defence in depth: the guardrail denies this already
          const d = declaredOn(live)
          if (d === undefined || d.env !== p.env || d.value !== p.value) return yield* W.failed(KIND, `${t.kind} ${t.namespace}/${t.name} does not declare env:${p.env}=${p.value} (${ANNOTATION})`)
        }
        const envPatch = want === null ? { name: p.env, $patch: "delete" } : { name: p.env, value: want }
        const body = { spec: { template: { spec: { containers: [{ name: t.container, env: [envPatch] }] } } } }
        const patched = yield* W.patch(KIND, t, W.preconditionOf(ctx.action.precondition, live), body, ctx.dryRun)
        const what = `${t.kind} ${t.namespace}/${t.name} container ${t.container} ${p.env}=${want ?? "(unset)"}`
        yield* W.event(t, patched, p.undo ? "DebugLoggingRestored" : "DebugLoggingEnabled", `BytePort set ${what} (${p.reason}; incident ${ctx.incidentId})`, ctx.dryRun)
        return {
          detail: ctx.dryRun ? `would set ${what} (validated by the apiserver with dryRun=All)` : `set ${what}${p.undo ? "" : "; a timed undo restores it"}`,
          result: { env: p.env, value: want, previous: from, undo: p.undo === true, dryRun: ctx.dryRun, resourceVersion: patched.metadata?.resourceVersion ?? "" }
        }
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const t = yield* W.containerTarget(KIND, ctx.action.target, p.container)
        const now = envValue(yield* W.read(t), t.container, p.env)
        const want = p.undo ? p.previous : p.value
        const from = p.undo ? p.value : p.previous
        const what = `${t.kind} ${t.namespace}/${t.name} container ${t.container} ${p.env} is ${now ?? "(unset)"}`
        return now === want ? ActionHandler.applied(what) : now === from ? ActionHandler.notApplied(what) : ActionHandler.unknown(what)
      }),
    timedUndo: (p, action) => (p.undo ? undefined : { after: p.ttlSeconds !== undefined ? Duration.seconds(p.ttlSeconds) : options.ttl ?? DEFAULT_TTL, action: undoOf(action, p) })
  })

/** The handler with a 24 h TTL. */
export const handler = make()

/**
 * The step a runbook plans for debug logging on a workload container: `Act(k8s.setDebugLogging)`
 * where the workload declares how, else a ChangeProposal asking its owners to declare it.
 */
export const step = (
  target: TargetRef.TargetRef,
  workload: W.TemplateWorkload,
  container: string,
  options: { readonly reason: string; readonly ttlSeconds?: number | undefined }
): Plan.Step => {
  const d = declaredOn(workload)
  const ns = workload.metadata?.namespace ?? ""
  const name = workload.metadata?.name ?? ""
  if (d === undefined) return Plan.propose(proposal(target, `${ns}/${name}`, container))
  return Plan.act(
    Action.make({
      kind: KIND,
      target,
      precondition: { resourceVersion: workload.metadata?.resourceVersion ?? "" },
      params: { container, env: d.env, value: d.value, previous: envValue(workload, container, d.env), reason: options.reason, ...(options.ttlSeconds !== undefined ? { ttlSeconds: options.ttlSeconds } : {}) },
      description: `set ${d.env}=${d.value} in ${ns}/${name} container ${container} (debug logging, undone after its TTL)`
    })
  )
}

/** The ChangeProposal for a workload that does not declare how to switch on debug logging. */
export const proposal = (target: TargetRef.TargetRef, workload: string, container: string): ChangeProposal.ChangeProposal => ({
  title: `Declare how BytePort may switch on debug logging for ${workload}`,
  body: [
    `BytePort wanted debug logging from container \`${container}\` of \`${workload}\` while it investigates, but the workload does not declare how.`,
    "",
    `Add the annotation \`${ANNOTATION}: "env:LOG_LEVEL=debug"\` (your env var and value) to the workload's metadata; BytePort then sets it for at most 24 h and restores the previous value itself.`
  ].join("\n"),
  target
})

/** The workload target without its container (for callers that hold a container target). */
export const workloadOf = (target: TargetRef.TargetRef): TargetRef.TargetRef | undefined => {
  const t = Targets.parseSync(target)
  return t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? undefined : Targets.toTargetRef(Targets.withoutContainer(t))
}
