/**
 * Store writes pass the Redactor: secrets planted in a baseline value, lease data and a journal
 * entry are in none of FileStore's files; a store's own redactor (or the caller's `Redactor`
 * service) decides what is secret.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Redactor from "../../src/Redactor"
import * as FileStore from "../../src/stores/FileStore"
import * as MemoryStore from "../../src/stores/MemoryStore"
import { SECRETS, secretsPlanted } from "../../src/testing/StoreContract"

const T = 1_700_000_000_000
const root = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-store-redaction-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

/** Every byte under a directory, as text. */
const allFiles = (dir: string): string =>
  fs.readdirSync(dir, { withFileTypes: true }).map((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? allFiles(p) : fs.readFileSync(p, "utf8")
  }).join("\n")

describe("store writes are redacted", () => {
  it.live("FileStore: no planted secret in values.json, leases.json or the journal files", () =>
    Effect.gen(function*() {
      const directory = path.join(root, "file")
      const store = yield* FileStore.make({ directory })
      const planted = secretsPlanted()
      assert.strictEqual(yield* store.compareAndSet("baseline:k8s.workload:c/shop/Deployment/web", 0, planted.value), true)
      yield* store.acquireLease({ key: "target:x", holder: "h", ttlMs: 60_000, now: T, data: planted.leaseData, parents: ["target:parent"] })
      yield* store.appendJournal({ incidentId: "inc-1", at: T, type: "opened", data: { runbook: "r", targetKey: "t", evidence: planted.value } })
      const raw = allFiles(directory)
      assert.include(raw, "limitMi") // the files are really there
      assert.include(raw, "target:parent")
      for (const secret of SECRETS) assert.notInclude(raw, secret)
      assert.include(fs.readFileSync(path.join(directory, "values.json"), "utf8"), Redactor.MARKER)
      assert.include(fs.readFileSync(path.join(directory, "leases.json"), "utf8"), Redactor.MARKER)
    }))

  it.live("a store's own redactor, else the caller's Redactor service, decides what is secret", () =>
    Effect.gen(function*() {
      const own = yield* MemoryStore.make({ redactor: Redactor.make({ extraKeys: ["limitMi"], marker: "<own>" }) })
      yield* own.compareAndSet("k", 0, { limitMi: 512, password: "hunter2-pw-1" })
      assert.deepStrictEqual((yield* own.get("k"))?.value, { limitMi: "<own>", password: "<own>" })

      const plain = yield* MemoryStore.make()
      yield* plain.compareAndSet("k", 0, { limitMi: 512, password: "hunter2-pw-1" })
      assert.deepStrictEqual((yield* plain.get("k"))?.value, { limitMi: 512, password: Redactor.MARKER })
      // the caller's service applies when the store has none of its own
      yield* plain.compareAndSet("k2", 0, { pool: "CUSTOM-1234" }).pipe(
        Effect.provide(Redactor.layer({ extraPatterns: [/CUSTOM-\d+/] }))
      )
      assert.deepStrictEqual((yield* plain.get("k2"))?.value, { pool: Redactor.MARKER })
      // lease data the same way
      yield* plain.acquireLease({ key: "l", holder: "h", ttlMs: 1_000, now: T, data: { apiToken: "tok-XYZ-123", n: 1 } })
      assert.deepStrictEqual((yield* plain.getLease("l"))?.data, { apiToken: Redactor.MARKER, n: 1 })
    }))
})
