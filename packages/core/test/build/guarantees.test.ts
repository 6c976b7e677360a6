/**
 * docs/guarantees.md stays true to the tree (issue 17 §1, "CI fails when a runbook in the tree has
 * a rule without a test"): every rule row names test files that exist and test names those files
 * contain; every runbook id of the catalog that is in the tree (a string literal in
 * `packages/*\/src`) has rule rows and is not listed as pending; every catalog id has a section.
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"

const repo = nodePath.resolve(__dirname, "../../../..")
const doc = fs.readFileSync(nodePath.join(repo, "docs/guarantees.md"), "utf8")

/** The 28 runbook ids of the catalog (/work/shared/RUNBOOKS.md, docs/reliability.md's table). */
const CATALOG = [
  "k8s.crashloop.five-branch", "k8s.oom.six-signal", "k8s.node.not-ready", "k8s.deploy.failed-rollout", "k8s.crashloop.seven-class",
  "k8s.crashloop.exit-code", "k8s.oom.exit-137", "k8s.image-pull", "k8s.pending", "k8s.node.pressure-drain", "k8s.restart-loop.container",
  "host.memory.five-class", "host.cpu.saturation", "host.disk.cleanup", "host.memory.saturation", "host.memory.runaway", "host.disk.reclaim",
  "db.pool.six-class", "db.connections.saturation", "db.replica.lag", "db.pool.multi-engine",
  "tls.expiry.seven-class", "tls.expiry.threshold", "tls.expiry.end-to-end",
  "deploy.webhook.rollback", "deploy.github-actions", "deploy.sentry.classify", "deploy.render.rollback"
]

interface Section {
  readonly id: string
  readonly pending: boolean
  readonly rows: ReadonlyArray<{ readonly line: string; readonly refs: ReadonlyArray<{ readonly file: string; readonly name: string }> }>
}

/** The sections (`### \`id\``, optionally `— pending`) and their rule rows (`| n | … |`). */
const sections = (text: string): ReadonlyArray<Section> => {
  const out: Array<Section> = []
  const parts = text.split(/^### /m).slice(1)
  for (const part of parts) {
    const head = /^`([a-z0-9.-]+)`(.*)$/m.exec(part)
    if (!head) continue
    const rows = part.split("\n").filter((l) => /^\| \d+ \|/.test(l)).map((line) => {
      const cells = line.split(" | ")
      const proof = cells[cells.length - 1] ?? ""
      const refs = [...proof.matchAll(/`([^`]+\.test\.ts)` › "([^"]+)"/g)].map((m) => ({ file: m[1]!, name: m[2]! }))
      return { line, refs }
    })
    out.push({ id: head[1]!, pending: /pending/.test(head[2] ?? ""), rows })
  }
  return out
}

/** Source files of every package (`packages/*\/src/**\/*.ts`). */
const sources = (): ReadonlyArray<string> => {
  const files: Array<string> = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = nodePath.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith(".ts")) files.push(p)
    }
  }
  for (const pkg of fs.readdirSync(nodePath.join(repo, "packages"))) {
    const src = nodePath.join(repo, "packages", pkg, "src")
    if (fs.existsSync(src)) walk(src)
  }
  return files
}

describe("docs/guarantees.md", () => {
  const all = sections(doc)
  const text = sources().map((f) => fs.readFileSync(f, "utf8")).join("\n")
  const inTree = new Set(CATALOG.filter((id) => text.includes(`"${id}"`)))

  it("has one section per catalog runbook, and no other", () => {
    assert.sameMembers(all.map((s) => s.id), CATALOG)
  })

  it("every runbook in the tree has rule rows and is not pending; every row names a test", () => {
    for (const id of inTree) {
      const s = all.find((x) => x.id === id)!
      assert.isFalse(s.pending, `${id} is in the tree but listed as pending in docs/guarantees.md`)
      assert.isAbove(s.rows.length, 0, `${id} is in the tree but has no rule rows in docs/guarantees.md`)
    }
    for (const s of all) for (const r of s.rows) assert.isAbove(r.refs.length, 0, `${s.id}: a rule row names no test: ${r.line.slice(0, 160)}`)
  })

  it("every test a row names exists: the file, and a test of that name in it", () => {
    for (const s of all) {
      for (const r of s.rows) {
        for (const ref of r.refs) {
          const file = nodePath.join(repo, ref.file)
          assert.isTrue(fs.existsSync(file), `${s.id}: ${ref.file} does not exist`)
          assert.include(fs.readFileSync(file, "utf8"), ref.name, `${s.id}: ${ref.file} has no test named "${ref.name}"`)
        }
      }
    }
  })

  it("the checker catches a row naming a missing test and a section without rows", () => {
    const broken = sections("### `k8s.pending`\n\n| 1 | \"a rule\" | never | `packages/k8s/test/nope.test.ts` › \"no such test\" |\n\n### `k8s.image-pull`\n\nnothing\n")
    assert.strictEqual(broken[0]!.rows[0]!.refs[0]!.file, "packages/k8s/test/nope.test.ts")
    assert.isFalse(fs.existsSync(nodePath.join(repo, broken[0]!.rows[0]!.refs[0]!.file)))
    assert.strictEqual(broken[1]!.rows.length, 0)
  })
})
