/**
 * Caddy: `caddy validate` checks a Caddyfile; the reload is the admin API's `POST /load` with the
 * Caddyfile (`text/caddyfile`) and `Cache-Control: must-revalidate`, as `caddy reload --force`
 * sends it: without it Caddy skips a configuration equal to the running one, and so keeps serving
 * the old certificate after a file swap. Sites whose certificates Caddy manages itself
 * (automatic HTTPS) are not swapped: report them, never write.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { ReloadFailed, runChecked } from "./Server"
import type { Server } from "./Server"

/** How to reach one Caddy. */
export interface Options {
  /** The admin endpoint (`http://127.0.0.1:2019`). Loopback only. */
  readonly adminUrl: string
  /** The Caddyfile the server runs. */
  readonly caddyfile: string
  /** The caddy binary (default `caddy` on PATH). */
  readonly binary?: string | undefined
  /** Admin request budget (ms, default 10 000). */
  readonly timeoutMillis?: number | undefined
}

/** `caddy validate --config <Caddyfile> --adapter caddyfile`. */
export const validateArgv = (o: Options): ReadonlyArray<string> =>
  [o.binary ?? "caddy", "validate", "--config", o.caddyfile, "--adapter", "caddyfile"]

const loopback = (url: string) => {
  try {
    const h = new URL(url).hostname
    return h === "127.0.0.1" || h === "localhost" || h === "[::1]"
  } catch {
    return false
  }
}

/** `tls <cert> <key>` lines of a Caddyfile: the sites whose certificate files BytePort may swap. */
export const manualCertificates = (caddyfile: string): ReadonlyArray<{ readonly cert: string; readonly key: string }> =>
  [...caddyfile.matchAll(/^\s*tls\s+(\S+)\s+(\S+)\s*$/gm)].map((m) => ({ cert: m[1]!, key: m[2]! }))

/** A Caddy `Server`. */
export const make = (o: Options): Server => ({
  kind: "caddy",
  check: Effect.map(runChecked("caddy", validateArgv(o), "caddy validate"), () => `caddy validate: ${o.caddyfile} is valid`),
  reload: Effect.gen(function*() {
    if (!loopback(o.adminUrl)) {
      return yield* new ReloadFailed({ server: "caddy", message: `the Caddy admin endpoint must be on loopback (got ${o.adminUrl})` })
    }
    const body = yield* Effect.try({
      try: () => fs.readFileSync(o.caddyfile, "utf8"),
      catch: () => new ReloadFailed({ server: "caddy", message: `cannot read ${o.caddyfile}` })
    })
    const url = new URL("/load", o.adminUrl).toString()
    const response = yield* Effect.tryPromise({
      try: (signal) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "text/caddyfile", "cache-control": "must-revalidate" },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMillis ?? 10_000)])
        }).then(async (r) => ({ status: r.status, text: await r.text() })),
      catch: (e) => new ReloadFailed({ server: "caddy", message: `POST ${url} failed: ${String((e as Error)?.message ?? e)}` })
    })
    if (response.status !== 200) {
      return yield* new ReloadFailed({ server: "caddy", message: `POST ${url} answered ${response.status}`, output: response.text.slice(0, 300) })
    }
    return { server: "caddy", detail: `caddy admin POST /load (forced) of ${o.caddyfile}` }
  })
})
