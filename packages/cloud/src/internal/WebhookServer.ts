/**
 * The loopback HTTP server under BytePort's webhook receivers (`DeployWebhooks`,
 * `WorkflowRunWebhook`): reads each request body whole (over `maxBytes` → 413, the connection
 * dropped), lower-cases the headers and answers what the receiver's effect returns (a JSON body,
 * or none); a defect answers 500. Listening and closing follow the scope.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** One request, as a receiver sees it. */
export interface Request {
  /** The URL path without the query. */
  readonly path: string
  readonly method: string
  /** The raw body bytes (what a signature is computed over). */
  readonly body: Buffer
  /** Header names lower-cased; the first value of a repeated header. */
  readonly headers: Readonly<Record<string, string | undefined>>
}

/** A receiver's answer: a status, a JSON body (absent: none) and extra headers. */
export interface Reply {
  readonly status: number
  readonly json?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/** Where to listen and the body limit. */
export interface Options {
  readonly port?: number | undefined
  readonly host?: string | undefined
  /** Largest body accepted (default 25 MiB, GitHub's payload cap). */
  readonly maxBytes?: number | undefined
}

/** Listens on `host:port` (default 127.0.0.1, a free port) in the scope; every request goes to `onRequest`. */
export const listen = <R>(options: Options, onRequest: (request: Request) => Effect.Effect<Reply, never, R>): Effect.Effect<{ readonly host: string; readonly port: number }, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const ctx = yield* Effect.context<R>()
    const max = options.maxBytes ?? 25 * 1024 * 1024
    const host = options.host ?? "127.0.0.1"
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      let size = 0
      let aborted = false
      req.on("data", (c: Buffer) => {
        size += c.length
        if (size > max && !aborted) {
          aborted = true
          res.writeHead(413).end()
          req.destroy()
        } else if (!aborted) chunks.push(c)
      })
      req.on("end", () => {
        if (aborted) return
        const headers: Record<string, string | undefined> = {}
        for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v[0] : v
        const request: Request = { path: (req.url ?? "/").split("?")[0]!, method: req.method ?? "GET", body: Buffer.concat(chunks), headers }
        Effect.runPromiseWith(ctx)(onRequest(request)).then(
          (r) =>
            r.json === undefined
              ? res.writeHead(r.status, { ...r.headers }).end()
              : res.writeHead(r.status, { "content-type": "application/json", ...r.headers }).end(JSON.stringify(r.json)),
          () => res.writeHead(500).end()
        )
      })
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(options.port ?? 0, host, () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    return { host, port: (server.address() as AddressInfo).port }
  })
