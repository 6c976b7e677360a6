/**
 * The embedded default GuardrailStore: a local directory that survives restarts and is safe
 * for several processes on one host.
 *
 * Layout of the directory:
 * - `windows.json`, `values.json`, `leases.json`, `fences.json` (the highest fencing epoch per
 *   scope): one state file per concern, replaced
 *   atomically (write to a temp file, fsync, rename, fsync the directory), so a reader or a
 *   crashed writer never sees a torn file;
 * - `journal/<incident>.jsonl`: each incident's journal, append-only, one entry per line;
 * - `journal/index.json`: the incident index (runbook, target, opened, last type, closed),
 *   a cache that is checked against the journal files' sizes and healed from them;
 * - `store.lock`: the exclusive lock held only for a read-modify-write (see below).
 *
 * Mutations: fibers of one process queue in memory and are applied in batches (group commit):
 * the fiber that gets the in-process mutex takes every queued mutation, takes the file lock,
 * reads the files it needs, applies the mutations one after the other, writes each changed
 * file once and releases the lock. The file lock is a lock file created atomically with the
 * owner's pid, process start time and a nonce; a lock whose owner died (even by `kill -9`),
 * whose pid was reused, or that is older than `staleLockMs` is broken, and the breaker then
 * removes leftover temp files, cuts torn journal tails and rebuilds the index. Reads take no
 * lock: files are replaced by rename and journal lines without their newline are ignored.
 *
 * Limits: one host (pids identify owners); a local file system with atomic rename and hard
 * links (not NFS or other network file systems); the lock and fsync cost a few ms per batch.
 *
 * @since 0.1.0
 */
import { createHash, randomBytes, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Config, Deferred, Effect, Layer, Semaphore } from "effect"
import { GuardrailStore, StaleEpoch, StoreError } from "../GuardrailStore"
import type {
  Epoch,
  GuardrailStoreShape,
  IncidentIndexEntry,
  JournalEntry,
  LeaseInfo,
  LeaseResult,
  NewJournalEntry,
  WindowRequest,
  WindowResult
} from "../GuardrailStore"
import type { Json } from "../Json"
import type * as Redactor from "../Redactor"
import * as Rules from "../StoreRules"
import * as FileLock from "./internal/fileLock"
import * as State from "./internal/state"

/** Options of {@link make}. */
export interface FileStoreOptions {
  /** The store directory (created if missing). */
  readonly directory: string
  /** The store's name in errors and reports (default `file:<absolute directory>`). */
  readonly name?: string
  /** A lock held longer than this is considered abandoned and broken (default 10 000 ms). */
  readonly staleLockMs?: number
  /** How long a batch waits for the file lock before failing with a StoreError (default 30 000 ms). */
  readonly lockTimeoutMs?: number
  /** fsync files and the directory on every commit (default true; false only for throwaway stores). */
  readonly fsync?: boolean
  /** The redactor every written value, lease data and journal entry passes (default: the caller's `Redactor` service, else the default rules). */
  readonly redactor?: Redactor.Shape
  /**
   * Test hooks, called synchronously while the file lock is held: `temp-written` after a state
   * file's new content was written to its temp file and before the rename; `journal-appended`
   * after a journal line was appended and before the index is written. For crash tests only.
   */
  readonly testHooks?: { readonly inCriticalSection?: (phase: "temp-written" | "journal-appended") => void }
}

const FORMAT = "byteport-store/1"
const LOCK_FILE = "store.lock"
const JOURNAL_DIR = "journal"
const INDEX_FILE = "index.json"
const DATA_TMP = ".data-tmp"

type StateFile = "windows" | "values" | "leases" | "fences"

interface IndexRecord extends IncidentIndexEntry {
  readonly file: string
  readonly lastSeq: number
  readonly bytes: number
}

type Op =
  | { readonly kind: "acquireWindow"; readonly file: "windows"; readonly request: WindowRequest; readonly token: string }
  | { readonly kind: "releaseWindow"; readonly file: "windows"; readonly key: string; readonly token: string }
  | { readonly kind: "compareAndSet"; readonly file: "values"; readonly key: string; readonly expected: number; readonly value: Json; readonly epoch?: Epoch | undefined }
  | { readonly kind: "acquireLease"; readonly file: "leases"; readonly request: Rules.CheckedLeaseRequest }
  | { readonly kind: "releaseLease"; readonly file: "leases"; readonly key: string; readonly holder: string }
  | { readonly kind: "appendJournal"; readonly file: "journal"; readonly entry: NewJournalEntry }

interface Pending {
  readonly op: Op
  readonly deferred: Deferred.Deferred<unknown, StoreError>
  taken: boolean
}

/** The journal file name of an incident: the id itself when it is a safe file name, else a hash. */
export const journalFileName = (incidentId: string): string =>
  /^[A-Za-z0-9_-]{1,100}$/.test(incidentId)
    ? `${incidentId}.jsonl`
    : `~${createHash("sha256").update(incidentId).digest("hex").slice(0, 40)}.jsonl`

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return isErrno(e, "EPERM")
  }
}

const isErrno = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException | undefined)?.code === code

/** Builds a FileStore on `options.directory` (creating it). */
export const make = (options: FileStoreOptions): Effect.Effect<GuardrailStoreShape, StoreError> =>
  Effect.suspend(() => {
    const directory = nodePath.resolve(options.directory)
    const name = options.name ?? `file:${directory}`
    const staleLockMs = options.staleLockMs ?? 10_000
    const lockTimeoutMs = options.lockTimeoutMs ?? 30_000
    const durable = options.fsync ?? true
    const hook = options.testHooks?.inCriticalSection
    const journalDir = nodePath.join(directory, JOURNAL_DIR)
    const lockPath = nodePath.join(directory, LOCK_FILE)
    const indexPath = nodePath.join(journalDir, INDEX_FILE)

    const storeError = (operation: string, message: string, cause?: unknown): StoreError =>
      new StoreError({ store: name, operation, message, ...(cause === undefined ? {} : { cause }) })

    const describe = (cause: unknown): string =>
      cause instanceof Rules.InvalidInput
        ? `invalid input: ${cause.message}`
        : cause instanceof StaleEpoch
        ? Rules.staleEpochMessage(cause)
        : cause instanceof CorruptFile
        ? cause.message
        : `${(cause as Error | undefined)?.message ?? String(cause)}`

    const attempt = <A>(operation: string, f: () => A): Effect.Effect<A, StoreError> =>
      Effect.try({ try: f, catch: (cause) => storeError(operation, describe(cause), cause) })

    /** Checks and redacts a write's input before it is queued. */
    const redacting = <A>(operation: string, f: (r: Redactor.Shape) => A): Effect.Effect<A, StoreError> =>
      Effect.flatMap(Rules.redactorFor(options.redactor), (r) => attempt(operation, () => f(r)))

    // ---------------------------------------------------------------- files

    const readText = (path: string): string | undefined => {
      try {
        return fs.readFileSync(path, "utf8")
      } catch (e) {
        if (isErrno(e, "ENOENT")) return undefined
        throw e
      }
    }

    const statePath = (file: StateFile) => nodePath.join(directory, `${file}.json`)

    const readState = <V>(file: StateFile): Map<string, V> => {
      const path = statePath(file)
      const text = readText(path)
      if (text === undefined) return new Map()
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch (e) {
        throw new CorruptFile(path, `not JSON (${(e as Error).message})`)
      }
      const p = parsed as { format?: unknown; entries?: unknown }
      if (p === null || typeof p !== "object" || p.format !== FORMAT || !Array.isArray(p.entries)) {
        throw new CorruptFile(path, `not a ${FORMAT} state file`)
      }
      const map = new Map<string, V>()
      for (const e of p.entries) {
        if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string" || e[1] === null || typeof e[1] !== "object") {
          throw new CorruptFile(path, "malformed entry")
        }
        map.set(e[0], e[1] as V)
      }
      return map
    }

    const fsyncPath = (path: string) => {
      const fd = fs.openSync(path, "r")
      try {
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    }

    /** Writes (`w`) or appends (`a`) `data` to `path`, fsynced when the store is durable. */
    const writeData = (path: string, flags: "w" | "a", data: string | Buffer) => {
      const fd = fs.openSync(path, flags, 0o644)
      try {
        if (typeof data === "string") fs.writeSync(fd, data)
        else fs.writeSync(fd, data)
        if (durable) fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    }

    /** Writes `text` to `path` atomically: temp file, fsync, fencing check, rename. */
    const replaceFile = (path: string, text: string, owner: FileLock.LockOwner) => {
      const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}${DATA_TMP}`
      writeData(tmp, "w", text)
      try {
        hook?.("temp-written")
        if (!FileLock.verify(lockPath, owner)) {
          throw new Error(`lost the store lock ${lockPath} (broken as stale) before writing ${path}; nothing written`)
        }
        fs.renameSync(tmp, path)
      } catch (e) {
        try {
          fs.unlinkSync(tmp)
        } catch {
          // already renamed or gone
        }
        throw e
      }
    }

    const serializeState = (map: Map<string, unknown>) => JSON.stringify({ format: FORMAT, entries: [...map] })

    // ---------------------------------------------------------------- journal files

    /** Parses a journal file's complete lines; a tail without its newline (a torn or in-flight append) is ignored. */
    const parseJournal = (path: string, text: string, incidentId?: string) => {
      const end = text.lastIndexOf("\n") + 1
      const lines = text.slice(0, end).split("\n")
      lines.pop()
      const entries: Array<JournalEntry> = []
      lines.forEach((line, i) => {
        let e: unknown
        try {
          e = JSON.parse(line)
        } catch {
          throw new CorruptFile(path, `line ${i + 1} is not JSON`)
        }
        if (!Rules.isJournalEntry(e)) throw new CorruptFile(path, `line ${i + 1} is not a journal entry`)
        const first = entries[0]?.incidentId ?? incidentId ?? e.incidentId
        if (e.incidentId !== first) throw new CorruptFile(path, `line ${i + 1} belongs to incident ${e.incidentId}`)
        if (e.seq !== i + 1) throw new CorruptFile(path, `line ${i + 1} has seq ${e.seq}`)
        if (i === 0 && (e.type !== "opened" || typeof e.data.runbook !== "string" || typeof e.data.targetKey !== "string")) {
          throw new CorruptFile(path, "line 1 is not an \"opened\" entry with runbook and targetKey")
        }
        entries.push(e)
      })
      return { entries, completeBytes: Buffer.byteLength(text.slice(0, end)), totalBytes: Buffer.byteLength(text) }
    }

    const readIndex = (): Map<string, IndexRecord> => {
      const text = readText(indexPath)
      const map = new Map<string, IndexRecord>()
      if (text === undefined) return map
      let parsed: { format?: unknown; incidents?: unknown }
      try {
        parsed = JSON.parse(text)
      } catch (e) {
        throw new CorruptFile(indexPath, `not JSON (${(e as Error).message})`)
      }
      if (parsed === null || typeof parsed !== "object" || parsed.format !== FORMAT || !Array.isArray(parsed.incidents)) {
        throw new CorruptFile(indexPath, `not a ${FORMAT} index`)
      }
      for (const r of parsed.incidents as Array<IndexRecord>) {
        if (r === null || typeof r !== "object" || typeof r.incidentId !== "string" || typeof r.file !== "string") {
          throw new CorruptFile(indexPath, "malformed incident record")
        }
        map.set(r.incidentId, r)
      }
      return map
    }

    const recordOf = (file: string, entries: ReadonlyArray<JournalEntry>, bytes: number): IndexRecord => ({
      ...Rules.summarize(entries),
      file,
      lastSeq: entries.length,
      bytes
    })

    const journalFiles = (): Array<string> => {
      try {
        return fs.readdirSync(journalDir).filter((f) => f.endsWith(".jsonl"))
      } catch (e) {
        if (isErrno(e, "ENOENT")) return []
        throw e
      }
    }

    // ---------------------------------------------------------------- recovery (lock held)

    /** After breaking a dead owner's lock: remove its temp files, cut torn journal tails, rebuild the index. */
    const recover = (owner: FileLock.LockOwner) => {
      for (const dir of [directory, journalDir]) {
        let names: Array<string> = []
        try {
          names = fs.readdirSync(dir)
        } catch (e) {
          if (!isErrno(e, "ENOENT")) throw e
        }
        for (const n of names) {
          if (n.endsWith(DATA_TMP)) fs.rmSync(nodePath.join(dir, n), { force: true })
          // Lock temp files (`store.lock[.break].<pid>.<nonce>.tmp`) of dead processes.
          const m = /^store\.lock(?:\.break)?\.(\d+)\.[0-9a-f]+\.tmp$/.exec(n)
          if (m !== null && !isAlive(Number(m[1]))) fs.rmSync(nodePath.join(dir, n), { force: true })
        }
      }
      const index = new Map<string, IndexRecord>()
      for (const file of journalFiles()) {
        const path = nodePath.join(journalDir, file)
        const text = readText(path)
        if (text === undefined) continue
        const parsed = parseJournal(path, text)
        if (parsed.completeBytes !== parsed.totalBytes) fs.truncateSync(path, parsed.completeBytes)
        if (parsed.entries.length > 0) index.set(parsed.entries[0]!.incidentId, recordOf(file, parsed.entries, parsed.completeBytes))
        else fs.rmSync(path, { force: true })
      }
      replaceFile(indexPath, JSON.stringify({ format: FORMAT, incidents: [...index.values()] }), owner)
    }

    // ---------------------------------------------------------------- batches

    interface Loaded {
      readonly map: Map<string, unknown>
      dirty: boolean
    }

    type OpResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown }

    /** Applies a batch (the lock is held). Each op gets its own result; a failed file fails only its ops. */
    const execute = (batch: ReadonlyArray<Pending>, owner: FileLock.LockOwner): Array<OpResult> => {
      const files = new Map<StateFile, Loaded | { readonly error: unknown }>()
      const load = (file: StateFile): Loaded => {
        let f = files.get(file)
        if (f === undefined) {
          try {
            f = { map: readState(file), dirty: false }
          } catch (error) {
            f = { error }
          }
          files.set(file, f)
        }
        if ("error" in f) throw f.error
        return f
      }
      let index: Map<string, IndexRecord> | undefined
      let indexDirty = false
      const loadIndex = () => (index ??= readIndex())

      /** Fences an op (see `StoreRules.decideEpoch`) in `fences.json`, under the same lock as the op. */
      const fence = (epoch: Epoch | undefined) => {
        if (epoch === undefined) return
        const f = load("fences")
        const map = f.map as Map<string, { readonly epoch: number }>
        const next = Rules.decideEpoch(map.get(epoch.scope)?.epoch, epoch)
        if (next === undefined) return
        map.set(epoch.scope, { epoch: next })
        f.dirty = true
      }

      const results: Array<OpResult> = batch.map(({ op }): OpResult => {
        try {
          fence(epochOf(op))
          switch (op.kind) {
            case "acquireWindow": {
              const f = load("windows")
              const map = f.map as Map<string, State.WindowSlot>
              const r = State.acquireWindow(map, op.request, op.token)
              State.pruneWindows(map, op.request.now)
              f.dirty = true
              return { ok: true, value: r }
            }
            case "releaseWindow": {
              const f = load("windows")
              if (State.releaseWindow(f.map as Map<string, State.WindowSlot>, op.key, op.token)) f.dirty = true
              return { ok: true, value: undefined }
            }
            case "compareAndSet": {
              const f = load("values")
              const r = State.compareAndSet(f.map as Map<string, State.StoredValue>, op.key, op.expected, op.value)
              if (r) f.dirty = true
              return { ok: true, value: r }
            }
            case "acquireLease": {
              const f = load("leases")
              const r = State.acquireLease(f.map as Map<string, LeaseInfo>, op.request)
              if (r._tag === "Acquired") f.dirty = true
              return { ok: true, value: r }
            }
            case "releaseLease": {
              const f = load("leases")
              if (State.releaseLease(f.map as Map<string, LeaseInfo>, op.key, op.holder)) f.dirty = true
              return { ok: true, value: undefined }
            }
            case "appendJournal":
              return { ok: true, value: appendOne(op.entry, loadIndex(), owner, () => (indexDirty = true)) }
          }
        } catch (error) {
          return { ok: false, error }
        }
      })

      // Commit each changed state file; a failed commit fails the ops of that file only.
      const failed = new Map<string, unknown>()
      for (const [file, f] of files) {
        if ("error" in f || !f.dirty) continue
        try {
          replaceFile(statePath(file), serializeState(f.map), owner)
        } catch (error) {
          failed.set(file, error)
        }
      }
      if (indexDirty && index !== undefined) {
        try {
          hook?.("journal-appended")
          replaceFile(indexPath, JSON.stringify({ format: FORMAT, incidents: [...index.values()] }), owner)
        } catch {
          // The journal lines are durable and the index heals from them (sizes differ); not an op failure.
        }
      }
      if (durable) {
        try {
          fsyncPath(directory)
          if (indexDirty) fsyncPath(journalDir)
        } catch (error) {
          for (const file of files.keys()) if (!failed.has(file)) failed.set(file, error)
        }
      }
      return results.map((r, i) => {
        const op = batch[i]!.op
        const error = failed.get(op.file) ?? (epochOf(op) !== undefined ? failed.get("fences") : undefined)
        return r.ok && error !== undefined ? { ok: false, error } : r
      })
    }

    /** Appends one entry to its incident's journal (lock held); seq comes from the journal file itself. */
    const appendOne = (entry: NewJournalEntry, index: Map<string, IndexRecord>, owner: FileLock.LockOwner, markDirty: () => void): JournalEntry => {
      if (typeof entry?.incidentId !== "string" || entry.incidentId.length === 0) {
        throw new Rules.InvalidInput("incidentId must be a non-empty string")
      }
      const file = journalFileName(entry.incidentId)
      const path = nodePath.join(journalDir, file)
      let size: number | undefined
      try {
        size = fs.statSync(path).size
      } catch (e) {
        if (!isErrno(e, "ENOENT")) throw e
      }
      let record = index.get(entry.incidentId)
      if (size === undefined || size === 0) {
        record = undefined
        size = 0
      } else if (record === undefined || record.bytes !== size || record.file !== file) {
        const parsed = parseJournal(path, fs.readFileSync(path, "utf8"), entry.incidentId)
        if (parsed.completeBytes !== parsed.totalBytes) fs.truncateSync(path, parsed.completeBytes)
        size = parsed.completeBytes
        record = parsed.entries.length === 0 ? undefined : recordOf(file, parsed.entries, size)
      }
      const stored = Rules.prepareJournalEntry(entry, record?.lastSeq ?? 0)
      const line = Buffer.from(JSON.stringify(stored) + "\n")
      if (!FileLock.verify(lockPath, owner)) throw new Error(`lost the store lock ${lockPath} before appending to ${path}`)
      fs.mkdirSync(journalDir, { recursive: true })
      writeData(path, "a", line)
      const summary = State.indexWith(record, stored)
      index.set(entry.incidentId, { ...summary, file, lastSeq: stored.seq, bytes: size + line.length })
      markDirty()
      return Rules.copyEntry(stored)
    }

    /** Real-time wait (never the Effect Clock: lock waits must progress under TestClock too). */
    const pause = (ms: number): Effect.Effect<void> =>
      Effect.callback<void>((resume) => {
        const t = setTimeout(() => resume(Effect.void), ms)
        return Effect.sync(() => clearTimeout(t))
      })

    const takeLock = (operation: string): Effect.Effect<{ owner: FileLock.LockOwner; broken: boolean }, StoreError> =>
      Effect.gen(function*() {
        const started = Date.now()
        let broken = false
        let delay = 1
        for (;;) {
          const a = yield* attempt(operation, () => FileLock.attempt(lockPath, staleLockMs))
          if (a._tag === "Acquired") return { owner: a.owner, broken }
          if (a._tag === "Broken") {
            broken = true
            yield* Effect.logWarning(`BytePort FileStore ${directory}: broke a stale lock (${a.reason})`)
            continue
          }
          if (Date.now() - started > lockTimeoutMs) {
            return yield* Effect.fail(storeError(
              operation,
              `timed out after ${lockTimeoutMs} ms waiting for the lock ${lockPath} (held by pid ${a.owner?.pid ?? "?"})`
            ))
          }
          yield* pause(delay + Math.random() * delay)
          delay = Math.min(delay * 2, 20)
        }
      })

    let queue: Array<Pending> = []
    const mutex = Semaphore.makeUnsafe(1)

    const runBatch: Effect.Effect<void> = Effect.suspend(() => {
      const batch = queue
      queue = []
      for (const p of batch) p.taken = true
      if (batch.length === 0) return Effect.void
      const operation = batch.length === 1 ? batch[0]!.op.kind : `${batch[0]!.op.kind} (batch of ${batch.length})`
      return takeLock(operation).pipe(
        Effect.flatMap(({ broken, owner }) =>
          Effect.sync(() => {
            try {
              if (broken) {
                try {
                  recover(owner)
                } catch (error) {
                  return batch.map((): OpResult => ({ ok: false, error }))
                }
              }
              return execute(batch, owner)
            } finally {
              try {
                FileLock.release(lockPath, owner)
              } catch {
                // a lock we cannot remove will be broken as stale by the next writer
              }
            }
          })
        ),
        Effect.map((results) => {
          results.forEach((r, i) => {
            const p = batch[i]!
            Deferred.doneUnsafe(
              p.deferred,
              r.ok ? Effect.succeed(r.value) : Effect.fail(storeError(p.op.kind, describe(r.error), r.error))
            )
          })
        }),
        Effect.catch((error: StoreError) =>
          Effect.sync(() => {
            for (const p of batch) Deferred.doneUnsafe(p.deferred, Effect.fail(storeError(p.op.kind, error.message, error)))
          })
        ),
        // Safety net: whatever happens (a defect), no caller waits forever for its result.
        Effect.onExit((exit) =>
          Effect.sync(() => {
            for (const p of batch) {
              Deferred.doneUnsafe(
                p.deferred,
                Effect.fail(storeError(p.op.kind, `unexpected failure of the store batch (${exit._tag})`, exit))
              )
            }
          })
        ),
        Effect.uninterruptible
      )
    })

    /** Queues a mutation and runs batches until it is done (group commit). */
    const submit = <A>(op: Op): Effect.Effect<A, StoreError> =>
      Effect.suspend(() => {
        const p: Pending = { op, deferred: Deferred.makeUnsafe<unknown, StoreError>(), taken: false }
        queue.push(p)
        // Yielding once before taking the queue lets the fibers scheduled alongside this one
        // enqueue their mutations, so they share one lock, one read and one write.
        return Semaphore.withPermit(mutex)(
          Effect.suspend(() => (p.taken ? Effect.void : Effect.andThen(Effect.yieldNow, runBatch)))
        ).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              if (!p.taken) queue = queue.filter((x) => x !== p)
            })
          ),
          Effect.andThen(Deferred.await(p.deferred) as Effect.Effect<A, StoreError>)
        )
      })

    // ---------------------------------------------------------------- lock-free reads

    const readJournalFile = (incidentId: string): Array<JournalEntry> => {
      const path = nodePath.join(journalDir, journalFileName(incidentId))
      const text = readText(path)
      if (text === undefined) return []
      return parseJournal(path, text, incidentId).entries
    }

    const listAll = (): Array<IncidentIndexEntry> => {
      const index = readIndex()
      const byFile = new Map<string, IndexRecord>()
      for (const r of index.values()) byFile.set(r.file, r)
      const out: Array<IncidentIndexEntry> = []
      for (const file of journalFiles()) {
        const path = nodePath.join(journalDir, file)
        let size: number
        try {
          size = fs.statSync(path).size
        } catch (e) {
          if (isErrno(e, "ENOENT")) continue
          throw e
        }
        const r = byFile.get(file)
        if (r !== undefined && r.bytes === size) {
          out.push(r)
          continue
        }
        const text = readText(path)
        if (text === undefined) continue
        const parsed = parseJournal(path, text)
        if (parsed.entries.length > 0) out.push(Rules.summarize(parsed.entries))
      }
      return out.sort(Rules.byOpening).map((r) => ({
        incidentId: r.incidentId,
        runbook: r.runbook,
        targetKey: r.targetKey,
        openedAt: r.openedAt,
        lastType: r.lastType,
        closed: r.closed
      }))
    }

    const store: GuardrailStoreShape = {
      name,
      acquireWindow: (request) =>
        attempt("acquireWindow", () => Rules.validateWindowRequest(request)).pipe(
          Effect.andThen(submit<WindowResult>({ kind: "acquireWindow", file: "windows", request: { ...request }, token: randomUUID() }))
        ),
      peekWindow: (key, windowMs, now, token) =>
        attempt("peekWindow", () => State.peekWindow(readState<State.WindowSlot>("windows"), key, windowMs, now, token)),
      releaseWindow: (key, token) => submit<void>({ kind: "releaseWindow", file: "windows", key, token }),
      get: (key) => attempt("get", () => State.getValue(readState<State.StoredValue>("values"), key)),
      compareAndSet: (key, expectedVersion, value, o) =>
        redacting("compareAndSet", (r) => {
          Rules.validateEpoch(o?.epoch)
          return Rules.redactJson(r, Rules.copyJson(value, "value"))
        }).pipe(
          Effect.andThen((copy) =>
            submit<boolean>({ kind: "compareAndSet", file: "values", key, expected: expectedVersion, value: copy, epoch: o?.epoch })
          )
        ),
      acquireLease: (request) =>
        redacting("acquireLease", (r) => {
          const checked = Rules.validateLeaseRequest(request)
          return checked.data === undefined ? checked : { ...checked, data: Rules.redactJsonObject(r, checked.data) }
        }).pipe(Effect.andThen((checked) => submit<LeaseResult>({ kind: "acquireLease", file: "leases", request: checked }))),
      releaseLease: (key, holder) => submit<void>({ kind: "releaseLease", file: "leases", key, holder }),
      getLease: (key) => attempt("getLease", () => State.getLease(readState<LeaseInfo>("leases"), key)),
      appendJournal: (entry) =>
        redacting("appendJournal", (r) => ({ ...entry, data: Rules.redactJsonObject(r, Rules.copyJsonObject(entry?.data, "data")) })).pipe(
          Effect.andThen((copy) => submit<JournalEntry>({ kind: "appendJournal", file: "journal", entry: copy }))
        ),
      readJournal: (incidentId) => attempt("readJournal", () => readJournalFile(incidentId)),
      listIncidents: (opts) =>
        attempt("listIncidents", () => listAll().filter((i) => opts?.all === true || !i.closed))
    }

    return attempt("open", () => {
      fs.mkdirSync(journalDir, { recursive: true })
      fs.accessSync(directory, fs.constants.R_OK | fs.constants.W_OK)
      return store
    })
  })

/** The fencing epoch an op carries, if any. */
const epochOf = (op: Op): Epoch | undefined =>
  op.kind === "acquireWindow" || op.kind === "acquireLease" ? op.request.epoch : op.kind === "compareAndSet" ? op.epoch : undefined

/** A state or journal file that cannot be read as BytePort store data. */
class CorruptFile extends Error {
  constructor(readonly path: string, reason: string) {
    super(`corrupt store file ${path}: ${reason}`)
  }
}

/** A layer with a FileStore on `options.directory`. */
export const layer = (options: FileStoreOptions): Layer.Layer<GuardrailStore, StoreError> =>
  Layer.effect(GuardrailStore, make(options))

/** The store directory from `BYTEPORT_STORE_DIR` (default `.byteport/store`, relative to the working directory). */
export const directoryConfig: Config.Config<string> = Config.String("BYTEPORT_STORE_DIR").pipe(
  Config.withDefault(".byteport/store")
)

/** A layer with a FileStore on the directory named by `BYTEPORT_STORE_DIR` (default `.byteport/store`). */
export const layerConfig: Layer.Layer<GuardrailStore, StoreError | Config.ConfigError> = Layer.unwrap(
  Effect.gen(function*() {
    const directory = yield* directoryConfig
    return layer({ directory })
  })
)
