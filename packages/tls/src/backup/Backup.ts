/**
 * Certificate backups and the atomic swap.
 *
 * Before any write, the files a change touches (certificate, chain, key, server config) are copied
 * to `<root>/<domain>-<UTC timestamp>/` (root `/var/lib/byteport/cert-backups` by default,
 * configurable): the directory 0700, every file 0600, plus `manifest.json` recording each file's
 * original path, owner, group, mode, size and SHA-256. A wildcard's `*` is encoded (`_wildcard_`),
 * so `*.example.com` backs up to `_wildcard_.example.com-20261207T160512.123Z`.
 *
 * `restore` verifies the manifest (every copy's SHA-256) before writing anything back; every
 * write, here and in `swap`, goes through `writeAtomic`: a temp file in the same directory,
 * fsync, rename over the target, the target's owner and mode kept, the directory fsynced.
 *
 * Errors and results name paths and hashes, never file contents: key material never reaches an
 * error, a log or a report.
 *
 * @since 0.1.0
 */
import { createHash, createPrivateKey, X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Clock, Effect, Schema } from "effect"

/** The default backup root. */
export const DEFAULT_ROOT = "/var/lib/byteport/cert-backups"

/** The manifest's file name inside a backup directory. */
export const MANIFEST = "manifest.json"

/** A backup could not be made, verified or restored, or a swap was refused. Names paths only. */
export class BackupError extends Schema.TaggedError<BackupError>()("BackupError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** One backed-up file. */
export interface Entry {
  /** The original (absolute) path. */
  readonly path: string
  /** The copy's name inside the backup directory. */
  readonly name: string
  readonly uid: number
  readonly gid: number
  /** Permission bits (`0o600` …). */
  readonly mode: number
  readonly size: number
  /** SHA-256 of the content, lower-case hex. */
  readonly sha256: string
}

/** What `manifest.json` holds. */
export interface Manifest {
  readonly version: 1
  readonly domain: string
  /** ISO timestamp (Effect Clock). */
  readonly createdAt: string
  /** The idempotency key of the action that made it, when an action did. */
  readonly action?: string | undefined
  /** Free-form facts recorded with the backup (the fingerprint served before the change …); no secrets. */
  readonly notes?: Readonly<Record<string, string>> | undefined
  readonly files: ReadonlyArray<Entry>
}

/** A backup on disk. */
export interface Backup {
  readonly dir: string
  readonly manifest: Manifest
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex")

/** `*` → `_wildcard_`; anything but letters, digits, `.`, `-`, `_` → `_`. */
export const encodeDomain = (domain: string): string =>
  domain.replace(/\*/g, "_wildcard_").replace(/[^A-Za-z0-9._-]/g, "_")

/** `20261207T160512.123Z`: the UTC timestamp of a backup directory name. */
export const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, "")

/** `<encoded domain>-<UTC timestamp>`. */
export const dirName = (domain: string, ms: number): string => `${encodeDomain(domain)}-${stamp(ms)}`

const fail = (p: string, message: string) => new BackupError({ path: p, message })
const codeOf = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? "error"

/**
 * Writes `content` to `target` atomically: temp file beside it (mode 0600 while written), fsync,
 * owner and mode set (the existing target's unless given), rename, directory fsync.
 */
export const writeAtomic = (
  target: string,
  content: Buffer | string,
  options: { readonly mode?: number; readonly uid?: number; readonly gid?: number } = {}
): Effect.Effect<void, BackupError> =>
  Effect.try({
    try: () => {
      const dir = path.dirname(target)
      let mode = options.mode
      let uid = options.uid
      let gid = options.gid
      try {
        const st = fs.statSync(target)
        mode ??= st.mode & 0o7777
        uid ??= st.uid
        gid ??= st.gid
      } catch {
        // a new file: the defaults below
      }
      const tmp = path.join(dir, `.${path.basename(target)}.byteport-${process.pid}-${Date.now()}.tmp`)
      const fd = fs.openSync(tmp, "wx", 0o600)
      try {
        fs.writeSync(fd, typeof content === "string" ? Buffer.from(content) : content)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      try {
        if (uid !== undefined && gid !== undefined) fs.chownSync(tmp, uid, gid)
        fs.chmodSync(tmp, mode ?? 0o600)
        fs.renameSync(tmp, target)
      } catch (e) {
        fs.rmSync(tmp, { force: true })
        throw e
      }
      const dfd = fs.openSync(dir, "r")
      try {
        fs.fsyncSync(dfd)
      } finally {
        fs.closeSync(dfd)
      }
    },
    catch: (e) => fail(target, `cannot write ${target} atomically (${codeOf(e)})`)
  })

/**
 * Backs up `files` under `<root>/<domain>-<UTC timestamp>/` (0700; copies 0600; manifest).
 * Every file must exist. Two backups in the same millisecond get `-1`, `-2` … suffixes.
 */
export const create = (options: {
  readonly domain: string
  readonly files: ReadonlyArray<string>
  readonly root?: string
  readonly action?: string
  readonly notes?: Readonly<Record<string, string>>
}): Effect.Effect<Backup, BackupError> =>
  Effect.gen(function*() {
    const root = options.root ?? DEFAULT_ROOT
    const now = yield* Clock.currentTimeMillis
    const base = dirName(options.domain, now)
    return yield* Effect.try({
      try: () => {
        fs.mkdirSync(root, { recursive: true, mode: 0o700 })
        let dir = path.join(root, base)
        for (let i = 1; ; i++) {
          try {
            fs.mkdirSync(dir, { mode: 0o700 })
            break
          } catch (e) {
            if (codeOf(e) !== "EEXIST" || i > 100) throw e
            dir = path.join(root, `${base}-${i}`)
          }
        }
        fs.chmodSync(dir, 0o700)
        const used = new Set<string>()
        const entries: Array<Entry> = options.files.map((file, i) => {
          const abs = path.resolve(file)
          const st = fs.statSync(abs)
          if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOTFILE", path: abs })
          const data = fs.readFileSync(abs)
          let name = path.basename(abs)
          if (used.has(name)) name = `${i}-${name}`
          used.add(name)
          const copy = path.join(dir, name)
          fs.writeFileSync(copy, data, { mode: 0o600, flag: "wx" })
          fs.chmodSync(copy, 0o600)
          return { path: abs, name, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, size: st.size, sha256: sha256(data) }
        })
        const manifest: Manifest = {
          version: 1,
          domain: options.domain,
          createdAt: new Date(now).toISOString(),
          ...(options.action !== undefined ? { action: options.action } : {}),
          ...(options.notes !== undefined ? { notes: { ...options.notes } } : {}),
          files: entries
        }
        fs.writeFileSync(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600, flag: "wx" })
        const dfd = fs.openSync(dir, "r")
        fs.fsyncSync(dfd)
        fs.closeSync(dfd)
        return { dir, manifest }
      },
      catch: (e) => fail(String((e as { path?: string })?.path ?? root), `cannot back up to ${root} (${codeOf(e)})`)
    })
  })

/** Reads a backup's manifest and checks every copy against its recorded SHA-256 and size. */
export const verify = (dir: string): Effect.Effect<Backup, BackupError> =>
  Effect.gen(function*() {
    const manifestPath = path.join(dir, MANIFEST)
    const manifest = yield* Effect.try({
      try: () => JSON.parse(fs.readFileSync(manifestPath, "utf8")) as Manifest,
      catch: (e) => fail(manifestPath, `cannot read the backup manifest ${manifestPath} (${codeOf(e)})`)
    })
    if (manifest.version !== 1 || !Array.isArray(manifest.files)) {
      return yield* fail(manifestPath, `${manifestPath} is not a version 1 backup manifest`)
    }
    for (const entry of manifest.files) {
      const copy = path.join(dir, entry.name)
      if (path.dirname(copy) !== path.resolve(dir)) return yield* fail(copy, `manifest entry ${entry.name} leaves the backup directory`)
      const data = yield* Effect.try({
        try: () => fs.readFileSync(copy),
        catch: (e) => fail(copy, `backup copy ${copy} is unreadable (${codeOf(e)})`)
      })
      if (data.length !== entry.size || sha256(data) !== entry.sha256) {
        return yield* fail(copy, `backup copy ${copy} does not match its manifest (SHA-256)`)
      }
    }
    return { dir, manifest }
  })

/** Verifies the backup, then writes every file back atomically with its recorded owner and mode. */
export const restore = (dir: string): Effect.Effect<Backup, BackupError> =>
  Effect.gen(function*() {
    const backup = yield* verify(dir)
    for (const entry of backup.manifest.files) {
      const data = yield* Effect.try({
        try: () => fs.readFileSync(path.join(dir, entry.name)),
        catch: (e) => fail(entry.path, `cannot read the backup of ${entry.path} (${codeOf(e)})`)
      })
      yield* writeAtomic(entry.path, data, { mode: entry.mode, uid: entry.uid, gid: entry.gid })
    }
    return backup
  })

/** Backups of `domain` under `root`, newest first (directories whose manifest parses). */
export const list = (options: { readonly domain: string; readonly root?: string }): ReadonlyArray<Backup> => {
  const root = options.root ?? DEFAULT_ROOT
  const prefix = `${encodeDomain(options.domain)}-`
  let names: Array<string>
  try {
    names = fs.readdirSync(root)
  } catch {
    return []
  }
  const out: Array<Backup> = []
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^\d{8}T\d{6}\.\d{3}Z(-\d+)?$/.test(name.slice(prefix.length))) continue
    const dir = path.join(root, name)
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), "utf8")) as Manifest
      out.push({ dir, manifest })
    } catch {
      // not a backup
    }
  }
  return out.sort((a, b) => (a.manifest.createdAt < b.manifest.createdAt ? 1 : a.manifest.createdAt > b.manifest.createdAt ? -1 : b.dir.localeCompare(a.dir)))
}

/** The newest backup made by the action with this idempotency key. */
export const findByAction = (options: { readonly domain: string; readonly root?: string; readonly action: string }): Backup | undefined =>
  list(options).find((b) => b.manifest.action === options.action)

/** One file of a swap: where it goes and what it will hold. */
export interface SwapFile {
  readonly path: string
  readonly content: Buffer | string
}

/**
 * Refuses a certificate whose key does not match: the first certificate of `cert` (PEM) must
 * belong to `key` (PEM). The message never includes either.
 */
export const checkKeyMatch = (cert: string, key: string, label: string): Effect.Effect<X509Certificate, BackupError> =>
  Effect.try({
    try: () => {
      const leafPem = cert.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0]
      if (leafPem === undefined) throw new Error("no certificate")
      const leaf = new X509Certificate(leafPem)
      if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error("mismatch")
      return leaf
    },
    catch: (e) =>
      fail(label, (e as Error)?.message === "mismatch"
        ? `the private key does not match the certificate (${label}): refused before the swap`
        : `cannot read the certificate or key of ${label}: refused before the swap`)
  })

/** Writes every file atomically (owner and mode of the existing file kept), in order. */
export const swap = (files: ReadonlyArray<SwapFile>): Effect.Effect<void, BackupError> =>
  Effect.forEach(files, (f) => writeAtomic(f.path, f.content), { discard: true })
