/**
 * Exported tables as psql writes them, parsed into raw rows with their row numbers, and the typed
 * {@link DecodeError} every decoder of `@byteport/db/testing` fails with.
 *
 * - **JSON**: `psql -At -c "SELECT json_agg(t) FROM (...) t"` (plain JSON) or
 *   `\copy (SELECT json_agg(t) FROM (...) t) TO 'file'` (COPY text format: newlines between the
 *   elements come out as the two characters `\n`, backslashes doubled; both are undone). Large
 *   integers (`query_id`, a signed 64-bit hash) are kept exact as text.
 * - **CSV**: `psql --csv -c "..."` (or `\copy ... WITH (FORMAT csv, HEADER)`): a header line,
 *   RFC 4180 quoting. psql prints NULL and the empty string alike (an empty field): every empty
 *   field reads as `null`, and the decoders turn it back into `""` where the column is never
 *   NULL (`application_name`, `query`).
 *
 * - **TSV** (`.tsv`): the MySQL / MariaDB command-line client's `--batch` output (`mariadb --batch -e
 *   "..." > file`): a header line, tab-separated fields, `NULL` for NULL (so a text value `NULL`
 *   reads as NULL too: the client prints them alike), `\n`, `\t`, `\0` and `\\` escaped (undone).
 *   A result of no rows prints nothing, not even the header: an empty file is an export of no rows.
 *   MariaDB's client has no JSON output (`--json` is MySQL Shell's, not the `mysql` client's).
 *
 * Row numbers are 1-based data rows (the CSV / TSV header is not a row).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"

/** A recording that does not decode: which file, which row (1-based) and column, and why. */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  file: Schema.String,
  row: Schema.NullOr(Schema.Number),
  column: Schema.NullOr(Schema.String),
  message: Schema.String
}) {}

/** One raw cell: JSON values as parsed, CSV cells as text (empty → null). */
export type Cell = string | number | boolean | null | ReadonlyArray<unknown> | { readonly [k: string]: unknown }

/** A parsed export: its file name (for errors) and its rows. */
export interface Table {
  readonly file: string
  readonly format: "json" | "csv" | "tsv"
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<Readonly<Record<string, Cell>>>
}

const fail = (file: string, message: string, row: number | null = null, column: string | null = null) =>
  new DecodeError({ file, row, column, message: `${file}${row === null ? "" : ` row ${row}`}${column === null ? "" : ` column ${column}`}: ${message}` })

// 64-bit integers that JSON.parse would round (`query_id`, a signed 64-bit hash): kept as text.
const BIG_INT = /("query_id"\s*:\s*)(-?\d+)/g

const copyUnescape = (text: string): string =>
  text.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c === "r" ? "\r" : c === "b" ? "\b" : c === "f" ? "\f" : c === "v" ? "\v" : c))

const parseJson = (file: string, text: string): Table => {
  const body = text.trim()
  if (body === "") return { file, format: "json", columns: [], rows: [] } // json_agg of no rows prints nothing (NULL)
  let value: unknown
  try {
    value = JSON.parse(body.replace(BIG_INT, "$1\"$2\""))
  } catch {
    try {
      value = JSON.parse(copyUnescape(body).replace(BIG_INT, "$1\"$2\""))
    } catch (e) {
      throw fail(file, `not JSON (nor a \\copy of JSON): ${(e as Error).message}`)
    }
  }
  if (value === null) return { file, format: "json", columns: [], rows: [] }
  if (!Array.isArray(value)) throw fail(file, "expected a JSON array of rows (json_agg)")
  const columns = new Set<string>()
  const rows = value.map((r, i) => {
    if (r === null || typeof r !== "object" || Array.isArray(r)) throw fail(file, "expected an object", i + 1)
    for (const k of Object.keys(r)) columns.add(k)
    return r as Record<string, Cell>
  })
  return { file, format: "json", columns: [...columns], rows }
}

/** Pure: RFC 4180 fields of a CSV text; quoted fields keep their quotes' meaning (`quoted` flags). */
const csvRecords = (file: string, text: string): Array<Array<{ readonly value: string; readonly quoted: boolean }>> => {
  const out: Array<Array<{ value: string; quoted: boolean }>> = []
  let record: Array<{ value: string; quoted: boolean }> = []
  let field = ""
  let quoted = false
  let inQuotes = false
  let i = 0
  const endField = () => {
    record.push({ value: field, quoted })
    field = ""
    quoted = false
  }
  while (i < text.length) {
    const c = text[i]!
    if (inQuotes) {
      if (c === "\"") {
        if (text[i + 1] === "\"") {
          field += "\""
          i += 2
          continue
        }
        inQuotes = false
      } else field += c
      i++
      continue
    }
    if (c === "\"" && field === "" && !quoted) {
      inQuotes = true
      quoted = true
    } else if (c === ",") endField()
    else if (c === "\n" || c === "\r") {
      endField()
      out.push(record)
      record = []
      if (c === "\r" && text[i + 1] === "\n") i++
    } else field += c
    i++
  }
  if (inQuotes) throw fail(file, "unterminated quoted field", out.length)
  if (field !== "" || quoted || record.length > 0) {
    endField()
    out.push(record)
  }
  return out.filter((r) => !(r.length === 1 && r[0]!.value === "" && !r[0]!.quoted))
}

const parseCsv = (file: string, text: string): Table => {
  const records = csvRecords(file, text.replace(/^\uFEFF/, ""))
  const header = records[0]
  if (header === undefined) throw fail(file, "empty CSV: expected a header line")
  const columns = header.map((h) => h.value)
  const rows = records.slice(1).map((r, i) => {
    if (r.length !== columns.length) throw fail(file, `${r.length} fields, the header has ${columns.length}`, i + 1)
    return Object.fromEntries(columns.map((c, j) => [c, r[j]!.value === "" && !r[j]!.quoted ? null : r[j]!.value])) as Record<string, Cell>
  })
  return { file, format: "csv", columns, rows }
}

const batchUnescape = (file: string, row: number, field: string): string | null =>
  field === "NULL"
    ? null
    : field.replace(/\\(.?)/g, (_, c: string) => {
      if (c === "n") return "\n"
      if (c === "t") return "\t"
      if (c === "0") return "\0"
      if (c === "\\") return "\\"
      if (c === "r") return "\r"
      if (c === "b") return "\b"
      throw fail(file, `a lone backslash before ${JSON.stringify(c)}: not \`--batch\` output (or written with --raw)`, row)
    })

/** Pure (throws): the MySQL / MariaDB client's `--batch` output (see module docs). */
const parseBatch = (file: string, text: string): Table => {
  const lines = text.replace(/^\uFEFF/, "").split("\n")
  if (lines.at(-1) === "") lines.pop()
  const header = lines[0]
  // the client prints nothing at all, not even the header, for a result of no rows
  if (header === undefined || (header === "" && lines.length <= 1)) return { file, format: "tsv", columns: [], rows: [] }
  if (header === "") throw fail(file, "no header line (do not pass --skip-column-names)")
  const columns = header.split("\t")
  const rows = lines.slice(1).map((line, i) => {
    const fields = line.split("\t")
    if (fields.length !== columns.length) throw fail(file, `${fields.length} fields, the header has ${columns.length}`, i + 1)
    return Object.fromEntries(columns.map((c, j) => [c, batchUnescape(file, i + 1, fields[j]!)])) as Record<string, Cell>
  })
  return { file, format: "tsv", columns, rows }
}

/** Parses an export's text: the format from the file name (`.json` / `.csv` / `.tsv`), else sniffed (`[` or empty: JSON). */
export const parse = (file: string, text: string, format?: "json" | "csv" | "tsv"): Effect.Effect<Table, DecodeError> =>
  Effect.try({
    try: () => {
      const f = format ?? (/\.json$/i.test(file) ? "json" : /\.csv$/i.test(file) ? "csv" : /\.tsv$/i.test(file) ? "tsv" : /^\s*(\[|$|null)/.test(text) ? "json" : "csv")
      return f === "json" ? parseJson(file, text) : f === "tsv" ? parseBatch(file, text) : parseCsv(file, text)
    },
    catch: (e) => (e instanceof DecodeError ? e : fail(file, String(e)))
  })

/** Reads and parses an export file. */
export const read = (file: string): Effect.Effect<Table, DecodeError> =>
  Effect.try({ try: () => fs.readFileSync(file, "utf8"), catch: (e) => fail(file, `cannot read: ${(e as Error).message}`) }).pipe(
    Effect.flatMap((text) => parse(file, text))
  )

/** A cell reader bound to one row of a table: each getter fails with a {@link DecodeError} naming file, row and column. */
export interface Row {
  readonly index: number
  readonly has: (column: string) => boolean
  readonly raw: (column: string) => Cell | undefined
  readonly string: (column: string) => string
  readonly stringOrNull: (column: string) => string | null
  readonly intOrNull: (column: string) => number | null
  readonly int: (column: string) => number
  readonly boolOrNull: (column: string) => boolean | null
  readonly intArray: (column: string) => ReadonlyArray<number>
  readonly fail: (column: string | null, message: string) => DecodeError
}

/** Pure (throws {@link DecodeError}): a {@link Row} reader for row `index` (0-based) of a table. */
export const row = (table: Table, index: number): Row => {
  const r = table.rows[index]!
  const n = index + 1
  const failAt = (column: string | null, message: string) => fail(table.file, message, n, column)
  const raw = (c: string) => r[c]
  const stringOrNull = (c: string): string | null => {
    const v = r[c]
    if (v === undefined || v === null) return null
    if (typeof v === "string") return v
    if (typeof v === "number" || typeof v === "boolean") return String(v)
    throw failAt(c, `expected text, got ${JSON.stringify(v)}`)
  }
  const intOrNull = (c: string): number | null => {
    const v = r[c]
    if (v === undefined || v === null) return null
    const x = typeof v === "number" ? v : typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN
    if (!Number.isSafeInteger(x)) throw failAt(c, `expected an integer, got ${JSON.stringify(v)}`)
    return x
  }
  return {
    index: n,
    has: (c) => c in r,
    raw,
    stringOrNull,
    string: (c) => {
      const v = stringOrNull(c)
      if (v === null) throw failAt(c, "missing (null)")
      return v
    },
    intOrNull,
    int: (c) => {
      const v = intOrNull(c)
      if (v === null) throw failAt(c, "missing (null)")
      return v
    },
    boolOrNull: (c) => {
      const v = r[c]
      if (v === undefined || v === null) return null
      if (typeof v === "boolean") return v
      if (v === "t" || v === "true") return true
      if (v === "f" || v === "false") return false
      throw failAt(c, `expected a boolean (t/f), got ${JSON.stringify(v)}`)
    },
    intArray: (c) => {
      const v = r[c]
      if (v === undefined || v === null) return []
      const items: ReadonlyArray<unknown> = Array.isArray(v)
        ? v
        : typeof v === "string" && /^\{[^}]*\}$/.test(v.trim())
        ? v.trim().slice(1, -1).split(",").filter((x) => x.trim() !== "")
        : (() => {
          throw failAt(c, `expected an integer array ({1,2} or [1,2]), got ${JSON.stringify(v)}`)
        })()
      return items.map((x) => {
        const k = typeof x === "number" ? x : typeof x === "string" && /^\s*-?\d+\s*$/.test(x) ? Number(x) : NaN
        if (!Number.isSafeInteger(k)) throw failAt(c, `expected integers, got ${JSON.stringify(v)}`)
        return k
      })
    },
    fail: failAt
  }
}

/** A timestamptz as psql prints it, exact: milliseconds since the epoch and microseconds as text. */
export interface Instant {
  readonly ms: number
  readonly us: string
}

const TS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/

/** Pure: parses a timestamptz (`2026-12-07 13:29:44.211478+00`, `2026-12-07T13:29:44.211478+00:00`, `…+05:30`); null when it is not one or has no zone. */
export const instant = (text: string): Instant | null => {
  const m = TS.exec(text.trim())
  if (m === null) return null
  if (m[8] === undefined && m[9] === undefined) return null // a timestamp without a time zone is ambiguous
  const sign = m[9] === "-" ? -1 : 1
  const offsetS = m[8] !== undefined ? 0 : sign * (Number(m[10]) * 3600 + Number(m[11] ?? 0) * 60 + Number(m[12] ?? 0))
  const wholeMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) - offsetS * 1000
  if (Number.isNaN(wholeMs)) return null
  const micros = BigInt(wholeMs) * 1000n + BigInt((m[7] ?? "").padEnd(6, "0"))
  return { ms: Number(micros) / 1000, us: micros.toString() }
}
