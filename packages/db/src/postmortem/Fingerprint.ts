/**
 * Query fingerprints: SQL normalised so that statements differing only in their literal values
 * group together, as in a slow-query digest.
 *
 * `fingerprint(sql)`:
 * - strips comments (`-- …`, nested `/* … *\/`, and `# …` in the MySQL dialect);
 * - replaces literals with `?`: strings (`'…'` with `''`, `E'…'` with backslash escapes, `B'…'`,
 *   `X'…'`, `N'…'`, PostgreSQL dollar quoting `$tag$…$tag$`, MySQL `"…"`), numbers (`42`,
 *   `-1.5e3`, `0x1F`, `.5`), and bind parameters (`$1`, `?`, `:name`);
 * - collapses lists: `IN (?, ?, ?)` → `in (?+)`, `ANY (ARRAY[?, ?])` → `any (array[?+])`, and
 *   repeated `VALUES` rows into one;
 * - lower-cases keywords and unquoted identifiers (quoted identifiers keep their case and quotes),
 *   normalises whitespace, and drops trailing semicolons.
 *
 * Why a tokenizer and not a parser: `pg_stat_activity.query` is cut at `track_activity_query_size`
 * (1 kB by default) and MySQL's PROCESSLIST shows another dialect, so a real parser (libpg_query)
 * would reject many of the texts a postmortem has to group. The tokenizer never fails: an
 * unterminated string or comment (a truncated query) becomes `?` or disappears. Literals never
 * survive, so a fingerprint carries no secret a statement embedded as a value.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"

/** SQL dialect: PostgreSQL (default) or MySQL / MariaDB. */
export type Dialect = "postgres" | "mysql"

/** Options of {@link fingerprint}. */
export interface FingerprintOptions {
  readonly dialect?: Dialect
}

type Token =
  | { readonly k: "word"; readonly v: string }
  | { readonly k: "qident"; readonly v: string }
  | { readonly k: "lit" }
  | { readonly k: "punct"; readonly v: string }
  | { readonly k: "list"; readonly v: string }

const isWordStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c)
const isWordChar = (c: string) => /[A-Za-z0-9_$\u0080-\uffff]/.test(c)
const isDigit = (c: string) => c >= "0" && c <= "9"

/** Words after which a `-` starts a negative number rather than a subtraction. */
const UNARY_AFTER_WORD = new Set([
  "select", "where", "and", "or", "not", "in", "values", "set", "by", "when", "then", "else", "between",
  "like", "is", "return", "returning", "limit", "offset", "having", "on", "case", "as", "interval"
])

const tokenize = (sql: string, dialect: Dialect): Array<Token> => {
  const out: Array<Token> = []
  const n = sql.length
  let i = 0
  const lit = () => out.push({ k: "lit" })
  /** Skips a quoted run starting at `i` (the opening quote); returns the index after the closing quote (or n). */
  const skipQuoted = (start: number, quote: string, backslash: boolean): number => {
    let j = start + 1
    while (j < n) {
      const c = sql[j]!
      if (backslash && c === "\\") {
        j += 2
        continue
      }
      if (c === quote) {
        if (sql[j + 1] === quote) {
          j += 2
          continue
        }
        return j + 1
      }
      j++
    }
    return n
  }
  const previousAllowsUnary = (): boolean => {
    const prev = out[out.length - 1]
    if (prev === undefined) return true
    if (prev.k === "lit" || prev.k === "qident" || prev.k === "list") return false
    if (prev.k === "word") return UNARY_AFTER_WORD.has(prev.v)
    return prev.v !== ")" && prev.v !== "]"
  }
  while (i < n) {
    const c = sql[i]!
    const next = sql[i + 1] ?? ""
    // whitespace
    if (/\s/.test(c)) {
      i++
      continue
    }
    // comments
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i)
      i = end === -1 ? n : end + 1
      continue
    }
    if (c === "#" && dialect === "mysql") {
      const end = sql.indexOf("\n", i)
      i = end === -1 ? n : end + 1
      continue
    }
    if (c === "/" && next === "*") {
      let depth = 1
      let j = i + 2
      while (j < n && depth > 0) {
        if (sql[j] === "/" && sql[j + 1] === "*" && dialect === "postgres") {
          depth++
          j += 2
        } else if (sql[j] === "*" && sql[j + 1] === "/") {
          depth--
          j += 2
        } else j++
      }
      i = j
      continue
    }
    // string literals with a prefix: E'…' (backslash escapes), B'…', X'…', N'…', U&'…'
    if (/[eEbBxXnN]/.test(c) && next === "'" && !(out.length > 0 && i > 0 && isWordChar(sql[i - 1]!))) {
      i = skipQuoted(i + 1, "'", c === "e" || c === "E" || dialect === "mysql")
      lit()
      continue
    }
    if ((c === "u" || c === "U") && next === "&" && sql[i + 2] === "'") {
      i = skipQuoted(i + 2, "'", false)
      lit()
      continue
    }
    if (c === "'") {
      i = skipQuoted(i, "'", dialect === "mysql")
      lit()
      continue
    }
    // dollar quoting $tag$…$tag$ and parameters $1
    if (c === "$" && dialect === "postgres") {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66))
      if (m !== null) {
        const tag = m[0]
        const end = sql.indexOf(tag, i + tag.length)
        i = end === -1 ? n : end + tag.length
        lit()
        continue
      }
      const p = /^\$\d+/.exec(sql.slice(i, i + 12))
      if (p !== null) {
        i += p[0].length
        lit()
        continue
      }
    }
    // quoted identifiers; MySQL "…" is a string by default
    if (c === "\"") {
      const end = skipQuoted(i, "\"", dialect === "mysql")
      if (dialect === "mysql") lit()
      else out.push({ k: "qident", v: sql.slice(i, end) })
      i = end
      continue
    }
    if (c === "`") {
      const end = skipQuoted(i, "`", false)
      out.push({ k: "qident", v: sql.slice(i, end) })
      i = end
      continue
    }
    // numbers (a leading '-' when it is unary)
    const numberAt = (j: number): number => {
      const m = /^(0[xX][0-9a-fA-F]+|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)/.exec(sql.slice(j, j + 400))
      return m === null ? 0 : m[0].length
    }
    if (isDigit(c) || (c === "." && isDigit(next))) {
      const len = numberAt(i)
      i += Math.max(1, len)
      while (i < n && isWordChar(sql[i]!)) i++ // 1e (truncated) or a suffix
      lit()
      continue
    }
    if (c === "-" && (isDigit(next) || (next === "." && isDigit(sql[i + 2] ?? ""))) && previousAllowsUnary()) {
      i += 1 + numberAt(i + 1)
      lit()
      continue
    }
    // parameters: ? and :name (but not :: casts)
    if (c === "?") {
      i++
      lit()
      continue
    }
    if (c === ":" && next !== ":" && isWordStart(next) && !(sql[i - 1] === ":")) {
      i++
      while (i < n && isWordChar(sql[i]!)) i++
      lit()
      continue
    }
    // words
    if (isWordStart(c)) {
      let j = i + 1
      while (j < n && isWordChar(sql[j]!)) j++
      out.push({ k: "word", v: sql.slice(i, j).toLowerCase() })
      i = j
      continue
    }
    // multi-character operators
    const op = /^(::|<=|>=|<>|!=|\|\||->>|->|#>>|#>|@>|<@|&&)/.exec(sql.slice(i, i + 3))
    if (op !== null) {
      out.push({ k: "punct", v: op[0] })
      i += op[0].length
      continue
    }
    out.push({ k: "punct", v: c })
    i++
  }
  return out
}

const isLit = (t: Token | undefined) => t !== undefined && (t.k === "lit" || (t.k === "list"))

/** Collapses `( ? , ? , … )` after IN / ANY / ALL and `[ ? , … ]` after ARRAY into one list token. */
const collapseLists = (tokens: ReadonlyArray<Token>): Array<Token> => {
  const out: Array<Token> = []
  let i = 0
  while (i < tokens.length) {
    const t = tokens[i]!
    const prev = out[out.length - 1]
    const open = t.k === "punct" && (t.v === "(" || t.v === "[") ? t.v : undefined
    const opener = prev?.k === "word" && (
      (open === "(" && (prev.v === "in" || prev.v === "any" || prev.v === "all")) || (open === "[" && prev.v === "array")
    )
    if (open !== undefined && opener) {
      const close = open === "(" ? ")" : "]"
      let j = i + 1
      let ok = isLit(tokens[j])
      while (ok) {
        j++
        const sep = tokens[j]
        if (sep?.k === "punct" && sep.v === close) break
        if (sep?.k === "punct" && sep.v === "," && isLit(tokens[j + 1])) {
          j++
          continue
        }
        ok = false
      }
      if (ok) {
        out.push({ k: "list", v: `${open}?+${close}` })
        i = j + 1
        continue
      }
      // a truncated list: "(?, ?, ?" up to the end
      if (tokens.slice(i + 1).every((x) => isLit(x) || (x.k === "punct" && x.v === ","))) {
        out.push({ k: "list", v: `${open}?+${close}` })
        i = tokens.length
        continue
      }
    }
    out.push(t)
    i++
  }
  return out
}

const render = (t: Token): string => (t.k === "lit" ? "?" : t.v)

/** Collapses `values (…), (…), …` into the first row. */
const collapseValues = (tokens: ReadonlyArray<Token>): Array<Token> => {
  const out: Array<Token> = []
  let i = 0
  const rowEnd = (start: number): number => {
    // tokens[start] is "("; returns the index after the matching ")"
    let depth = 0
    for (let j = start; j < tokens.length; j++) {
      const t = tokens[j]!
      if (t.k === "punct" && t.v === "(") depth++
      if (t.k === "punct" && t.v === ")") {
        depth--
        if (depth === 0) return j + 1
      }
    }
    return tokens.length
  }
  while (i < tokens.length) {
    const t = tokens[i]!
    out.push(t)
    i++
    if (t.k === "word" && t.v === "values" && tokens[i]?.k === "punct" && (tokens[i] as { v: string }).v === "(") {
      const end = rowEnd(i)
      const first = tokens.slice(i, end)
      out.push(...first)
      const shape = first.map(render).join(" ")
      i = end
      for (;;) {
        const comma = tokens[i]
        if (!(comma?.k === "punct" && comma.v === "," && tokens[i + 1]?.k === "punct" && (tokens[i + 1] as { v: string }).v === "(")) break
        const e = rowEnd(i + 1)
        if (tokens.slice(i + 1, e).map(render).join(" ") !== shape) break
        i = e
      }
    }
  }
  return out
}

const NO_SPACE_BEFORE = new Set([",", ")", "]", ".", "::", ";"])
const NO_SPACE_AFTER = new Set(["(", "[", ".", "::"])

/** The normalised text of a statement (see the module docs). */
export const fingerprint = (sql: string, options: FingerprintOptions = {}): string => {
  const dialect = options.dialect ?? "postgres"
  let tokens = collapseValues(collapseLists(tokenize(sql, dialect)))
  while (tokens.length > 0 && tokens[tokens.length - 1]!.k === "punct" && (tokens[tokens.length - 1] as { v: string }).v === ";") {
    tokens = tokens.slice(0, -1)
  }
  let out = ""
  let prev: Token | undefined
  let before: Token | undefined
  for (const t of tokens) {
    const text = render(t)
    const glue = prev === undefined ||
      (t.k === "punct" && NO_SPACE_BEFORE.has(t.v)) ||
      (prev.k === "punct" && NO_SPACE_AFTER.has(prev.v)) ||
      // a call: name( … ), but keep "in (", "values (" readable
      (t.k === "punct" && t.v === "(" && prev.k === "word" && !/^(in|values|any|all|exists|as|on|using|from|join|and|or|not|where|select)$/.test(prev.v) &&
        !(before?.k === "word" && /^(into|table|update|join|from)$/.test(before.v))) ||
      ((t.k === "punct" && t.v === "[") || (t.k === "list" && t.v.startsWith("["))) && prev.k === "word"
    out += glue ? text : ` ${text}`
    before = prev
    prev = t
  }
  return out
}

/** A short stable id of a fingerprint (16 hex digits of its SHA-256), for tables and cross-references. */
export const fingerprintId = (normalized: string): string => createHash("sha256").update(normalized).digest("hex").slice(0, 16)
