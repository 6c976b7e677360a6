import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import * as Audit from "../../src/Audit"
import * as Redactor from "../../src/Redactor"

const r = Redactor.defaultRedactor
const tmp = () => mkdtempSync(join(tmpdir(), "byteport-audit-"))
const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter((l) => l !== "")

describe("Audit (JSONL file)", () => {
  it.live("appends one redacted JSON line per entry, creating directories", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const path = join(dir, "nested", "deeper", "audit.jsonl")
      yield* Effect.scoped(Effect.gen(function*() {
        const audit = yield* Audit.makeFile(r, path)
        yield* audit.record({ at: Date.UTC(2026, 10, 28, 3, 14), incidentId: "inc-1", runbook: "k8s.oom.six-signal", event: "opened", data: { target: "prod/api" } })
        yield* audit.record({ incidentId: "inc-1", runbook: "k8s.oom.six-signal", event: "applied", data: { env: [{ name: "DB_PASSWORD", value: "pw-123456" }], dsn: "mysql://u:pw-654321@h/db" } })
        const back = yield* audit.entries
        assert.strictEqual(back.length, 2)
        assert.deepStrictEqual(back[0], {
          at: Date.UTC(2026, 10, 28, 3, 14),
          time: "2026-11-28T03:14:00.000Z",
          incidentId: "inc-1",
          runbook: "k8s.oom.six-signal",
          event: "opened",
          data: { target: "prod/api" }
        })
        assert.strictEqual(yield* audit.failures, 0)
      }))
      const text = readFileSync(path, "utf8")
      assert.isTrue(text.endsWith("\n"))
      assert.strictEqual(lines(path).length, 2)
      assert.notInclude(text, "pw-123456")
      assert.notInclude(text, "pw-654321")
      assert.deepStrictEqual(JSON.parse(lines(path)[1]!).data, { env: [{ name: "DB_PASSWORD", value: "[REDACTED]" }], dsn: "[REDACTED]" })
      rmSync(dir, { recursive: true, force: true })
    }))

  it.live("opens with O_APPEND: a write by another process between records is never overwritten", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const path = join(dir, "audit.jsonl")
      writeFileSync(path, "{\"pre\":\"existing\"}\n")
      yield* Effect.scoped(Effect.gen(function*() {
        const audit = yield* Audit.makeFile(r, path)
        yield* audit.record({ incidentId: "a", runbook: "rb", event: "one" })
        appendFileSync(path, "{\"other\":\"process\"}\n")
        yield* audit.record({ incidentId: "a", runbook: "rb", event: "two" })
      }))
      assert.deepStrictEqual(lines(path).map((l) => JSON.parse(l).event ?? JSON.parse(l).pre ?? JSON.parse(l).other), ["existing", "one", "process", "two"])
      rmSync(dir, { recursive: true, force: true })
    }))

  it.live("concurrent records from two writers on one file give intact lines", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const path = join(dir, "audit.jsonl")
      yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* Audit.makeFile(r, path)
        const b = yield* Audit.makeFile(r, path)
        const big = "x".repeat(20_000)
        yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => (i % 2 ? a : b).record({ incidentId: `inc-${i}`, runbook: "rb", event: "step", data: { i, big } }),
          { concurrency: 50 }
        )
      }))
      const ls = lines(path)
      assert.strictEqual(ls.length, 200)
      const seen = new Set(ls.map((l) => JSON.parse(l).data.i))
      assert.strictEqual(seen.size, 200)
      rmSync(dir, { recursive: true, force: true })
    }))

  it.live("never fails the caller: an I/O error is logged (redacted) and counted, and the next record retries", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const blocker = join(dir, "token=abc123secret")
      writeFileSync(blocker, "a regular file where a directory should be")
      const path = join(blocker, "audit.jsonl")
      const logged: Array<string> = []
      const logger = Logger.make((o) => void logged.push(`${o.logLevel} ${String(o.message)}`))
      yield* Effect.scoped(Effect.gen(function*() {
        const audit = yield* Audit.makeFile(r, path)
        yield* audit.record({ incidentId: "inc-1", runbook: "rb", event: "opened" })
        yield* audit.record({ incidentId: "inc-1", runbook: "rb", event: "planned" })
        assert.strictEqual(yield* audit.failures, 2)
        assert.strictEqual(logged.length, 2)
        assert.match(logged[0]!, /^Error audit: record to .* failed: /)
        for (const l of logged) assert.notInclude(l, "abc123secret")
        // the blocker goes away: the next record opens the file and writes
        rmSync(blocker)
        yield* audit.record({ incidentId: "inc-1", runbook: "rb", event: "applied" })
        assert.strictEqual(yield* audit.failures, 2)
        assert.deepStrictEqual((yield* audit.entries).map((e) => e.event), ["applied"])
      }).pipe(Effect.provide(Logger.layer([logger]))))
      rmSync(dir, { recursive: true, force: true })
    }))

  it.live("the default layer reads BYTEPORT_AUDIT_LOG", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const path = join(dir, "from-config.jsonl")
      yield* Audit.record({ incidentId: "inc-9", runbook: "rb", event: "opened" }).pipe(
        Effect.provide(Audit.layer.pipe(Layer.provide(Redactor.layerDefault))),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ BYTEPORT_AUDIT_LOG: path })))
      )
      assert.strictEqual(JSON.parse(lines(path)[0]!).incidentId, "inc-9")
      assert.strictEqual(Audit.DEFAULT_PATH, ".byteport/audit.jsonl")
      rmSync(dir, { recursive: true, force: true })
    }))
})

describe("Audit (memory)", () => {
  it.effect("records redacted entries with the Clock's time", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.Audit
      yield* audit.record({ incidentId: "inc-1", runbook: "rb", event: "escalated", data: { authorization: "Bearer abcdefgh12345678" } })
      const [e] = yield* audit.entries
      assert.deepStrictEqual(e, { at: 0, time: "1970-01-01T00:00:00.000Z", incidentId: "inc-1", runbook: "rb", event: "escalated", data: { authorization: "[REDACTED]" } })
    }).pipe(Effect.provide(Audit.layerMemory.pipe(Layer.provide(Redactor.layerDefault)))))
})
