/**
 * A loopback HTTP server (127.0.0.1, random port) that records every request and answers from
 * a script of responses (the last one repeats), for testing the HTTP sinks on the real wire.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

/** A recorded request. */
export interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** A scripted response: status, body, optional delay before answering. */
export interface Reply {
  readonly status: number
  readonly body?: string
  readonly delayMs?: number
  readonly headers?: Record<string, string>
}

/** A running loopback server. */
export interface Loopback {
  readonly url: (path?: string) => string
  readonly requests: Array<Recorded>
  /** Replaces the script of replies (the last one repeats). */
  readonly script: (replies: ReadonlyArray<Reply>) => void
  readonly close: () => Promise<void>
}

/** Starts a loopback server. */
export const start = (initial: ReadonlyArray<Reply> = [{ status: 200, body: "ok" }]): Promise<Loopback> =>
  new Promise((resolve, reject) => {
    let replies: ReadonlyArray<Reply> = initial
    let served = 0
    const requests: Array<Recorded> = []
    const server: Server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
        const reply = replies[Math.min(served, replies.length - 1)] ?? { status: 200, body: "ok" }
        served++
        const send = () => {
          if (res.destroyed) return
          res.writeHead(reply.status, { "content-type": "text/plain", ...reply.headers })
          res.end(reply.body ?? "")
        }
        if (reply.delayMs) setTimeout(send, reply.delayMs)
        else send()
      })
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: (path = "/") => `http://127.0.0.1:${port}${path}`,
        requests,
        script: (r) => {
          replies = r
          served = 0
          requests.length = 0
        },
        close: () =>
          new Promise<void>((res) => {
            server.closeAllConnections()
            server.close(() => res())
          })
      })
    })
  })

/** A loopback server as a scoped Effect resource. */
export const scoped = (initial?: ReadonlyArray<Reply>) =>
  Effect.acquireRelease(Effect.promise(() => start(initial)), (lb) => Effect.promise(() => lb.close()))
