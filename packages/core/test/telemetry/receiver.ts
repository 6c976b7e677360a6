/**
 * A loopback OTLP/HTTP receiver for the tests: accepts `POST /v1/traces|metrics|logs` in both
 * encodings (`application/json` and `application/x-protobuf`, gzip or not), keeps every raw body
 * and decodes the parts the tests read — spans (ids, parent, name, times, attributes), metric
 * points (name, attributes, value / count / sum) and log records (body, attributes). The
 * protobuf side reads the wire format with effect's `ProtobufReader` against the field numbers of
 * opentelemetry-proto v1 (collector/{trace,metrics,logs}/v1, common/v1).
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as zlib from "node:zlib"
import { ProtobufReader } from "effect/protobuf"

/** A decoded attribute value. */
export type Value = string | number | boolean | bigint | ReadonlyArray<Value> | { readonly [k: string]: Value } | null

/** A decoded span. */
export interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string
  readonly name: string
  readonly startNanos: bigint
  readonly endNanos: bigint
  readonly attributes: Record<string, Value>
}

/** A decoded metric data point. */
export interface Point {
  readonly metric: string
  readonly attributes: Record<string, Value>
  readonly value?: number
  readonly count?: number
  readonly sum?: number
}

/** A decoded log record. */
export interface LogRecord {
  readonly body: Value
  readonly attributes: Record<string, Value>
}

/** One request as received. */
export interface Received {
  readonly path: string
  readonly contentType: string
  readonly raw: Buffer
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

// --- protobuf -------------------------------------------------------------------------------

type Fields = Map<number, Array<{ readonly wire: number; readonly varint?: bigint; readonly bytes?: Uint8Array; readonly fixed64?: Uint8Array; readonly fixed32?: Uint8Array }>>

const fields = (bytes: Uint8Array): Fields => {
  const r = ProtobufReader.make(bytes)
  const out: Fields = new Map()
  while (!r.isDone()) {
    const tag = r.tag()
    const no = ProtobufReader.fieldNumber(tag)
    const wire = ProtobufReader.wireType(tag)
    const list = out.get(no) ?? []
    out.set(no, list)
    if (wire === 0) list.push({ wire, varint: BigInt.asUintN(64, r.uint64()) })
    else if (wire === 2) list.push({ wire, bytes: r.bytes() })
    else if (wire === 1) {
      const start = r.offset
      r.skip(tag)
      list.push({ wire, fixed64: bytes.slice(start, start + 8) })
    } else if (wire === 5) {
      const start = r.offset
      r.skip(tag)
      list.push({ wire, fixed32: bytes.slice(start, start + 4) })
    } else r.skip(tag)
  }
  return out
}

const msgs = (f: Fields, no: number): Array<Fields> => (f.get(no) ?? []).filter((x) => x.bytes).map((x) => fields(x.bytes!))
const str = (f: Fields, no: number): string => {
  const x = (f.get(no) ?? [])[0]
  return x?.bytes ? Buffer.from(x.bytes).toString("utf8") : ""
}
const raw = (f: Fields, no: number): Uint8Array => (f.get(no) ?? [])[0]?.bytes ?? new Uint8Array()
const u64 = (f: Fields, no: number): bigint => {
  const x = (f.get(no) ?? [])[0]
  return x?.fixed64 ? Buffer.from(x.fixed64).readBigUInt64LE(0) : x?.varint ?? 0n
}
const dbl = (f: Fields, no: number): number | undefined => {
  const x = (f.get(no) ?? [])[0]
  return x?.fixed64 ? Buffer.from(x.fixed64).readDoubleLE(0) : undefined
}

const anyValuePb = (f: Fields): Value => {
  if (f.has(1)) return str(f, 1)
  if (f.has(2)) return f.get(2)![0]!.varint === 1n
  if (f.has(3)) return Number(BigInt.asIntN(64, f.get(3)![0]!.varint!))
  if (f.has(4)) return dbl(f, 4) ?? null
  if (f.has(5)) return msgs(msgs(f, 5)[0]!, 1).map(anyValuePb)
  if (f.has(6)) return attrsPb(msgs(f, 6)[0]!, 1)
  if (f.has(7)) return hex(raw(f, 7))
  return null
}
const attrsPb = (f: Fields, no: number): Record<string, Value> => {
  const out: Record<string, Value> = {}
  for (const kv of msgs(f, no)) out[str(kv, 1)] = kv.has(2) ? anyValuePb(msgs(kv, 2)[0]!) : null
  return out
}

const spansPb = (body: Uint8Array): Array<Span> =>
  msgs(fields(body), 1).flatMap((rs) =>
    msgs(rs, 2).flatMap((ss) =>
      msgs(ss, 2).map((s) => ({
        traceId: hex(raw(s, 1)),
        spanId: hex(raw(s, 2)),
        parentSpanId: hex(raw(s, 4)),
        name: str(s, 5),
        startNanos: u64(s, 7),
        endNanos: u64(s, 8),
        attributes: attrsPb(s, 9)
      }))
    )
  )

const numberPointPb = (metric: string, p: Fields): Point => {
  const v = dbl(p, 4) ?? (p.has(6) ? Number(Buffer.from(p.get(6)![0]!.fixed64!).readBigInt64LE(0)) : undefined)
  return { metric, attributes: attrsPb(p, 7), ...(v !== undefined ? { value: v } : {}) }
}

const pointsPb = (body: Uint8Array): Array<Point> =>
  msgs(fields(body), 1).flatMap((rm) =>
    msgs(rm, 2).flatMap((sm) =>
      msgs(sm, 2).flatMap((m) => {
        const name = str(m, 1)
        const gauge = msgs(m, 5)[0]
        const sum = msgs(m, 7)[0]
        const hist = msgs(m, 9)[0]
        if (gauge) return msgs(gauge, 1).map((p) => numberPointPb(name, p))
        if (sum) return msgs(sum, 1).map((p) => numberPointPb(name, p))
        if (hist) return msgs(hist, 1).map((p) => ({ metric: name, attributes: attrsPb(p, 9), count: Number(u64(p, 4)), ...(dbl(p, 5) !== undefined ? { sum: dbl(p, 5)! } : {}) }))
        return []
      })
    )
  )

const logsPb = (body: Uint8Array): Array<LogRecord> =>
  msgs(fields(body), 1).flatMap((rl) =>
    msgs(rl, 2).flatMap((sl) => msgs(sl, 2).map((l) => ({ body: l.has(5) ? anyValuePb(msgs(l, 5)[0]!) : null, attributes: attrsPb(l, 6) })))
  )

// --- JSON -----------------------------------------------------------------------------------

const anyValueJson = (v: any): Value => {
  if (v == null) return null
  if ("stringValue" in v) return v.stringValue
  if ("boolValue" in v) return v.boolValue
  if ("intValue" in v) return Number(v.intValue)
  if ("doubleValue" in v) return v.doubleValue
  if ("arrayValue" in v) return (v.arrayValue.values ?? []).map(anyValueJson)
  if ("kvlistValue" in v) return attrsJson(v.kvlistValue.values)
  if ("bytesValue" in v) return v.bytesValue
  return null
}
const attrsJson = (list: any): Record<string, Value> => Object.fromEntries((list ?? []).map((kv: any) => [kv.key, anyValueJson(kv.value)]))

const spansJson = (body: any): Array<Span> =>
  (body.resourceSpans ?? []).flatMap((rs: any) =>
    (rs.scopeSpans ?? []).flatMap((ss: any) =>
      (ss.spans ?? []).map((s: any) => ({
        traceId: s.traceId ?? "",
        spanId: s.spanId ?? "",
        parentSpanId: s.parentSpanId ?? "",
        name: s.name,
        startNanos: BigInt(s.startTimeUnixNano ?? 0),
        endNanos: BigInt(s.endTimeUnixNano ?? 0),
        attributes: attrsJson(s.attributes)
      }))
    )
  )

const pointsJson = (body: any): Array<Point> =>
  (body.resourceMetrics ?? []).flatMap((rm: any) =>
    (rm.scopeMetrics ?? []).flatMap((sm: any) =>
      (sm.metrics ?? []).flatMap((m: any) => {
        const num = (p: any): Point => ({ metric: m.name, attributes: attrsJson(p.attributes), value: Number(p.asDouble ?? p.asInt) })
        if (m.sum) return (m.sum.dataPoints ?? []).map(num)
        if (m.gauge) return (m.gauge.dataPoints ?? []).map(num)
        if (m.histogram) return (m.histogram.dataPoints ?? []).map((p: any) => ({ metric: m.name, attributes: attrsJson(p.attributes), count: Number(p.count), sum: p.sum }))
        return []
      })
    )
  )

const logsJson = (body: any): Array<LogRecord> =>
  (body.resourceLogs ?? []).flatMap((rl: any) =>
    (rl.scopeLogs ?? []).flatMap((sl: any) => (sl.logRecords ?? []).map((l: any) => ({ body: anyValueJson(l.body), attributes: attrsJson(l.attributes) })))
  )

// --- the server -----------------------------------------------------------------------------

/** A running receiver. */
export interface Receiver {
  readonly url: string
  readonly received: ReadonlyArray<Received>
  readonly spans: () => Array<Span>
  readonly points: () => Array<Point>
  readonly logs: () => Array<LogRecord>
  /** Every body as text (protobuf strings are UTF-8 inside the bytes). */
  readonly allText: () => string
  readonly close: () => Promise<void>
}

/** Starts a receiver on 127.0.0.1 (an ephemeral port). */
export const start = async (): Promise<Receiver> => {
  const received: Array<Received> = []
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      let body = Buffer.concat(chunks)
      if (req.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body)
      received.push({ path: req.url ?? "", contentType: String(req.headers["content-type"] ?? ""), raw: body })
      const json = String(req.headers["content-type"]).includes("json")
      res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" })
      res.end(json ? "{}" : Buffer.alloc(0))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const decode = <A>(path: string, pb: (b: Uint8Array) => Array<A>, js: (b: any) => Array<A>): Array<A> =>
    received.filter((r) => r.path === path).flatMap((r) => (r.contentType.includes("json") ? js(JSON.parse(r.raw.toString("utf8"))) : pb(new Uint8Array(r.raw))))
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    spans: () => decode("/v1/traces", spansPb, spansJson),
    points: () => decode("/v1/metrics", pointsPb, pointsJson),
    logs: () => decode("/v1/logs", logsPb, logsJson),
    allText: () => received.map((r) => r.raw.toString("utf8")).join("\n"),
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
