/**
 * The recorded fixtures shipped inside `@byteport/k8s` (its `fixtures/<family>/<name>/`
 * directories), addressable from the installed package: `resolve("oom", "undersized_limit")`
 * gives the directory whether the code runs from `src/` (the repository) or from `dist/` (the
 * installed package), `names("oom")` lists what is there, and an unknown name fails with
 * `UnknownFixture` listing the available ones. Each runbook family's fixture module builds on it
 * (`OomFixture.recorded`, `OomFixture.names`).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Schema } from "effect"

/** The package whose shipped fixtures these are. */
export const packageName = "@byteport/k8s"

/** A fixture name that is not among the shipped ones (or not a plain name). */
export class UnknownFixture extends Schema.TaggedError<UnknownFixture>()("UnknownFixture", {
  /** The family (`oom`). */
  family: Schema.String,
  /** The name asked for. */
  name: Schema.String,
  /** The names that exist. */
  available: Schema.Array(Schema.String),
  message: Schema.String
}) {}

const isPackageRoot = (dir: string): boolean => {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { readonly name?: unknown }
    return pkg.name === packageName
  } catch {
    return false
  }
}

/**
 * The `fixtures` directory of the package holding `fileUrl` (the first ancestor whose
 * package.json is `@byteport/k8s`), or `undefined`. Works from `src/probes/…`, from `dist/…`
 * chunks and from `node_modules/@byteport/k8s/…` alike.
 */
export const rootFrom = (fileUrl: string): string | undefined => {
  let dir = path.dirname(fileURLToPath(fileUrl))
  for (;;) {
    if (isPackageRoot(dir)) return path.join(dir, "fixtures")
    const up = path.dirname(dir)
    if (up === dir) return undefined
    dir = up
  }
}

let cached: string | undefined

/** The `fixtures` directory shipped with this copy of the package (`undefined` when it cannot be found). */
export const root = (): string | undefined => (cached ??= rootFrom(import.meta.url))

/** The names of the shipped fixtures of a family (directories holding a `meta.json`), sorted. */
export const names = (family: string): ReadonlyArray<string> => {
  const r = root()
  if (r === undefined) return []
  const dir = path.join(r, family)
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, "meta.json")))
    .map((e) => e.name)
    .sort()
}

/** The directory of a shipped fixture; an unknown (or non-plain) name fails with `UnknownFixture`. */
export const resolve = (family: string, name: string): Effect.Effect<string, UnknownFixture> =>
  Effect.suspend(() => {
    const available = names(family)
    if (available.includes(name)) return Effect.succeed(path.join(root()!, family, name))
    const where = root() === undefined
      ? `the fixtures shipped with ${packageName} were not found (no package.json named ${packageName} above ${fileURLToPath(import.meta.url)})`
      : `available: ${available.join(", ")}`
    return Effect.fail(new UnknownFixture({ family, name, available, message: `no recorded ${family} fixture named ${JSON.stringify(name)}; ${where}` }))
  })
