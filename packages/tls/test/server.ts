/** Real TLS servers on 127.0.0.1 (ephemeral ports) for the inspection tests. */
import * as tls from "node:tls"
import { Effect } from "effect"

/** Serves `cert` (leaf first, then the chain to send) with `key`; `staple` is sent on OCSP requests. */
export const serve = (options: { readonly cert: string; readonly key: string; readonly staple?: Buffer }) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly port: number; readonly server: tls.Server }>((resume) => {
      const server = tls.createServer({ cert: options.cert, key: options.key }, (socket) => {
        socket.on("error", () => {})
        socket.end()
      })
      const sockets = new Set<import("node:net").Socket>()
      server.on("connection", (socket) => {
        socket.on("error", () => {})
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.on("close", () => {
        for (const s of sockets) s.destroy()
      })
      if (options.staple !== undefined) {
        const staple = options.staple
        server.on("OCSPRequest", (_cert: Buffer, _issuer: Buffer, callback: (err: Error | null, resp?: Buffer) => void) => callback(null, staple))
      }
      server.on("tlsClientError", () => {})
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed({ port: typeof address === "object" && address !== null ? address.port : 0, server }))
      })
    }),
    ({ server }) => Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.emit("close")
    })
  )
