/**
 * StoreRules: the one set of rules every GuardrailStore applies (JSON checks, redaction of
 * writes, windows, leases with parents, journal), and a check that no store package writes
 * them a second time.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import type { LeaseInfo } from "../../src/GuardrailStore"
import * as Redactor from "../../src/Redactor"
import * as Rules from "../../src/StoreRules"
import * as T8 from "../../src/TargetRef"

const T = 1_700_000_000_000
const throwsInvalid = (f: () => unknown, message: RegExp) => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, Rules.InvalidInput)
    assert.match((e as Error).message, message)
    return
  }
  assert.fail(`expected InvalidInput ${message}`)
}

describe("StoreRules: JSON", () => {
  it("copies JSON and refuses what is not", () => {
    const src = { a: [1, "x", null, { b: true }], u: undefined, z: -0 }
    const out = Rules.copyJson(src)
    assert.deepStrictEqual(out, { a: [1, "x", null, { b: true }], z: 0 })
    assert.notStrictEqual((out as { a: unknown }).a, src.a)
    assert.isFalse(Object.is((out as { z: number }).z, -0))
    throwsInvalid(() => Rules.copyJson({ n: Number.NaN }), /\$\.n is not a finite number/)
    throwsInvalid(() => Rules.copyJson([1, undefined]), /\$\[1\] is undefined/)
    throwsInvalid(() => Rules.copyJson({ f: () => 1 }), /not JSON \(a function\)/)
    throwsInvalid(() => Rules.copyJson({ d: new Date() }), /not a plain object/)
    throwsInvalid(() => Rules.copyJson(10n), /a bigint/)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    throwsInvalid(() => Rules.copyJson(cyclic), /cycle/)
    throwsInvalid(() => Rules.copyJsonObject([1], "data"), /data is not a JSON object/)
    // a shared (non-cyclic) reference is fine
    const shared = { k: 1 }
    assert.deepStrictEqual(Rules.copyJson([shared, shared]), [{ k: 1 }, { k: 1 }])
    // __proto__ is a plain member
    const special = JSON.parse("{\"__proto__\":{\"polluted\":true}}")
    const copied = Rules.copyJson(special) as Record<string, unknown>
    assert.deepStrictEqual(Object.keys(copied), ["__proto__"])
    assert.strictEqual(Object.getPrototypeOf(copied), Object.prototype)
    assert.strictEqual(Rules.encodeJson(special), "{\"__proto__\":{\"polluted\":true}}")
  })

  it("redacts what a store writes, keeping __proto__ members as data", () => {
    const r = Redactor.defaultRedactor
    assert.deepStrictEqual(Rules.redactJson(r, { password: "hunter2", url: "postgres://u:pw-1@h/db", n: 1 }), {
      password: Redactor.MARKER,
      url: `postgres://u:${Redactor.MARKER}@h/db`,
      n: 1
    })
    const special = JSON.parse("{\"__proto__\":{\"token\":\"tok-1\",\"keep\":2},\"__proto__\\u00000\":\"taken\"}")
    const out = Rules.redactJson(r, special) as Record<string, Record<string, unknown>>
    assert.deepStrictEqual(Object.keys(out), ["__proto__", "__proto__\u00000"])
    assert.deepStrictEqual({ ...out["__proto__"] }, { token: Redactor.MARKER, keep: 2 })
    assert.strictEqual(out["__proto__\u00000"] as unknown, "taken")
    assert.deepStrictEqual(Rules.redactJsonObject(r, { a: "b" }), { a: "b" })
  })

  it.effect("redactorFor: the configured one, else the caller's service, else the default", () =>
    Effect.gen(function*() {
      const own = Redactor.make({ marker: "<own>" })
      assert.strictEqual(yield* Rules.redactorFor(own), own)
      assert.strictEqual(yield* Rules.redactorFor(), Redactor.defaultRedactor)
      const service = yield* Rules.redactorFor().pipe(Effect.provide(Redactor.layer({ marker: "<svc>" })))
      assert.strictEqual(service.marker, "<svc>")
    }))
})

describe("StoreRules: windows", () => {
  it("decides with exact retryAfterMs and prunes", () => {
    const req = { key: "k", max: 3, windowMs: 1_000, now: T + 500 }
    assert.deepStrictEqual(Rules.decideWindow([{ t: T, w: 1 }, { t: T + 100, w: 2 }], { ...req, weight: 1 }), { fits: false, count: 3, retryAfterMs: 500 })
    assert.deepStrictEqual(Rules.decideWindow([{ t: T, w: 1 }, { t: T + 100, w: 2 }], { ...req, weight: 2 }), { fits: false, count: 3, retryAfterMs: 600 })
    assert.deepStrictEqual(Rules.decideWindow([{ t: T, w: 1 }], { ...req, weight: 2 }), { fits: true, count: 3 })
    assert.deepStrictEqual(Rules.decideWindow([], { ...req, weight: 4 }), { fits: false, count: 0, retryAfterMs: 1_000 })
    const a = Rules.acquireWindow({ windowMs: 1_000, entries: [{ t: T - 2_000, w: 1, token: "old" }] }, { key: "k", max: 1, windowMs: 1_000, now: T }, "t1")
    assert.deepStrictEqual(a.result, { _tag: "Acquired", token: "t1", count: 1 })
    assert.deepStrictEqual(a.next, { windowMs: 1_000, entries: [{ t: T, w: 1, token: "t1" }] })
    const b = Rules.acquireWindow(a.next, { key: "k", max: 1, windowMs: 1_000, now: T + 10 }, "t2")
    assert.deepStrictEqual(b.result, { _tag: "Exhausted", count: 1, retryAfterMs: 990 })
    assert.strictEqual(b.next, undefined)
    assert.deepStrictEqual(Rules.peekWindow(a.next, "k", 1_000, T + 10), { count: 1, oldestAt: T })
    assert.strictEqual(Rules.releaseWindow(a.next, "nope"), undefined)
    assert.strictEqual(Rules.releaseWindow(a.next, "t1"), null)
    throwsInvalid(() => Rules.validateWindowRequest({ key: "k", max: 1, windowMs: 1, now: T, weight: 1.5 }), /weight must be an integer/)
    throwsInvalid(() => Rules.validatePeek("k", 0, T), /windowMs must be > 0/)
    throwsInvalid(() => Rules.validateCompareAndSet("k", -1), /expectedVersion/)
  })
})

describe("StoreRules: leases", () => {
  const lease = (key: string, holder: string, expiresAt: number, parents?: Array<string>): LeaseInfo => ({
    key,
    holder,
    acquiredAt: T - 1_000,
    expiresAt,
    data: {},
    ...(parents ? { parents } : {})
  })

  it("validates parents: deduplicated, never the key itself, at most 16", () => {
    assert.deepStrictEqual(Rules.validateLeaseRequest({ key: "c", holder: "h", ttlMs: 1, now: T, parents: ["p", "g", "p"] }).parents, ["p", "g"])
    assert.strictEqual(Rules.validateLeaseRequest({ key: "c", holder: "h", ttlMs: 1, now: T }).parents, undefined)
    throwsInvalid(() => Rules.validateLeaseRequest({ key: "c", holder: "h", ttlMs: 1, now: T, parents: ["c"] }), /own parent/)
    throwsInvalid(() => Rules.validateLeaseRequest({ key: "c", holder: "h", ttlMs: 1, now: T, parents: "p" as never }), /array/)
    throwsInvalid(
      () => Rules.validateLeaseRequest({ key: "c", holder: "h", ttlMs: 1, now: T, parents: Array.from({ length: 17 }, (_, i) => `p${i}`) }),
      /at most 16/
    )
    throwsInvalid(() => Rules.validateLeaseRequest({ key: "c", holder: "h", ttlMs: 0, now: T }), /ttlMs/)
  })

  it("excludes: same key, ancestor and descendant; never siblings or strangers", () => {
    const c = { key: "w/app", parents: ["w"] }
    assert.isTrue(Rules.excludes(c, { key: "w" }))
    assert.isTrue(Rules.excludes({ key: "w" }, c))
    assert.isTrue(Rules.excludes(c, { key: "w/app" }))
    assert.isTrue(Rules.excludes({ key: "w/app/p", parents: ["w/app", "w"] }, { key: "w" }))
    assert.isFalse(Rules.excludes(c, { key: "w/side", parents: ["w"] }))
    assert.isFalse(Rules.excludes(c, { key: "other" }))
  })

  it("decideLease: held by a live parent or child of another holder, not by expired ones or one's own", () => {
    const req = Rules.validateLeaseRequest({ key: "w/app", holder: "a", ttlMs: 1_000, now: T, parents: ["w"] })
    assert.deepStrictEqual(Rules.decideLease(req, undefined, [lease("w", "b", T + 1)]), { _tag: "Held", lease: lease("w", "b", T + 1) })
    assert.strictEqual(Rules.decideLease(req, undefined, [lease("w", "b", T)])._tag, "Acquired") // expired at now
    assert.strictEqual(Rules.decideLease(req, undefined, [lease("w", "a", T + 1)])._tag, "Acquired") // own parent
    assert.strictEqual(Rules.decideLease(req, undefined, [lease("w/side", "b", T + 1, ["w"])])._tag, "Acquired") // sibling
    const parentReq = Rules.validateLeaseRequest({ key: "w", holder: "a", ttlMs: 1_000, now: T })
    assert.strictEqual(Rules.decideLease(parentReq, undefined, [lease("w/app/p", "b", T + 5, ["w/app", "w"])])._tag, "Held")
    assert.deepStrictEqual(Rules.decideLease(parentReq, lease("w", "b", T + 5), []), { _tag: "Held", lease: lease("w", "b", T + 5) })
    // renewal keeps acquiredAt, data and parents unless given anew
    const current: LeaseInfo = { ...lease("w/app", "a", T + 5, ["w"]), data: { x: 1 } }
    const renewed = Rules.decideLease(Rules.validateLeaseRequest({ key: "w/app", holder: "a", ttlMs: 2_000, now: T }), current, [])
    assert.deepStrictEqual(renewed, { _tag: "Acquired", lease: { ...current, expiresAt: T + 2_000 } })
    const moved = Rules.decideLease(Rules.validateLeaseRequest({ key: "w/app", holder: "a", ttlMs: 2_000, now: T, parents: [] }), current, [])
    assert.strictEqual(moved.lease.parents, undefined)
    // a takeover starts fresh
    const taken = Rules.decideLease(Rules.validateLeaseRequest({ key: "w/app", holder: "b", ttlMs: 1_000, now: T + 5 }), current, [])
    assert.deepStrictEqual(taken, { _tag: "Acquired", lease: { key: "w/app", holder: "b", acquiredAt: T + 5, expiresAt: T + 1_005, data: {} } })
  })
})

describe("StoreRules: journal", () => {
  it("the first entry is opened with runbook and targetKey; seq follows; no second opened", () => {
    const opened = { incidentId: "i", at: T, type: "opened" as const, data: { runbook: "r", targetKey: "t" } }
    assert.deepStrictEqual(Rules.prepareJournalEntry(opened, 0), { ...opened, seq: 1 })
    throwsInvalid(() => Rules.prepareJournalEntry({ ...opened, type: "applied" }, 0), /must be "opened"/)
    throwsInvalid(() => Rules.prepareJournalEntry(opened, 3), /already opened/)
    throwsInvalid(() => Rules.prepareJournalEntry({ ...opened, data: { runbook: "r" } }, 0), /needs string data.runbook and data.targetKey/)
    throwsInvalid(() => Rules.prepareJournalEntry({ ...opened, type: "bogus" as never }, 1), /unknown journal entry type/)
    throwsInvalid(() => Rules.prepareJournalEntry({ ...opened, at: Number.NaN }, 0), /at must be a finite epoch ms/)
    const step = Rules.prepareJournalEntry({ incidentId: "i", at: T + 1, type: "closed", stepPath: "0", data: {} }, 1)
    assert.strictEqual(step.seq, 2)
    const summary = Rules.summarize([{ ...opened, seq: 1 }])
    assert.deepStrictEqual(Rules.advance(summary, step), { incidentId: "i", runbook: "r", targetKey: "t", openedAt: T, lastType: "closed", closed: true })
    assert.isTrue(Rules.isJournalEntry(step))
    assert.isFalse(Rules.isJournalEntry({ ...step, data: [] }))
    assert.isFalse(Rules.isJournalEntry({ ...step, seq: 1.5 }))
    assert.deepStrictEqual(Rules.JOURNAL_ENTRY_TYPES.length, 15)
  })
})

describe("StoreRules is the only copy of the rules", () => {
  const root = path.resolve(__dirname, "../../..")
  const sources = (dir: string): Array<string> =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name)
      return e.isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : []
    })

  it("no store in core, k8s or db writes its own window, lease, journal or JSON validation", () => {
    const files = ["core", "k8s", "db"].flatMap((pkg) => sources(path.join(root, pkg, "src")))
    const rules = [/must be a finite epoch ms/, /is not a finite number/, /"awaiting_approval",\s*"approved"/, /retryAfterMs: Math\.max\(1,/]
    for (const rule of rules) {
      const holders = files.filter((f) => rule.test(fs.readFileSync(f, "utf8"))).map((f) => path.relative(root, f))
      assert.deepStrictEqual(holders, ["core/src/StoreRules.ts"], String(rule))
    }
  })
})

describe("TargetRef parents", () => {
  it("decode checks the parent chain; ancestors never throws on a target that bypassed decoding", () => {
    const w = T8.make("k", "w")
    const c = T8.make("k", "w/c", w)
    assert.deepStrictEqual(Schema.decodeUnknownSync(T8.TargetRef)(c), c)
    assert.throws(() => Schema.decodeUnknownSync(T8.TargetRef)({ kind: "k", ref: "x", parent: { kind: "k", ref: "x" } }))
    let deep: T8.TargetRef = T8.make("k", "0")
    for (let i = 1; i <= 9; i++) deep = T8.make("k", String(i), deep)
    assert.throws(() => Schema.decodeUnknownSync(T8.TargetRef)(deep))
    assert.strictEqual(T8.ancestors(deep).length, T8.MAX_DEPTH)
    assert.throws(() => Schema.decodeUnknownSync(T8.TargetRef)({ kind: "k", ref: "x", parent: { kind: "", ref: "y" } }))
    assert.deepStrictEqual(T8.ancestors({ kind: "k", ref: "x", parent: null } as never), [])
    assert.deepStrictEqual(T8.ancestors({ kind: "k", ref: "x", parent: { kind: 1, ref: null } } as never), [])
    const cyclic: { kind: string; ref: string; parent?: unknown } = { kind: "k", ref: "a" }
    cyclic.parent = { kind: "k", ref: "b", parent: cyclic }
    assert.deepStrictEqual(T8.ancestors(cyclic as T8.TargetRef).map(T8.key), ["k:b"])
    assert.isTrue(T8.isWithin(c, w))
    assert.isFalse(T8.isWithin(w, c))
    assert.strictEqual(T8.key(c), "k:w/c")
  })
})
