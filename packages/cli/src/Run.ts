/**
 * `byteport run --config <file>`: the agent from a config file (YAML or JSON).
 *
 * ```yaml
 * kubeconfig: ~/.kube/config        # default: KUBECONFIG, then ~/.kube/config; "in-cluster" for a pod
 * prometheus: http://prometheus:9090  # default: metrics-server only
 * runbooks: [k8s.oom.six-signal, k8s.crashloop.five-branch]   # enabled (default: the catalog's defaults)
 * modes: { default: dry_run, k8s.oom.six-signal: auto }       # BYTEPORT_MODE / BYTEPORT_MODE_<ID>
 * store: { kind: lease, namespace: byteport }                 # memory | file (directory) | lease
 * leaderElection: { enabled: true, namespace: byteport, name: byteport-agent-leader,
 *                   leaseDuration: 15s, renewDeadline: 10s, retryPeriod: 2s, identity: … }
 * ```
 *
 * With leader election the catalog runs only while this agent leads (client-go's semantics, the
 * `LeaderElection` of `@byteport/k8s`); when its term ends the catalog is interrupted and the
 * agent waits to lead again. SIGTERM or SIGINT drain the agent (`Drain`): no new action step
 * starts (its journal `intent` is held back, so it has taken no budget and the next leader
 * resumes it), the action steps already running finish (up to `shutdownGrace`, default 30 s),
 * then the agent is interrupted, the per-target leases and the election Lease are released by
 * their finalizers, and the process exits 0.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Agent, FileStore, GuardrailStore, MemoryStore, Settings } from "@byteport/core"
import type { ActionHandler, Check } from "@byteport/core"
import { CrashloopFiveBranch, EventRecorder, HeapProfiler, K8sCatalog, Kube, LeaderElection, LeaseStore, Metrics, OomActions, Prometheus } from "@byteport/k8s"
import { ConfigProvider, Deferred, Duration, Effect, Layer, Ref, Schema, Stream } from "effect"
import * as YAML from "yaml"
import { onlyFlags, parseArgs, Usage } from "./Args"

/** The config file is unreadable or invalid (exit code 2); the message names the file and the field. */
export class BadConfig extends Schema.TaggedError<BadConfig>()("BadConfig", {
  file: Schema.String,
  message: Schema.String
}) {}

const Mode = Schema.Literals(["observe", "dry_run", "auto"])

/** The config file's schema. */
export const RunConfig = Schema.Struct({
  kubeconfig: Schema.optional(Schema.String),
  context: Schema.optional(Schema.String),
  prometheus: Schema.optional(Schema.String),
  runbooks: Schema.optional(Schema.Array(Schema.String)),
  modes: Schema.optional(Schema.Record(Schema.String, Mode)),
  store: Schema.optional(Schema.Union([
    Schema.Struct({ kind: Schema.Literal("memory") }),
    Schema.Struct({ kind: Schema.Literal("file"), directory: Schema.String }),
    Schema.Struct({ kind: Schema.Literal("lease"), namespace: Schema.optional(Schema.String) })
  ])),
  /** How long SIGTERM waits for the running action steps to finish (default "30 seconds"). */
  shutdownGrace: Schema.optional(Schema.String),
  leaderElection: Schema.optional(Schema.Struct({
    enabled: Schema.optional(Schema.Boolean),
    namespace: Schema.optional(Schema.String),
    name: Schema.optional(Schema.String),
    identity: Schema.optional(Schema.String),
    leaseDuration: Schema.optional(Schema.String),
    renewDeadline: Schema.optional(Schema.String),
    retryPeriod: Schema.optional(Schema.String)
  }))
})

/** A decoded config file. */
export type RunConfig = typeof RunConfig.Type

/** Reads and decodes a config file (YAML or JSON). */
export const load = (file: string): Effect.Effect<RunConfig, BadConfig> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({ try: () => fs.readFileSync(file, "utf8"), catch: (e) => new BadConfig({ file, message: `${file}: ${(e as Error).message}` }) })
    const raw = yield* Effect.try({ try: () => YAML.parse(text) as unknown, catch: (e) => new BadConfig({ file, message: `${file}: not YAML or JSON: ${(e as Error).message}` }) })
    const config = yield* Schema.decodeUnknownEffect(RunConfig)(raw ?? {}).pipe(Effect.mapError((e) => new BadConfig({ file, message: `${file}: ${e.message}` })))
    const known = new Set<string>(K8sCatalog.ids)
    for (const id of [...(config.runbooks ?? []), ...Object.keys(config.modes ?? {}).filter((k) => k !== "default")]) {
      if (!known.has(id)) return yield* new BadConfig({ file, message: `${file}: unknown runbook id ${id}; known: ${[...known].join(", ")}` })
    }
    return config
  })

/** The configuration keys the file's modes set (`BYTEPORT_MODE`, `BYTEPORT_MODE_<ID>`). */
export const modeEnv = (config: RunConfig): Record<string, string> =>
  Object.fromEntries(Object.entries(config.modes ?? {}).map(([k, v]) => [k === "default" ? "BYTEPORT_MODE" : Settings.modeKey(k), v]))

const expand = (p: string) => (p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p)

/** The handlers and checks the agent registers: the action kinds of the runbooks it can act with. */
const handlerSet = () => {
  const byKind = new Map<string, ActionHandler.ActionHandler<any>>()
  for (const h of [...OomActions.handlers(), ...CrashloopFiveBranch.handlers()]) if (!byKind.has(h.kind)) byKind.set(h.kind, h)
  const checks: ReadonlyArray<Check.Check<any>> = CrashloopFiveBranch.checks()
  return { handlers: [...byKind.values()], checks }
}

/**
 * A store wrapper that lets the agent stop between action steps. An action step is running from
 * its journal `intent` to its `applied`, `failed`, `denied` or `step` entry. After `start`, every
 * new `intent` append waits (until the agent is interrupted), so no new step begins; `idle`
 * completes once no step is running.
 */
export interface Drain {
  /** Wraps a store layer. */
  readonly wrap: <E, R>(store: Layer.Layer<GuardrailStore.GuardrailStore, E, R>) => Layer.Layer<GuardrailStore.GuardrailStore, E, R>
  /** Stop starting action steps. */
  readonly start: Effect.Effect<void>
  /** Completes when no action step is running (after `start`: the running ones finished). */
  readonly idle: Effect.Effect<void>
  /** The running action steps (`incidentId/stepPath`). */
  readonly running: Effect.Effect<ReadonlyArray<string>>
}

/** Builds a Drain. */
export const makeDrain: Effect.Effect<Drain> = Effect.gen(function*() {
  const running = yield* Ref.make<ReadonlySet<string>>(new Set())
  const draining = yield* Ref.make(false)
  const key = (e: { readonly incidentId: string; readonly stepPath?: string | undefined }) => `${e.incidentId}/${e.stepPath ?? ""}`
  const wrap = <E, R>(store: Layer.Layer<GuardrailStore.GuardrailStore, E, R>) =>
    Layer.effect(
      GuardrailStore.GuardrailStore,
      Effect.map(Effect.service(GuardrailStore.GuardrailStore), (inner): GuardrailStore.GuardrailStoreShape => ({
        ...inner,
        appendJournal: (entry) =>
          Effect.gen(function*() {
            if (entry.type === "intent") {
              if (yield* Ref.get(draining)) return yield* Effect.never
              yield* Ref.update(running, (r) => new Set([...r, key(entry)]))
            }
            const written = yield* inner.appendJournal(entry)
            if (entry.type === "applied" || entry.type === "failed" || entry.type === "denied" || entry.type === "step") {
              yield* Ref.update(running, (r) => new Set([...r].filter((k) => k !== key(entry))))
            }
            return written
          })
      }))
    ).pipe(Layer.provide(store))
  const idle = Effect.gen(function*() {
    while ((yield* Ref.get(running)).size > 0) yield* Effect.sleep(Duration.millis(50))
  })
  return { wrap, start: Ref.set(draining, true), idle, running: Effect.map(Ref.get(running), (r) => [...r]) }
})

/** Runs the agent of a config until interrupted (SIGTERM/SIGINT in `command`). */
export const run = (config: RunConfig, options: { readonly onLeading?: (epoch: number) => Effect.Effect<void>; readonly drain?: Drain } = {}) => {
  const kube = Layer.orDie(
    config.kubeconfig === "in-cluster"
      ? Kube.layerInCluster()
      : config.kubeconfig
      ? Kube.layerFromFile(expand(config.kubeconfig))
      : Kube.layerDefault
  )
  const metrics = config.prometheus
    ? Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: config.prometheus })))
    : Metrics.layerMetricsServer.pipe(Layer.provide(kube))
  const cluster = Layer.mergeAll(kube, metrics, EventRecorder.layer({ component: "byteport-agent" }).pipe(Layer.provide(kube)), HeapProfiler.unavailable("no heap profiler configured"))
  const s = config.store ?? { kind: "memory" as const }
  const store: Layer.Layer<GuardrailStore.GuardrailStore, unknown> = s.kind === "file"
    ? FileStore.layer({ directory: s.directory })
    : s.kind === "lease"
    ? LeaseStore.layer(s.namespace ? { namespace: s.namespace } : {}).pipe(Layer.provide(kube))
    : MemoryStore.layer
  const catalog = K8sCatalog.make(config.runbooks ? { only: config.runbooks } : {})
  const { handlers, checks } = handlerSet()
  const agent = Agent.run(catalog, { handlers, checks, store: options.drain ? options.drain.wrap(store) : store })
  const le = config.leaderElection
  const program = le?.enabled === false || le === undefined
    ? agent
    : Effect.gen(function*() {
      const elector = yield* LeaderElection.LeaderElection
      // lead, run the catalog for the term, and wait to lead again when the term ends
      for (;;) {
        yield* Stream.runHead(Stream.filter(Stream.concat(Stream.fromEffect(elector.status), elector.changes), (st) => st.leading))
        const started = yield* Deferred.make<void>()
        yield* elector.whileLeader((epoch) =>
          Effect.andThen(Effect.andThen(Deferred.succeed(started, undefined), options.onLeading?.(epoch) ?? Effect.void), agent)
        ).pipe(Effect.catch((e) => (e instanceof LeaderElection.NotLeader ? Effect.void : Effect.fail(e))))
      }
    }).pipe(
      Effect.provide(LeaderElection.layer({
        ...(le.namespace ? { namespace: le.namespace } : {}),
        ...(le.name ? { name: le.name } : {}),
        ...(le.identity ? { identity: le.identity } : {}),
        ...(le.leaseDuration ? { leaseDuration: le.leaseDuration as never } : {}),
        ...(le.renewDeadline ? { renewDeadline: le.renewDeadline as never } : {}),
        ...(le.retryPeriod ? { retryPeriod: le.retryPeriod as never } : {})
      }))
    )
  const env = { ...(process.env as Record<string, string>), ...modeEnv(config) }
  return (program as Effect.Effect<void, unknown, never>).pipe(
    Effect.provide(cluster),
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
  ) as Effect.Effect<void, unknown>
}

/** `byteport run --config <file>` (argv after the command): runs until SIGTERM/SIGINT, then exits 0. */
export const command = (argv: ReadonlyArray<string>): Effect.Effect<number, BadConfig | unknown> =>
  Effect.gen(function*() {
    const parsed = parseArgs(argv)
    onlyFlags(parsed, ["config"])
    const file = parsed.flags.get("config")
    if (!file || parsed.positionals.length > 0) throw new Usage("run needs --config <file>")
    const config = yield* load(file)
    const stop = yield* Deferred.make<string>()
    const drain = yield* makeDrain
    const grace = Duration.fromInputUnsafe((config.shutdownGrace ?? "30 seconds") as Duration.Input)
    const onSignal = (sig: string) => () => Deferred.doneUnsafe(stop, Effect.succeed(sig))
    const term = onSignal("SIGTERM")
    const int = onSignal("SIGINT")
    process.once("SIGTERM", term)
    process.once("SIGINT", int)
    process.stdout.write(`byteport run: ${file} (runbooks: ${K8sCatalog.enabledIds(K8sCatalog.make(config.runbooks ? { only: config.runbooks } : {})).join(", ")})\n`)
    const winner = yield* Effect.raceFirst(
      Effect.map(run(config, { drain, onLeading: (epoch) => Effect.sync(() => void process.stdout.write(`byteport run: leading (epoch ${epoch})\n`)) }), () => "ended"),
      Effect.gen(function*() {
        const sig = yield* Deferred.await(stop)
        // no new action step starts; the running ones finish (bounded by the grace period)
        yield* drain.start
        const left = yield* drain.running
        if (left.length > 0) process.stdout.write(`byteport run: ${sig}: finishing ${left.join(", ")}\n`)
        yield* Effect.timeoutOption(drain.idle, grace)
        return sig
      })
    ).pipe(Effect.ensuring(Effect.sync(() => {
      process.off("SIGTERM", term)
      process.off("SIGINT", int)
    })))
    process.stdout.write(`byteport run: stopped (${winner}); leases released\n`)
    return 0
  })
