/**
 * The fuzzing harness of `npm run test:reliability` (issue 17 §1): fast-check mutations of the
 * recorded fixtures (dropped and retyped fields, nulls, huge and non-UTF-8 strings, NaN and
 * overflowing numbers, bad timestamps, deep nesting, 100-fold arrays, truncated files) pushed
 * through a runbook's decode → classify → plan. Every case must end as a typed error (a tagged
 * failure, never a defect), or a Classification (Classified, Unclassified, Indeterminate) with a
 * plan only when Classified, within the per-case time budget.
 *
 * Each run prints its seed; `BYTEPORT_FUZZ_SEED=<n>` replays it, `BYTEPORT_FUZZ_RUNS` sets the
 * cases per family (default 10,000), `BYTEPORT_FUZZ_CASE_MS` the budget per case (default 100 ms
 * of CPU time, plus 300 ms per MB of input; CPU, not wall time, so a loaded machine does not fail it).
 */
import { Cause, Effect, Exit } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** The seed of this run: `BYTEPORT_FUZZ_SEED`, else random (printed by every family). */
export const SEED: number = (() => {
  const env = process.env["BYTEPORT_FUZZ_SEED"]
  if (env !== undefined && env !== "") {
    const n = Number(env)
    if (!Number.isInteger(n)) throw new Error(`BYTEPORT_FUZZ_SEED must be an integer, got ${env}`)
    return n
  }
  return Math.floor(Math.random() * 2 ** 31)
})()

/** Cases per family (`BYTEPORT_FUZZ_RUNS`, default 10,000). */
export const RUNS: number = Number(process.env["BYTEPORT_FUZZ_RUNS"] ?? "") || 10_000

/** The time budget of one case in ms (`BYTEPORT_FUZZ_CASE_MS`, default 100: regex backtracking, hangs). */
export const CASE_MS: number = Number(process.env["BYTEPORT_FUZZ_CASE_MS"] ?? "") || 100

/** Reading a big input is linear work, not backtracking: the budget grows by this many ms per MB of input. */
export const MS_PER_MB = 300

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }
type Path = ReadonlyArray<string | number>

/** Marks a string the writer turns into invalid UTF-8 bytes. */
const NON_UTF8 = "\u0000NONUTF8\u0000"

/** One mutation: which path of the fixture (index into its paths, modulo) and what to do there. */
export type Mutation =
  | { readonly at: number; readonly op: "drop" | "null" | "retype" | "nan" | "overflow" | "negative" | "nonUtf8" | "empty" | "hundredfold" }
  | { readonly at: number; readonly op: "huge"; readonly size: number }
  | { readonly at: number; readonly op: "timestamp"; readonly value: string }
  | { readonly at: number; readonly op: "deep"; readonly depth: number }
  | { readonly at: number; readonly op: "string"; readonly value: string }
  | InSchema

/**
 * A mutation within the recorded shape (the value stays decodable as far as its JSON type goes,
 * so the case reaches diagnose and classify): `at` indexes the paths of the matching kind only.
 *
 * - `str`: a string field becomes huge (10 kB – 1 MB), gains invalid UTF-8 bytes, becomes binary
 *   noise, empty, or — in a field holding a timestamp — a bad timestamp;
 * - `num`: a number field becomes an overflowing literal (`1e999` parses to Infinity), the
 *   largest double, 2^53 + 1, −0, a fraction, negative or zero (NaN has no JSON form);
 * - `bool`: a boolean flips;
 * - `optional`: a field absent from some sibling element of the same list (so optional in the
 *   recording) is dropped or set to null;
 * - `extra`: an object gains an unknown field nested 50 – 5,000 levels deep (free-form);
 * - `grow`: a list repeats its own elements to 100.
 */
export type InSchema =
  | { readonly at: number; readonly op: "str"; readonly how: "huge" | "nonUtf8" | "binary" | "empty" | "timestamp"; readonly size: number; readonly value: string }
  | { readonly at: number; readonly op: "num"; readonly value: string }
  | { readonly at: number; readonly op: "bool" | "grow" }
  | { readonly at: number; readonly op: "optional"; readonly to: "drop" | "null" }
  | { readonly at: number; readonly op: "extra"; readonly depth: number }

const BAD_TIMESTAMPS = ["2026-13-45T99:99:99Z", "", "0000-00-00T00:00:00Z", "yesterday", "1e999", "-271821-04-20T00:00:00Z", "2026-02-30T00:00:00", "NaN", "2026-12-07T17:00:00.000000000000000000001Z"]

/** The mutations of the issue, as an arbitrary. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ at: fc.nat(), op: fc.constantFrom("drop", "null", "retype", "nan", "overflow", "negative", "nonUtf8", "empty", "hundredfold") }) as fc.Arbitrary<Mutation> },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), op: fc.constant("huge" as const), size: fc.constantFrom(10_000, 10_000, 100_000, 1_000_000) }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), op: fc.constant("timestamp" as const), value: fc.constantFrom(...BAD_TIMESTAMPS) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), op: fc.constant("deep" as const), depth: fc.constantFrom(50, 500, 1_000, 5_000)  }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), op: fc.constant("string" as const), value: fc.string({ unit: "binary", maxLength: 40 }) }) }
)

const NUMBERS = ["1e999", "-1e999", "1.7976931348623157e308", "9007199254740993", "-0", "0.5", "-1", "0", "4294967296"]

/** The in-schema mutations, as an arbitrary. */
export const inSchema: fc.Arbitrary<InSchema> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      at: fc.nat(),
      op: fc.constant("str" as const),
      how: fc.constantFrom("huge", "nonUtf8", "binary", "empty", "timestamp", "timestamp") as fc.Arbitrary<"huge" | "nonUtf8" | "binary" | "empty" | "timestamp">,
      size: fc.constantFrom(10_000, 10_000, 100_000, 1_000_000),
      value: fc.oneof(fc.constantFrom(...BAD_TIMESTAMPS), fc.string({ unit: "binary", maxLength: 40 }))
    })
  },
  { weight: 3, arbitrary: fc.record({ at: fc.nat(), op: fc.constant("num" as const), value: fc.constantFrom(...NUMBERS) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), op: fc.constantFrom("bool" as const, "grow" as const) }) },
  { weight: 2, arbitrary: fc.record({ at: fc.nat(), op: fc.constant("optional" as const), to: fc.constantFrom("drop" as const, "null" as const) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), op: fc.constant("extra" as const), depth: fc.constantFrom(50, 500, 1_000, 5_000) }) }
)

/**
 * A case's mutations: mostly within the recorded shape (3 in 4 cases: the input decodes and
 * diagnose / classify see it), else anything (dropped and retyped fields, nulls …: the decoder
 * must name the path).
 */
export const mutations: fc.Arbitrary<ReadonlyArray<Mutation>> = fc.oneof(
  { weight: 3, arbitrary: fc.array(inSchema, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }
)

/** Every path of a JSON value (objects' keys and arrays' indexes), the root first. */
export const paths = (v: Json, limit = 5_000): ReadonlyArray<Path> => {
  const out: Array<Path> = []
  const walk = (x: Json, p: Path) => {
    if (out.length >= limit) return
    out.push(p)
    if (Array.isArray(x)) (x as ReadonlyArray<Json>).forEach((y, i) => walk(y, [...p, i]))
    else if (x !== null && typeof x === "object") for (const [k, y] of Object.entries(x)) walk(y, [...p, k])
  }
  walk(v, [])
  return out
}

/** Deep nesting is written into the text (a value this deep would overflow JSON.stringify itself). */
const DEEP = (depth: number) => `\u0000DEEP${depth}\u0000`
/** A number literal JSON.stringify cannot write (`1e999`, `-0` …) is written into the text. */
const NUM = "\u0000NUM\u0000"
const nestedText = (depth: number): string => `${"[{\"a\":".repeat(depth)}0${"}]".repeat(depth)}`

const retype = (x: Json): Json =>
  typeof x === "string" ? (x.length % 2 === 0 ? 42 : true)
  : typeof x === "number" ? String(x)
  : typeof x === "boolean" ? "true"
  : Array.isArray(x) ? { length: (x as ReadonlyArray<Json>).length, "0": (x as ReadonlyArray<Json>)[0] ?? null }
  : x === null ? {}
  : [x]

const replacement = (x: Json, m: Mutation): Json | undefined => {
  switch (m.op) {
    case "drop": return undefined
    case "null": return null
    case "retype": return retype(x)
    case "nan": return Number.NaN
    case "overflow": return typeof x === "string" ? "1e999" : Number.MAX_VALUE * 10
    case "negative": return typeof x === "number" ? -x - 1 : -1
    case "nonUtf8": return typeof x === "string" ? `${x}${NON_UTF8}` : NON_UTF8
    case "empty": return Array.isArray(x) ? [] : x !== null && typeof x === "object" ? {} : ""
    case "hundredfold": if (JSON.stringify(x).length > 5_000) return Array.isArray(x) ? [...(x as ReadonlyArray<Json>), ...(x as ReadonlyArray<Json>)] : [x, x] // ≤ ~10 MB per case
      return Array.isArray(x) ? Array.from({ length: 100 }, (_, i) => (x as ReadonlyArray<Json>)[i % Math.max(1, (x as ReadonlyArray<Json>).length)] ?? null) : Array.from({ length: 100 }, () => x)
    case "huge": return (typeof x === "string" && x.length > 0 ? x : "x").repeat(Math.ceil(m.size / Math.max(1, typeof x === "string" ? x.length : 1))).slice(0, m.size)
    case "timestamp": return m.value
    case "deep": return DEEP(m.depth)
    case "string": return m.value
  }
}

/**
 * Keeps the JSON type of the value (for entry points fed typed client-node objects, with no wire
 * decoder of their own): strings stay strings, numbers numbers, arrays arrays; nulls and dropped
 * fields stay (the API prints nulls and omits fields).
 */
const sameShape = (x: Json, y: Json | undefined, inArray: boolean): Json | undefined =>
  inArray && y === null ? x // the API's lists never hold null elements
  : y === undefined || y === null || x === null ? y
  : Array.isArray(x) ? (Array.isArray(y) ? y : x)
  : typeof x === "object" ? (y !== null && typeof y === "object" && !Array.isArray(y) ? y : x)
  : typeof y === typeof x ? y
  : x

const TIMESTAMP = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d/
const at = (root: Json, p: Path): Json => p.reduce<any>((x, k) => x[k], root) as Json

/** Keys missing from some element of the same list of objects: optional in the recording. */
const optionalPaths = (root: Json, ps: ReadonlyArray<Path>): ReadonlyArray<Path> => {
  const out: Array<Path> = []
  for (const p of ps) {
    const v = at(root, p)
    if (!Array.isArray(v) || v.length < 2) continue
    const objs = (v as ReadonlyArray<Json>).map((x, i) => [x, i] as const).filter(([x]) => x !== null && typeof x === "object" && !Array.isArray(x))
    const keys = new Set(objs.flatMap(([x]) => Object.keys(x as object)))
    for (const k of keys) for (const [x, i] of objs) if (k in (x as object) && objs.some(([y]) => !(k in (y as object)))) out.push([...p, i, k])
  }
  return out
}

/** The paths an in-schema mutation may touch, and the replacement (undefined: drop). */
const inSchemaTarget = (root: Json, ps: ReadonlyArray<Path>, m: InSchema): { readonly paths: ReadonlyArray<Path>; readonly replace: (x: Json) => Json | undefined } => {
  const of = (pred: (x: Json) => boolean) => ps.filter((p) => p.length > 0 && pred(at(root, p)))
  switch (m.op) {
    case "str": {
      const strings = of((x) => typeof x === "string")
      const stamps = strings.filter((p) => TIMESTAMP.test(at(root, p) as string))
      return {
        paths: m.how === "timestamp" && stamps.length > 0 ? stamps : strings,
        replace: (x) =>
          m.how === "huge" ? replacement(x, { at: 0, op: "huge", size: m.size })!
          : m.how === "nonUtf8" ? `${x as string}${NON_UTF8}`
          : m.how === "empty" ? ""
          : m.value
      }
    }
    case "num":
      return { paths: of((x) => typeof x === "number"), replace: () => `${NUM}${m.value}${NUM}` }
    case "bool":
      return { paths: of((x) => typeof x === "boolean"), replace: (x) => !(x as boolean) }
    case "grow":
      return { paths: of((x) => Array.isArray(x) && x.length > 0), replace: (x) => replacement(x, { at: 0, op: "hundredfold" })! }
    case "optional":
      return { paths: optionalPaths(root, ps), replace: () => (m.to === "drop" ? undefined : null) }
    case "extra":
      // free-form objects: not string maps (labels, annotations, data hold strings only)
      return {
        paths: ps.filter((p) => {
          const x = at(root, p)
          return x !== null && typeof x === "object" && !Array.isArray(x) && Object.values(x).some((y) => typeof y !== "string")
        }),
        replace: (x) => ({ ...(x as object), byteport_fuzz_extra: DEEP(m.depth) })
      }
  }
}

const IN_SCHEMA = new Set(["str", "num", "bool", "grow", "optional", "extra"])

/** Applies mutations to a JSON value (a copy; the path of each is picked among the value's paths at that moment). */
export const mutate = (base: Json, ms: ReadonlyArray<Mutation>, shape: "any" | "same" = "any"): Json | undefined => {
  let root: Json | undefined = structuredClone(base) as Json
  for (const m of ms) {
    if (root === undefined) return undefined
    if (IN_SCHEMA.has(m.op)) {
      const t = inSchemaTarget(root, paths(root), m as InSchema)
      if (t.paths.length === 0) continue
      const p = t.paths[m.at % t.paths.length]!
      const parent: any = at(root, p.slice(0, -1))
      const key = p[p.length - 1]!
      const next = t.replace(parent[key] as Json)
      if (next === undefined) {
        if (Array.isArray(parent)) parent.splice(key as number, 1)
        else delete parent[key]
      } else parent[key] = next
      continue
    }
    const ps = paths(root)
    const p = ps[m.at % ps.length]!
    const replace = (x: Json, inArray = false) => (shape === "any" ? replacement(x, m) : m.op === "deep" ? x : sameShape(x, replacement(x, m), inArray))
    if (p.length === 0) {
      root = replace(root)
      continue
    }
    let parent: any = root
    for (const k of p.slice(0, -1)) parent = parent[k]
    const key = p[p.length - 1]!
    const next = replace(parent[key] as Json, Array.isArray(parent))
    if (next === undefined) {
      if (Array.isArray(parent)) parent.splice(key as number, 1)
      else delete parent[key]
    } else parent[key] = next
  }
  return root
}

/** The bytes of a mutated value as a file holds them: JSON (NaN / Infinity as JSON prints them: null), invalid UTF-8 where marked, maybe truncated. */
export const encode = (v: Json | undefined, truncate: number | null): Buffer => {
  const text = v === undefined ? "" : JSON.stringify(v, (_, x) => (typeof x === "number" && !Number.isFinite(x) ? (Number.isNaN(x) ? null : "1e999") : x), 2)
  const deep = text.replace(/"\\u0000DEEP(\d+)\\u0000"/g, (_, n: string) => nestedText(Number(n))).replace(/"\\u0000NUM\\u0000([-0-9.e]+)\\u0000NUM\\u0000"/g, (_, n: string) => n)
  const marker = JSON.stringify(NON_UTF8).slice(1, -1)
  const parts = deep.split(marker)
  const bytes = Buffer.concat(parts.flatMap((s, i) => (i === 0 ? [Buffer.from(s, "utf8")] : [Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(s, "utf8")])))
  return truncate === null ? bytes : bytes.subarray(0, Math.floor(bytes.length * truncate))
}

/** What a case ended as. */
export type Outcome =
  | { readonly _tag: "Error"; readonly error: { readonly _tag: string; readonly message: string } }
  | { readonly _tag: "Classified"; readonly class: string; readonly actions: number; readonly planned: boolean }
  | { readonly _tag: "Unclassified" | "Indeterminate"; readonly planned: boolean }

/** A family's pipeline's success: the classification and the plan if one was made. */
export interface Ended {
  readonly classification: { readonly _tag: "Classified" | "Unclassified" | "Indeterminate"; readonly class?: string }
  readonly plan: { readonly root: unknown } | null
  /** Action steps of the plan (Plan.actions(plan.root).length). */
  readonly actions: number
}

/**
 * Runs one case synchronously and judges it. Throws an assertion-style Error (fast-check then
 * shrinks) on a defect, an untyped failure, a plan without a Classification, or a slow case.
 */
export const judge = (label: string, run: () => Effect.Effect<Ended, unknown>, inputBytes = 0): Outcome => {
  const budget = CASE_MS + MS_PER_MB * inputBytes / 1_000_000
  // the budget is CPU time of this process (the case runs synchronously): backtracking and hangs
  // burn CPU, while a neighbour on a loaded machine only stretches the wall clock
  const once = (): { exit: Exit.Exit<Ended, unknown>; ms: number; wallMs: number } => {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    let exit: Exit.Exit<Ended, unknown>
    try {
      exit = Effect.runSyncExit(Effect.suspend(run))
    } catch (e) {
      throw new Error(`${label}: threw outside the Effect: ${String((e as Error)?.stack ?? e)}`)
    }
    const cpu = process.cpuUsage(c0)
    return { exit, ms: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 }
  }
  let r = once()
  // a GC pause or a busy neighbour is not backtracking: a slow case counts only if it is slow three times running
  for (let retry = 0; retry < 2 && r.ms > budget; retry++) {
    const again = once()
    if (again.ms < r.ms) r = again
  }
  if (r.ms > budget) throw new Error(`${label}: took ${r.ms.toFixed(1)} ms of CPU (${r.wallMs.toFixed(1)} ms wall; budget ${budget.toFixed(0)} ms for ${inputBytes} bytes)`)
  const exit = r.exit
  if (Exit.isFailure(exit)) {
    if (Cause.hasDies(exit.cause) || Cause.hasInterrupts(exit.cause)) throw new Error(`${label}: defect: ${Cause.pretty(exit.cause)}`)
    const e = Cause.squash(exit.cause) as { readonly _tag?: unknown; readonly message?: unknown }
    if (typeof e !== "object" || e === null || typeof e._tag !== "string" || typeof e.message !== "string" || e.message === "") {
      throw new Error(`${label}: untyped failure: ${Cause.pretty(exit.cause)}`)
    }
    return { _tag: "Error", error: { _tag: e._tag, message: e.message } }
  }
  const { actions, classification: c, plan } = exit.value
  if (!["Classified", "Unclassified", "Indeterminate"].includes(c._tag)) throw new Error(`${label}: not a Classification: ${JSON.stringify(c)}`)
  if (c._tag !== "Classified" && (plan !== null || actions > 0)) throw new Error(`${label}: a plan for ${c._tag} (never act on unknown)`)
  return c._tag === "Classified" ? { _tag: "Classified", class: c.class ?? "?", actions, planned: plan !== null } : { _tag: c._tag, planned: false }
}

/** Tallies the outcomes of a family (printed: a family that only ever errors proves little). */
export class Tally {
  readonly counts = new Map<string, number>()
  /** CPU and wall time when the family started (printed by `report`). */
  readonly started = { cpu: process.cpuUsage(), wall: performance.now() }
  /** Counts one outcome. */
  add(o: Outcome): void {
    const k = o._tag === "Error" ? `Error:${o.error._tag}` : o._tag === "Classified" ? `Classified:${o.class}` : o._tag
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1)
  }
  /** Cases that decoded (did not end as a typed error). */
  get decoded(): number {
    return [...this.counts].filter(([k]) => !k.startsWith("Error:")).reduce((n, [, v]) => n + v, 0)
  }
  /** Where the cases ended: a typed decode error, a Classification (Classified), Unclassified or Indeterminate. */
  get ended(): { readonly decodeError: number; readonly classified: number; readonly unclassified: number; readonly indeterminate: number; readonly total: number } {
    const sum = (pred: (k: string) => boolean) => [...this.counts].filter(([k]) => pred(k)).reduce((n, [, v]) => n + v, 0)
    const decodeError = sum((k) => k.startsWith("Error:"))
    const classified = sum((k) => k.startsWith("Classified:"))
    const unclassified = this.counts.get("Unclassified") ?? 0
    const indeterminate = this.counts.get("Indeterminate") ?? 0
    return { decodeError, classified, unclassified, indeterminate, total: decodeError + classified + unclassified + indeterminate }
  }
  /** The share of cases past decode (they reached diagnose and classify). */
  get pastDecode(): number {
    const e = this.ended
    return e.total === 0 ? 0 : (e.total - e.decodeError) / e.total
  }
  /** One line: where the cases ended, in counts and shares. */
  where(): string {
    const e = this.ended
    const pct = (n: number) => `${n} (${e.total === 0 ? 0 : Math.round((1000 * n) / e.total) / 10}%)`
    return `decode error ${pct(e.decodeError)}, Classification ${pct(e.classified)}, Unclassified ${pct(e.unclassified)}, Indeterminate ${pct(e.indeterminate)}`
  }
  /** One line per outcome. */
  toString(): string {
    return [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(" ")
  }
}

/** A fixture directory copied once to a temp dir: each case overwrites one file and restores it. */
export class Scratch {
  readonly dir: string
  readonly originals = new Map<string, Buffer>()
  constructor(readonly source: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-fuzz-"))
    fs.cpSync(source, this.dir, { recursive: true })
    for (const f of fs.readdirSync(this.dir)) {
      const p = path.join(this.dir, f)
      if (fs.statSync(p).isFile()) this.originals.set(f, fs.readFileSync(p))
    }
  }
  /** The recorded JSON of a file. */
  json(file: string): Json {
    return JSON.parse(this.originals.get(file)!.toString("utf8")) as Json
  }
  /** Runs f with `file` replaced by `bytes`, then restores it. */
  with<A>(file: string, bytes: Buffer, f: (dir: string) => A): A {
    fs.writeFileSync(path.join(this.dir, file), bytes)
    try {
      return f(this.dir)
    } finally {
      fs.writeFileSync(path.join(this.dir, file), this.originals.get(file)!)
    }
  }
  /** Removes the copy. */
  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Whether a case's file is cut short (1 case in 20) and where. (`fc.option(…, { freq })` draws
 * its None only 1 time in `freq`: it truncated 9 cases in 10, most ending at decode.)
 */
export const truncate: fc.Arbitrary<number | null> = fc.oneof(
  { weight: 19, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 0.999, noNaN: true }) }
)

/** A fuzz case against a fixture directory: which fixture, which file, the mutations, and whether the file is cut short. */
export const fileCase = (fixtures: number) =>
  fc.record({
    fixture: fc.nat({ max: fixtures - 1 }),
    file: fc.nat(),
    mutations,
    truncate
  })

/** fast-check parameters of a family (the run's seed, the cases, no time-based interruption). */
export const params = (): fc.Parameters<unknown> => ({ seed: SEED, numRuns: RUNS, endOnFailure: false, verbose: 1 })

/** One stored counterexample: the shrunk case, the seed that found it, what it broke. */
interface Regression<T> {
  readonly seed: number
  readonly case: T
  readonly error: string
}

/**
 * Runs a family's property over its stored regression cases first (fast-check `examples`), then
 * `RUNS` new ones. A failure's shrunk counterexample is appended to `file` (a JSON list next to
 * the family's test, committed with the fix) so it is replayed by every later run, whatever the
 * seed; then the failure is thrown with fast-check's report (seed, path, counterexample).
 */
export const assertWithRegressions = <T>(file: string, arbitrary: fc.Arbitrary<T>, predicate: (t: T) => void): void => {
  const stored: ReadonlyArray<Regression<T>> = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ReadonlyArray<Regression<T>>) : []
  const out = fc.check(fc.property(arbitrary, predicate), { ...params(), examples: stored.map((r) => [r.case] as [T]) } as fc.Parameters<[T]>)
  if (out.failed) {
    const found = out.counterexample?.[0]
    if (found !== undefined && !stored.some((r) => JSON.stringify(r.case) === JSON.stringify(found))) {
      const error = String((out.errorInstance as Error | undefined)?.message ?? out.errorInstance).slice(0, 600)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, JSON.stringify([...stored, { seed: SEED, case: found, error }], null, 2) + "\n")
      console.log(`[fuzz] counterexample stored as a regression case in ${file}`)
    }
    throw new Error(fc.defaultReportMessage(out))
  }
}

/** The regression cases' file of a family: `<dir>/regressions/<family>.json`. */
export const regressions = (dir: string, family: string): string => path.join(dir, "regressions", `${family}.json`)

/** Prints the family's seed, where its cases ended and the tally (the replay line). */
export const report = (family: string, tally: Tally): void => {
  const cpu = process.cpuUsage(tally.started.cpu)
  const time = `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU, ${((performance.now() - tally.started.wall) / 1000).toFixed(1)} s wall`
  console.log(`[fuzz] ${family}: seed ${SEED} (replay: BYTEPORT_FUZZ_SEED=${SEED}), ${RUNS} cases in ${time}; ended: ${tally.where()}; ${tally.toString()}`)
}

/**
 * The least share of a family's cases that must get past decode to diagnose and classify
 * (`BYTEPORT_FUZZ_MIN_PAST_DECODE`, default 0.4): a mutator that only ever breaks the decoder
 * proves nothing about the classifier, and this keeps it from silently regressing to that.
 */
export const MIN_PAST_DECODE: number = Number(process.env["BYTEPORT_FUZZ_MIN_PAST_DECODE"] ?? "") || 0.4

/** Throws when fewer than `MIN_PAST_DECODE` of a family's cases got past decode. */
export const assertDepth = (family: string, tally: Tally): void => {
  if (tally.pastDecode < MIN_PAST_DECODE) {
    throw new Error(`${family}: only ${(100 * tally.pastDecode).toFixed(1)}% of the cases got past decode (floor ${100 * MIN_PAST_DECODE}%, BYTEPORT_FUZZ_MIN_PAST_DECODE): ${tally.where()}`)
  }
}

/** The recorded objects of a fixture directory (the test's own meta.json and goldens are not recorded input). */
export const recordedFiles = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "meta.json").sort()

/** A runbook fuzzed through fixture directories: each case mutates one recorded file of one fixture. */
export interface FileFamily {
  readonly runbook: string
  readonly fixtures: ReadonlyArray<string>
  readonly pipeline: (dir: string) => Effect.Effect<Ended, unknown>
  /** `"same"`: mutations keep each value's JSON type (an entry point typed by client-node, with no wire decoder). */
  readonly shape?: "any" | "same"
  /** Where its regression cases are stored (default: the package's test-reliability, two levels above the fixture directories). */
  readonly regressionsDir?: string
  /** Files of the fixtures that are the test's own summaries, not recorded objects (never mutated). */
  readonly exclude?: ReadonlyArray<string>
}

/**
 * Fuzzes a family (throws on the first counterexample, after shrinking): the unmutated fixtures
 * must classify (else the mutations prove nothing), and some mutated cases must reach the classifier.
 */
export const fuzzFiles = (family: FileFamily): Tally => {
  if (family.fixtures.length === 0) throw new Error(`${family.runbook}: no fixtures`)
  for (const d of family.fixtures) {
    const o = judge(`${family.runbook} ${path.basename(d)} unmutated`, () => family.pipeline(d))
    if (o._tag === "Error") throw new Error(`${family.runbook} ${path.basename(d)}: the recorded fixture itself fails: ${o.error.message}`)
  }
  const scratches = new Map<string, Scratch>()
  const tally = new Tally()
  try {
    assertWithRegressions(
      regressions(family.regressionsDir ?? path.join(path.dirname(family.fixtures[0]!), "../../test-reliability"), family.runbook),
      fileCase(family.fixtures.length),
      (k) => {
        const source = family.fixtures[k.fixture]!
        let s = scratches.get(source)
        if (s === undefined) scratches.set(source, (s = new Scratch(source)))
        const files = recordedFiles(s.dir).filter((f) => !(family.exclude ?? []).includes(f))
        const file = files[k.file % files.length]!
        const bytes = encode(mutate(s.json(file), k.mutations, family.shape ?? "any"), k.truncate)
        const label = `${family.runbook} ${path.basename(source)}/${file} ${JSON.stringify(k.mutations).slice(0, 300)} truncate=${k.truncate}`
        tally.add(s.with(file, bytes, (dir) => judge(label, () => family.pipeline(dir), bytes.length)))
      }
    )
  } finally {
    scratches.forEach((s) => s.dispose())
    report(family.runbook, tally)
  }
  if (tally.decoded === 0) throw new Error(`${family.runbook}: no mutated case reached the classifier`)
  assertDepth(family.runbook, tally)
  return tally
}
