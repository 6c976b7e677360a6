#!/usr/bin/env node
// scripts/ocsp-responder.mjs — a small OCSP responder (RFC 6960, HTTP POST and GET) for BytePort's
// TLS integration tests, started by scripts/services.sh on 127.0.0.1.
//
// It answers for every certificate of one issuing CA (Pebble's intermediate): `good` unless the
// serial was revoked through the management route. Responses are made and signed by
// `openssl ocsp` with the CA's own key (argv only), so they are real, byte-for-byte OCSP responses.
//
//   node scripts/ocsp-responder.mjs --port 24088 --ca intermediate.pem --key intermediate.key --dir STATE
//
//   POST /                 application/ocsp-request body        -> application/ocsp-response
//   GET  /<base64 request>                                      -> application/ocsp-response
//   POST /revoke?serial=HEX   revoke (status `revoked`, reason keyCompromise)
//   POST /unrevoke?serial=HEX back to `good`
//   GET  /health           "ok"
//   GET  /requests         how many OCSP requests were answered, per serial (JSON)
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { join } from "node:path"

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
)
const port = Number(args.port ?? 24088)
const ca = args.ca
const key = args.key
const dir = args.dir
const nextUpdateMinutes = Number(args["next-update-minutes"] ?? 60)
if (!ca || !key || !dir) {
  console.error("usage: ocsp-responder.mjs --port N --ca CA.pem --key CA.key --dir DIR")
  process.exit(64)
}
mkdirSync(dir, { recursive: true })

/** serial (upper-case hex) -> "V" | "R" */
const statuses = new Map()
/** serial -> requests answered */
const counts = new Map()

const openssl = (argv) =>
  new Promise((resolve, reject) => {
    execFile("openssl", argv, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`openssl ${argv[0]} ${argv[1] ?? ""}: ${stderr || error.message}`))
      else resolve(String(stdout))
    })
  })

const stamp = (ms) => new Date(ms).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z"

const writeIndex = () => {
  const expiry = stamp(Date.now() + 3650 * 86_400_000)
  const revokedAt = stamp(Date.now() - 60_000)
  const lines = [...statuses].map(([serial, status]) =>
    status === "R"
      ? `R\t${expiry}\t${revokedAt},keyCompromise\t${serial}\tunknown\t/CN=${serial}`
      : `V\t${expiry}\t\t${serial}\tunknown\t/CN=${serial}`
  )
  writeFileSync(join(dir, "index.txt"), lines.join("\n") + (lines.length ? "\n" : ""))
}

let queue = Promise.resolve()
let n = 0
const answer = (request) => {
  const run = queue.then(async () => {
    const id = `${process.pid}-${++n}`
    const reqPath = join(dir, `req-${id}.der`)
    const respPath = join(dir, `resp-${id}.der`)
    writeFileSync(reqPath, request)
    const text = await openssl(["ocsp", "-reqin", reqPath, "-req_text", "-noverify"])
    const serials = [...text.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)].map((m) => m[1].toUpperCase())
    for (const s of serials) {
      if (!statuses.has(s)) statuses.set(s, "V")
      counts.set(s, (counts.get(s) ?? 0) + 1)
    }
    writeIndex()
    await openssl([
      "ocsp", "-index", join(dir, "index.txt"), "-CA", ca, "-rsigner", ca, "-rkey", key,
      "-reqin", reqPath, "-respout", respPath, "-nmin", String(nextUpdateMinutes)
    ])
    const body = readFileSync(respPath)
    rmSync(reqPath, { force: true })
    rmSync(respPath, { force: true })
    return body
  })
  queue = run.catch(() => undefined)
  return run
}

const normalize = (serial) => String(serial ?? "").replace(/[^0-9A-Fa-f]/g, "").toUpperCase().replace(/^0+(?=.)/, "")

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1")
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    const reply = (status, type, body) => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) })
      res.end(body)
    }
    if (req.method === "GET" && url.pathname === "/health") return reply(200, "text/plain", "ok")
    if (req.method === "GET" && url.pathname === "/requests") {
      return reply(200, "application/json", JSON.stringify(Object.fromEntries(counts)))
    }
    if (req.method === "POST" && (url.pathname === "/revoke" || url.pathname === "/unrevoke")) {
      const serial = normalize(url.searchParams.get("serial"))
      if (serial === "") return reply(400, "text/plain", "serial required")
      // openssl prints serials with an even number of hex digits
      const even = serial.length % 2 === 1 ? `0${serial}` : serial
      statuses.set(even, url.pathname === "/revoke" ? "R" : "V")
      return reply(200, "text/plain", `${url.pathname.slice(1)}d ${even}`)
    }
    let request
    if (req.method === "POST") request = Buffer.concat(chunks)
    else if (req.method === "GET" && url.pathname.length > 1) {
      request = Buffer.from(decodeURIComponent(url.pathname.slice(1)), "base64")
    }
    if (request === undefined || request.length === 0) return reply(400, "text/plain", "no OCSP request")
    answer(request).then(
      (body) => reply(200, "application/ocsp-response", body),
      (e) => {
        console.error(String(e?.message ?? e))
        // malformedRequest (RFC 6960 responseStatus 1): OCSPResponse ::= SEQUENCE { ENUMERATED 1 }
        reply(200, "application/ocsp-response", Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]))
      }
    )
  })
})
server.listen(port, "127.0.0.1", () => console.error(`ocsp responder on 127.0.0.1:${port}`))
const stop = () => server.close(() => process.exit(0))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
