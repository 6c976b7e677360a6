/**
 * Golden files: `expectGolden(value, path)` compares a value's pretty JSON (or a string as is)
 * with a reviewed file and throws a `GoldenMismatch` with a readable unified diff when they
 * differ. `BYTEPORT_UPDATE_GOLDEN=1` rewrites the files instead; a missing golden file is
 * written on first run, except under `CI=true` where it fails. `expectPlan(plan, path)` does the
 * same for a Plan (its JSON encoding followed by its rendered outline).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { createTwoFilesPatch } from "diff"
import { Plan as P } from "@byteport/core"

/** A value differs from its golden file. The message holds the diff. */
export class GoldenMismatch extends Error {
  /** @internal */
  constructor(readonly path: string, readonly diff: string) {
    super(`${path} differs from the golden file (rerun with BYTEPORT_UPDATE_GOLDEN=1 to accept):\n${diff}`)
    this.name = "GoldenMismatch"
  }
}

/** Whether golden files are being rewritten (`BYTEPORT_UPDATE_GOLDEN=1`). */
export const updating = (): boolean => process.env["BYTEPORT_UPDATE_GOLDEN"] === "1"

/** The text a value is stored as: a string as is, anything else as pretty JSON; always newline-terminated. */
export const serialize = (value: unknown): string => {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2)
  return text.endsWith("\n") ? text : `${text}\n`
}

/** A unified diff from the golden text to the actual text. */
export const diff = (path: string, expected: string, actual: string): string =>
  createTwoFilesPatch(`${path} (golden)`, `${path} (actual)`, expected, actual, "", "", { context: 3 })
    .split("\n")
    .slice(1) // drop the "====" header line
    .join("\n")

const write = (path: string, text: string) => {
  fs.mkdirSync(nodePath.dirname(path), { recursive: true })
  fs.writeFileSync(path, text)
}

/** Asserts that `value` matches the golden file at `path` (see the module doc for the update switch). */
export const expectGolden = (value: unknown, path: string): void => {
  const actual = serialize(value)
  if (updating()) return write(path, actual)
  if (!fs.existsSync(path)) {
    if (process.env["CI"] === "true") throw new GoldenMismatch(path, diff(path, "", actual))
    return write(path, actual)
  }
  const expected = fs.readFileSync(path, "utf8")
  if (expected !== actual) throw new GoldenMismatch(path, diff(path, expected, actual))
}

/** The golden text of a plan: its JSON encoding, then its rendered outline. */
export const planText = (plan: P.Plan): string => `${P.toJson(plan)}\n\n${P.render(plan)}\n`

/** Asserts that `plan` matches the golden file at `path` (JSON + outline), with a readable diff. */
export const expectPlan = (plan: P.Plan, path: string): void => expectGolden(planText(plan), path)
