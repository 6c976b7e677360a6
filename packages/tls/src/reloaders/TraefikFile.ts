/**
 * The traefik reloader, through traefik's documented file provider: the dynamic configuration
 * file lists `tls.certificates[].certFile` / `keyFile`; with `watch = true` traefik reloads it
 * when its watcher sees the file change, and only when the content differs from the last one it
 * loaded. Swapping the certificate files alone does not make traefik read them again.
 *
 * Action kinds `tls.traefik.installCertificate` and its undo `tls.traefik.restoreCertificate`:
 * 1. key–cert match and chain (`NewCertificate.check`) before anything is written, and the
 *    dynamic configuration must name the target files as `certFile` and `keyFile` (else refused);
 * 2. certificate, key and dynamic configuration are backed up (`Backup`);
 * 3. key and certificate are swapped (temp, fsync, rename; owner and mode kept);
 * 4. the dynamic configuration is replaced atomically (temp + rename) with one marker comment
 *    `# byteport-certificate: <domain> <fingerprint>` (YAML and TOML both read `#` as a comment),
 *    so its content hash changes and the watcher fires; the rest of the file is kept byte for byte;
 * 5. read back: the files hold the new leaf and a matching key, the configuration carries the
 *    marker and still names them; otherwise everything is restored and the action fails.
 *
 * **Directory provider** (`providers.file.directory`): traefik loads every `.yml` / `.yaml` /
 * `.toml` file of the directory (subdirectories included) and reloads on any change in it. With
 * `directory` instead of `dynamicConfig`, the one configuration file there that names `certFile`
 * and `keyFile` is the one marked and renamed into place (none or several: refused). The temp
 * files written beside it end in `.tmp`, an extension traefik's loader skips.
 *
 * **KV providers** (Consul, etcd, Redis, ZooKeeper: `traefik/tls/certificates/<n>/certFile` and
 * `…/keyFile`) are not supported: see the package README.
 *
 * The undo restores the three files from the backup (the configuration's content changes back,
 * so traefik reloads again). dry_run writes nothing. The served certificate is proven by the
 * runbook's verifier (handshake), not here.
 *
 * Tested against the documented mechanism (recorded file-system event sequences), not a running
 * traefik: https://doc.traefik.io/traefik/providers/file/ (`filename`, `directory`, `watch`) and
 * https://doc.traefik.io/traefik/https/tls/#user-defined
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Action, ActionHandler, type Json, TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import * as Backup from "../backup/Backup"
import * as NewCertificate from "../checks/NewCertificate"
import * as FileSwap from "./FileSwap"

/** `tls.traefik.installCertificate`. */
export const INSTALL_KIND = "tls.traefik.installCertificate"
/** `tls.traefik.restoreCertificate`. */
export const RESTORE_KIND = "tls.traefik.restoreCertificate"

/** The marker comment's prefix. */
export const MARKER = "# byteport-certificate:"

/** Where traefik reads the certificate: the watched dynamic configuration (a file, or the provider's directory) and the files it names. */
export interface Config {
  /** The file provider's dynamic configuration file (`providers.file.filename`, YAML or TOML). */
  readonly dynamicConfig?: string
  /** The file provider's directory (`providers.file.directory`): the file naming `certFile` and `keyFile` is found in it. */
  readonly directory?: string
  readonly certFile: string
  readonly keyFile: string
}

/** Pure: the configuration files traefik's directory provider loads (`.yml`, `.yaml`, `.toml`; subdirectories included), sorted. */
export const configFilesIn = (directory: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name)
      if (e.isDirectory()) walk(f)
      else if (/\.(ya?ml|toml)$/i.test(e.name)) out.push(f)
    }
  }
  walk(directory)
  return out.sort()
}

/** The dynamic configuration file to rewrite: `dynamicConfig`, or the one file of `directory` naming both files; a string says why none. */
export const configFileOf = (p: Config): string | { readonly refused: string } => {
  if (p.dynamicConfig !== undefined) return p.dynamicConfig
  if (p.directory === undefined) return { refused: "neither dynamicConfig nor directory is set" }
  let files: ReadonlyArray<string>
  try {
    files = configFilesIn(p.directory)
  } catch {
    return { refused: `cannot read the directory ${p.directory}` }
  }
  const naming = files.filter((f) => {
    const text = fs.readFileSync(f, "utf8")
    return names(text, "certFile", p.certFile) && names(text, "keyFile", p.keyFile)
  })
  if (naming.length === 1) return naming[0]!
  return { refused: naming.length === 0 ? `no configuration file in ${p.directory} names certFile ${p.certFile} and keyFile ${p.keyFile}` : `several files in ${p.directory} name ${p.certFile}: ${naming.join(", ")}` }
}

/** Params of `tls.traefik.installCertificate`. */
export const InstallParams = Schema.Struct({
  dynamicConfig: Schema.optionalKey(Schema.String),
  directory: Schema.optionalKey(Schema.String),
  certFile: Schema.String,
  keyFile: Schema.String,
  ...FileSwap.InstallFields
})
/** Params of `tls.traefik.installCertificate`. */
export type InstallParams = typeof InstallParams.Type

/** Params of `tls.traefik.restoreCertificate`. */
export const RestoreParams = Schema.Struct({
  dynamicConfig: Schema.optionalKey(Schema.String),
  directory: Schema.optionalKey(Schema.String),
  ...FileSwap.RestoreFields
})
/** Params of `tls.traefik.restoreCertificate`. */
export type RestoreParams = typeof RestoreParams.Type

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Pure: whether the configuration names `file` as `certFile` / `keyFile` (YAML `key: value` or TOML `key = value`, quoted or not). */
export const names = (text: string, field: "certFile" | "keyFile", file: string): boolean =>
  new RegExp(`(^|[\\s{,])${field}\\s*[:=]\\s*["']?${escape(file)}["']?\\s*(,|}|$)`, "m").test(text)

/** Pure: the configuration with exactly one marker line (first line) for `fingerprint`; everything else kept. */
export const mark = (text: string, domain: string, fingerprint: string): string => {
  const rest = text.split("\n").filter((l) => !l.startsWith(MARKER)).join("\n")
  return `${MARKER} ${domain} ${fingerprint}\n${rest}`
}

/** Reads the files back: they hold `fingerprint` with a matching key, and the configuration is marked for it and names them. */
export const check = (p: Config, fingerprint: string): Effect.Effect<void, string> =>
  Effect.gen(function*() {
    const read = (f: string) => Effect.try({ try: () => fs.readFileSync(f, "utf8"), catch: () => `cannot read ${f}` })
    const file = configFileOf(p)
    if (typeof file !== "string") return yield* Effect.fail(file.refused)
    const conf = yield* read(file)
    if (!conf.split("\n").some((l) => l.startsWith(MARKER) && l.endsWith(` ${fingerprint}`))) return yield* Effect.fail(`${file} carries no marker for the new leaf`)
    if (!names(conf, "certFile", p.certFile) || !names(conf, "keyFile", p.keyFile)) return yield* Effect.fail(`${file} no longer names ${p.certFile} / ${p.keyFile}`)
    const leaf = yield* Backup.checkKeyMatch(yield* read(p.certFile), yield* read(p.keyFile), p.certFile).pipe(Effect.mapError((e) => e.message))
    if (leaf.fingerprint256 !== fingerprint) return yield* Effect.fail(`${p.certFile} does not hold the new leaf`)
  })

const done = (r: ActionHandler.HandlerResult): ActionHandler.HandlerResult => r

const fp16 = FileSwap.fp16

/** The handler of `tls.traefik.installCertificate`. */
export const makeInstall = (): ActionHandler.ActionHandler => {
  const failed = (message: string) => new ActionHandler.ActionFailed({ kind: INSTALL_KIND, message })
  return ActionHandler.make<InstallParams>({
    kind: INSTALL_KIND,
    params: InstallParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const { cert, key, leaf } = yield* NewCertificate.check({ source: p.source, caFiles: p.caFiles, servername: p.servername }, INSTALL_KIND)
        const dynamicConfig = configFileOf(p)
        if (typeof dynamicConfig !== "string") return yield* failed(`${dynamicConfig.refused}: refused, nothing written`)
        const conf = yield* NewCertificate.readText(dynamicConfig, INSTALL_KIND)
        if (!names(conf, "certFile", p.certFile) || !names(conf, "keyFile", p.keyFile)) {
          return yield* failed(`${dynamicConfig} does not name certFile ${p.certFile} and keyFile ${p.keyFile}: refused, nothing written`)
        }
        const files = [p.certFile, p.keyFile, dynamicConfig]
        if (ctx.dryRun) {
          const notWritable = FileSwap.notWritable(files)
          if (notWritable.length > 0) return yield* failed(`not writable: ${notWritable.join(", ")}`)
          return done({
            detail: `would back up ${files.join(", ")}, swap ${p.certFile} and ${p.keyFile} to ${fp16(leaf.fingerprint256)} and rename a marked ${dynamicConfig} into place`,
            result: { newFingerprint: leaf.fingerprint256, files }
          })
        }
        const backup = {
          dir: (yield* FileSwap.install({
            kind: INSTALL_KIND,
            domain: p.domain,
            backupRoot: p.backupRoot,
            action: ctx.action.idempotencyKey,
            backupFiles: files,
            notes: { newFingerprint: leaf.fingerprint256 },
            swap: Effect.gen(function*() {
              yield* Backup.swap([{ path: p.keyFile, content: key }, { path: p.certFile, content: cert }])
              yield* Backup.writeAtomic(dynamicConfig, mark(conf, p.domain, leaf.fingerprint256))
            }),
            check: check(p, leaf.fingerprint256)
          })).backupDir
        }
        return done({
          detail: `traefik: swapped ${p.certFile} (${fp16(leaf.fingerprint256)}) and renamed a marked ${dynamicConfig} into place so the file provider reloads (backup ${backup.dir})`,
          result: { backupDir: backup.dir, newFingerprint: leaf.fingerprint256 }
        })
      }),
    observe: (p) => FileSwap.observeInstall(p.source.cert, (fp) => check(p, fp), (_, fp) => `${p.certFile} holds ${fp} and ${p.dynamicConfig ?? p.directory} is marked`)
  })
}

/** The handler of `tls.traefik.restoreCertificate` (the install's undo). */
export const makeRestore = (): ActionHandler.ActionHandler => {
  const found = FileSwap.backupOf
  return ActionHandler.make<RestoreParams>({
    kind: RESTORE_KIND,
    params: RestoreParams,
    apply: FileSwap.restoreApply<RestoreParams>({
      kind: RESTORE_KIND,
      wouldDo: (b) => `would restore ${b.manifest.files.map((f) => f.path).join(", ")} from ${b.dir}`,
      did: (b, p) => `restored ${b.manifest.files.map((f) => f.path).join(", ")} from ${b.dir}; traefik's watcher sees ${p.dynamicConfig ?? p.directory} change back`
    }),
    observe: (p) =>
      Effect.sync(() => {
        const b = found(p)
        if (b === undefined) return ActionHandler.unknown(`no backup made by ${p.backupOf}`)
        const same = b.manifest.files.every((f) => fs.existsSync(f.path) && fs.readFileSync(path.join(b.dir, f.name)).equals(fs.readFileSync(f.path)))
        return same ? ActionHandler.applied(`the files of ${b.dir} are back`) : ActionHandler.notApplied(`the files differ from ${b.dir}`)
      })
  })
}

/** Both handlers: install and restore. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler> => [makeInstall(), makeRestore()]

/** Pure: the install action with its restore as `undo`. */
export const action = (o: Config & FileSwap.ActionInput): Action.Action => {
  const watched: Json.JsonObject = o.dynamicConfig !== undefined ? { dynamicConfig: o.dynamicConfig } : { directory: o.directory ?? "" }
  return FileSwap.action({
    ...o,
    kind: INSTALL_KIND,
    restoreKind: RESTORE_KIND,
    ref: o.ref ?? TargetRef.make("tls-endpoint", `${o.servername}@traefik:${o.dynamicConfig ?? o.directory ?? ""}`),
    fields: { ...watched, certFile: o.certFile, keyFile: o.keyFile },
    restoreFields: watched,
    description: `swap ${o.certFile} / ${o.keyFile} and rename a marked ${o.dynamicConfig ?? `configuration file of ${o.directory ?? ""}`} into place so traefik's file provider reloads`,
    undoDescription: `restore ${o.certFile}, ${o.keyFile} and ${o.dynamicConfig ?? `the configuration file of ${o.directory ?? ""}`} from the backup (traefik reloads)`
  })
}
