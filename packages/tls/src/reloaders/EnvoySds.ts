/**
 * The envoy reloader, through envoy's documented file-based SDS: a `path_config_source` (or the
 * older `path`) names a file holding a `DiscoveryResponse` whose resources are
 * `type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret`s. Envoy watches the
 * file's directory and reloads when a file is *moved onto* the watched name (a rename; an
 * in-place write is not a documented update and may be read half-written).
 *
 * Action kinds `tls.envoy.installCertificate` and its undo `tls.envoy.restoreCertificate`:
 * 1. key–cert match and chain (`NewCertificate.check`) before anything is written;
 * 2. the watched resource file is backed up (`Backup`: 0700/0600, manifest verified);
 * 3. the new certificate and key go to NEW files `<certDir>/<secret>-<fingerprint16>.crt|.key`
 *    (temp, fsync, rename; the key 0600), so the files the running envoy names stay untouched;
 * 4. a new resource file (the same resources, this Secret's `certificate_chain` / `private_key`
 *    naming the new files, `version_info` the new fingerprint) is written beside the watched one
 *    and renamed over it (`Backup.writeAtomic`): one `rename` onto the watched name, never a write;
 * 5. the final file is read back: it parses, names this Secret, its files exist, hold the new
 *    leaf and a matching key; otherwise the previous resource is renamed back and the action fails.
 *
 * **watched_directory** (a Secret whose `tls_certificate.watched_directory.path` is set, the
 * layout Kubernetes mounts and envoy documents for it): the resource file is not touched. The
 * certificate and key the Secret names are symlinks `<dir>/<name> → ..data/<name>`, `..data` a
 * symlink to a versioned directory; the install writes the pair into a NEW versioned directory
 * `<dir>/..<fingerprint16>/`, points a new symlink `..data_tmp` at it and renames that over
 * `..data` (one atomic move in the watched directory: envoy re-reads cert and key together). The
 * undo (and a failed read-back) renames a symlink to the previous versioned directory back over
 * `..data`; the versioned directories are never deleted.
 *
 * **YAML resources**: a resource file ending `.yaml` / `.yml` is parsed and rewritten as YAML
 * (envoy picks the format by extension); any other file must be JSON.
 *
 * The undo renames the backed-up resource back over the watched path (the new files stay,
 * referenced by nothing). dry_run checks key, chain and that the resource can be rewritten, and
 * writes nothing. The served certificate is proven by the runbook's verifier (handshake), not here.
 *
 * Tested against the documented mechanism (recorded file-system event sequences), not a running
 * envoy: https://www.envoyproxy.io/docs/envoy/latest/configuration/security/secret#example-three-certificate-rotation-for-xds-grpc-connection
 * and https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/config_source.proto#config-core-v3-pathconfigsource
 * and (`watched_directory`) https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/transport_sockets/tls/v3/common.proto#extensions-transport-sockets-tls-v3-tlscertificate
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Action, ActionHandler, type Json, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import * as Yaml from "yaml"
import * as Backup from "../backup/Backup"
import * as NewCertificate from "../checks/NewCertificate"
import * as FileSwap from "./FileSwap"

/** The SDS resource type of a TLS Secret. */
export const SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

/** `tls.envoy.installCertificate`. */
export const INSTALL_KIND = "tls.envoy.installCertificate"
/** `tls.envoy.restoreCertificate`. */
export const RESTORE_KIND = "tls.envoy.restoreCertificate"

/** Where envoy reads the Secret: the watched SDS resource file and the Secret's name in it. */
export interface Config {
  /** The watched SDS resource file (`path_config_source.path`). */
  readonly sdsPath: string
  /** The Secret's `name` (what the listener's `sds_config` asks for). */
  readonly secretName: string
  /** Where the new certificate and key files go (default: the resource file's directory). */
  readonly certDir?: string
}

/** Params of `tls.envoy.installCertificate`. */
export const InstallParams = Schema.Struct({
  sdsPath: Schema.String,
  secretName: Schema.String,
  certDir: Schema.optionalKey(Schema.String),
  ...FileSwap.InstallFields
})
/** Params of `tls.envoy.installCertificate`. */
export type InstallParams = typeof InstallParams.Type

/** Params of `tls.envoy.restoreCertificate`. */
export const RestoreParams = Schema.Struct({
  sdsPath: Schema.String,
  ...FileSwap.RestoreFields
})
/** Params of `tls.envoy.restoreCertificate`. */
export type RestoreParams = typeof RestoreParams.Type

/** One Secret resource of a file-based SDS `DiscoveryResponse`. */
export interface SecretResource {
  readonly "@type": string
  readonly name: string
  readonly tls_certificate?: {
    readonly certificate_chain?: { readonly filename?: string }
    readonly private_key?: { readonly filename?: string }
    readonly watched_directory?: { readonly path?: string }
  }
}

/** A parsed SDS file: its resources. */
export interface Resource {
  readonly version_info?: string
  readonly resources: ReadonlyArray<Json.JsonObject>
}

/** The format envoy reads a resource file in: by its extension (`.yaml` / `.yml` → YAML, else JSON). */
export type Format = "json" | "yaml"

/** Pure: the format of a resource file by its name. */
export const formatOf = (file: string): Format => (/\.ya?ml$/i.test(file) ? "yaml" : "json")

const done = (r: ActionHandler.HandlerResult): ActionHandler.HandlerResult => r

const fp16 = FileSwap.fp16

/** Pure: parses an SDS resource file's text (`format`: default JSON); a string says why it is not one this module can rewrite. */
export const parse = (text: string, format: Format = "json"): Resource | string => {
  let doc: unknown
  try {
    doc = format === "yaml" ? Yaml.parse(text) : JSON.parse(text)
  } catch {
    return format === "yaml" ? "not YAML" : "not JSON (envoy reads a file not ending .yaml / .yml as JSON)"
  }
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { resources?: unknown }).resources)) return "no resources list"
  return doc as Resource
}

/** Pure: the Secret named `name` in a parsed resource, with the files it names (and its `watched_directory`). */
export const secretOf = (r: Resource, name: string): { readonly cert?: string; readonly key?: string; readonly watchedDirectory?: string } | undefined => {
  const s = r.resources.find((x) => x["@type"] === SECRET_TYPE && x["name"] === name) as SecretResource | undefined
  if (s === undefined) return undefined
  const cert = s.tls_certificate?.certificate_chain?.filename
  const key = s.tls_certificate?.private_key?.filename
  const watched = s.tls_certificate?.watched_directory?.path
  return { ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}), ...(watched !== undefined ? { watchedDirectory: watched } : {}) }
}

/** Pure: the resource with Secret `name` naming `cert` and `key` (other resources kept, in order; added when absent). */
export const render = (r: Resource | undefined, o: { readonly name: string; readonly cert: string; readonly key: string; readonly version: string }, format: Format = "json"): string => {
  const secret: Json.JsonObject = {
    "@type": SECRET_TYPE,
    name: o.name,
    tls_certificate: { certificate_chain: { filename: o.cert }, private_key: { filename: o.key } }
  }
  const others = r?.resources ?? []
  const has = others.some((x) => x["@type"] === SECRET_TYPE && x["name"] === o.name)
  const resources = has ? others.map((x) => (x["@type"] === SECRET_TYPE && x["name"] === o.name ? secret : x)) : [...others, secret]
  const doc = { version_info: o.version, resources }
  return format === "yaml" ? Yaml.stringify(doc) : `${JSON.stringify(doc, null, 2)}\n`
}

/** The new files' paths for a leaf. */
export const filesFor = (o: { readonly sdsPath: string; readonly secretName: string; readonly certDir?: string | undefined }, fingerprint: string) => {
  const dir = o.certDir ?? path.dirname(o.sdsPath)
  const base = `${o.secretName.replace(/[^A-Za-z0-9._-]/g, "_")}-${fp16(fingerprint)}`
  return { cert: path.join(dir, `${base}.crt`), key: path.join(dir, `${base}.key`) }
}

/** Reads the watched file back: it parses, names the Secret, and its files hold `fingerprint` with a matching key. */
export const check = (sdsPath: string, secretName: string, fingerprint: string): Effect.Effect<{ readonly cert: string; readonly key: string }, string> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({ try: () => fs.readFileSync(sdsPath, "utf8"), catch: () => `cannot read ${sdsPath}` })
    const r = parse(text, formatOf(sdsPath))
    if (typeof r === "string") return yield* Effect.fail(`${sdsPath}: ${r}`)
    const s = secretOf(r, secretName)
    if (s?.cert === undefined || s.key === undefined) return yield* Effect.fail(`${sdsPath} names no certificate_chain/private_key for the Secret ${secretName}`)
    const missing = [s.cert, s.key].filter((f) => !fs.existsSync(f))
    if (missing.length > 0) return yield* Effect.fail(`${sdsPath} names missing files: ${missing.join(", ")}`)
    const cert = fs.readFileSync(s.cert, "utf8")
    const leaf = yield* Backup.checkKeyMatch(cert, fs.readFileSync(s.key, "utf8"), s.cert).pipe(Effect.mapError((e) => e.message))
    if (leaf.fingerprint256 !== fingerprint) return yield* Effect.fail(`${s.cert} holds ${fp16(leaf.fingerprint256)}, not ${fp16(fingerprint)}`)
    return { cert: s.cert, key: s.key }
  })

/** The `..data` layout of a watched directory: the link, where it points, and the names of the cert and key inside it. */
export interface WatchedLayout {
  readonly dir: string
  /** `<dir>/..data` */
  readonly data: string
  /** The versioned directory `..data` points at now (relative, as the link holds it). */
  readonly target: string
  readonly certName: string
  readonly keyName: string
}

/**
 * Reads the `watched_directory` layout of a Secret: cert and key are `<dir>/<name>` symlinks to
 * `..data/<name>`, `..data` a symlink to a directory in `<dir>`; a string says why not.
 */
export const watchedLayout = (secret: { readonly cert?: string; readonly key?: string; readonly watchedDirectory?: string }): WatchedLayout | string => {
  const dir = secret.watchedDirectory
  if (dir === undefined || secret.cert === undefined || secret.key === undefined) return "the Secret names no watched_directory, certificate_chain and private_key"
  for (const f of [secret.cert, secret.key]) {
    if (path.dirname(f) !== path.resolve(dir)) return `${f} is not directly in the watched directory ${dir}`
    let link: string
    try {
      link = fs.readlinkSync(f)
    } catch {
      return `${f} is not a symlink (the watched_directory layout is <name> → ..data/<name>)`
    }
    if (link !== `..data/${path.basename(f)}`) return `${f} points at ${link}, not ..data/${path.basename(f)}`
  }
  const data = path.join(dir, "..data")
  let target: string
  try {
    target = fs.readlinkSync(data)
  } catch {
    return `${data} is not a symlink`
  }
  if (target.includes("/")) return `${data} points outside ${dir} (${target})`
  return { dir, data, target, certName: path.basename(secret.cert), keyName: path.basename(secret.key) }
}

/** Points `<dir>/..data` at `target` by one rename of a fresh `..data_tmp` symlink over it (as kubelet's atomic writer does). */
export const swapData = (dir: string, target: string): Effect.Effect<void, { readonly message: string }> =>
  Effect.try({
    try: () => {
      const tmpLink = path.join(dir, "..data_tmp")
      fs.rmSync(tmpLink, { force: true })
      fs.symlinkSync(target, tmpLink)
      fs.renameSync(tmpLink, path.join(dir, "..data"))
      const fd = fs.openSync(dir, "r")
      try {
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (e) => ({ message: `swapping ${dir}/..data to ${target} failed: ${e instanceof Error ? e.message : String(e)}` })
  })

/** Reads the pair through the links: the certificate holds `fingerprint`, the key matches. */
const checkWatched = (l: WatchedLayout, fingerprint: string): Effect.Effect<void, string> =>
  Effect.gen(function*() {
    const certPath = path.join(l.dir, l.certName)
    const read = (f: string) => Effect.try({ try: () => fs.readFileSync(f, "utf8"), catch: () => `cannot read ${f}` })
    const leaf = yield* Backup.checkKeyMatch(yield* read(certPath), yield* read(path.join(l.dir, l.keyName)), certPath).pipe(Effect.mapError((e) => e.message))
    if (leaf.fingerprint256 !== fingerprint) return yield* Effect.fail(`${certPath} holds ${fp16(leaf.fingerprint256)}, not ${fp16(fingerprint)}`)
  })

/** The install of a Secret with a `watched_directory`: a new versioned directory, then one rename of `..data`. */
const installWatched = (
  p: InstallParams,
  ctx: ActionHandler.ApplyContext,
  pair: { readonly cert: string; readonly key: string; readonly fingerprint: string },
  secret: { readonly cert?: string; readonly key?: string; readonly watchedDirectory?: string }
): Effect.Effect<ActionHandler.HandlerResult, ActionHandler.ActionFailed> =>
  Effect.gen(function*() {
    const failed = (message: string) => new ActionHandler.ActionFailed({ kind: INSTALL_KIND, message })
    const l = watchedLayout(secret)
    if (typeof l === "string") return yield* failed(`${p.sdsPath}: Secret ${p.secretName}: ${l}; nothing written`)
    const version = `..${fp16(pair.fingerprint)}`
    const versionDir = path.join(l.dir, version)
    if (ctx.dryRun) {
      if (FileSwap.notWritable([l.data]).length > 0) return yield* failed(`${l.dir} is not writable`)
      return done({
        detail: `would write ${version}/${l.certName} and ${version}/${l.keyName} in the watched directory ${l.dir} and rename a ..data symlink to it over ..data (now → ${l.target})`,
        result: { newFingerprint: pair.fingerprint, watchedDirectory: l.dir, version }
      })
    }
    const owner = FileSwap.ownerOf(path.join(l.dir, l.target))
    const { backupDir } = yield* FileSwap.install({
      kind: INSTALL_KIND,
      domain: p.domain,
      backupRoot: p.backupRoot,
      action: ctx.action.idempotencyKey,
      backupFiles: [path.join(l.dir, l.certName), path.join(l.dir, l.keyName)],
      notes: { newFingerprint: pair.fingerprint, watchedDirectory: l.dir, previousTarget: l.target },
      prepare: Effect.gen(function*() {
        yield* Effect.try({ try: () => fs.mkdirSync(versionDir, { recursive: true, mode: 0o755 }), catch: (e) => ({ message: `cannot create ${versionDir}: ${String(e)}` }) })
        yield* Backup.writeAtomic(path.join(versionDir, l.keyName), pair.key, { mode: 0o600, ...owner })
        yield* Backup.writeAtomic(path.join(versionDir, l.certName), pair.cert, { mode: 0o644, ...owner })
      }),
      swap: swapData(l.dir, version),
      check: checkWatched(l, pair.fingerprint),
      restore: () => swapData(l.dir, l.target),
      restored: () => `..data renamed back to ${l.target}`
    })
    return done({
      detail: `envoy watched_directory ${l.dir}: ..data → ${version} (${fp16(pair.fingerprint)}) by one rename, was ${l.target} (backup ${backupDir})`,
      result: { backupDir, newFingerprint: pair.fingerprint, watchedDirectory: l.dir, version, previousTarget: l.target }
    })
  })

/** The handler of `tls.envoy.installCertificate`. */
export const makeInstall = (): ActionHandler.ActionHandler => {
  const failed = (message: string) => new ActionHandler.ActionFailed({ kind: INSTALL_KIND, message })
  return ActionHandler.make<InstallParams>({
    kind: INSTALL_KIND,
    params: InstallParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        // 1. key–cert match and chain, before anything is written
        const { cert, key, leaf } = yield* NewCertificate.check({ source: p.source, caFiles: p.caFiles, servername: p.servername }, INSTALL_KIND)
        const current = yield* NewCertificate.readText(p.sdsPath, INSTALL_KIND)
        const format = formatOf(p.sdsPath)
        const parsed = parse(current, format)
        if (typeof parsed === "string") return yield* failed(`${p.sdsPath}: ${parsed}; nothing written`)
        const previous = secretOf(parsed, p.secretName)
        if (previous?.watchedDirectory !== undefined) {
          return yield* installWatched(p, ctx, { cert, key, fingerprint: leaf.fingerprint256 }, previous)
        }
        const files = filesFor(p, leaf.fingerprint256)
        if (ctx.dryRun) {
          if (FileSwap.notWritable([p.sdsPath, files.cert]).length > 0) {
            return yield* failed(`${path.dirname(p.sdsPath)} or ${path.dirname(files.cert)} is not writable`)
          }
          return done({
            detail: `would write ${files.cert} and ${files.key}, back up ${p.sdsPath} and rename a new SDS resource naming them over it (Secret ${p.secretName}: ${previous?.cert ?? "absent"} → ${files.cert})`,
            result: { newFingerprint: leaf.fingerprint256, files: [files.cert, files.key], sdsPath: p.sdsPath }
          })
        }
        // 2.–5. backup of the watched resource; new files; one rename onto the watched name; read back
        const owner = FileSwap.ownerOf(p.sdsPath)
        const next = render(parsed, { name: p.secretName, cert: files.cert, key: files.key, version: fp16(leaf.fingerprint256) }, format)
        const { backupDir } = yield* FileSwap.install({
          kind: INSTALL_KIND,
          domain: p.domain,
          backupRoot: p.backupRoot,
          action: ctx.action.idempotencyKey,
          backupFiles: [p.sdsPath],
          notes: { newFingerprint: leaf.fingerprint256, previousCert: previous?.cert ?? "" },
          // 3. new files (never the ones envoy names now)
          prepare: Effect.gen(function*() {
            yield* Backup.writeAtomic(files.key, key, { mode: 0o600, ...owner })
            yield* Backup.writeAtomic(files.cert, cert, { mode: 0o644, ...owner })
          }),
          // 4. one rename onto the watched name (a failed rename leaves the old resource in place)
          swap: Backup.writeAtomic(p.sdsPath, next),
          restoreOnSwapFailure: false,
          // 5. read back; a bad file is renamed back at once
          check: Effect.asVoid(check(p.sdsPath, p.secretName, leaf.fingerprint256)),
          restored: (dir) => `the previous resource renamed back from ${dir}`
        })
        const backup = { dir: backupDir }
        return done({
          detail: `envoy SDS ${p.sdsPath}: Secret ${p.secretName} now names ${files.cert} (${fp16(leaf.fingerprint256)}), renamed into place (backup ${backup.dir})`,
          result: { backupDir: backup.dir, newFingerprint: leaf.fingerprint256, cert: files.cert, key: files.key, previousCert: previous?.cert ?? "" }
        })
      }),
    observe: (p) => FileSwap.observeInstall(p.source.cert, (fp) => check(p.sdsPath, p.secretName, fp), (r, fp) => `${p.sdsPath} names ${r.cert} holding ${fp}`)
  })
}

/** The handler of `tls.envoy.restoreCertificate` (the install's undo). */
export const makeRestore = (): ActionHandler.ActionHandler => {
  const found = FileSwap.backupOf
  return ActionHandler.make<RestoreParams>({
    kind: RESTORE_KIND,
    params: RestoreParams,
    apply: FileSwap.restoreApply<RestoreParams>({
      kind: RESTORE_KIND,
      wouldDo: (b, p) => `would rename the resource backed up in ${b.dir} back over ${p.sdsPath}`,
      did: (b, p) =>
        b.manifest.notes?.["previousTarget"] !== undefined
          ? `renamed ..data back to ${b.manifest.notes["previousTarget"]} in ${b.manifest.notes["watchedDirectory"]} (backup ${b.dir})`
          : `renamed the previous SDS resource back over ${p.sdsPath} (from ${b.dir})`,
      restore: (b) => {
        const target = b.manifest.notes?.["previousTarget"]
        const dir = b.manifest.notes?.["watchedDirectory"]
        return target !== undefined && dir !== undefined ? swapData(dir, target) : Backup.restore(b.dir)
      }
    }),
    observe: (p) =>
      Effect.sync(() => {
        const b = found(p)
        const target = b?.manifest.notes?.["previousTarget"]
        const watched = b?.manifest.notes?.["watchedDirectory"]
        if (target !== undefined && watched !== undefined) {
          const link = (() => {
            try {
              return fs.readlinkSync(path.join(watched, "..data"))
            } catch {
              return undefined
            }
          })()
          return link === target
            ? ActionHandler.applied(`${watched}/..data points at ${target} again`)
            : ActionHandler.notApplied(`${watched}/..data points at ${link ?? "nothing"}, not ${target}`)
        }
        const entry = b?.manifest.files.find((f) => f.path === p.sdsPath)
        if (b === undefined || entry === undefined) return ActionHandler.unknown(`no backup of ${p.sdsPath} made by ${p.backupOf}`)
        const now = fs.existsSync(p.sdsPath) ? fs.readFileSync(path.join(b.dir, entry.name)).equals(fs.readFileSync(p.sdsPath)) : false
        return now ? ActionHandler.applied(`${p.sdsPath} is the backed-up resource again`) : ActionHandler.notApplied(`${p.sdsPath} differs from ${b.dir}`)
      })
  })
}

/** Both handlers: install and restore. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler> => [makeInstall(), makeRestore()]

/** Pure: the install action with its restore as `undo`. */
export const action = (o: Config & FileSwap.ActionInput): Action.Action =>
  FileSwap.action({
    ...o,
    kind: INSTALL_KIND,
    restoreKind: RESTORE_KIND,
    ref: o.ref ?? TargetRef.make("tls-endpoint", `${o.servername}@envoy:${o.sdsPath}`),
    fields: { sdsPath: o.sdsPath, secretName: o.secretName, ...(o.certDir !== undefined ? { certDir: o.certDir } : {}) },
    restoreFields: { sdsPath: o.sdsPath },
    description: `write ${o.source.cert} as new files and rename a new envoy SDS resource over ${o.sdsPath} (Secret ${o.secretName})`,
    undoDescription: `rename the previous envoy SDS resource back over ${o.sdsPath}`
  })
