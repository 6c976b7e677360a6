/**
 * A loopback fake of Google Compute Engine API v1's zonal disks and zone operations in their
 * documented JSON shapes: `GET /compute/v1/projects/{project}/zones/{zone}/disks/{disk}` (a
 * `compute#disk`, `sizeGb` an int64 string), `POST …/disks/{disk}/resize` `{"sizeGb": "…"}` (a
 * `compute#operation`, `operationType: "resizeDisk"`), `GET …/zones/{zone}/operations/{operation}`
 * and `POST …/operations/{operation}/wait`. Requests need `Authorization: Bearer <token>` (401
 * otherwise, Google's error envelope `{"error": {"code", "message", "errors", "status"}}`).
 *
 * An operation is `PENDING`, then `RUNNING`, then `DONE` on the fake's clock (`now`, default
 * `Date.now`; `runningMillis`, `doneMillis`); the disk's `sizeGb` changes when the operation is
 * DONE. A smaller size fails 400 `invalid` as Compute Engine does ("Disk cannot be resized to a
 * smaller size").
 *
 * Left out: regional disks, insert/delete/snapshots, labels, pagination, IAM beyond the bearer
 * token, quotas, and `wait`'s 2-minute server-side deadline (it answers at once).
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** One disk the fake holds. */
export interface FakeDisk {
  readonly project: string
  readonly zone: string
  readonly name: string
  readonly id: string
  sizeGb: number
}

/** One zone operation. */
export interface FakeOperation {
  readonly name: string
  readonly id: string
  readonly project: string
  readonly zone: string
  readonly disk: string
  readonly targetSizeGb: number
  readonly insertedAt: number
}

/** A request the fake received. */
export interface Received {
  readonly method: string
  readonly path: string
  readonly body: unknown
}

/** Options of `start`. */
export interface Options {
  /** The bearer token it accepts (default "test-token"). */
  readonly token?: string
  /** The clock (epoch ms; default Date.now). */
  readonly now?: () => number
  /** An operation turns RUNNING after this long, DONE after `doneMillis` (defaults 0 and 0). */
  readonly runningMillis?: number
  readonly doneMillis?: number
}

/** A running fake. */
export interface GcpComputeFake {
  /** `http://127.0.0.1:PORT` (the API root; paths start with /compute/v1). */
  readonly url: string
  readonly requests: () => ReadonlyArray<Received>
  /** The requests that changed state (POST resize, answered 200). */
  readonly writes: () => ReadonlyArray<Received>
  readonly addDisk: (o: { readonly project: string; readonly zone: string; readonly name: string; readonly sizeGb: number }) => FakeDisk
  /** Live state (after the clock's transitions). */
  readonly disk: (project: string, zone: string, name: string) => FakeDisk | undefined
  readonly close: () => Promise<void>
}

class GcpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message)
  }
}

const STATUS_OF: Record<number, string> = { 400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND" }

/** Starts the fake on 127.0.0.1 (a free port). */
export const start = async (options: Options = {}): Promise<GcpComputeFake> => {
  const token = options.token ?? "test-token"
  const now = options.now ?? Date.now
  const runningMs = options.runningMillis ?? 0
  const doneMs = options.doneMillis ?? 0
  const disks = new Map<string, FakeDisk>()
  const operations = new Map<string, FakeOperation>()
  const received: Array<Received> = []
  const written: Array<Received> = []
  let base = ""
  const key = (p: string, z: string, n: string) => `${p}/${z}/${n}`
  const numericId = () => String(BigInt.asUintN(63, BigInt(`0x${crypto.randomBytes(8).toString("hex")}`)))

  const statusOf = (op: FakeOperation) => {
    const age = now() - op.insertedAt
    return age >= doneMs ? "DONE" : age >= runningMs ? "RUNNING" : "PENDING"
  }
  /** Applies finished operations. */
  const settle = () => {
    for (const op of operations.values()) {
      if (statusOf(op) === "DONE") {
        const d = disks.get(key(op.project, op.zone, op.disk))
        if (d !== undefined && d.sizeGb < op.targetSizeGb) d.sizeGb = op.targetSizeGb
      }
    }
  }
  const zoneUrl = (p: string, z: string) => `${base}/compute/v1/projects/${p}/zones/${z}`
  const diskJson = (d: FakeDisk) => ({
    kind: "compute#disk",
    id: d.id,
    creationTimestamp: "2026-01-05T10:00:00.000-08:00",
    name: d.name,
    sizeGb: String(d.sizeGb),
    zone: zoneUrl(d.project, d.zone),
    status: "READY",
    selfLink: `${zoneUrl(d.project, d.zone)}/disks/${d.name}`,
    type: `${zoneUrl(d.project, d.zone)}/diskTypes/pd-balanced`,
    physicalBlockSizeBytes: "4096",
    users: []
  })
  const opJson = (op: FakeOperation) => {
    const status = statusOf(op)
    return {
      kind: "compute#operation",
      id: op.id,
      name: op.name,
      zone: zoneUrl(op.project, op.zone),
      operationType: "resizeDisk",
      targetLink: `${zoneUrl(op.project, op.zone)}/disks/${op.disk}`,
      targetId: disks.get(key(op.project, op.zone, op.disk))?.id ?? "0",
      status,
      user: "byteport@example-project.iam.gserviceaccount.com",
      progress: status === "DONE" ? 100 : 0,
      insertTime: new Date(op.insertedAt).toISOString(),
      startTime: new Date(op.insertedAt).toISOString(),
      ...(status === "DONE" ? { endTime: new Date(op.insertedAt + doneMs).toISOString() } : {}),
      selfLink: `${zoneUrl(op.project, op.zone)}/operations/${op.name}`
    }
  }

  const route = (method: string, path: string, body: unknown): unknown => {
    const m = /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/(disks|operations)\/([^/]+)(?:\/(resize|wait))?$/.exec(path)
    if (m === null) throw new GcpError(404, "notFound", `The requested URL ${path} was not found.`)
    const [, project, zone, collection, name, verb] = m as unknown as [string, string, string, string, string, string | undefined]
    if (collection === "disks") {
      const d = disks.get(key(project, zone, name))
      if (d === undefined) throw new GcpError(404, "notFound", `The resource 'projects/${project}/zones/${zone}/disks/${name}' was not found`)
      if (method === "GET" && verb === undefined) return diskJson(d)
      if (method === "POST" && verb === "resize") {
        const raw = (body as { sizeGb?: unknown } | undefined)?.sizeGb
        const size = typeof raw === "string" || typeof raw === "number" ? Number(raw) : NaN
        if (!Number.isInteger(size) || size <= 0) throw new GcpError(400, "required", "Required field 'sizeGb' not specified")
        if (size <= d.sizeGb) throw new GcpError(400, "invalid", `Invalid value for field 'sizeGb': '${size}'. Disk cannot be resized to a smaller size.`)
        const op: FakeOperation = { name: `operation-${Date.now()}-${crypto.randomBytes(6).toString("hex")}`, id: numericId(), project, zone, disk: name, targetSizeGb: size, insertedAt: now() }
        operations.set(op.name, op)
        return opJson(op)
      }
    } else {
      const op = operations.get(name)
      if (op === undefined || op.project !== project || op.zone !== zone) throw new GcpError(404, "notFound", `The resource 'projects/${project}/zones/${zone}/operations/${name}' was not found`)
      if ((method === "GET" && verb === undefined) || (method === "POST" && verb === "wait")) return opJson(op)
    }
    throw new GcpError(404, "notFound", `The requested URL ${path} was not found.`)
  }

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      let body: unknown = undefined
      try {
        body = text === "" ? undefined : JSON.parse(text)
      } catch {
        body = text
      }
      const path = (req.url ?? "/").split("?")[0]!
      const entry: Received = { method: req.method ?? "GET", path, body }
      received.push(entry)
      settle()
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json; charset=UTF-8" })
        res.end(JSON.stringify(json))
      }
      try {
        if (req.headers.authorization !== `Bearer ${token}`) throw new GcpError(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
        const out = route(entry.method, path, body)
        if (entry.method === "POST" && path.endsWith("/resize")) written.push(entry)
        send(200, out)
      } catch (e) {
        const err = e instanceof GcpError ? e : new GcpError(500, "backendError", String(e))
        send(err.code, { error: { code: err.code, message: err.message, errors: [{ message: err.message, domain: "global", reason: err.reason }], status: STATUS_OF[err.code] ?? "INTERNAL" } })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url: base,
    requests: () => [...received],
    writes: () => [...written],
    addDisk: (o) => {
      const d: FakeDisk = { ...o, id: numericId() }
      disks.set(key(o.project, o.zone, o.name), d)
      return d
    },
    disk: (p, z, n) => {
      settle()
      return disks.get(key(p, z, n))
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
