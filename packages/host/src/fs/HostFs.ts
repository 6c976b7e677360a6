/**
 * `HostFs`: the file operations the host runbooks need — read, readdir, lstat, stat, readlink,
 * realpath, statfs, rename, unlink — on this machine (`HostFs.local`, node:fs) or on another one
 * over SFTP (`HostFs.sftp`, the `ssh2` SFTP subsystem of an `Ssh` connection). One contract for
 * both; every failure is a `HostReadError` (path, operation, errno-style code).
 *
 * SFTP (version 3, as OpenSSH serves it) has no device, inode, link count or block count in its
 * file attributes, and times in whole seconds: over SFTP those `Stats` fields are `undefined` and
 * `mtimeMs`/`atimeMs` are multiples of 1000. `filesystemId` (statvfs `f_fsid` over SFTP, `st_dev`
 * locally) tells whether two paths share a filesystem on both.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import { Context, Effect, Layer } from "effect"
import type { SFTPWrapper, Stats as SftpStats } from "ssh2"
import * as HostError from "../HostError"
import * as Statfs from "../readers/Statfs"
import * as Ssh from "../ssh/Ssh"

/** The type of a file. */
export type Kind = "file" | "directory" | "symlink" | "socket" | "fifo" | "block" | "char" | "unknown"

/** What lstat / stat return. Identity fields are `undefined` where the backend (SFTP) cannot know them. */
export interface Stats {
  readonly kind: Kind
  /** st_mode (type and permission bits). */
  readonly mode: number
  readonly size: bigint
  readonly uid: number
  readonly gid: number
  readonly atimeMs: number
  readonly mtimeMs: number
  /** st_dev (local only). */
  readonly dev: bigint | undefined
  /** st_ino (local only). */
  readonly ino: bigint | undefined
  /** st_nlink (local only). */
  readonly nlink: number | undefined
  /** st_blocks, 512-byte units (local only). */
  readonly blocks: bigint | undefined
}

/** The operations of a HostFs. */
export interface HostFsShape {
  /** `local`, or the SSH connection's name. */
  readonly name: string
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, HostError.HostReadError>
  /** The entry names of a directory (no `.` / `..`). */
  readonly readdir: (path: string) => Effect.Effect<ReadonlyArray<string>, HostError.HostReadError>
  /** Stats of the path itself (a symlink is not followed). */
  readonly lstat: (path: string) => Effect.Effect<Stats, HostError.HostReadError>
  /** Stats of what the path leads to (symlinks followed). */
  readonly stat: (path: string) => Effect.Effect<Stats, HostError.HostReadError>
  readonly readlink: (path: string) => Effect.Effect<string, HostError.HostReadError>
  /** The canonical absolute path (symlinks resolved). */
  readonly realpath: (path: string) => Effect.Effect<string, HostError.HostReadError>
  /** statfs of the filesystem holding `path`, with df's Use%. */
  readonly statfs: (path: string) => Effect.Effect<Statfs.Usage, HostError.HostReadError>
  /** An id equal for two paths on the same filesystem (st_dev locally, statvfs f_fsid over SFTP). */
  readonly filesystemId: (path: string) => Effect.Effect<string, HostError.HostReadError>
  /** Renames within a filesystem, replacing `to` (POSIX rename). */
  readonly rename: (from: string, to: string) => Effect.Effect<void, HostError.HostReadError>
  /** Removes one name (never follows a symlink). */
  readonly unlink: (path: string) => Effect.Effect<void, HostError.HostReadError>
  /** Creates a new file with these bytes; fails (`EEXIST`) when the name exists (O_CREAT | O_EXCL, never through a symlink). */
  readonly writeFileExclusive: (path: string, data: Uint8Array, mode: number) => Effect.Effect<void, HostError.HostReadError>
  /** Sets atime and mtime (ms; whole seconds over SFTP). */
  readonly utimes: (path: string, atimeMs: number, mtimeMs: number) => Effect.Effect<void, HostError.HostReadError>
}

/** The HostFs service. */
export class HostFs extends Context.Service<HostFs, HostFsShape>()("@byteport/host/HostFs") {}

const S_IFMT = 0o170000

/** The Kind of an st_mode. */
export const kindOf = (mode: number): Kind => {
  switch (mode & S_IFMT) {
    case 0o100000:
      return "file"
    case 0o040000:
      return "directory"
    case 0o120000:
      return "symlink"
    case 0o140000:
      return "socket"
    case 0o010000:
      return "fifo"
    case 0o060000:
      return "block"
    case 0o020000:
      return "char"
    default:
      return "unknown"
  }
}

// ---------------------------------------------------------------------------------------------
// local

const fromNode = (s: fs.BigIntStats): Stats => ({
  kind: kindOf(Number(s.mode)),
  mode: Number(s.mode),
  size: s.size,
  uid: Number(s.uid),
  gid: Number(s.gid),
  atimeMs: Number(s.atimeMs),
  mtimeMs: Number(s.mtimeMs),
  dev: s.dev,
  ino: s.ino,
  nlink: Number(s.nlink),
  blocks: s.blocks
})

const local_ = <A>(path: string, op: string, f: () => Promise<A>): Effect.Effect<A, HostError.HostReadError> =>
  Effect.tryPromise({ try: f, catch: (e) => HostError.fromError(path, op, e) })

/** This machine's files (node:fs). */
export const local: HostFsShape = {
  name: "local",
  readFile: (path) => local_(path, "read", async () => new Uint8Array(await fs.promises.readFile(path))),
  readdir: (path) => local_(path, "readdir", () => fs.promises.readdir(path)),
  lstat: (path) => local_(path, "lstat", async () => fromNode(await fs.promises.lstat(path, { bigint: true }))),
  stat: (path) => local_(path, "stat", async () => fromNode(await fs.promises.stat(path, { bigint: true }))),
  readlink: (path) => local_(path, "readlink", () => fs.promises.readlink(path)),
  realpath: (path) => local_(path, "realpath", () => fs.promises.realpath(path)),
  statfs: (path) => Statfs.read(path),
  filesystemId: (path) => local_(path, "stat", async () => String((await fs.promises.stat(path, { bigint: true })).dev)),
  rename: (from, to) => local_(from, "rename", () => fs.promises.rename(from, to)),
  unlink: (path) => local_(path, "unlink", () => fs.promises.unlink(path)),
  writeFileExclusive: (path, data, mode) =>
    local_(path, "write", async () => {
      const h = await fs.promises.open(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode)
      try {
        await h.writeFile(data)
        await h.sync()
      } finally {
        await h.close()
      }
    }),
  utimes: (path, atimeMs, mtimeMs) => local_(path, "utimes", () => fs.promises.lutimes(path, atimeMs / 1000, mtimeMs / 1000))
}

/** A layer providing the local HostFs. */
export const layerLocal: Layer.Layer<HostFs> = Layer.succeed(HostFs, HostFs.of(local))

// ---------------------------------------------------------------------------------------------
// SFTP

/** SFTP status codes (draft-ietf-secsh-filexfer-02) as errno names. */
const SFTP_CODES: Readonly<Record<number, string>> = { 2: "ENOENT", 3: "EACCES", 4: "EIO", 5: "EBADMSG", 6: "ENOTCONN", 7: "ECONNRESET", 8: "ENOTSUP" }

const sftpError = (path: string, op: string, e: unknown): HostError.HostReadError => {
  if (e instanceof HostError.HostReadError) return e
  if (e instanceof Ssh.SshError) return new HostError.HostReadError({ path, op, code: e.reason, message: `${op} ${path}: ${e.message}` })
  const raw = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined
  const code = typeof raw === "number" ? SFTP_CODES[raw] ?? `SFTP_${raw}` : typeof raw === "string" ? raw : undefined
  const text = e instanceof Error ? e.message : String(e)
  return new HostError.HostReadError({ path, op, ...(code !== undefined ? { code } : {}), message: `${op} ${path}: ${text}` })
}

const fromSftp = (s: SftpStats): Stats => ({
  kind: kindOf(s.mode),
  mode: s.mode,
  size: BigInt(s.size),
  uid: s.uid,
  gid: s.gid,
  atimeMs: s.atime * 1000,
  mtimeMs: s.mtime * 1000,
  dev: undefined,
  ino: undefined,
  nlink: undefined,
  blocks: undefined
})

const big = (v: unknown): bigint => (typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v))))

/**
 * A HostFs over an SFTP session. `session` yields the session to use (re-evaluated per call, so a
 * reconnecting `Ssh` connection's `sftp` works). statfs uses OpenSSH's `statvfs@openssh.com`.
 */
export const makeSftp = (session: Effect.Effect<SFTPWrapper, Ssh.SshError>, name: string): HostFsShape => {
  const call = <A>(path: string, op: string, f: (s: SFTPWrapper, done: (err: unknown, value?: A) => void) => void): Effect.Effect<A, HostError.HostReadError> =>
    Effect.flatMap(Effect.mapError(session, (e) => sftpError(path, op, e)), (s) =>
      Effect.callback<A, HostError.HostReadError>((resume) => {
        try {
          f(s, (err, value) => resume(err ? Effect.fail(sftpError(path, op, err)) : Effect.succeed(value as A)))
        } catch (e) {
          resume(Effect.fail(sftpError(path, op, e)))
        }
      }))
  const statvfs = (path: string) =>
    call<Record<string, unknown>>(path, "statfs", (s, done) => s.ext_openssh_statvfs(path, (err, info) => done(err, info as Record<string, unknown>)))
  return {
    name,
    readFile: (path) => call<Buffer>(path, "read", (s, done) => s.readFile(path, (err, data) => done(err, data))).pipe(Effect.map((b) => new Uint8Array(b))),
    readdir: (path) =>
      call<ReadonlyArray<string>>(path, "readdir", (s, done) =>
        s.readdir(path, (err, list) => done(err, err ? undefined : list.map((e) => e.filename).filter((n) => n !== "." && n !== "..")))),
    lstat: (path) => call<SftpStats>(path, "lstat", (s, done) => s.lstat(path, done)).pipe(Effect.map(fromSftp)),
    stat: (path) => call<SftpStats>(path, "stat", (s, done) => s.stat(path, done)).pipe(Effect.map(fromSftp)),
    readlink: (path) => call<string>(path, "readlink", (s, done) => s.readlink(path, done)),
    realpath: (path) => call<string>(path, "realpath", (s, done) => s.realpath(path, done)),
    statfs: (path) =>
      Effect.flatMap(statvfs(path), (v) =>
        Statfs.fromRaw(path, {
          type: 0n,
          bsize: big(v["f_frsize"] ?? v["f_bsize"]),
          blocks: big(v["f_blocks"]),
          bfree: big(v["f_bfree"]),
          bavail: big(v["f_bavail"]),
          files: big(v["f_files"]),
          ffree: big(v["f_ffree"])
        })),
    filesystemId: (path) => Effect.map(statvfs(path), (v) => String(big(v["f_sid"] ?? v["f_fsid"]))),
    // POSIX rename (replaces the target) where the server offers it, as local rename does
    rename: (from, to) =>
      call<void>(from, "rename", (s, done) => {
        const ext = (s as unknown as { _extensions?: Record<string, string> })._extensions ?? {}
        if (ext["posix-rename@openssh.com"] === "1") s.ext_openssh_rename(from, to, (err) => done(err))
        else s.rename(from, to, (err) => done(err))
      }),
    unlink: (path) => call<void>(path, "unlink", (s, done) => s.unlink(path, (err) => done(err))),
    // SFTP "wx": SSH_FXF_CREAT | SSH_FXF_EXCL (OpenSSH opens with O_CREAT | O_EXCL, which never follows a symlink)
    writeFileExclusive: (path, data, mode) =>
      call<void>(path, "write", (s, done) => s.writeFile(path, Buffer.from(data), { flag: "wx", mode }, (err) => done(err))),
    utimes: (path, atimeMs, mtimeMs) => call<void>(path, "utimes", (s, done) => s.utimes(path, Math.floor(atimeMs / 1000), Math.floor(mtimeMs / 1000), (err) => done(err)))
  }
}

/** A HostFs over the SSH connection's SFTP subsystem. */
export const sftp = (connection: Ssh.Connection): HostFsShape => makeSftp(connection.sftp, connection.name)

/** A layer providing a HostFs over the `SshConnection` (pair it with `Ssh.layer`). */
export const layerSftp: Layer.Layer<HostFs, never, Ssh.SshConnection> = Layer.effect(
  HostFs,
  Effect.map(Effect.service(Ssh.SshConnection), (c) => HostFs.of(sftp(c)))
)
