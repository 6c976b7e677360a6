/**
 * A small PromQL subset over the simulator's series, enough for the runbooks:
 *
 *   expr      := or-less binary expressions of: number | selector | selector[range] | fn(...) | agg | (expr)
 *   selector  := name{label="v", label!="v", label=~"re", label!~"re"}
 *   functions := rate, irate, increase (over a range), avg_over_time, max_over_time,
 *                min_over_time, sum_over_time, count_over_time, last_over_time, abs,
 *                histogram_quantile(φ, vector), clamp_min(v, n), clamp_max(v, n)
 *   aggregates:= sum, avg, max, min, count [by|without (labels)] (expr)  — clause before or after
 *   binary    := + - * / (vector/vector one-to-one on identical labels, or with a scalar),
 *                > < >= <= == != (filters)
 *
 * Anything else is a `PromQLError` (served as 400 bad_data).
 */
import type { Labels, StoredSeries, TimeSeriesDB } from "./TimeSeries"
import { labelsKey } from "./TimeSeries"

/** A query the subset does not support or cannot parse. */
export class PromQLError extends Error {
  /** Build the error. */
  constructor(message: string) {
    super(message)
    this.name = "PromQLError"
  }
}

/** One instant sample. */
export interface Sample { readonly metric: Labels; readonly value: number }
/** A range of samples for one series. */
export interface RangeSeries { readonly metric: Labels; readonly points: ReadonlyArray<readonly [number, number]> }
/** An evaluation result. */
export type Value =
  | { readonly type: "scalar"; readonly value: number }
  | { readonly type: "vector"; readonly samples: Array<Sample> }
  | { readonly type: "matrix"; readonly series: Array<RangeSeries> }

type Matcher = { name: string; op: "=" | "!=" | "=~" | "!~"; value: string; re?: RegExp }
type Node =
  | { k: "num"; v: number }
  | { k: "sel"; name?: string; matchers: Array<Matcher>; range?: number }
  | { k: "call"; fn: string; args: Array<Node> }
  | { k: "agg"; op: string; by?: Array<string>; without?: Array<string>; arg: Node; param?: Node }
  | { k: "bin"; op: string; l: Node; r: Node }

const LOOKBACK_MS = 5 * 60_000

// ------------------------------------------------------------------ lexer

type Tok = { t: "id" | "num" | "str" | "dur" | "op"; v: string }

const lex = (src: string): Array<Tok> => {
  const out: Array<Tok> = []
  let i = 0
  while (i < src.length) {
    const ch = src[i]!
    if (/\s/.test(ch)) { i++; continue }
    if (ch === '"' || ch === "'" || ch === "`") {
      let j = i + 1
      let s = ""
      while (j < src.length && src[j] !== ch) {
        if (src[j] === "\\" && ch !== "`") { s += src[j + 1] ?? ""; j += 2; continue }
        s += src[j]
        j++
      }
      if (j >= src.length) throw new PromQLError(`unterminated quoted string ${src.slice(i)}`)
      out.push({ t: "str", v: s })
      i = j + 1
      continue
    }
    const dur = /^(\d+(?:ms|s|m|h|d|w|y))+/.exec(src.slice(i))
    if (dur && out[out.length - 1]?.v === "[") { out.push({ t: "dur", v: dur[0] }); i += dur[0].length; continue }
    const num = /^(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)/.exec(src.slice(i))
    if (num && !/[a-zA-Z_:]/.test(src[i + num[0].length] ?? "") ) { out.push({ t: "num", v: num[0] }); i += num[0].length; continue }
    const id = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(src.slice(i))
    if (id) { out.push({ t: "id", v: id[0] }); i += id[0].length; continue }
    const op = /^(=~|!~|!=|==|>=|<=|[{}()[\],=+\-*/<>^%])/.exec(src.slice(i))
    if (op) { out.push({ t: "op", v: op[0] }); i += op[0].length; continue }
    throw new PromQLError(`unexpected character '${ch}' at position ${i}`)
  }
  return out
}

const durMs = (d: string): number => {
  let ms = 0
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
    const n = Number(m[1])
    ms += n * { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, y: 31536e6 }[m[2] as "s"]
  }
  return ms
}

// ------------------------------------------------------------------ parser

const AGGS = new Set(["sum", "avg", "max", "min", "count"])
const FUNCS = new Set(["rate", "irate", "increase", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "last_over_time", "abs", "histogram_quantile", "clamp_min", "clamp_max"])

class Parser {
  private i = 0
  constructor(private readonly toks: Array<Tok>) {}
  peek(): Tok | undefined { return this.toks[this.i] }
  next(): Tok {
    const t = this.toks[this.i++]
    if (!t) throw new PromQLError("unexpected end of input")
    return t
  }
  expect(v: string): void {
    const t = this.next()
    if (t.v !== v) throw new PromQLError(`unexpected ${JSON.stringify(t.v)}, expected ${JSON.stringify(v)}`)
  }
  done(): void {
    const t = this.peek()
    if (t) throw new PromQLError(`unexpected ${JSON.stringify(t.v)} after the end of the expression`)
  }
  expr(): Node { return this.cmp() }
  cmp(): Node {
    let l = this.add()
    for (;;) {
      const t = this.peek()
      if (t?.t === "op" && [">", "<", ">=", "<=", "==", "!="].includes(t.v)) {
        this.next()
        if (this.peek()?.v === "bool") throw new PromQLError("the bool modifier is not supported")
        l = { k: "bin", op: t.v, l, r: this.add() }
      } else return l
    }
  }
  add(): Node {
    let l = this.mul()
    for (;;) {
      const t = this.peek()
      if (t?.t === "op" && (t.v === "+" || t.v === "-")) { this.next(); l = { k: "bin", op: t.v, l, r: this.mul() } } else return l
    }
  }
  mul(): Node {
    let l = this.unary()
    for (;;) {
      const t = this.peek()
      if (t?.t === "op" && (t.v === "*" || t.v === "/")) {
        this.next()
        if (this.peek()?.t === "id" && ["on", "ignoring", "group_left", "group_right"].includes(this.peek()!.v)) throw new PromQLError(`vector matching modifiers (${this.peek()!.v}) are not supported`)
        l = { k: "bin", op: t.v, l, r: this.unary() }
      } else return l
    }
  }
  labels(): Array<string> {
    this.expect("(")
    const out: Array<string> = []
    while (this.peek()?.v !== ")") {
      const t = this.next()
      if (t.t !== "id") throw new PromQLError(`unexpected ${JSON.stringify(t.v)} in grouping labels`)
      out.push(t.v)
      if (this.peek()?.v === ",") this.next()
    }
    this.expect(")")
    return out
  }
  unary(): Node {
    const t = this.peek()
    if (!t) throw new PromQLError("unexpected end of input")
    if (t.t === "op" && t.v === "-") {
      this.next()
      return { k: "bin", op: "*", l: { k: "num", v: -1 }, r: this.unary() }
    }
    if (t.t === "num") { this.next(); return { k: "num", v: Number(t.v === "Inf" ? Infinity : t.v) } }
    if (t.t === "op" && t.v === "(") {
      this.next()
      const e = this.expr()
      this.expect(")")
      return e
    }
    if (t.t === "op" && t.v === "{") return this.selector(undefined)
    if (t.t === "id") {
      this.next()
      if (AGGS.has(t.v) && (this.peek()?.v === "(" || this.peek()?.v === "by" || this.peek()?.v === "without")) {
        const node: Node & { k: "agg" } = { k: "agg", op: t.v, arg: { k: "num", v: 0 } }
        const clause = () => {
          const c = this.peek()
          if (c?.v === "by") { this.next(); node.by = this.labels() } else if (c?.v === "without") { this.next(); node.without = this.labels() }
        }
        clause()
        this.expect("(")
        node.arg = this.expr()
        this.expect(")")
        clause()
        return node
      }
      if (this.peek()?.v === "(") {
        if (!FUNCS.has(t.v)) throw new PromQLError(`unsupported function ${JSON.stringify(t.v)} (kube-sim serves a PromQL subset)`)
        this.next()
        const args: Array<Node> = []
        while (this.peek()?.v !== ")") {
          args.push(this.expr())
          if (this.peek()?.v === ",") this.next()
          else break
        }
        this.expect(")")
        return { k: "call", fn: t.v, args }
      }
      if (["by", "without", "offset", "bool", "on", "ignoring"].includes(t.v)) throw new PromQLError(`unexpected keyword ${t.v}`)
      return this.selector(t.v)
    }
    throw new PromQLError(`unexpected ${JSON.stringify(t.v)}`)
  }
  selector(name: string | undefined): Node {
    const matchers: Array<Matcher> = []
    if (this.peek()?.v === "{") {
      this.next()
      while (this.peek()?.v !== "}") {
        const l = this.next()
        if (l.t !== "id") throw new PromQLError(`unexpected ${JSON.stringify(l.v)} in label matchers`)
        const op = this.next()
        if (!["=", "!=", "=~", "!~"].includes(op.v)) throw new PromQLError(`unexpected ${JSON.stringify(op.v)} in label matching, expected one of =, !=, =~, !~`)
        const v = this.next()
        if (v.t !== "str") throw new PromQLError(`unexpected ${JSON.stringify(v.v)} in label matching, expected string`)
        const m: Matcher = { name: l.v, op: op.v as Matcher["op"], value: v.v }
        if (op.v === "=~" || op.v === "!~") {
          try {
            m.re = new RegExp(`^(?:${v.v})$`)
          } catch {
            throw new PromQLError(`invalid regular expression ${JSON.stringify(v.v)}`)
          }
        }
        matchers.push(m)
        if (this.peek()?.v === ",") this.next()
      }
      this.expect("}")
    }
    if (name === undefined && matchers.length === 0) throw new PromQLError("vector selector must contain at least one non-empty matcher")
    const node: Node & { k: "sel" } = { k: "sel", matchers }
    if (name !== undefined) node.name = name
    if (this.peek()?.v === "[") {
      this.next()
      const d = this.next()
      if (d.t !== "dur") throw new PromQLError(`bad range duration ${JSON.stringify(d.v)}`)
      if (this.peek()?.v === ":") throw new PromQLError("subqueries are not supported")
      this.expect("]")
      node.range = durMs(d.v)
    }
    if (this.peek()?.v === "offset") throw new PromQLError("offset is not supported")
    return node
  }
}

/** Parse a query (throws PromQLError). */
export const parse = (q: string): Node => {
  const p = new Parser(lex(q))
  const n = p.expr()
  p.done()
  return n
}

// ------------------------------------------------------------------ evaluation

const matches = (l: Labels, ms: Array<Matcher>): boolean =>
  ms.every((m) => {
    const v = l[m.name] ?? ""
    switch (m.op) {
      case "=": return v === m.value
      case "!=": return v !== m.value
      case "=~": return m.re!.test(v)
      case "!~": return !m.re!.test(v)
    }
  })

const dropName = (l: Labels): Labels => {
  const { __name__: _n, ...rest } = l
  return rest
}

/**
 * The series a selector picks, memoized per selector node for the evaluation of one range
 * query (the store does not change while a query runs): a range query selects once, not at
 * every step.
 */
let selectMemo: Map<Node, Array<StoredSeries>> | undefined

const selectSeries = (db: TimeSeriesDB, n: Node & { k: "sel" }): Array<StoredSeries> => {
  const memo = selectMemo?.get(n)
  if (memo) return memo
  const name = n.name ?? n.matchers.find((m) => m.name === "__name__" && m.op === "=")?.value
  // equality matchers with a non-empty value go through the label index (`l=""` also matches series without l)
  const equal = n.matchers.filter((m) => m.op === "=" && m.name !== "__name__" && m.value !== "").map((m) => [m.name, m.value] as const)
  const out = db.selectWhere(name, equal).filter((s) => matches(s.labels, n.matchers))
  selectMemo?.set(n, out)
  return out
}

/** The first index whose time is > `t` (points are in time order). */
const after = (pts: ReadonlyArray<readonly [number, number]>, t: number): number => {
  let lo = 0
  let hi = pts.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (pts[mid]![0] > t) hi = mid
    else lo = mid + 1
  }
  return lo
}

const rangeOf = (s: StoredSeries, from: number, to: number): Array<[number, number]> =>
  s.points.slice(after(s.points, from), after(s.points, to))

const counterDelta = (pts: Array<[number, number]>): number => {
  let d = 0
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]![1]
    const b = pts[i]![1]
    d += b >= a ? b - a : b
  }
  return d
}

const vec = (v: Value, what: string): Array<Sample> => {
  if (v.type === "vector") return v.samples
  throw new PromQLError(`expected instant vector for ${what}, got ${v.type}`)
}

/** Evaluate a parsed query at time `t` (epoch ms). */
export const evaluate = (db: TimeSeriesDB, n: Node, t: number): Value => {
  switch (n.k) {
    case "num": return { type: "scalar", value: n.v }
    case "sel": {
      const ss = selectSeries(db, n)
      if (n.range !== undefined) {
        return { type: "matrix", series: ss.map((s) => ({ metric: s.labels, points: rangeOf(s, t - n.range!, t) })).filter((s) => s.points.length > 0) }
      }
      const out: Array<Sample> = []
      for (const s of ss) {
        const pts = rangeOf(s, t - LOOKBACK_MS, t)
        const last = pts[pts.length - 1]
        if (last) out.push({ metric: s.labels, value: last[1] })
      }
      return { type: "vector", samples: out }
    }
    case "call": return call(db, n, t)
    case "agg": {
      const samples = vec(evaluate(db, n.arg, t), n.op)
      const groups = new Map<string, { metric: Labels; values: Array<number> }>()
      for (const s of samples) {
        const l = dropName(s.metric)
        let g: Labels = {}
        if (n.by) for (const k of n.by) { if (l[k] !== undefined) g[k] = l[k]! }
        else if (n.without) { g = { ...l }; for (const k of n.without) delete g[k] }
        const key = labelsKey(g)
        const e = groups.get(key) ?? { metric: g, values: [] }
        e.values.push(s.value)
        groups.set(key, e)
      }
      const agg = (vs: Array<number>): number => {
        switch (n.op) {
          case "sum": return vs.reduce((a, b) => a + b, 0)
          case "avg": return vs.reduce((a, b) => a + b, 0) / vs.length
          case "max": return Math.max(...vs)
          case "min": return Math.min(...vs)
          default: return vs.length
        }
      }
      return { type: "vector", samples: [...groups.values()].map((g) => ({ metric: g.metric, value: agg(g.values) })) }
    }
    case "bin": {
      const l = evaluate(db, n.l, t)
      const r = evaluate(db, n.r, t)
      const cmp = [">", "<", ">=", "<=", "==", "!="].includes(n.op)
      const op = (a: number, b: number): number => {
        switch (n.op) {
          case "+": return a + b
          case "-": return a - b
          case "*": return a * b
          case "/": return a / b
          case ">": return a > b ? 1 : 0
          case "<": return a < b ? 1 : 0
          case ">=": return a >= b ? 1 : 0
          case "<=": return a <= b ? 1 : 0
          case "==": return a === b ? 1 : 0
          default: return a !== b ? 1 : 0
        }
      }
      if (l.type === "scalar" && r.type === "scalar") return { type: "scalar", value: op(l.value, r.value) }
      if (l.type === "vector" && r.type === "scalar") {
        return { type: "vector", samples: l.samples.flatMap((s) => (cmp ? (op(s.value, r.value) ? [{ metric: s.metric, value: s.value }] : []) : [{ metric: dropName(s.metric), value: op(s.value, r.value) }])) }
      }
      if (l.type === "scalar" && r.type === "vector") {
        return { type: "vector", samples: r.samples.flatMap((s) => (cmp ? (op(l.value, s.value) ? [{ metric: s.metric, value: s.value }] : []) : [{ metric: dropName(s.metric), value: op(l.value, s.value) }])) }
      }
      const lv = vec(l, n.op)
      const rv = vec(r, n.op)
      const right = new Map(rv.map((s) => [labelsKey(dropName(s.metric)), s]))
      const out: Array<Sample> = []
      for (const s of lv) {
        const m = right.get(labelsKey(dropName(s.metric)))
        if (!m) continue
        if (cmp) { if (op(s.value, m.value)) out.push({ metric: s.metric, value: s.value }) }
        else out.push({ metric: dropName(s.metric), value: op(s.value, m.value) })
      }
      return { type: "vector", samples: out }
    }
  }
}

const call = (db: TimeSeriesDB, n: Node & { k: "call" }, t: number): Value => {
  const arity = (k: number) => {
    if (n.args.length !== k) throw new PromQLError(`expected ${k} argument(s) in call to "${n.fn}", got ${n.args.length}`)
  }
  const rangeArg = (): Array<RangeSeries> => {
    arity(1)
    const a = n.args[0]!
    if (a.k !== "sel" || a.range === undefined) throw new PromQLError(`expected type range vector in call to function "${n.fn}", got instant vector`)
    return (evaluate(db, a, t) as Value & { type: "matrix" }).series
  }
  const over = (f: (pts: ReadonlyArray<readonly [number, number]>) => number | undefined, keepName = false): Value => ({
    type: "vector",
    samples: rangeArg().flatMap((s) => {
      const v = f(s.points)
      return v === undefined ? [] : [{ metric: keepName ? s.metric : dropName(s.metric), value: v }]
    })
  })
  switch (n.fn) {
    case "rate":
    case "increase": {
      const a = n.args[0]
      const range = a?.k === "sel" ? a.range ?? 0 : 0
      return over((pts) => {
        if (pts.length < 2) return undefined
        const d = counterDelta(pts as Array<[number, number]>)
        const span = (pts[pts.length - 1]![0] - pts[0]![0]) / 1000
        if (span <= 0) return undefined
        // extrapolate to the whole range window, as Prometheus does (bounded by the window)
        const factor = Math.min(range / 1000, span + (span / (pts.length - 1))) / span
        return n.fn === "rate" ? (d * factor) / (range / 1000) : d * factor
      })
    }
    case "irate": return over((pts) => {
      if (pts.length < 2) return undefined
      const [t1, v1] = pts[pts.length - 2]!
      const [t2, v2] = pts[pts.length - 1]!
      return ((v2 >= v1 ? v2 - v1 : v2) / ((t2 - t1) / 1000))
    })
    case "avg_over_time": return over((p) => p.reduce((a, x) => a + x[1], 0) / p.length)
    case "max_over_time": return over((p) => Math.max(...p.map((x) => x[1])))
    case "min_over_time": return over((p) => Math.min(...p.map((x) => x[1])))
    case "sum_over_time": return over((p) => p.reduce((a, x) => a + x[1], 0))
    case "count_over_time": return over((p) => p.length)
    case "last_over_time": return over((p) => p[p.length - 1]![1])
    case "abs": {
      arity(1)
      return { type: "vector", samples: vec(evaluate(db, n.args[0]!, t), "abs").map((s) => ({ metric: dropName(s.metric), value: Math.abs(s.value) })) }
    }
    case "clamp_min":
    case "clamp_max": {
      arity(2)
      const b = evaluate(db, n.args[1]!, t)
      if (b.type !== "scalar") throw new PromQLError(`expected scalar as second argument of ${n.fn}`)
      return { type: "vector", samples: vec(evaluate(db, n.args[0]!, t), n.fn).map((s) => ({ metric: dropName(s.metric), value: n.fn === "clamp_min" ? Math.max(s.value, b.value) : Math.min(s.value, b.value) })) }
    }
    case "histogram_quantile": {
      arity(2)
      const q = evaluate(db, n.args[0]!, t)
      if (q.type !== "scalar") throw new PromQLError("expected scalar as first argument of histogram_quantile")
      const samples = vec(evaluate(db, n.args[1]!, t), "histogram_quantile")
      const groups = new Map<string, { metric: Labels; buckets: Array<[number, number]> }>()
      for (const s of samples) {
        const le = s.metric["le"]
        if (le === undefined) continue
        const { le: _le, ...rest } = dropName(s.metric)
        const key = labelsKey(rest)
        const g = groups.get(key) ?? { metric: rest, buckets: [] }
        g.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value])
        groups.set(key, g)
      }
      const out: Array<Sample> = []
      for (const g of groups.values()) {
        const b = g.buckets.sort((x, y) => x[0] - y[0])
        const total = b[b.length - 1]?.[1] ?? 0
        if (b.length < 2 || total <= 0 || b[b.length - 1]![0] !== Infinity) { out.push({ metric: g.metric, value: NaN }); continue }
        const rank = q.value * total
        let value = NaN
        for (let i = 0; i < b.length; i++) {
          if (b[i]![1] >= rank) {
            if (b[i]![0] === Infinity) { value = b[i - 1]?.[0] ?? NaN; break }
            const lower = i === 0 ? 0 : b[i - 1]![0]
            const lowerCount = i === 0 ? 0 : b[i - 1]![1]
            const width = b[i]![1] - lowerCount
            value = width <= 0 ? b[i]![0] : lower + ((b[i]![0] - lower) * (rank - lowerCount)) / width
            break
          }
        }
        out.push({ metric: g.metric, value })
      }
      return { type: "vector", samples: out }
    }
    default:
      throw new PromQLError(`unsupported function ${JSON.stringify(n.fn)}`)
  }
}

/** Evaluate a query string at time t. */
export const query = (db: TimeSeriesDB, q: string, t: number): Value => evaluate(db, parse(q), t)

/** Evaluate a query over [start, end] every step (ms); the result is a matrix. */
export const queryRange = (db: TimeSeriesDB, q: string, start: number, end: number, step: number): Array<RangeSeries> => {
  const node = parse(q)
  if (step <= 0) throw new PromQLError("zero or negative query resolution step widths are not accepted. Try a positive integer")
  if (end < start) throw new PromQLError("end timestamp must not be before start time")
  if ((end - start) / step > 11_000) throw new PromQLError("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
  const acc = new Map<string, { metric: Labels; points: Array<[number, number]> }>()
  const outer = selectMemo
  selectMemo = new Map()
  try {
    for (let t = start; t <= end; t += step) {
      const v = evaluate(db, node, t)
      if (v.type === "matrix") throw new PromQLError("invalid expression type \"range vector\" for range query, must be Scalar or instant Vector")
      const samples = v.type === "scalar" ? [{ metric: {}, value: v.value }] : v.samples
      for (const s of samples) {
        const k = labelsKey(s.metric)
        const e = acc.get(k) ?? { metric: s.metric, points: [] }
        e.points.push([t, s.value])
        acc.set(k, e)
      }
    }
  } finally {
    selectMemo = outer
  }
  return [...acc.values()]
}
