/**
 * The replay sources: for each runbook id whose recorded fixtures ship in the tree, the runbook
 * value (`make()` with its defaults), where its fixture directories are, and how one directory
 * becomes the facts and the signal the runbook's own diagnoser would have produced — the same
 * decoders the packages' golden tests use. `byteport replay <runbook> <dir>` and
 * `byteport record` look runbooks up here; `pending` lists the runbook ids of the tree that have
 * fixtures but no replay source yet (reported as pending, never as passing).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Fact, Runbook, Signal } from "@byteport/core"
import type { FixtureError as TestingFixtureError } from "@byteport/core/testing"
import { Fact as F, Signal as S, TargetRef } from "@byteport/core"
import {
  CrashloopExitCode,
  CrashloopFiveBranch,
  CrashloopSevenClass,
  FailedRollout,
  ImagePull,
  NodePressureClassifier,
  NodePressureDrain,
  OomExit137,
  OomSixSignal,
  Pending,
  RestartLoopContainer,
  RolloutFacts
} from "@byteport/k8s"
import { PoolExhaustion, PoolSixClassRunbook, Utilization } from "@byteport/db"
import { Effect, Schema } from "effect"

/**
 * A fixture that cannot be decoded: the file (and the field's path) named in the message. The same
 * tag as `@byteport/core/testing`'s FixtureError, whose decoders' errors pass through unchanged.
 */
export class FixtureError extends Schema.TaggedError<FixtureError>()("FixtureError", {
  file: Schema.String,
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
}) {}

/** A decoding error: this package's, or a decoder of a package's `testing` entry's (both tagged `FixtureError`). */
export type AnyFixtureError = FixtureError | TestingFixtureError

// The packages' `testing` entries (the fixture decoders) import `@byteport/core/testing`, which
// imports @effect/vitest (an optional peer): they are loaded only when a fixture is decoded, so
// `byteport run`, `record`, `approve` and `pending` work without vitest installed.
const k8sTesting = Effect.promise(() => import("@byteport/k8s/testing"))
const dbTesting = Effect.promise(() => import("@byteport/db/testing"))

/** What one fixture directory decodes to: the facts the diagnoser would have produced and the signal. */
export interface Loaded<F> {
  readonly facts: Fact.Facts<F>
  readonly signal: Signal.Signal
}

/** One runbook that can be replayed from recorded fixtures. */
export interface Source<F = unknown> {
  /** The runbook id (`k8s.oom.six-signal`). */
  readonly id: string
  /** The runbook value, with its defaults. */
  readonly runbook: () => Runbook.Runbook<F, unknown>
  /** The fixture directories shipped for it (absolute paths, sorted). */
  readonly fixtures: () => ReadonlyArray<string>
  /** The reviewed golden plan's file name inside a fixture directory (when it has one). */
  readonly golden: string
  /** Decodes one fixture directory; a malformed or missing file fails naming the file (and the field). */
  readonly load: (dir: string) => Effect.Effect<Loaded<F>, AnyFixtureError>
}

/** A type-erased source (what the registry holds). */
export type AnySource = Source<any>

let rootCache: string | null | undefined

/**
 * The `fixtures` directory of `@byteport/k8s` next to this package: in the repository
 * (`<root>/node_modules/@byteport/k8s`, a workspace link) or in an installed tree.
 */
const k8sRoot = (): string | undefined => {
  if (rootCache !== undefined) return rootCache ?? undefined
  rootCache = null
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", "@byteport", "k8s")
    if (fs.existsSync(path.join(candidate, "package.json"))) {
      rootCache = path.join(fs.realpathSync(candidate), "fixtures")
      break
    }
    if (path.dirname(dir) === dir) break
  }
  return rootCache ?? undefined
}

const dirsUnder = (family: string, has = "meta.json"): ReadonlyArray<string> => {
  const root = k8sRoot()
  if (root === undefined) return []
  const dir = path.join(root, family)
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, has)))
    .map((e) => path.join(dir, e.name))
    .sort()
}

/** Reads a JSON file of a fixture directory; failures name the file. */
export const readJson = (dir: string, file: string): Effect.Effect<any, FixtureError> =>
  Effect.try({
    try: () => JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as unknown,
    catch: (e) => new FixtureError({ file: path.join(dir, file), path: [], message: `${path.join(dir, file)}: ${(e as Error).message}` })
  })

/** Any defect of a decoder becomes a FixtureError naming the directory. */
const guard = <A>(dir: string, eff: Effect.Effect<A, AnyFixtureError>): Effect.Effect<A, AnyFixtureError> =>
  Effect.suspend(() => eff).pipe(
    Effect.catchDefect((d) => Effect.fail(new FixtureError({ file: dir, path: [], message: `${dir}: ${d instanceof Error ? d.message : String(d)}` })))
  )

const source = <F, R>(s: {
  readonly id: string
  readonly runbook: () => Runbook.Runbook<F, R>
  readonly fixtures: () => ReadonlyArray<string>
  readonly golden?: string
  readonly load: (dir: string) => Effect.Effect<Loaded<F>, AnyFixtureError>
}): Source<F> => ({
  id: s.id,
  runbook: s.runbook as unknown as () => Runbook.Runbook<F, unknown>,
  fixtures: s.fixtures,
  golden: s.golden ?? "plan.golden",
  load: (dir) => {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      return Effect.fail(new FixtureError({ file: dir, path: [], message: `${dir}: no such fixture directory` }))
    }
    return guard(dir, s.load(dir))
  }
})

const exitCodeDirs = (golden: string) => () => dirsUnder("pod").filter((d) => path.basename(d).startsWith("exitcode_") && fs.existsSync(path.join(d, golden)))

/** The k8s replay sources. */
const k8sSources: ReadonlyArray<AnySource> = [
  source({
    id: OomSixSignal.ID,
    runbook: () => OomSixSignal.make(),
    fixtures: () => dirsUnder("oom", "pod.json"),
    load: (dir) => Effect.flatMap(k8sTesting, ({ OomFixture }) => Effect.all({ facts: OomFixture.decode(dir), signal: OomFixture.signal(dir) }))
  }),
  source({
    id: OomExit137.ID,
    runbook: () => OomExit137.make(),
    fixtures: exitCodeDirs("exit-137.plan.golden"),
    golden: "exit-137.plan.golden",
    load: (dir) => Effect.flatMap(k8sTesting, ({ ExitCodeFixture }) => Effect.map(ExitCodeFixture.decode(dir), (d) => ({ facts: d.exit137, signal: d.oomSignal })))
  }),
  source({
    id: CrashloopExitCode.ID,
    runbook: () => CrashloopExitCode.make(),
    fixtures: exitCodeDirs("exit-code.plan.golden"),
    golden: "exit-code.plan.golden",
    load: (dir) => Effect.flatMap(k8sTesting, ({ ExitCodeFixture }) => Effect.map(ExitCodeFixture.decode(dir), (d) => ({ facts: d.exitCode, signal: d.signal })))
  }),
  source({
    id: CrashloopFiveBranch.ID,
    runbook: () => CrashloopFiveBranch.make(),
    fixtures: () => dirsUnder("five-branch"),
    load: (dir) => Effect.flatMap(k8sTesting, ({ FiveBranchFixture }) => FiveBranchFixture.decode(dir))
  }),
  source({
    id: CrashloopSevenClass.ID,
    runbook: () => CrashloopSevenClass.make(),
    fixtures: () => dirsUnder("sevenclass"),
    load: (dir) => Effect.flatMap(k8sTesting, ({ SevenClassFixture }) => SevenClassFixture.decode(dir))
  }),
  source({
    id: RestartLoopContainer.ID,
    runbook: () => RestartLoopContainer.make(),
    fixtures: () => dirsUnder("restartloop"),
    load: (dir) => Effect.flatMap(k8sTesting, ({ SevenClassFixture }) => SevenClassFixture.decodeRestartLoop(dir))
  }),
  source({
    id: ImagePull.ID,
    runbook: () => ImagePull.make(),
    fixtures: () => dirsUnder("pullpending").filter((d) => path.basename(d).startsWith("image_pull")),
    load: (dir) => Effect.flatMap(k8sTesting, ({ PullPendingFixture }) => Effect.all({ facts: PullPendingFixture.decodeImagePull(dir), signal: PullPendingFixture.signal(dir) }))
  }),
  source({
    id: Pending.ID,
    runbook: () => Pending.make(),
    fixtures: () => dirsUnder("pullpending").filter((d) => path.basename(d).startsWith("pending")),
    load: (dir) => Effect.flatMap(k8sTesting, ({ PullPendingFixture }) => Effect.all({ facts: PullPendingFixture.decodePending(dir), signal: PullPendingFixture.signal(dir) }))
  }),
  source({
    id: NodePressureDrain.ID,
    runbook: () => NodePressureDrain.make(),
    fixtures: () => dirsUnder("pressure-drain").filter((d) => fs.existsSync(path.join(d, "plan.golden"))),
    load: (dir) =>
      Effect.gen(function*() {
        const node = yield* readJson(dir, "node.json")
        const meta = yield* readJson(dir, "meta.json")
        if (meta.signal === undefined) return yield* Effect.fail(new FixtureError({ file: path.join(dir, "meta.json"), path: ["signal"], message: `${path.join(dir, "meta.json")}: at ["signal"]: missing` }))
        return {
          facts: { node: F.known(NodePressureClassifier.nodeState(node)), cluster: F.known(NodePressureClassifier.clusterState([node])) },
          signal: meta.signal as Signal.Signal
        }
      })
  }),
  source({
    id: FailedRollout.ID,
    runbook: () => FailedRollout.make(),
    fixtures: () => dirsUnder("rollout"),
    load: (dir) =>
      Effect.gen(function*() {
        const meta = yield* readJson(dir, "meta.json")
        const m = yield* readJson(dir, "metrics.json")
        const c = RolloutFacts.clusterFacts(
          {
            deployment: yield* readJson(dir, "deployment.json"),
            replicaSets: (yield* readJson(dir, "replicasets.json")).items,
            pods: (yield* readJson(dir, "pods.json")).items,
            services: (yield* readJson(dir, "services.json")).items,
            events: (yield* readJson(dir, "events.json")).items
          },
          new Set(meta.seenAvailable),
          m.errorRatioBeforeRollout,
          meta.now
        )
        return {
          facts: {
            deployment: F.known(c.deployment),
            history: F.known(c.history),
            attribution: F.known(c.attribution),
            services: F.known(c.services),
            traffic: m.traffic ? F.known(m.traffic) : F.unknown("per-revision traffic", "not recorded"),
            canary: F.known(m.canary)
          },
          signal: meta.signal as Signal.Signal
        }
      })
  })
]

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)

/**
 * A db.pool.six-class recording (`meta.json` naming its export files: pg_stat_activity, roles,
 * pg_settings, pgbouncer SHOW POOLS …, the last deploy): decoded by `PgRecording.facts`; the signal
 * is the runbook's detector reading the recorded pg_settings and backends (a bare
 * pool-exhaustion signal when the recording has no pg_settings).
 */
const dbPoolRecording = (dir: string): Effect.Effect<Loaded<any>, AnyFixtureError> =>
  Effect.gen(function*() {
    const meta = yield* readJson(dir, "meta.json")
    const files = (meta.files ?? {}) as Record<string, string | ReadonlyArray<string> | undefined>
    const f = (file: string) => path.join(dir, file)
    if (files["activity"] === undefined) {
      return yield* Effect.fail(new FixtureError({ file: f("meta.json"), path: ["files", "activity"], message: `${f("meta.json")}: at ["files"]["activity"]: missing` }))
    }
    const activity = typeof files["activity"] === "string" ? f(files["activity"]) : (files["activity"] as ReadonlyArray<string>).map(f)
    const opt = (k: string) => (typeof files[k] === "string" ? { [k]: f(files[k] as string) } : {})
    const { PgRecording, Table } = yield* dbTesting
    const facts = yield* PgRecording.facts({
      activity,
      ...(Array.isArray(meta.capturedAt) ? { capturedAt: (meta.capturedAt as Array<string>).map((t) => Date.parse(t)) } : {}),
      ...opt("roles"),
      ...opt("blocking"),
      ...opt("settings"),
      ...opt("pools"),
      ...opt("config"),
      ...opt("databases"),
      ...opt("series"),
      ...(str(meta.datname) !== undefined ? { datname: meta.datname } : {}),
      ...(meta.pgbouncer === "absent" ? { pgbouncer: "absent" as const } : {}),
      lastDeploy: meta.lastDeploy === undefined ? null : {
        sha: meta.lastDeploy.sha,
        at: Date.parse(meta.lastDeploy.at),
        ...(meta.lastDeploy.workload !== undefined ? { workload: meta.lastDeploy.workload } : {}),
        ...(meta.lastDeploy.application !== undefined ? { application: meta.lastDeploy.application } : {})
      }
    }).pipe(Effect.mapError((e) => new FixtureError({ file: dir, path: [], message: `${dir}: ${(e as Error).message}` })))
    const trend = F.value(facts.idleInTxTrend)
    const observedAt = trend?.sampledAt ?? 0
    const target = TargetRef.make("database", `recording/${path.basename(dir)}`)
    const utilization = F.value(facts.utilization)
    const bouncer = F.value(facts.pgbouncer)
    const bare = S.make({ type: PoolExhaustion.SIGNAL_TYPE, target, observedAt, evidence: {} })
    if (typeof files["settings"] !== "string" || utilization === undefined) return { facts, signal: bare }
    const settings = yield* Table.read(f(files["settings"])).pipe(Effect.mapError((e) => new FixtureError({ file: f(files["settings"] as string), path: [], message: String((e as Error).message) })))
    const row = settings.rows.find((x) => x["name"] === "max_connections")
    const max = row === undefined ? undefined : Number(row["setting"])
    if (max === undefined) return { facts, signal: bare }
    const reading: Utilization.PostgresUtilization = { ...Utilization.postgresOf(utilization.clientBackends, max, max - utilization.available), ratio: utilization.ratio }
    const signals = PoolExhaustion.postgresSignals(reading, bouncer?.pools, { target }, observedAt)
    return { facts, signal: signals[0] ?? bare }
  })

/** The db.pool.six-class corpus of the repository (not shipped with @byteport/db: empty in an installed tree). */
const dbCorpus = (): ReadonlyArray<string> => {
  const root = k8sRoot()
  if (root === undefined) return []
  const dir = path.resolve(root, "../../db/fixtures/corpus")
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, "meta.json"))).map((e) => path.join(dir, e.name)).sort()
}

/** db.pool.six-class: a recording of PostgreSQL / pgbouncer exports (the corpus layout). */
const dbPoolSixClass: Source<any> = source({
  id: "db.pool.six-class",
  runbook: () => PoolSixClassRunbook.make(),
  fixtures: dbCorpus,
  golden: "plan.golden",
  load: dbPoolRecording
})

/**
 * Runbook ids of the tree that have recorded fixtures but no replay source yet: `byteport replay`
 * names them in its error, and the CLI's table test lists them as pending.
 */
export const pendingIds: ReadonlyArray<string> = ["k8s.node.not-ready", "tls.expiry.seven-class", "tls.expiry.threshold", "tls.expiry.end-to-end"]

/** The replay sources, by runbook id. */
export const all: ReadonlyArray<AnySource> = [...k8sSources, dbPoolSixClass]

/** The source of a runbook id. */
export const get = (id: string): AnySource | undefined => all.find((s) => s.id === id)
