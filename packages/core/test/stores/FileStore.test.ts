import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer } from "effect"
import { GuardrailStore } from "../../src/GuardrailStore"
import * as FileStore from "../../src/stores/FileStore"
import { processStartTicks } from "../../src/stores/internal/fileLock"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "../../../..")
const childScript = path.join(here, "fixtures", "file-store-child.ts")
const root = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-filestore-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
let dirs = 0
const freshDir = () => path.join(root, `s${++dirs}`)
const T = 1_700_000_000_000

interface ChildResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Spawns the child script on Node 24 (this process's binary) with tsx; argv arrays only. */
const spawnChild = (mode: string, directory: string, args: object) =>
  spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", childScript, mode, directory, JSON.stringify(args)], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000
  })

const collect = (child: ReturnType<typeof spawnChild>) =>
  new Promise<ChildResult>((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d) => (stdout += d))
    child.stderr!.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

const resultOf = <A>(r: ChildResult): A => {
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "))
  if (r.code !== 0 || line === undefined) throw new Error(`child failed (code ${r.code}): ${r.stderr}\n${r.stdout}`)
  return JSON.parse(line.slice("RESULT ".length)) as A
}

const runChild = <A>(mode: string, directory: string, args: object) =>
  Effect.promise(() => collect(spawnChild(mode, directory, args))).pipe(Effect.map(resultOf<A>))

/** Starts a `hold` child and resolves once it is frozen inside the critical section. */
const holdingChild = (directory: string, args: object) =>
  Effect.promise(() => {
    const child = spawnChild("hold", directory, args)
    const done = collect(child)
    return new Promise<{ child: typeof child; done: Promise<ChildResult> }>((resolve, reject) => {
      let out = ""
      child.stdout!.on("data", (d) => {
        out += d
        if (out.includes("HOLDING")) resolve({ child, done })
      })
      void done.then((r) => reject(new Error(`hold child exited before holding: ${r.stderr} ${r.stdout}`)))
    })
  })

const deadPid = (): number => {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
  return Number(r.stdout)
}

const tmpFiles = (dir: string) =>
  [...fs.readdirSync(dir), ...fs.readdirSync(path.join(dir, "journal")).map((f) => `journal/${f}`)].filter((f) => f.includes("tmp"))

const sleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

describe("FileStore across OS processes", () => {
  it.live("max 20 per 60 s from two processes acquiring concurrently gives exactly 20", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      fs.mkdirSync(directory, { recursive: true })
      const barrier = path.join(root, `barrier-${dirs}`)
      const args = { key: "restart:web", max: 20, windowMs: 60_000, now: T, tries: 50, concurrency: 5, barrier }
      const go = Effect.gen(function*() {
        // Release both children at once, when both are ready.
        while (fs.readdirSync(root).filter((f) => f.startsWith(`barrier-${dirs}.`) && f.endsWith(".ready")).length < 2) {
          yield* sleep(5)
        }
        fs.writeFileSync(`${barrier}.go`, "")
      })
      const [a, b] = yield* Effect.all(
        [
          runChild<{ pid: number; acquiredCounts: Array<number>; exhausted: number }>("acquire", directory, args),
          runChild<{ pid: number; acquiredCounts: Array<number>; exhausted: number }>("acquire", directory, args),
          go
        ],
        { concurrency: 3 }
      )
      assert.notStrictEqual(a.pid, b.pid)
      assert.strictEqual(a.acquiredCounts.length + b.acquiredCounts.length, 20)
      assert.strictEqual(a.exhausted + b.exhausted, 80)
      // Serialized across processes: the counts handed out are exactly 1..20, each once.
      assert.deepStrictEqual([...a.acquiredCounts, ...b.acquiredCounts].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1))
      const store = yield* FileStore.make({ directory })
      assert.strictEqual((yield* store.peekWindow("restart:web", 60_000, T)).count, 20)
      assert.strictEqual(fs.existsSync(path.join(directory, "store.lock")), false)
    }), 60_000)

  it.live("kill -9 of a process holding the lock mid-commit leaves the store usable and exact", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory })
      for (let i = 1; i <= 3; i++) {
        const r = yield* store.acquireWindow({ key: "k", max: 5, windowMs: 60_000, now: T })
        assert.strictEqual(r._tag === "Acquired" && r.count, i)
      }
      const { child, done } = yield* holdingChild(directory, { phase: "temp-written", key: "k", now: T })
      // The child holds the lock and has written its new windows.json to a temp file, not renamed yet.
      const lock = JSON.parse(fs.readFileSync(path.join(directory, "store.lock"), "utf8"))
      assert.strictEqual(lock.pid, child.pid)
      assert.strictEqual(tmpFiles(directory).some((f) => f.startsWith("windows.json.")), true)
      // While the holder lives, others wait.
      const waiting = yield* Effect.forkChild(store.acquireWindow({ key: "k", max: 5, windowMs: 60_000, now: T }))
      yield* sleep(400)
      assert.strictEqual(waiting.pollUnsafe(), undefined)
      assert.strictEqual(child.kill("SIGKILL"), true)
      const killedAt = Date.now()
      const killed = yield* Effect.promise(() => done)
      assert.strictEqual(killed.signal, "SIGKILL")
      // The stale lock is broken at once (its pid is dead; no waiting for the 10 s age limit);
      // the child's uncommitted unit never counted: 3 + 1.
      const after = yield* Fiber.join(waiting)
      assert.isBelow(Date.now() - killedAt, 3_000)
      assert.strictEqual(after._tag, "Acquired")
      assert.strictEqual(after.count, 4)
      assert.deepStrictEqual(tmpFiles(directory), [])
      assert.strictEqual(fs.existsSync(path.join(directory, "store.lock")), false)
      const onDisk = JSON.parse(fs.readFileSync(path.join(directory, "windows.json"), "utf8"))
      assert.strictEqual(onDisk.entries[0][1].entries.length, 4)
      assert.strictEqual((yield* store.acquireWindow({ key: "k", max: 5, windowMs: 60_000, now: T }))._tag, "Acquired")
      const full = yield* store.acquireWindow({ key: "k", max: 5, windowMs: 60_000, now: T })
      assert.strictEqual(full._tag, "Exhausted")
      assert.strictEqual(full.count, 5)
    }), 60_000)

  it.live("kill -9 between a journal append and the index write: the entry counts and the index heals", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory })
      yield* store.appendJournal({ incidentId: "inc", at: T, type: "opened", data: { runbook: "r", targetKey: "t" } })
      assert.deepStrictEqual((yield* store.listIncidents()).map((i) => i.incidentId), ["inc"])
      const { child, done } = yield* holdingChild(directory, { phase: "journal-appended", incidentId: "inc", type: "closed", now: T + 1 })
      // The closed line is durable; the index still says open, and readers already see the truth.
      assert.deepStrictEqual(yield* store.listIncidents(), [])
      child.kill("SIGKILL")
      yield* Effect.promise(() => done)
      const next = yield* store.appendJournal({ incidentId: "inc", at: T + 2, type: "step", data: {} })
      assert.strictEqual(next.seq, 3)
      assert.deepStrictEqual((yield* store.readJournal("inc")).map((e) => e.type), ["opened", "closed", "step"])
      const index = JSON.parse(fs.readFileSync(path.join(directory, "journal", "index.json"), "utf8"))
      assert.strictEqual(index.incidents[0].closed, true)
      assert.strictEqual(index.incidents[0].lastSeq, 3)
      assert.deepStrictEqual(yield* store.listIncidents(), [])
      assert.strictEqual((yield* store.listIncidents({ all: true }))[0]?.lastType, "step")
    }), 60_000)

  it.live("restart survival: a fresh process reads the windows, values, leases and journal another one wrote", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const written = yield* runChild<any>("write", directory, { now: T })
      assert.strictEqual(written.w2._tag, "Acquired")
      assert.strictEqual(written.cas, true)
      const read = yield* runChild<any>("read", directory, { now: T })
      assert.deepStrictEqual(read.window, { count: 2, oldestAt: T })
      assert.strictEqual(read.third._tag, "Exhausted")
      assert.strictEqual(read.third.retryAfterMs, 3_600_000 - 10)
      assert.deepStrictEqual(read.value, { value: { memoryMi: 512, containers: ["app"] }, version: 1 })
      assert.strictEqual(read.staleCas, false)
      assert.deepStrictEqual(read.lease, {
        key: "k8s/prod/web",
        holder: "agent-1",
        acquiredAt: T,
        expiresAt: T + 600_000,
        data: { baselineMi: 512 }
      })
      assert.strictEqual(read.otherHolder._tag, "Held")
      assert.deepStrictEqual(read.journal.map((e: any) => [e.seq, e.type]), [[1, "opened"], [2, "planned"]])
      assert.deepStrictEqual(read.open.map((i: any) => i.incidentId), ["inc-1"])
      assert.deepStrictEqual(read.all.map((i: any) => [i.incidentId, i.runbook, i.targetKey, i.closed]), [
        ["inc-1", "oom-bump", "k8s/prod/web", false],
        ["inc-2", "disk-full", "host/a", true]
      ])
      assert.strictEqual(read.next.seq, 3)
      // And this process too.
      const store = yield* FileStore.make({ directory })
      assert.deepStrictEqual((yield* store.readJournal("inc-1")).map((e) => e.type), ["opened", "planned", "applied"])
    }), 60_000)
})

describe("FileStore locks and files", () => {
  const writeLock = (directory: string, owner: object) => {
    fs.mkdirSync(path.join(directory, "journal"), { recursive: true })
    fs.writeFileSync(path.join(directory, "store.lock"), JSON.stringify(owner))
  }

  it.live("a lock left by a dead pid is broken at once; its temp files and torn journal tail are cleaned", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory })
      yield* store.appendJournal({ incidentId: "inc", at: T, type: "opened", data: { runbook: "r", targetKey: "t" } })
      // What a writer killed mid-append leaves: a line without its newline, a temp file, its lock.
      fs.appendFileSync(path.join(directory, "journal", "inc.jsonl"), "{\"incidentId\":\"inc\",\"seq\":2,\"at\"")
      fs.writeFileSync(path.join(directory, "values.json.999.abc.data-tmp"), "{\"format\":")
      const dead = deadPid()
      fs.writeFileSync(path.join(directory, `store.lock.${dead}.0a1b2c.tmp`), "{}")
      writeLock(directory, { pid: dead, hostname: os.hostname(), nonce: "dead", acquiredAt: Date.now(), startedAt: 0 })
      assert.deepStrictEqual((yield* store.readJournal("inc")).map((e) => e.seq), [1])
      const started = Date.now()
      const e = yield* store.appendJournal({ incidentId: "inc", at: T + 1, type: "planned", data: {} })
      assert.isBelow(Date.now() - started, 2_000)
      assert.strictEqual(e.seq, 2)
      assert.deepStrictEqual((yield* store.readJournal("inc")).map((x) => [x.seq, x.type]), [[1, "opened"], [2, "planned"]])
      assert.strictEqual(fs.readFileSync(path.join(directory, "journal", "inc.jsonl"), "utf8").split("\n").length, 3)
      assert.deepStrictEqual(tmpFiles(directory), [])
    }))

  it.live("a lock whose pid was reused (same pid, another process start) is broken", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory })
      const ticks = processStartTicks(process.pid)
      writeLock(directory, {
        pid: process.pid,
        startTicks: ticks === undefined ? undefined : String(Number(ticks) - 1000),
        startedAt: Date.now() - 86_400_000,
        hostname: os.hostname(),
        nonce: "previous-incarnation",
        acquiredAt: Date.now()
      })
      const r = yield* store.compareAndSet("v", 0, 1)
      assert.strictEqual(r, true)
    }))

  it.live("a lock held by a live process is respected until the timeout, then fails with a StoreError", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory, lockTimeoutMs: 300 })
      writeLock(directory, {
        pid: process.ppid,
        startTicks: processStartTicks(process.ppid),
        startedAt: 0,
        hostname: os.hostname(),
        nonce: "live",
        acquiredAt: Date.now()
      })
      const error = yield* Effect.flip(store.acquireWindow({ key: "k", max: 1, windowMs: 1_000, now: T }))
      assert.strictEqual(error._tag, "StoreError")
      assert.strictEqual(error.operation, "acquireWindow")
      assert.include(error.message, "timed out")
      assert.include(error.message, `pid ${process.ppid}`)
      assert.strictEqual(error.store, `file:${directory}`)
      // Nothing was taken; the lock is still the live owner's.
      assert.strictEqual(JSON.parse(fs.readFileSync(path.join(directory, "store.lock"), "utf8")).nonce, "live")
      assert.strictEqual((yield* store.peekWindow("k", 1_000, T)).count, 0)
    }))

  it.live("a lock older than staleLockMs is broken even when its pid lives", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory, staleLockMs: 500 })
      writeLock(directory, {
        pid: process.ppid,
        startTicks: processStartTicks(process.ppid),
        startedAt: 0,
        hostname: os.hostname(),
        nonce: "hung",
        acquiredAt: Date.now() - 1_000
      })
      assert.strictEqual((yield* store.acquireWindow({ key: "k", max: 1, windowMs: 1_000, now: T }))._tag, "Acquired")
    }))

  it.live("two FileStore instances in one process on one directory agree: 1,000 racing acquires with max 1 give one", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const a = yield* FileStore.make({ directory })
      const b = yield* FileStore.make({ directory })
      const results = yield* Effect.forEach(
        Array.from({ length: 1_000 }, (_, i) => i),
        (i) => (i % 2 === 0 ? a : b).acquireWindow({ key: "k", max: 1, windowMs: 60_000, now: T }),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter((r) => r._tag === "Acquired").length, 1)
    }))

  it.live("a corrupt state file gives a StoreError naming the file, never a crash", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory })
      fs.writeFileSync(path.join(directory, "windows.json"), "{not json")
      for (
        const effect of [
          store.acquireWindow({ key: "k", max: 1, windowMs: 1_000, now: T }),
          store.peekWindow("k", 1_000, T)
        ]
      ) {
        const error = yield* Effect.flip(effect as Effect.Effect<unknown, any>)
        assert.strictEqual(error._tag, "StoreError")
        assert.include(error.message, path.join(directory, "windows.json"))
      }
      // Other concerns keep working; the corrupt file is left for a human to inspect.
      assert.strictEqual(yield* store.compareAndSet("v", 0, 1), true)
      assert.strictEqual(fs.readFileSync(path.join(directory, "windows.json"), "utf8"), "{not json")
      fs.writeFileSync(path.join(directory, "leases.json"), JSON.stringify({ format: "something-else", entries: [] }))
      const leaseError = yield* Effect.flip(store.getLease("x"))
      assert.include(leaseError.message, "leases.json")
    }))

  it.live("a corrupt journal line gives a StoreError naming the journal file and line", () =>
    Effect.gen(function*() {
      const directory = freshDir()
      const store = yield* FileStore.make({ directory })
      yield* store.appendJournal({ incidentId: "inc", at: T, type: "opened", data: { runbook: "r", targetKey: "t" } })
      const file = path.join(directory, "journal", "inc.jsonl")
      fs.appendFileSync(file, "garbage\n")
      const error = yield* Effect.flip(store.readJournal("inc"))
      assert.include(error.message, file)
      assert.include(error.message, "line 2")
      const appendError = yield* Effect.flip(store.appendJournal({ incidentId: "inc", at: T, type: "step", data: {} }))
      assert.strictEqual(appendError.operation, "appendJournal")
      assert.include(appendError.message, file)
      const listError = yield* Effect.flip(store.listIncidents())
      assert.include(listError.message, file)
    }))

  it.live("an unusable directory gives a StoreError at open", () =>
    Effect.gen(function*() {
      const file = path.join(root, "a-file")
      fs.writeFileSync(file, "x")
      const error = yield* Effect.flip(FileStore.make({ directory: path.join(file, "store") }))
      assert.strictEqual(error._tag, "StoreError")
      assert.strictEqual(error.operation, "open")
    }))

  it.live("layerConfig reads BYTEPORT_STORE_DIR", () => {
    const directory = freshDir()
    return Effect.gen(function*() {
      const store = yield* GuardrailStore
      assert.strictEqual(store.name, `file:${directory}`)
      yield* store.compareAndSet("k", 0, "v")
      assert.strictEqual(fs.existsSync(path.join(directory, "values.json")), true)
    }).pipe(
      Effect.provide(
        FileStore.layerConfig.pipe(
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BYTEPORT_STORE_DIR: directory } })))
        )
      )
    )
  })

  it.live("1,000 concurrent acquires complete in a few seconds", () =>
    Effect.gen(function*() {
      const store = yield* FileStore.make({ directory: freshDir() })
      const started = Date.now()
      const results = yield* Effect.forEach(
        Array.from({ length: 1_000 }, (_, i) => i),
        (i) => store.acquireWindow({ key: `k${i % 10}`, max: 50, windowMs: 60_000, now: T }),
        { concurrency: "unbounded" }
      )
      assert.isBelow(Date.now() - started, 5_000)
      assert.strictEqual(results.filter((r) => r._tag === "Acquired").length, 500)
    }))
})
