/**
 * The k8s.oom.six-signal replay corpus on disk: every directory of `fixtures/corpus/oom/` with a
 * `meta.json` is an incident (see packages/k8s/docs/oom.md, "The replay corpus").
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** What an incident must do. */
export interface Expect {
  /** A class of the classifier, or "Unclassified" / "Indeterminate". */
  readonly class: string
  /** The signal type the runbook's detector raises on the recording (null: none). */
  readonly signal: string | null
  /** Action kinds the seed forbids for the true class (never in the plan). */
  readonly forbidden: ReadonlyArray<string>
  /** Action kinds the plan must contain. */
  readonly required?: ReadonlyArray<string>
  /** With `signal` null: the signal type the container's next restart (same exit) raises. */
  readonly afterRestart?: string
  /** The plan escalates without acting. */
  readonly escalates?: boolean
}

/** An incident's meta.json. */
export interface Meta {
  readonly container: string
  readonly now: number
  readonly expect: Expect
  readonly why: string
  readonly source: ReadonlyArray<string>
}

/** The corpus directory. */
export const corpusDir = path.join(import.meta.dirname, "../../fixtures/corpus/oom")

/** Every incident, by name. */
export const incidents: ReadonlyArray<{ readonly name: string; readonly dir: string; readonly meta: Meta }> = fs
  .readdirSync(corpusDir)
  .filter((n) => fs.existsSync(path.join(corpusDir, n, "meta.json")))
  .sort()
  .map((name) => ({ name, dir: path.join(corpusDir, name), meta: JSON.parse(fs.readFileSync(path.join(corpusDir, name, "meta.json"), "utf8")) as Meta }))
