/**
 * Loopback fakes of three DNS APIs, in their real wire shapes, so the real clients run unmodified
 * but for the endpoint: Route53 (REST-XML 2013-04-01, as `@aws-sdk/client-route-53` speaks it),
 * Cloudflare v4 (JSON envelopes) and Cloud DNS v1 (JSON, changes). Every TXT set that becomes live
 * is fed to pebble-challtestsrv's management API (`/clear-txt`, `/set-txt`), so a Pebble validating
 * dns-01 against challtestsrv's DNS sees exactly what the fake's zone holds. Each fake keeps a
 * request log (method, path, body; never the Authorization header).
 *
 * What they leave out: signatures (Route53: an `AWS4-HMAC-SHA256` Authorization header is
 * required, not verified; Cloudflare / Cloud DNS: the bearer token is compared), pagination past one
 * page, record types other than TXT, rate limits, DNSSEC, health checks, private zones / views.
 * Route53's change stays PENDING for `pendingPolls` GetChange calls (default 1), Cloud DNS's
 * change `pending` likewise; the record reaches challtestsrv when the change is INSYNC / done.
 *
 * @since 0.1.0
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import type { Scope } from "effect"

/** One request the fake received. */
export interface LoggedRequest {
  readonly method: string
  /** Path and query. */
  readonly path: string
  readonly body: string
  /** True for anything but GET. */
  readonly write: boolean
}

/** A zone the fake's account owns. */
export interface FakeZone {
  /** `example.com` (no trailing dot). */
  readonly name: string
  /** Default: derived from the name. */
  readonly id?: string
}

/** Options common to the fakes. */
export interface FakeOptions {
  readonly zones: ReadonlyArray<FakeZone>
  /** pebble-challtestsrv's management URL (`http://127.0.0.1:24055`); none: nothing is fed. */
  readonly challtestsrv?: string
  /** Bearer token the fake accepts (Cloudflare, Cloud DNS); default `test-token`. */
  readonly token?: string
  /** Polls answered PENDING / pending before a change is INSYNC / done (default 1). */
  readonly pendingPolls?: number
  /** Cloud DNS project (default `byteport-test`). */
  readonly project?: string
}

/** A running fake. */
export interface DnsFake {
  /** The endpoint to give the client: Route53 `endpoint`, Cloudflare `baseUrl`, Cloud DNS `baseUrl`. */
  readonly url: string
  /** The zones as the client sees them (`id`, `name`). */
  readonly zones: ReadonlyArray<{ readonly id: string; readonly name: string }>
  /** Every request, in order. */
  readonly log: () => ReadonlyArray<LoggedRequest>
  /** The requests that change something. */
  readonly writes: () => ReadonlyArray<LoggedRequest>
  /** The live TXT sets by name (what challtestsrv was fed). */
  readonly live: () => ReadonlyMap<string, ReadonlyArray<string>>
  /** Stops the server. */
  readonly close: () => Promise<void>
}

const norm = (n: string) => n.trim().toLowerCase().replace(/\.+$/, "")
const inZone = (name: string, zone: string) => norm(name) === norm(zone) || norm(name).endsWith(`.${norm(zone)}`)

interface Rec {
  ttl: number
  values: Array<string>
}

/** The shared core of the fakes: zones, records, the live view, the challtestsrv feed, the log. */
class Zones {
  readonly records = new Map<string, Map<string, Rec>>() // zone id → name → TXT set (API view)
  readonly liveSets = new Map<string, ReadonlyArray<string>>()
  readonly requests: Array<LoggedRequest> = []
  constructor(readonly zones: ReadonlyArray<{ readonly id: string; readonly name: string }>, readonly challtestsrv: string | undefined) {
    for (const z of zones) this.records.set(z.id, new Map())
  }
  zone(id: string) {
    return this.zones.find((z) => z.id === id)
  }
  /** Makes `name`'s current TXT set live (challtestsrv: clear, then each value). */
  async publish(zoneId: string, name: string): Promise<void> {
    const values = this.records.get(zoneId)?.get(name)?.values ?? []
    if (values.length === 0) this.liveSets.delete(name)
    else this.liveSets.set(name, [...values])
    if (this.challtestsrv === undefined) return
    const post = (p: string, body: unknown) =>
      fetch(`${this.challtestsrv}${p}`, { method: "POST", body: JSON.stringify(body) }).then((r) => {
        if (!r.ok) throw new Error(`challtestsrv ${p}: HTTP ${r.status}`)
      })
    await post("/clear-txt", { host: `${name}.` })
    for (const value of values) await post("/set-txt", { host: `${name}.`, value })
  }
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const serve = (
  state: Zones,
  handler: (req: http.IncomingMessage, url: URL, body: string, res: http.ServerResponse) => Promise<void>
): Effect.Effect<{ readonly url: string; readonly close: () => Promise<void> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly url: string; readonly close: () => Promise<void> }>((resolve) => {
        const server = http.createServer((req, res) => {
          void (async () => {
            const body = await readBody(req)
            const url = new URL(req.url ?? "/", "http://fake")
            state.requests.push({ method: req.method ?? "GET", path: `${url.pathname}${url.search}`, body, write: req.method !== "GET" })
            try {
              await handler(req, url, body, res)
            } catch (e) {
              if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" })
              res.end(e instanceof Error ? e.message : String(e))
            }
          })()
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as AddressInfo).port
          resolve({
            url: `http://127.0.0.1:${port}`,
            close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
          })
        })
      })
    ),
    (s) => Effect.promise(() => s.close())
  )

const fake = (state: Zones, s: { readonly url: string; readonly close: () => Promise<void> }, url: string): DnsFake => ({
  url,
  zones: state.zones,
  log: () => [...state.requests],
  writes: () => state.requests.filter((r) => r.write),
  live: () => new Map(state.liveSets),
  close: s.close
})

// ------------------------------------------------------------------------------------- Route53

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
const xmlUnescape = (s: string) => s.replace(/&quot;/g, "\"").replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/&amp;/g, "&")
const tag = (xml: string, name: string): string | undefined => {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)
  return m?.[1] === undefined ? undefined : xmlUnescape(m[1])
}
const tags = (xml: string, name: string): Array<string> => [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1] ?? "")
const R53NS = "https://route53.amazonaws.com/doc/2013-04-01/"
const r53Unquote = (v: string) => {
  const chunks = [...v.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? "").replace(/\\(.)/g, "$1"))
  return chunks.length > 0 ? chunks.join("") : v
}

/**
 * Route53 (REST-XML): `ListHostedZones`, `ListResourceRecordSets`, `ChangeResourceRecordSets`
 * (CREATE / UPSERT / DELETE of TXT sets, DELETE must match exactly, names outside the zone refused
 * as `InvalidChangeBatch`), `GetChange` (PENDING, then INSYNC). Zone ids `Z…` from the name.
 */
export const route53 = (options: FakeOptions): Effect.Effect<DnsFake, never, Scope.Scope> =>
  Effect.gen(function*() {
    const zones = options.zones.map((z, i) => ({ id: z.id ?? `Z${String(i + 1).padStart(4, "0")}${norm(z.name).replace(/[^a-z0-9]/g, "").toUpperCase().slice(0, 12)}`, name: norm(z.name) }))
    const state = new Zones(zones, options.challtestsrv)
    const changes = new Map<string, { polls: number; zoneId: string; names: Array<string>; submittedAt: string; status: "PENDING" | "INSYNC" }>()
    let seq = 0
    const send = (res: http.ServerResponse, status: number, xml: string) => {
      res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": `req-${++seq}` })
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
    }
    const error = (res: http.ServerResponse, status: number, code: string, message: string) =>
      send(res, status, `<ErrorResponse xmlns="${R53NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>req-${seq}</RequestId></ErrorResponse>`)
    const changeInfo = (id: string) => {
      const c = changes.get(id)!
      return `<ChangeInfo><Id>/change/${id}</Id><Status>${c.status}</Status><SubmittedAt>${c.submittedAt}</SubmittedAt><Comment>byteport fake</Comment></ChangeInfo>`
    }
    const s = yield* serve(state, async (req, url, body, res) => {
      if (!(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256")) return error(res, 403, "MissingAuthenticationToken", "Missing Authentication Token")
      const p = url.pathname.replace(/\/+$/, "")
      if (req.method === "GET" && p === "/2013-04-01/hostedzone") {
        const items = zones.map((z) =>
          `<HostedZone><Id>/hostedzone/${z.id}</Id><Name>${z.name}.</Name><CallerReference>byteport-${z.id}</CallerReference><Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>${2 + (state.records.get(z.id)?.size ?? 0)}</ResourceRecordSetCount></HostedZone>`
        ).join("")
        return send(res, 200, `<ListHostedZonesResponse xmlns="${R53NS}"><HostedZones>${items}</HostedZones><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesResponse>`)
      }
      let m = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset$/.exec(p)
      if (m?.[1] !== undefined) {
        const zone = state.zone(decodeURIComponent(m[1]))
        if (zone === undefined) return error(res, 404, "NoSuchHostedZone", `No hosted zone found with ID: ${m[1]}`)
        const recs = state.records.get(zone.id)!
        if (req.method === "GET") {
          const start = norm(url.searchParams.get("name") ?? "")
          const type = url.searchParams.get("type") ?? "TXT"
          const max = Number(url.searchParams.get("maxitems") ?? "100")
          const names = [...recs.keys()].filter((n) => start === "" || n >= start).sort().slice(0, max)
          const sets = type !== "TXT" ? "" : names.map((n) => {
            const r = recs.get(n)!
            return `<ResourceRecordSet><Name>${n}.</Name><Type>TXT</Type><TTL>${r.ttl}</TTL><ResourceRecords>${r.values.map((v) => `<ResourceRecord><Value>${xmlEscape(`"${v}"`)}</Value></ResourceRecord>`).join("")}</ResourceRecords></ResourceRecordSet>`
          }).join("")
          return send(res, 200, `<ListResourceRecordSetsResponse xmlns="${R53NS}"><ResourceRecordSets>${sets}</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>${max}</MaxItems></ListResourceRecordSetsResponse>`)
        }
        if (req.method === "POST") {
          const planned = new Map([...recs].map(([n, r]) => [n, { ttl: r.ttl, values: [...r.values] }]))
          const touched: Array<string> = []
          for (const change of tags(body, "Change")) {
            const action = tag(change, "Action")
            const name = norm(tag(change, "Name") ?? "")
            const type = tag(change, "Type")
            const ttl = Number(tag(change, "TTL") ?? "300")
            const values = tags(change, "Value").map((v) => r53Unquote(xmlUnescape(v)))
            if (type !== "TXT") return error(res, 400, "InvalidInput", `the fake models TXT only, not ${type}`)
            if (!inZone(name, zone.name)) return error(res, 400, "InvalidChangeBatch", `RRSet with DNS name ${name}. is not permitted in zone ${zone.name}.`)
            const existing = planned.get(name)
            if (action === "CREATE" && existing !== undefined) return error(res, 400, "InvalidChangeBatch", `Tried to create resource record set [name='${name}.', type='TXT'] but it already exists`)
            if (action === "DELETE") {
              if (existing === undefined || existing.ttl !== ttl || existing.values.join("\n") !== values.join("\n")) {
                return error(res, 400, "InvalidChangeBatch", `Tried to delete resource record set [name='${name}.', type='TXT'] but the values provided do not match the current values`)
              }
              planned.delete(name)
            } else if (action === "CREATE" || action === "UPSERT") {
              planned.set(name, { ttl, values })
            } else return error(res, 400, "InvalidInput", `unknown Action ${action}`)
            touched.push(name)
          }
          recs.clear()
          for (const [n, r] of planned) recs.set(n, r)
          const id = `C${String(++seq).padStart(8, "0")}`
          changes.set(id, { polls: 0, zoneId: zone.id, names: touched, submittedAt: new Date().toISOString(), status: "PENDING" })
          return send(res, 200, `<ChangeResourceRecordSetsResponse xmlns="${R53NS}">${changeInfo(id)}</ChangeResourceRecordSetsResponse>`)
        }
      }
      m = /^\/2013-04-01\/change\/([^/]+)$/.exec(p)
      if (req.method === "GET" && m?.[1] !== undefined) {
        const id = decodeURIComponent(m[1])
        const c = changes.get(id)
        if (c === undefined) return error(res, 404, "NoSuchChange", `A change with the specified change ID does not exist: ${id}`)
        if (c.status === "PENDING" && c.polls++ >= (options.pendingPolls ?? 1)) {
          for (const n of c.names) await state.publish(c.zoneId, n)
          c.status = "INSYNC"
        }
        return send(res, 200, `<GetChangeResponse xmlns="${R53NS}">${changeInfo(id)}</GetChangeResponse>`)
      }
      return error(res, 404, "UnknownOperationException", `the fake does not model ${req.method} ${p}`)
    })
    return fake(state, s, s.url)
  })

// ---------------------------------------------------------------------------------- Cloudflare

/**
 * Cloudflare v4: `GET /zones`, `GET/POST /zones/:id/dns_records`, `DELETE /zones/:id/dns_records/:id`,
 * one record per TXT value, live at once. Bearer token checked (error 10000 otherwise).
 */
export const cloudflare = (options: FakeOptions): Effect.Effect<DnsFake, never, Scope.Scope> =>
  Effect.gen(function*() {
    const zones = options.zones.map((z, i) => ({ id: z.id ?? `${(i + 1).toString(16).padStart(32, "0")}`, name: norm(z.name) }))
    const state = new Zones(zones, options.challtestsrv)
    const ids = new Map<string, { zoneId: string; name: string; content: string; ttl: number }>()
    let seq = 0
    const send = (res: http.ServerResponse, status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
    const fail = (res: http.ServerResponse, status: number, code: number, message: string) => send(res, status, { success: false, errors: [{ code, message }], messages: [], result: null })
    const ok = (res: http.ServerResponse, result: unknown, info?: unknown) => send(res, 200, { success: true, errors: [], messages: [], result, ...(info === undefined ? {} : { result_info: info }) })
    const recordJson = (id: string) => {
      const r = ids.get(id)!
      const zone = state.zone(r.zoneId)!
      return { id, zone_id: zone.id, zone_name: zone.name, name: r.name, type: "TXT", content: r.content, proxiable: false, proxied: false, ttl: r.ttl, locked: false, meta: { auto_added: false }, comment: null, tags: [], created_on: "2026-01-01T00:00:00Z", modified_on: "2026-01-01T00:00:00Z" }
    }
    const sync = async (zoneId: string, name: string) => {
      const values = [...ids.values()].filter((r) => r.zoneId === zoneId && r.name === name).map((r) => r.content.replace(/^"(.*)"$/s, "$1"))
      const recs = state.records.get(zoneId)!
      if (values.length === 0) recs.delete(name)
      else recs.set(name, { ttl: 60, values })
      await state.publish(zoneId, name)
    }
    const s = yield* serve(state, async (req, url, body, res) => {
      if (req.headers.authorization !== `Bearer ${options.token ?? "test-token"}`) return fail(res, 403, 10000, "Authentication error")
      const p = url.pathname.replace(/\/+$/, "")
      if (req.method === "GET" && p === "/client/v4/zones") {
        const name = url.searchParams.get("name")
        const list = zones.filter((z) => name === null || z.name === norm(name)).map((z) => ({ id: z.id, name: z.name, status: "active", paused: false, type: "full" }))
        return ok(res, list, { page: 1, per_page: 50, count: list.length, total_count: list.length, total_pages: 1 })
      }
      const m = /^\/client\/v4\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(p)
      if (m?.[1] !== undefined) {
        const zone = state.zone(decodeURIComponent(m[1]))
        if (zone === undefined) return fail(res, 404, 7003, "Could not route to /zones/..., perhaps your object identifier is invalid?")
        if (req.method === "GET" && m[2] === undefined) {
          const type = url.searchParams.get("type")
          const name = url.searchParams.get("name")
          const list = [...ids.entries()].filter(([, r]) => r.zoneId === zone.id && (type === null || type === "TXT") && (name === null || r.name === norm(name))).map(([id]) => recordJson(id))
          return ok(res, list, { page: 1, per_page: 100, count: list.length, total_count: list.length, total_pages: 1 })
        }
        if (req.method === "POST" && m[2] === undefined) {
          const rec = JSON.parse(body) as { type?: string; name?: string; content?: string; ttl?: number }
          if (rec.type !== "TXT") return fail(res, 400, 9000, `the fake models TXT only, not ${rec.type}`)
          const name = norm(rec.name ?? "")
          if (!inZone(name, zone.name)) return fail(res, 400, 9005, "Content for TXT record is invalid: the name is not in the zone")
          if ([...ids.values()].some((r) => r.zoneId === zone.id && r.name === name && r.content === rec.content)) return fail(res, 400, 81058, "An identical record already exists.")
          const id = `${(++seq).toString(16).padStart(32, "a")}`
          ids.set(id, { zoneId: zone.id, name, content: rec.content ?? "", ttl: rec.ttl ?? 1 })
          await sync(zone.id, name)
          return ok(res, recordJson(id))
        }
        if (req.method === "DELETE" && m[2] !== undefined) {
          const id = decodeURIComponent(m[2])
          const r = ids.get(id)
          if (r === undefined || r.zoneId !== zone.id) return fail(res, 404, 81044, "Record does not exist.")
          ids.delete(id)
          await sync(zone.id, r.name)
          return ok(res, { id })
        }
      }
      return fail(res, 404, 7000, `No route for that URI (${req.method} ${p})`)
    })
    return fake(state, s, `${s.url}/client/v4`)
  })

// ----------------------------------------------------------------------------------- Cloud DNS

/**
 * Cloud DNS v1: `GET managedZones`, `GET managedZones/:zone/rrsets`, `POST managedZones/:zone/changes`
 * (deletions must match exactly: 412 conditionNotMet; an addition over an existing set: 409
 * alreadyExists), `GET …/changes/:id` (pending, then done). Bearer token checked (401 otherwise).
 */
export const cloudDns = (options: FakeOptions): Effect.Effect<DnsFake, never, Scope.Scope> =>
  Effect.gen(function*() {
    const project = options.project ?? "byteport-test"
    const zones = options.zones.map((z) => ({ id: z.id ?? norm(z.name).replace(/\./g, "-"), name: norm(z.name) }))
    const state = new Zones(zones, options.challtestsrv)
    const changes = new Map<string, { polls: number; zoneId: string; names: Array<string>; status: "pending" | "done"; body: unknown }>()
    let seq = 0
    const send = (res: http.ServerResponse, status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=UTF-8" })
      res.end(JSON.stringify(body))
    }
    const fail = (res: http.ServerResponse, status: number, reason: string, message: string) => send(res, status, { error: { code: status, message, errors: [{ domain: "global", reason, message }] } })
    interface RRSet {
      readonly name: string
      readonly type: string
      readonly ttl: number
      readonly rrdatas: ReadonlyArray<string>
    }
    const rrsetJson = (name: string, r: Rec) => ({ kind: "dns#resourceRecordSet", name: `${name}.`, type: "TXT", ttl: r.ttl, rrdatas: r.values.map((v) => `"${v}"`) })
    const unq = (v: string) => v.replace(/^"(.*)"$/s, "$1")
    const changeJson = (id: string) => {
      const c = changes.get(id)!
      return { kind: "dns#change", id, status: c.status, startTime: "2026-01-01T00:00:00.000Z", ...(c.body as object) }
    }
    const prefix = `/dns/v1/projects/${project}/managedZones`
    const s = yield* serve(state, async (req, url, body, res) => {
      if (req.headers.authorization !== `Bearer ${options.token ?? "test-token"}`) return fail(res, 401, "required", "Request had invalid authentication credentials.")
      const p = url.pathname.replace(/\/+$/, "")
      if (!p.startsWith(prefix)) return fail(res, 404, "notFound", `The requested project was not found (${p})`)
      const rest = p.slice(prefix.length)
      if (req.method === "GET" && rest === "") {
        return send(res, 200, { kind: "dns#managedZonesListResponse", managedZones: zones.map((z, i) => ({ kind: "dns#managedZone", name: z.id, dnsName: `${z.name}.`, id: String(1000 + i), visibility: "public", nameServers: ["ns-cloud-a1.googledomains.com."] })) })
      }
      const m = /^\/([^/]+)\/(rrsets|changes)(?:\/([^/]+))?$/.exec(rest)
      const zone = m?.[1] === undefined ? undefined : state.zone(decodeURIComponent(m[1]))
      if (m === null || zone === undefined) return fail(res, 404, "notFound", `The 'parameters.managedZone' resource named '${m?.[1] ?? ""}' does not exist.`)
      const recs = state.records.get(zone.id)!
      if (req.method === "GET" && m[2] === "rrsets") {
        const name = url.searchParams.get("name")
        const type = url.searchParams.get("type")
        const list = [...recs].filter(([n]) => (name === null || n === norm(name)) && (type === null || type === "TXT")).map(([n, r]) => rrsetJson(n, r))
        return send(res, 200, { kind: "dns#resourceRecordSetsListResponse", rrsets: list })
      }
      if (req.method === "POST" && m[2] === "changes" && m[3] === undefined) {
        const change = JSON.parse(body) as { additions?: ReadonlyArray<RRSet>; deletions?: ReadonlyArray<RRSet> }
        const planned = new Map([...recs].map(([n, r]) => [n, { ttl: r.ttl, values: [...r.values] }]))
        const touched: Array<string> = []
        for (const [i, d] of (change.deletions ?? []).entries()) {
          const n = norm(d.name)
          const cur = planned.get(n)
          if (d.type !== "TXT" || cur === undefined || cur.ttl !== d.ttl || cur.values.join("\n") !== d.rrdatas.map(unq).join("\n")) {
            return fail(res, 412, "conditionNotMet", `Precondition not met for 'entity.change.deletions[${i}]'`)
          }
          planned.delete(n)
          touched.push(n)
        }
        for (const [i, a] of (change.additions ?? []).entries()) {
          const n = norm(a.name)
          if (a.type !== "TXT") return fail(res, 400, "invalid", `the fake models TXT only, not ${a.type}`)
          if (!inZone(n, zone.name)) return fail(res, 400, "invalid", `Invalid value for 'entity.change.additions[${i}].name': '${a.name}'`)
          if (planned.has(n)) return fail(res, 409, "alreadyExists", `The resource 'entity.change.additions[${i}]' named '${a.name} (TXT)' already exists`)
          planned.set(n, { ttl: a.ttl, values: a.rrdatas.map(unq) })
          touched.push(n)
        }
        recs.clear()
        for (const [n, r] of planned) recs.set(n, r)
        const id = String(++seq)
        changes.set(id, { polls: 0, zoneId: zone.id, names: touched, status: "pending", body: { additions: change.additions ?? [], deletions: change.deletions ?? [] } })
        return send(res, 200, changeJson(id))
      }
      if (req.method === "GET" && m[2] === "changes" && m[3] !== undefined) {
        const c = changes.get(decodeURIComponent(m[3]))
        if (c === undefined) return fail(res, 404, "notFound", `The 'parameters.changeId' resource named '${m[3]}' does not exist.`)
        if (c.status === "pending" && c.polls++ >= (options.pendingPolls ?? 1)) {
          for (const n of c.names) await state.publish(c.zoneId, n)
          c.status = "done"
        }
        return send(res, 200, changeJson(decodeURIComponent(m[3])))
      }
      return fail(res, 404, "notFound", `the fake does not model ${req.method} ${p}`)
    })
    return fake(state, s, `${s.url}/dns/v1`)
  })
