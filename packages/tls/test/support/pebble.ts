/**
 * Test-owned ACME plumbing around the shared servers: a private Pebble (its own http-01 port,
 * so a test can answer http-01 itself: standalone, or a server that serves a wrong key
 * authorization), and an HTTPS proxy before a Pebble that can answer new-order with
 * `urn:ietf:params:acme:error:rateLimited` and a Retry-After (Pebble itself never rate-limits).
 * Both reuse the services' listener certificate (localhost / 127.0.0.1, signed by the CA in
 * BYTEPORT_TEST_PEBBLE_TLS_CA).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as https from "node:https"
import * as net from "node:net"
import * as path from "node:path"
import { Effect } from "effect"
import type { Scope } from "effect"
import { tmp } from "./services"

/** A free TCP port on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

const pkiOf = (env: Readonly<Record<string, string>>) => {
  const dir = path.dirname(env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "")
  return { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "localhost.pem"), key: path.join(dir, "localhost.key") }
}

/** A private Pebble validating http-01 on `httpPort` (DNS: the shared challtestsrv). */
export const privatePebble = (env: Readonly<Record<string, string>>, httpPort: number): Effect.Effect<{ readonly directoryUrl: string; readonly root: string; readonly log: () => string }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const pki = pkiOf(env)
      const [port, mgmt, tlsPort] = [await freePort(), await freePort(), await freePort()]
      const dir = tmp("byteport-pebble-")
      const config = path.join(dir, "config.json")
      fs.writeFileSync(config, JSON.stringify({
        pebble: { listenAddress: `127.0.0.1:${port}`, managementListenAddress: `127.0.0.1:${mgmt}`, certificate: pki.cert, privateKey: pki.key, httpPort, tlsPort, ocspResponderURL: "", externalAccountBindingRequired: false }
      }))
      const logFile = path.join(dir, "pebble.log")
      const out = fs.openSync(logFile, "a")
      const child = spawn("pebble", ["-config", config, "-dnsserver", env.BYTEPORT_TEST_PEBBLE_DNS ?? ""], {
        env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
        stdio: ["ignore", out, out]
      })
      const agent = new https.Agent({ ca: fs.readFileSync(pki.ca) })
      const get = (url: string) =>
        new Promise<string>((resolve, reject) => {
          https.get(url, { agent }, (res) => {
            let body = ""
            res.on("data", (c: Buffer) => (body += c.toString("utf8")))
            res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))))
          }).on("error", reject)
        })
      const deadline = Date.now() + 10_000
      for (;;) {
        try {
          await get(`https://127.0.0.1:${port}/dir`)
          break
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`private pebble did not start: ${String(e)} ${fs.readFileSync(logFile, "utf8").slice(-500)}`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      const root = await get(`https://127.0.0.1:${mgmt}/roots/0`)
      return { directoryUrl: `https://127.0.0.1:${port}/dir`, root, log: () => fs.readFileSync(logFile, "utf8"), child }
    }),
    (p) => Effect.promise(() => new Promise<void>((r) => {
      if (p.child.exitCode !== null) return r()
      p.child.once("exit", () => r())
      p.child.kill("SIGTERM")
    }))
  )

/** What the rate-limit proxy saw. */
export interface ProxyLog {
  /** `METHOD /path` of every request received. */
  readonly received: Array<string>
  /** `METHOD /path` of every request forwarded to Pebble. */
  readonly forwarded: Array<string>
}

/**
 * An HTTPS proxy before `upstream` (a Pebble directory URL's origin). The Host header is kept, so
 * Pebble writes the proxy's URLs into its directory and checks the JWS `url` against them. While
 * `limit()` returns a Retry-After value, `POST /order-plz` (Pebble's new-order) is answered 429
 * `urn:ietf:params:acme:error:rateLimited` with that Retry-After and never forwarded.
 */
export const rateLimitProxy = (
  env: Readonly<Record<string, string>>,
  upstream: string,
  limit: () => string | undefined
): Effect.Effect<{ readonly directoryUrl: string; readonly log: ProxyLog }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly directoryUrl: string; readonly log: ProxyLog; readonly server: https.Server }>((resolve) => {
        const pki = pkiOf(env)
        const up = new URL(upstream)
        const agent = new https.Agent({ ca: fs.readFileSync(pki.ca) })
        const log: ProxyLog = { received: [], forwarded: [] }
        const server = https.createServer({ cert: fs.readFileSync(pki.cert), key: fs.readFileSync(pki.key) }, (req, res) => {
          const line = `${req.method ?? "GET"} ${req.url ?? "/"}`
          log.received.push(line)
          const retryAfter = limit()
          if (retryAfter !== undefined && req.method === "POST" && (req.url ?? "").startsWith("/order-plz")) {
            req.resume()
            res.writeHead(429, { "content-type": "application/problem+json", "retry-after": retryAfter, "replay-nonce": `proxy-${Date.now()}` })
            res.end(JSON.stringify({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many certificates already issued for this exact set of identifiers in the last 168h", status: 429 }))
            return
          }
          log.forwarded.push(line)
          const fwd = https.request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers, agent }, (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers)
            r.pipe(res)
          })
          fwd.on("error", (e) => {
            res.writeHead(502)
            res.end(String(e))
          })
          req.pipe(fwd)
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as net.AddressInfo).port
          resolve({ directoryUrl: `https://127.0.0.1:${port}/dir`, log, server })
        })
      })
    ),
    (p) => Effect.promise(() => new Promise<void>((r) => { p.server.closeAllConnections(); p.server.close(() => r()) }))
  )
