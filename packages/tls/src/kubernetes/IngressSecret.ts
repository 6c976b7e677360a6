/**
 * The Kubernetes ingress reloader: a new certificate goes into the `kubernetes.io/tls` Secret an
 * Ingress serves, and the ingress controller picks it up from there.
 *
 * `tls.kubernetes.installSecret` (auto):
 * 1. reads the staged chain and key files, refuses a key that does not match or a chain that does
 *    not verify to `caFiles` for the endpoint's name, before anything is written;
 * 2. reads the Secret; a resourceVersion other than the planned one is a conflict (`SecretConflict`),
 *    nothing is written;
 * 3. backs up the Secret's tls.crt and tls.key (see `Backup`; 0700/0600, manifest, tagged with the
 *    action's idempotency key);
 * 4. replaces the Secret's tls.crt/tls.key with `metadata.resourceVersion` set to the planned one:
 *    the API server refuses it (409) when anyone wrote the Secret since, and nothing is overwritten;
 * 5. verifies with new handshakes (SNI) until the endpoint serves the new leaf; when it never does,
 *    it writes the old pair back, checks the old leaf is served again and fails naming both
 *    (`ROLLBACK FAILED` when it could not).
 *
 * Its undo `tls.kubernetes.restoreSecret` writes the backup back (a resourceVersion precondition
 * again) and confirms the old fingerprint. dry_run reads, checks key, chain and resourceVersion and
 * sends the replace with `dryRun=All`: nothing is persisted, no backup written. `observe`: the new
 * leaf served → Applied; the planned-from fingerprint → NotApplied; else Unknown.
 *
 * Params, results and errors carry paths, names and fingerprints; PEM content goes from file to API.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { ApiException, CoreV1Api } from "@kubernetes/client-node"
import type { KubeConfig, V1Secret } from "@kubernetes/client-node"
import { Effect, Schema } from "effect"
import * as Backup from "../backup/Backup"
import * as Certificate from "../Certificate"
import * as NewCertificate from "../checks/NewCertificate"
import * as Inspection from "../Inspection"
import { poll } from "../servers/Server"

/** The Secret changed since it was read or planned: nothing was overwritten. */
export class SecretConflict extends Schema.TaggedError<SecretConflict>()("SecretConflict", {
  namespace: Schema.String,
  name: Schema.String,
  /** The resourceVersion the write was conditioned on. */
  expected: Schema.String,
  message: Schema.String
}) {}

/** The install action kind. */
export const INSTALL_KIND = "tls.kubernetes.installSecret"
/** Its undo. */
export const RESTORE_KIND = "tls.kubernetes.restoreSecret"

const Endpoint = Schema.Struct({ host: Schema.String, port: Schema.Number, servername: Schema.String })

/** Params of `tls.kubernetes.installSecret`. */
export const InstallParams = Schema.Struct({
  namespace: Schema.String,
  secretName: Schema.String,
  /** The certificate's domain (backup directory name). */
  domain: Schema.String,
  /** The staged chain (leaf first) and key, as files. */
  source: Schema.Struct({ cert: Schema.String, key: Schema.String }),
  /** The ingress controller's address and the SNI name that proves the change. */
  endpoint: Endpoint,
  /** PEM files of the roots the new chain must verify to (default Node's). */
  caFiles: Schema.optionalKey(Schema.Array(Schema.String)),
  backupRoot: Schema.optionalKey(Schema.String),
  /** How long handshakes may take to show the new leaf (ms, default 10 000). */
  verifyTimeoutMillis: Schema.optionalKey(Schema.Number)
})
/** Params of `tls.kubernetes.installSecret`. */
export type InstallParams = typeof InstallParams.Type

/** Params of `tls.kubernetes.restoreSecret`. */
export const RestoreParams = Schema.Struct({
  namespace: Schema.String,
  secretName: Schema.String,
  domain: Schema.String,
  /** The idempotency key of the install whose backup is restored. */
  backupOf: Schema.String,
  endpoint: Endpoint,
  expectFingerprint: Schema.String,
  backupRoot: Schema.optionalKey(Schema.String),
  verifyTimeoutMillis: Schema.optionalKey(Schema.Number)
})
/** Params of `tls.kubernetes.restoreSecret`. */
export type RestoreParams = typeof RestoreParams.Type

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")
const fp = (f: string | undefined) => (f === undefined ? "none" : f.replace(/:/g, "").slice(0, 16))

const served = (e: { host: string; port: number; servername: string }) =>
  Inspection.inspect({ host: e.host, port: e.port, servername: e.servername, timeoutMillis: 5_000 }).pipe(
    Effect.map((i) => i.leaf.fingerprint256 as string | undefined),
    Effect.catch(() => Effect.succeed(undefined))
  )

/** Waits until the endpoint serves `fingerprint` (undefined when it never did within `timeoutMillis`). */
const untilServed = (e: { host: string; port: number; servername: string }, fingerprint: string, timeoutMillis: number) =>
  poll(Effect.map(served(e), (f) => (f === fingerprint ? f : undefined)), timeoutMillis)

/**
 * Replaces the Secret's tls.crt and tls.key, conditioned on `resourceVersion`: a 409 is a
 * `SecretConflict` and nothing is overwritten. Returns the written Secret.
 */
export const replacePair = (kc: KubeConfig, o: {
  readonly namespace: string
  readonly name: string
  readonly resourceVersion: string
  readonly secret: V1Secret
  readonly cert: string
  readonly key: string
  readonly dryRun?: boolean
}): Effect.Effect<V1Secret, SecretConflict | ActionHandler.ActionFailed> =>
  Effect.tryPromise({
    try: () =>
      kc.makeApiClient(CoreV1Api).replaceNamespacedSecret({
        namespace: o.namespace,
        name: o.name,
        body: { ...o.secret, metadata: { ...o.secret.metadata, resourceVersion: o.resourceVersion }, data: { ...o.secret.data, "tls.crt": b64(o.cert), "tls.key": b64(o.key) } },
        ...(o.dryRun === true ? { dryRun: "All" } : {})
      }),
    catch: (e) =>
      e instanceof ApiException && e.code === 409
        ? new SecretConflict({ namespace: o.namespace, name: o.name, expected: o.resourceVersion, message: `Secret ${o.namespace}/${o.name} changed since resourceVersion ${o.resourceVersion}: nothing was overwritten` })
        : new ActionHandler.ActionFailed({ kind: INSTALL_KIND, message: `replace Secret ${o.namespace}/${o.name}: ${e instanceof ApiException ? `HTTP ${e.code}` : String(e)}` })
  })

const readSecret = (kc: KubeConfig, kind: string, namespace: string, name: string) =>
  Effect.tryPromise({
    try: () => kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name }),
    catch: (e) => new ActionHandler.ActionFailed({ kind, message: `read Secret ${namespace}/${name}: ${e instanceof ApiException ? `HTTP ${e.code}` : String(e)}` })
  })

const readText = NewCertificate.readText

const pairOf = (s: V1Secret) => ({
  cert: Buffer.from(s.data?.["tls.crt"] ?? "", "base64").toString("utf8"),
  key: Buffer.from(s.data?.["tls.key"] ?? "", "base64").toString("utf8")
})

const conflictToFailed = (kind: string) => (e: SecretConflict | ActionHandler.ActionFailed) =>
  e._tag === "SecretConflict" ? new ActionHandler.ActionFailed({ kind, message: e.message, conflict: true }) : e

/** Backs the Secret's pair up (files `tls.crt`, `tls.key` in a backup directory). */
const backupPair = (o: { readonly domain: string; readonly root?: string; readonly action: string; readonly secret: V1Secret; readonly notes: Record<string, string> }) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "byteport-secret-"))),
    (dir) =>
      Effect.gen(function*() {
        const pair = pairOf(o.secret)
        fs.writeFileSync(path.join(dir, "tls.crt"), pair.cert, { mode: 0o600 })
        fs.writeFileSync(path.join(dir, "tls.key"), pair.key, { mode: 0o600 })
        return yield* Backup.create({
          domain: o.domain,
          files: [path.join(dir, "tls.crt"), path.join(dir, "tls.key")],
          action: o.action,
          notes: o.notes,
          ...(o.root !== undefined ? { root: o.root } : {})
        })
      }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** The pair a backup holds (its manifest verified first). */
const backedUpPair = (dir: string) =>
  Effect.map(Backup.verify(dir), (b) => {
    const read = (name: string) => fs.readFileSync(path.join(b.dir, b.manifest.files.find((f) => path.basename(f.path) === name)?.name ?? name), "utf8")
    return { cert: read("tls.crt"), key: read("tls.key"), manifest: b.manifest }
  })

/** The handler of `tls.kubernetes.installSecret`. */
export const makeInstall = (kc: KubeConfig): ActionHandler.ActionHandler => {
  const kind = INSTALL_KIND
  const failed = (message: string) => new ActionHandler.ActionFailed({ kind, message })
  return ActionHandler.make<InstallParams>({
    kind,
    params: InstallParams,
    apply: (p, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed> {
        const { cert, key, leaf } = yield* NewCertificate.check({ source: p.source, caFiles: p.caFiles, servername: p.endpoint.servername }, kind)
        const planned = ctx.action.precondition as { resourceVersion?: unknown; servedFingerprint?: unknown }
        const secret = yield* readSecret(kc, kind, p.namespace, p.secretName)
        const rv = secret.metadata?.resourceVersion ?? ""
        const expected = typeof planned.resourceVersion === "string" ? planned.resourceVersion : rv
        if (rv !== expected) {
          return yield* new ActionHandler.ActionFailed({ kind, conflict: true, message: `Secret ${p.namespace}/${p.secretName} is at resourceVersion ${rv}, planned from ${expected}: nothing was overwritten` })
        }
        const newFp = leaf.fingerprint256
        const oldFp = Certificate.parsePemBundle(pairOf(secret).cert)[0]?.fingerprint256
        if (ctx.dryRun) {
          yield* replacePair(kc, { namespace: p.namespace, name: p.secretName, resourceVersion: expected, secret, cert, key, dryRun: true }).pipe(Effect.mapError(conflictToFailed(kind)))
          return {
            detail: `would back up and replace tls.crt/tls.key of Secret ${p.namespace}/${p.secretName} (resourceVersion ${expected}; dryRun=All accepted) with ${fp(newFp)}`,
            result: { resourceVersion: expected, newFingerprint: newFp }
          }
        }
        const backup = yield* backupPair({
          domain: p.domain,
          action: ctx.action.idempotencyKey,
          secret,
          notes: { secret: `${p.namespace}/${p.secretName}`, resourceVersion: expected, ...(oldFp !== undefined ? { servedFingerprint: oldFp } : {}) },
          ...(p.backupRoot !== undefined ? { root: p.backupRoot } : {})
        }).pipe(Effect.mapError((e) => failed(e.message)))
        const written = yield* replacePair(kc, { namespace: p.namespace, name: p.secretName, resourceVersion: expected, secret, cert, key }).pipe(Effect.mapError(conflictToFailed(kind)))
        const timeout = p.verifyTimeoutMillis ?? 10_000
        if ((yield* untilServed(p.endpoint, newFp, timeout)) !== undefined) {
          return {
            detail: `Secret ${p.namespace}/${p.secretName} holds ${fp(newFp)} (was ${fp(oldFp)}), served by ${p.endpoint.servername}@${p.endpoint.host}:${p.endpoint.port}; backup ${backup.dir}`,
            result: { resourceVersion: written.metadata?.resourceVersion ?? "", oldFingerprint: oldFp ?? null, newFingerprint: newFp, backup: backup.dir }
          }
        }
        // never served: write the old pair back (conditioned on our own write) and check it is served again
        const old = pairOf(secret)
        const rolled = yield* Effect.exit(replacePair(kc, { namespace: p.namespace, name: p.secretName, resourceVersion: written.metadata?.resourceVersion ?? "", secret: written, cert: old.cert, key: old.key }))
        const back = rolled._tag === "Success" && oldFp !== undefined ? yield* untilServed(p.endpoint, oldFp, timeout) : undefined
        return yield* failed(back !== undefined
          ? `${p.endpoint.servername} never served the new leaf ${fp(newFp)} within ${timeout} ms; rolled back, ${fp(oldFp)} is served again`
          : `${p.endpoint.servername} never served the new leaf ${fp(newFp)} within ${timeout} ms; ROLLBACK FAILED: ${fp(oldFp)} is not served again (backup ${backup.dir})`)
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const cert = yield* readText(p.source.cert, kind)
        const leaf = Certificate.parsePemBundle(cert)[0]
        if (leaf === undefined) return ActionHandler.unknown(`${p.source.cert} holds no certificate`)
        const now = yield* served(p.endpoint)
        const planned = (ctx.action.precondition as { servedFingerprint?: unknown }).servedFingerprint
        if (now === leaf.fingerprint256) return ActionHandler.applied(`${p.endpoint.servername} serves the new leaf ${fp(now)}`)
        if (now !== undefined && now === planned) return ActionHandler.notApplied(`${p.endpoint.servername} still serves ${fp(now)}`)
        return ActionHandler.unknown(`${p.endpoint.servername} serves ${fp(now)}: neither the planned ${fp(String(planned))} nor the new ${fp(leaf.fingerprint256)}`)
      })
  })
}

/** The handler of `tls.kubernetes.restoreSecret`. */
export const makeRestore = (kc: KubeConfig): ActionHandler.ActionHandler => {
  const kind = RESTORE_KIND
  const failed = (message: string) => new ActionHandler.ActionFailed({ kind, message })
  return ActionHandler.make<RestoreParams>({
    kind,
    params: RestoreParams,
    apply: (p, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed> {
        const b = Backup.findByAction({ domain: p.domain, action: p.backupOf, ...(p.backupRoot !== undefined ? { root: p.backupRoot } : {}) })
        if (b === undefined) return yield* failed(`no backup of ${p.domain} made by ${p.backupOf}`)
        const pair = yield* backedUpPair(b.dir).pipe(Effect.mapError((e) => failed(e.message)))
        const secret = yield* readSecret(kc, kind, p.namespace, p.secretName)
        const rv = secret.metadata?.resourceVersion ?? ""
        const write = replacePair(kc, { namespace: p.namespace, name: p.secretName, resourceVersion: rv, secret, cert: pair.cert, key: pair.key, dryRun: ctx.dryRun }).pipe(Effect.mapError(conflictToFailed(kind)))
        yield* write
        if (ctx.dryRun) return { detail: `would write the backup ${b.dir} back into Secret ${p.namespace}/${p.secretName} (dryRun=All accepted)`, result: { backup: b.dir } }
        const back = yield* untilServed(p.endpoint, p.expectFingerprint, p.verifyTimeoutMillis ?? 10_000)
        if (back === undefined) return yield* failed(`restored Secret ${p.namespace}/${p.secretName} from ${b.dir}, but ${p.endpoint.servername} does not serve ${fp(p.expectFingerprint)} again`)
        return { detail: `Secret ${p.namespace}/${p.secretName} restored from ${b.dir}; ${fp(p.expectFingerprint)} served again`, result: { backup: b.dir, fingerprint: p.expectFingerprint } }
      }),
    observe: (p) =>
      Effect.map(served(p.endpoint), (now) =>
        now === p.expectFingerprint
          ? ActionHandler.applied(`${p.endpoint.servername} serves the old leaf ${fp(now)} again`)
          : ActionHandler.notApplied(`${p.endpoint.servername} serves ${fp(now)}`))
  })
}

/** Both handlers, against the cluster of `kc`. */
export const handlers = (kc: KubeConfig): ReadonlyArray<ActionHandler.ActionHandler> => [makeInstall(kc), makeRestore(kc)]

/** Pure: the install action with its restore as `undo`. */
export const action = (o: {
  readonly namespace: string
  readonly secretName: string
  readonly domain: string
  readonly source: { readonly cert: string; readonly key: string }
  readonly endpoint: { readonly host: string; readonly port: number; readonly servername: string }
  /** The Secret's resourceVersion when planned (the write's precondition). */
  readonly resourceVersion: string
  /** The fingerprint the endpoint served when planned. */
  readonly servedFingerprint: string
  readonly caFiles?: ReadonlyArray<string>
  readonly backupRoot?: string
  readonly verifyTimeoutMillis?: number
}): Action.Action => {
  const ref = TargetRef.make("kubernetes-secret", `${o.namespace}/${o.secretName}`)
  const optional = {
    ...(o.backupRoot !== undefined ? { backupRoot: o.backupRoot } : {}),
    ...(o.verifyTimeoutMillis !== undefined ? { verifyTimeoutMillis: o.verifyTimeoutMillis } : {})
  }
  const base = {
    kind: INSTALL_KIND,
    target: ref,
    params: {
      namespace: o.namespace, secretName: o.secretName, domain: o.domain, source: { ...o.source }, endpoint: { ...o.endpoint },
      ...(o.caFiles !== undefined ? { caFiles: [...o.caFiles] } : {}), ...optional
    } as Json.JsonObject,
    precondition: { resourceVersion: o.resourceVersion, servedFingerprint: o.servedFingerprint },
    timeoutMs: 60_000,
    description: `write the certificate ${o.source.cert} for ${o.domain} into Secret ${o.namespace}/${o.secretName} (resourceVersion ${o.resourceVersion}) for the ingress controller`
  }
  const key = Action.make(base).idempotencyKey
  const undo = Action.make({
    kind: RESTORE_KIND,
    target: ref,
    params: { namespace: o.namespace, secretName: o.secretName, domain: o.domain, backupOf: key, endpoint: { ...o.endpoint }, expectFingerprint: o.servedFingerprint, ...optional } as Json.JsonObject,
    timeoutMs: 60_000,
    description: `restore Secret ${o.namespace}/${o.secretName} of ${o.domain} from its backup`
  })
  return Action.make({ ...base, idempotencyKey: key, undo })
}
