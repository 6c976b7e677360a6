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
import type { Fact, Runbook, Signal } from "@byteport/core"
import { Fact as F } from "@byteport/core"
import { FixtureError } from "@byteport/core/testing"
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
import { ExitCodeFixture, FiveBranchFixture, OomFixture, PullPendingFixture, SevenClassFixture } from "@byteport/k8s/testing"
import { Effect } from "effect"

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
  readonly load: (dir: string) => Effect.Effect<Loaded<F>, FixtureError>
}

/** A type-erased source (what the registry holds). */
export type AnySource = Source<any>

const k8sRoot = (): string | undefined => {
  const first = OomFixture.names()[0]
  if (first === undefined) return undefined
  const dir = Effect.runSync(Effect.orElseSucceed(OomFixture.recorded(first), () => undefined))
  return dir === undefined ? undefined : path.dirname(path.dirname(dir))
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
const guard = <A>(dir: string, eff: Effect.Effect<A, FixtureError>): Effect.Effect<A, FixtureError> =>
  Effect.suspend(() => eff).pipe(
    Effect.catchDefect((d) => Effect.fail(new FixtureError({ file: dir, path: [], message: `${dir}: ${d instanceof Error ? d.message : String(d)}` })))
  )

const source = <F, R>(s: {
  readonly id: string
  readonly runbook: () => Runbook.Runbook<F, R>
  readonly fixtures: () => ReadonlyArray<string>
  readonly golden?: string
  readonly load: (dir: string) => Effect.Effect<Loaded<F>, FixtureError>
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

const exitCodeDirs = (golden: string) => () => ExitCodeFixture.names().map((n) => dirsUnder("pod").find((d) => path.basename(d) === n)!).filter((d) => d !== undefined && fs.existsSync(path.join(d, golden)))

/** The replay sources, by runbook id. */
export const all: ReadonlyArray<AnySource> = [
  source({
    id: OomSixSignal.ID,
    runbook: () => OomSixSignal.make(),
    fixtures: () => dirsUnder("oom", "pod.json"),
    load: (dir) => Effect.all({ facts: OomFixture.decode(dir), signal: OomFixture.signal(dir) })
  }),
  source({
    id: OomExit137.ID,
    runbook: () => OomExit137.make(),
    fixtures: exitCodeDirs("exit-137.plan.golden"),
    golden: "exit-137.plan.golden",
    load: (dir) => Effect.map(ExitCodeFixture.decode(dir), (d) => ({ facts: d.exit137, signal: d.oomSignal }))
  }),
  source({
    id: CrashloopExitCode.ID,
    runbook: () => CrashloopExitCode.make(),
    fixtures: exitCodeDirs("exit-code.plan.golden"),
    golden: "exit-code.plan.golden",
    load: (dir) => Effect.map(ExitCodeFixture.decode(dir), (d) => ({ facts: d.exitCode, signal: d.signal }))
  }),
  source({
    id: CrashloopFiveBranch.ID,
    runbook: () => CrashloopFiveBranch.make(),
    fixtures: () => dirsUnder(FiveBranchFixture.FAMILY),
    load: FiveBranchFixture.decode
  }),
  source({
    id: CrashloopSevenClass.ID,
    runbook: () => CrashloopSevenClass.make(),
    fixtures: () => dirsUnder(SevenClassFixture.FAMILY),
    load: SevenClassFixture.decode
  }),
  source({
    id: RestartLoopContainer.ID,
    runbook: () => RestartLoopContainer.make(),
    fixtures: () => dirsUnder(SevenClassFixture.RESTART_LOOP),
    load: SevenClassFixture.decodeRestartLoop
  }),
  source({
    id: ImagePull.ID,
    runbook: () => ImagePull.make(),
    fixtures: () => dirsUnder(PullPendingFixture.FAMILY).filter((d) => path.basename(d).startsWith("image_pull")),
    load: (dir) => Effect.all({ facts: PullPendingFixture.decodeImagePull(dir), signal: PullPendingFixture.signal(dir) })
  }),
  source({
    id: Pending.ID,
    runbook: () => Pending.make(),
    fixtures: () => dirsUnder(PullPendingFixture.FAMILY).filter((d) => path.basename(d).startsWith("pending")),
    load: (dir) => Effect.all({ facts: PullPendingFixture.decodePending(dir), signal: PullPendingFixture.signal(dir) })
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

/**
 * Runbook ids of the tree that have recorded fixtures but no replay source yet: `byteport replay`
 * names them in its error, and the CLI's table test lists them as pending.
 */
export const pendingIds: ReadonlyArray<string> = ["k8s.node.not-ready", "db.pool.six-class", "tls.expiry.seven-class", "tls.expiry.threshold", "tls.expiry.end-to-end"]

/** The source of a runbook id. */
export const get = (id: string): AnySource | undefined => all.find((s) => s.id === id)
