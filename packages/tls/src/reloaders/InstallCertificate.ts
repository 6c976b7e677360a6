/**
 * Certificate installation as core action kinds, one per server:
 * `tls.nginx.installCertificate`, `tls.haproxy.installCertificate`, `tls.caddy.installCertificate`,
 * each with its undo `tls.<server>.restoreCertificate`.
 *
 * `installCertificate` (auto):
 * 1. reads the new certificate (full chain) and key from their staged paths and refuses a key that
 *    does not match, or a chain that does not verify to the configured roots for the endpoint's
 *    name, before anything is written;
 * 2. backs up the served certificate, key and the server's configuration (see `Backup`: a
 *    manifest recording the fingerprint served before, tagged with this action's idempotency key);
 * 3. swaps the files atomically (owner and mode kept; haproxy gets one PEM: chain then key);
 * 4. reloads (`nginx -t` then `-s reload`; haproxy's master CLI `reload`; Caddy's `POST /load`
 *    forced). A reload that fails restores the files at once (nothing was reloaded) and fails;
 * 5. verifies with new handshakes (SNI) until the endpoint serves the new leaf (fingerprint); when
 *    it never does, the handler rolls back itself (restore, reload, the old fingerprint checked)
 *    and fails with both fingerprints. A failed rollback says `ROLLBACK FAILED`.
 *
 * An install that succeeded is undone by its `undo` (`restoreCertificate`), which core runs when
 * the runbook's verification says NotRecovered (the new certificate is served but, say, expires
 * too soon).
 *
 * dry_run writes nothing and reloads nothing: it checks the key, the chain, that the target files
 * and the backup root are writable, and validates the live configuration server-side
 * (`nginx -t`, `haproxy -c`, `caddy validate`).
 *
 * `observe`: a handshake; the new leaf served is `Applied`, the fingerprint it was planned from
 * (`precondition.servedFingerprint`) is `NotApplied`, anything else `Unknown`.
 *
 * `restoreCertificate` finds the backup the forward action made (by its idempotency key), verifies
 * its manifest, writes every file back, reloads and confirms the old fingerprint is served again.
 *
 * Key material is read from files and written to files and sockets only: params, results, errors
 * and details carry paths and fingerprints.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import type { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"
import * as Backup from "../backup/Backup"
import * as Certificate from "../Certificate"
import * as NewCertificate from "../checks/NewCertificate"
import * as Inspection from "../Inspection"
import * as Caddy from "../servers/Caddy"
import * as Haproxy from "../servers/Haproxy"
import * as Nginx from "../servers/Nginx"
import { poll } from "../servers/Server"
import type { Server } from "../servers/Server"

/** The server to reload, as JSON params. */
export const ServerSpec = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("nginx"),
    conf: Schema.String,
    errorLog: Schema.optionalKey(Schema.String),
    pidFile: Schema.optionalKey(Schema.String),
    binary: Schema.optionalKey(Schema.String)
  }),
  Schema.Struct({
    kind: Schema.Literal("haproxy"),
    cfg: Schema.String,
    masterSocket: Schema.String,
    /** `master-cli` (default), `usr2` (needs `pidFile`) or `runtime-api` (needs `adminSocket`; no reload). */
    reloadBy: Schema.optionalKey(Schema.Literals(["master-cli", "usr2", "runtime-api"])),
    pidFile: Schema.optionalKey(Schema.String),
    adminSocket: Schema.optionalKey(Schema.String),
    binary: Schema.optionalKey(Schema.String)
  }),
  Schema.Struct({
    kind: Schema.Literal("caddy"),
    adminUrl: Schema.String,
    caddyfile: Schema.String,
    binary: Schema.optionalKey(Schema.String)
  })
])
/** The server to reload. */
export type ServerSpec = typeof ServerSpec.Type
/** The servers with a reloader. */
export type ServerKind = ServerSpec["kind"]

/** The endpoint whose handshake proves the change. */
export const Endpoint = Schema.Struct({ host: Schema.String, port: Schema.Number, servername: Schema.String })
/** The endpoint whose handshake proves the change. */
export type Endpoint = typeof Endpoint.Type

/** Params of `tls.<server>.installCertificate`. */
export const InstallParams = Schema.Struct({
  server: ServerSpec,
  /** The certificate's domain (backup directory name). */
  domain: Schema.String,
  /** The staged new certificate: full chain (leaf first) and key, as files. */
  source: Schema.Struct({ cert: Schema.String, key: Schema.String }),
  /** Where the server reads them. Without `key` (haproxy), `cert` gets one PEM: chain, then key. */
  target: Schema.Struct({ cert: Schema.String, key: Schema.optionalKey(Schema.String) }),
  endpoint: Endpoint,
  /** PEM files of the roots the new chain must verify to (default: Node's bundled roots). */
  caFiles: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Backup root (default `/var/lib/byteport/cert-backups`). */
  backupRoot: Schema.optionalKey(Schema.String),
  /** How long handshakes may take to show the new leaf (ms, default 10 000). */
  verifyTimeoutMillis: Schema.optionalKey(Schema.Number)
})
/** Params of `tls.<server>.installCertificate`. */
export type InstallParams = typeof InstallParams.Type

/** Params of `tls.<server>.restoreCertificate`. */
export const RestoreParams = Schema.Struct({
  server: ServerSpec,
  domain: Schema.String,
  /** The idempotency key of the install whose backup is restored. */
  backupOf: Schema.String,
  endpoint: Endpoint,
  /** The fingerprint that must be served again. */
  expectFingerprint: Schema.String,
  backupRoot: Schema.optionalKey(Schema.String),
  verifyTimeoutMillis: Schema.optionalKey(Schema.Number)
})
/** Params of `tls.<server>.restoreCertificate`. */
export type RestoreParams = typeof RestoreParams.Type

/** `tls.<server>.installCertificate`. */
export const installKind = (server: ServerKind): string => `tls.${server}.installCertificate`
/** `tls.<server>.restoreCertificate`. */
export const restoreKind = (server: ServerKind): string => `tls.${server}.restoreCertificate`

/** The `Server` a spec names (`crt`: the PEM haproxy's runtime API replaces). */
export const serverOf = (spec: ServerSpec, crt?: string): Server => {
  switch (spec.kind) {
    case "nginx":
      return Nginx.make({ conf: spec.conf, errorLog: spec.errorLog, pidFile: spec.pidFile, binary: spec.binary })
    case "haproxy":
      return Haproxy.make({
        cfg: spec.cfg, masterSocket: spec.masterSocket, binary: spec.binary, reloadBy: spec.reloadBy, pidFile: spec.pidFile, adminSocket: spec.adminSocket, crt
      })
    case "caddy":
      return Caddy.make({ adminUrl: spec.adminUrl, caddyfile: spec.caddyfile, binary: spec.binary })
  }
}

/** The configuration file a server reads (backed up and hashed with the certificate). */
export const configOf = (spec: ServerSpec): string => (spec.kind === "nginx" ? spec.conf : spec.kind === "haproxy" ? spec.cfg : spec.caddyfile)

/** The SHA-256 fingerprint the endpoint serves now. */
export const servedFingerprint = (endpoint: Endpoint) =>
  Effect.map(
    Inspection.handshake({ host: endpoint.host, port: endpoint.port, servername: endpoint.servername, timeoutMillis: 5_000 }),
    (h) => h.served[0]!.fingerprint256
  )

/** How many handshakes in a row must see the fingerprint (an old worker may still accept for a moment after a reload). */
export const CONSECUTIVE_HANDSHAKES = 3

/** Handshakes until `fingerprint` is served on `CONSECUTIVE_HANDSHAKES` handshakes in a row (or the budget passes); returns the last one seen. */
export const awaitServed = (endpoint: Endpoint, fingerprint: string, timeoutMillis: number) =>
  Effect.gen(function*() {
    let last = "(no handshake)"
    let streak = 0
    const hit = yield* poll(
      Effect.map(Effect.result(servedFingerprint(endpoint)), (r) => {
        if (r._tag === "Success") last = r.success
        streak = r._tag === "Success" && r.success === fingerprint ? streak + 1 : 0
        return streak >= CONSECUTIVE_HANDSHAKES ? last : undefined
      }),
      timeoutMillis
    )
    return { served: hit !== undefined, last }
  })

const readText = NewCertificate.readText

const writable = (p: string): boolean => {
  let dir = p
  for (;;) {
    try {
      fs.accessSync(dir, fs.constants.W_OK)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException)?.code !== "ENOENT") return false
      const up = path.dirname(dir)
      if (up === dir) return false
      dir = up
    }
  }
}

const done = (r: ActionHandler.HandlerResult): ActionHandler.HandlerResult => r

const fp = (f: string) => f.replace(/:/g, "").slice(0, 16)

/** The handler of `tls.<server>.installCertificate`. */
export const makeInstall = (server: ServerKind): ActionHandler.ActionHandler<Shell.Shell> => {
  const kind = installKind(server)
  const failed = (message: string, conflict?: boolean) =>
    new ActionHandler.ActionFailed({ kind, message, ...(conflict !== undefined ? { conflict } : {}) })
  return ActionHandler.make<InstallParams, Shell.Shell>({
    kind,
    params: InstallParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        if (p.server.kind !== server) return yield* failed(`${kind} cannot install for a ${p.server.kind} server`)
        const srv = serverOf(p.server, p.target.cert)
        // 1. the new certificate: key match and chain, before anything is written
        const { cert, key, leaf } = yield* NewCertificate.check({ source: p.source, caFiles: p.caFiles, servername: p.endpoint.servername }, kind)
        const newFp = leaf.fingerprint256
        const planned = String((ctx.action.precondition as Json.JsonObject)["servedFingerprint"] ?? "")
        const targets = [p.target.cert, ...(p.target.key !== undefined ? [p.target.key] : [])]
        const files = [...targets, configOf(p.server)]
        if (ctx.dryRun) {
          const notWritable = [...targets, p.backupRoot ?? Backup.DEFAULT_ROOT].filter((f) => !writable(f))
          if (notWritable.length > 0) return yield* failed(`not writable: ${notWritable.join(", ")}`)
          const checked = yield* srv.check.pipe(Effect.mapError((e) => failed(`${e.message}${e.output ? `: ${e.output}` : ""}`)))
          return done({
            detail: `would back up ${files.join(", ")}, install ${leaf.serialNumber} (${fp(newFp)}) and reload ${server}; ${checked}`,
            result: { newFingerprint: newFp, newSerial: leaf.serialNumber, files, check: checked }
          })
        }
        // 2. backup (with what was served before)
        const before = yield* Effect.orElseSucceed(servedFingerprint(p.endpoint), () => "")
        if (planned !== "" && before !== "" && before !== planned && before !== newFp) {
          return yield* failed(`${p.endpoint.servername}@${p.endpoint.host}:${p.endpoint.port} serves ${fp(before)}, not the planned ${fp(planned)}`, true)
        }
        const backup = yield* Backup.create({
          domain: p.domain,
          files,
          ...(p.backupRoot !== undefined ? { root: p.backupRoot } : {}),
          action: ctx.action.idempotencyKey,
          notes: { servedFingerprint: before, newFingerprint: newFp }
        }).pipe(Effect.mapError((e) => failed(e.message)))
        // the manifest is verified before the swap
        yield* Backup.verify(backup.dir).pipe(Effect.mapError((e) => failed(e.message)))
        // 3. swap
        const swap: ReadonlyArray<Backup.SwapFile> = p.target.key !== undefined
          ? [{ path: p.target.key, content: key }, { path: p.target.cert, content: cert }]
          : [{ path: p.target.cert, content: `${cert.replace(/\n*$/, "\n")}${key.replace(/\n*$/, "\n")}` }]
        yield* Backup.swap(swap).pipe(Effect.mapError((e) => failed(e.message)))
        // 4. reload; a failed reload restores the files (nothing was reloaded)
        const reloaded = yield* Effect.result(srv.reload)
        if (reloaded._tag === "Failure") {
          const restored = yield* Effect.result(Backup.restore(backup.dir))
          return yield* failed(
            `${reloaded.failure.message}${reloaded.failure.output ? `: ${reloaded.failure.output}` : ""}; ` +
              (restored._tag === "Success" ? `files restored from ${backup.dir}, nothing reloaded` : `restoring ${backup.dir} FAILED: ${restored.failure.message}`)
          )
        }
        // 5. verify by handshake
        const seen = yield* awaitServed(p.endpoint, newFp, p.verifyTimeoutMillis ?? 10_000)
        if (!seen.served) {
          // roll back here: the action did not apply, so no runbook-level undo will run for it
          const why = `after ${reloaded.success.detail}, ${p.endpoint.servername}@${p.endpoint.host}:${p.endpoint.port} serves ${fp(seen.last)}, not ${fp(newFp)}`
          const rolledBack = yield* Effect.result(Effect.gen(function*() {
            yield* Backup.restore(backup.dir)
            yield* srv.reload
            return before === "" ? undefined : yield* awaitServed(p.endpoint, before, p.verifyTimeoutMillis ?? 10_000)
          }))
          if (rolledBack._tag === "Failure") {
            return yield* failed(`${why}; ROLLBACK FAILED (${rolledBack.failure.message}); backup ${backup.dir}`)
          }
          const old = rolledBack.success
          return yield* failed(
            `${why}; rolled back from ${backup.dir} and reloaded` +
              (old === undefined ? "" : old.served ? `: the old leaf ${fp(before)} is served again` : `, but ${fp(old.last)} is served, not the old ${fp(before)}`)
          )
        }
        return done({
          detail: `installed ${leaf.serialNumber} (${fp(newFp)}) for ${p.domain}; ${reloaded.success.detail}; served (backup ${backup.dir})`,
          result: {
            backupDir: backup.dir,
            oldFingerprint: before,
            newFingerprint: newFp,
            newSerial: leaf.serialNumber,
            reload: reloaded.success.detail
          }
        })
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const cert = yield* Effect.try(() => fs.readFileSync(p.source.cert, "utf8"))
        const leaf = Certificate.parsePemBundle(cert)[0]
        if (leaf === undefined) return ActionHandler.unknown(`${p.source.cert} holds no certificate`)
        const served = yield* servedFingerprint(p.endpoint)
        const planned = String((ctx.action.precondition as Json.JsonObject)["servedFingerprint"] ?? "")
        if (served === leaf.fingerprint256) return ActionHandler.applied(`${p.endpoint.servername} serves the new leaf ${fp(served)}`)
        if (served === planned) return ActionHandler.notApplied(`${p.endpoint.servername} still serves ${fp(served)}`)
        return ActionHandler.unknown(`${p.endpoint.servername} serves ${fp(served)}: neither the planned ${fp(planned)} nor the new ${fp(leaf.fingerprint256)}`)
      })
  })
}

/** The handler of `tls.<server>.restoreCertificate` (the install's undo). */
export const makeRestore = (server: ServerKind): ActionHandler.ActionHandler<Shell.Shell> => {
  const kind = restoreKind(server)
  const failed = (message: string) => new ActionHandler.ActionFailed({ kind, message })
  return ActionHandler.make<RestoreParams, Shell.Shell>({
    kind,
    params: RestoreParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const root = p.backupRoot ?? Backup.DEFAULT_ROOT
        const found = Backup.findByAction({ domain: p.domain, root, action: p.backupOf })
        if (found === undefined) return yield* failed(`no backup of ${p.domain} made by ${p.backupOf} under ${root}`)
        yield* Backup.verify(found.dir).pipe(Effect.mapError((e) => failed(e.message)))
        const srv = serverOf(p.server, found.manifest.files[0]?.path)
        if (ctx.dryRun) {
          return done({
            detail: `would restore ${found.manifest.files.map((f) => f.path).join(", ")} from ${found.dir} and reload ${server}`,
            result: { backupDir: found.dir }
          })
        }
        yield* Backup.restore(found.dir).pipe(Effect.mapError((e) => failed(e.message)))
        const reloaded = yield* srv.reload.pipe(Effect.mapError((e) => failed(`${e.message}${e.output ? `: ${e.output}` : ""}`)))
        const seen = yield* awaitServed(p.endpoint, p.expectFingerprint, p.verifyTimeoutMillis ?? 10_000)
        if (!seen.served) {
          return yield* failed(`restored ${found.dir} and reloaded, but ${p.endpoint.servername} serves ${fp(seen.last)}, not the old ${fp(p.expectFingerprint)}`)
        }
        return done({
          detail: `restored ${found.dir}; ${reloaded.detail}; the old leaf ${fp(p.expectFingerprint)} is served again`,
          result: { backupDir: found.dir, fingerprint: p.expectFingerprint }
        })
      }),
    observe: (p) =>
      Effect.map(servedFingerprint(p.endpoint), (served) =>
        served === p.expectFingerprint
          ? ActionHandler.applied(`${p.endpoint.servername} serves the old leaf ${fp(served)} again`)
          : ActionHandler.notApplied(`${p.endpoint.servername} serves ${fp(served)}`))
  })
}

/** Every handler: install and restore for nginx, haproxy and caddy. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Shell.Shell>> =>
  (["nginx", "haproxy", "caddy"] as const).flatMap((s) => [makeInstall(s), makeRestore(s)])

/** Pure: the install action (with its restore as `undo`). `servedFingerprint` is what the endpoint served when planned. */
export const action = (o: {
  readonly server: ServerSpec
  readonly domain: string
  readonly source: { readonly cert: string; readonly key: string }
  readonly target: { readonly cert: string; readonly key?: string }
  readonly endpoint: Endpoint
  readonly servedFingerprint: string
  readonly caFiles?: ReadonlyArray<string>
  readonly backupRoot?: string
  readonly verifyTimeoutMillis?: number
  readonly ref?: TargetRef.TargetRef
}): Action.Action => {
  const ref = o.ref ?? TargetRef.make("tls-endpoint", `${o.endpoint.servername}@${o.endpoint.host}:${o.endpoint.port}`)
  const optional = {
    ...(o.backupRoot !== undefined ? { backupRoot: o.backupRoot } : {}),
    ...(o.verifyTimeoutMillis !== undefined ? { verifyTimeoutMillis: o.verifyTimeoutMillis } : {})
  }
  const params = {
    server: { ...o.server },
    domain: o.domain,
    source: { ...o.source },
    target: { ...o.target },
    endpoint: { ...o.endpoint },
    ...(o.caFiles !== undefined ? { caFiles: [...o.caFiles] } : {}),
    ...optional
  } as Json.JsonObject
  const base = {
    kind: installKind(o.server.kind),
    target: ref,
    params,
    precondition: { servedFingerprint: o.servedFingerprint },
    timeoutMs: 60_000,
    description: `install the certificate ${o.source.cert} for ${o.domain} into ${o.server.kind} and reload`
  }
  const key = Action.make(base).idempotencyKey
  const undo = Action.make({
    kind: restoreKind(o.server.kind),
    target: ref,
    params: { server: { ...o.server }, domain: o.domain, backupOf: key, endpoint: { ...o.endpoint }, expectFingerprint: o.servedFingerprint, ...optional } as Json.JsonObject,
    timeoutMs: 60_000,
    description: `restore the ${o.server.kind} certificate of ${o.domain} from its backup and reload`
  })
  return Action.make({ ...base, idempotencyKey: key, undo })
}
