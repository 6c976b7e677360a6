/**
 * Recorded k8s.node.not-ready fixtures: `node.json` (`kubectl get node -o json`), `host.json`
 * (the node's commands, argv joined by spaces → exit code, stdout, stderr as the tools print them;
 * "timeout" → the command times out) and `meta.json` (description, the CNI pod, `noShell`).
 * A fixture Shell answers exactly the recorded commands; any other command fails to spawn.
 */
import type { Fact, Signal } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as NodeNotReady from "../../src/runbooks/k8s.node.not-ready"
import type { NodeJson } from "../../src/probes/nodeDescribe"
import type { CniPodFacts } from "../../src/remediators/nodeNotReady"

/** One recorded answer. */
export type Answer = { readonly exitCode: number; readonly stdout: string; readonly stderr?: string } | "timeout"

/** The fixtures folder. */
export const dir = (name: string) => path.join(import.meta.dirname, "../../fixtures/notready", name)

/** Every fixture's name. */
export const names = (): ReadonlyArray<string> => fs.readdirSync(path.join(import.meta.dirname, "../../fixtures/notready")).filter((n) => fs.existsSync(path.join(dir(n), "node.json"))).sort()

/** A Shell answering from recorded answers; every command it ran is pushed to `log`. */
export const recordedShell = (answers: Readonly<Record<string, Answer>>, name = "fixture", log: Array<string> = []): Shell.ShellShape =>
  Shell.make((req) => {
    const key = req.argv.join(" ")
    log.push(key)
    const a = answers[key]
    if (a === undefined) return Effect.fail(Shell.error(name, req, "SpawnFailed", { code: "ENOENT", message: `${req.argv[0]}: no recorded answer` }))
    if (a === "timeout") return Effect.fail(Shell.error(name, req, "TimedOut", { timeoutMillis: req.timeoutMillis }))
    return Effect.succeed({ exitCode: a.exitCode, stdout: a.stdout, stderr: a.stderr ?? "" })
  }, { name })

/** A loaded fixture. */
export interface Fixture {
  readonly name: string
  readonly node: NodeJson
  readonly host: Readonly<Record<string, Answer>> | undefined
  readonly meta: { readonly description: string; readonly cniPod?: CniPodFacts; readonly noShell?: boolean }
}

const read = (f: string) => JSON.parse(fs.readFileSync(f, "utf8"))

/** Loads a fixture. */
export const load = (name: string): Fixture => {
  const d = dir(name)
  return {
    name,
    node: read(path.join(d, "node.json")),
    host: fs.existsSync(path.join(d, "host.json")) ? read(path.join(d, "host.json")) : undefined,
    meta: read(path.join(d, "meta.json"))
  }
}

/** The signal the detector would emit for the fixture's node. */
export const signalOf = (f: Fixture): Signal.Signal => ({
  type: "k8s.node.not_ready",
  target: { kind: "k8s.node", ref: `default/${f.node.metadata.name}` },
  observedAt: Date.parse("2026-12-07T15:00:00Z"),
  source: "k8s.node.not-ready",
  evidence: { node: f.node.metadata.name, ready: "False" }
})

/** The facts of a fixture through the runbook's own probes. */
export const factsOf = (f: Fixture, o: NodeNotReady.Options = {}, log: Array<string> = []): Effect.Effect<Fact.Facts<NodeNotReady.Facts>> =>
  NodeNotReady.diagnoseRecorded({ node: f.node, shell: f.host && !f.meta.noShell ? recordedShell(f.host, `fixture:${f.node.metadata.name}`, log) : undefined, cniPod: f.meta.cniPod ?? null }, o)(signalOf(f))

/** Loads and diagnoses. */
export const diagnose = (name: string, o: NodeNotReady.Options = {}): Effect.Effect<Fact.Facts<NodeNotReady.Facts>> => Effect.suspend(() => factsOf(load(name), o))
