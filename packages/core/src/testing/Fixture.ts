/**
 * Fixtures: recorded JSON or YAML files (`kubectl get pod -o json`, `pg_stat_activity` rows …)
 * decoded with a Schema. A malformed fixture fails with a `FixtureError` naming the file, the bad
 * field's path and what was found there:
 * `fixtures/x.json: at ["status"]["containerStatuses"][0]["restartCount"]: Expected number, got "3"`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect, Schema, SchemaIssue } from "effect"
import * as YAML from "yaml"
import { Fact } from "@byteport/core"

/** A fixture could not be read, parsed or decoded. */
export class FixtureError extends Schema.TaggedError<FixtureError>()("FixtureError", {
  file: Schema.String,
  /** The path of the first bad field (empty when the file itself is unreadable or unparsable). */
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
}) {}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** `["status"]["containerStatuses"][0]` */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((k) => (typeof k === "number" ? `[${k}]` : `[${JSON.stringify(String(k))}]`)).join("")

const lookup = (value: unknown, path: ReadonlyArray<PropertyKey>): { readonly found: boolean; readonly value?: unknown } => {
  let v: unknown = value
  for (const k of path) {
    if (v === null || typeof v !== "object" || !(k in (v as object))) return { found: false }
    v = (v as Record<PropertyKey, unknown>)[k]
  }
  return { found: true, value: v }
}

const show = (v: unknown): string => {
  if (v === undefined) return "undefined"
  try {
    const s = JSON.stringify(v)
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  } catch {
    return String(v)
  }
}

/** Parses fixture text: YAML for `.yaml`/`.yml`, JSON otherwise. */
export const parse = (file: string, text: string): Effect.Effect<unknown, FixtureError> =>
  Effect.try({
    try: () => (/\.ya?ml$/i.test(file) ? YAML.parse(text) : JSON.parse(text)),
    catch: (e) => new FixtureError({ file, path: [], message: `${file}: not valid ${/\.ya?ml$/i.test(file) ? "YAML" : "JSON"}: ${(e as Error).message}` })
  })

/** Decodes an already parsed fixture value with a Schema; the error names the bad field's path and the value found there. */
export const decode = <A, I>(schema: Schema.Codec<A, I>, file: string, value: unknown): Effect.Effect<A, FixtureError> =>
  Schema.decodeUnknownEffect(schema)(value).pipe(
    Effect.mapError((e) => {
      const issue = formatter(e.issue).issues[0]
      const path = (issue?.path ?? []).map((k) => (typeof k === "number" ? k : String(k)))
      const found = lookup(value, path)
      const base = issue?.message ?? e.message
      const got = found.found && !/got /.test(base) ? `, got ${show(found.value)}` : ""
      return new FixtureError({ file, path, message: `${file}: at ${formatPath(path)}: ${base}${got}` })
    })
  )

/** Loads a fixture file (JSON, or YAML by extension) and decodes it with `schema`. */
export const load = <A, I>(schema: Schema.Codec<A, I>, file: string): Effect.Effect<A, FixtureError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new FixtureError({ file, path: [], message: `${file}: cannot read: ${(e as Error).message}` })
    })
    const raw = yield* parse(file, text)
    return yield* decode(schema, file, raw)
  })

/** Turns decoded fixture values into Facts, every one Known (for `replay` and classifier tests). */
export const facts = <F extends object>(values: F): Fact.Facts<F> =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Fact.known(v)])) as unknown as Fact.Facts<F>
