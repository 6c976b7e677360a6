/**
 * The run-wide guard of the machine's /var/log, /var/tmp and /var/cache/apt
 * (scripts/vitest-machine-guard.ts): it names removed, truncated and gzipped files, and only those.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { snapshot, violations } from "../../../../scripts/vitest-machine-guard"

describe("machine guard", () => {
  it("removed, truncated and gzipped files are violations; grown and new files are not", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-guard-"))
    try {
      for (const [n, text] of [["a.log", "aaaa"], ["b.log", "bbbb"], ["c.log", "cccc"], ["d.log", "dddd"], ["sub/e.log", "eeee"]] as const) {
        fs.mkdirSync(path.dirname(path.join(dir, n)), { recursive: true })
        fs.writeFileSync(path.join(dir, n), text)
      }
      const before = snapshot([dir])
      assert.strictEqual(before.size, 5)
      fs.rmSync(path.join(dir, "a.log"))
      fs.writeFileSync(path.join(dir, "b.log"), "b")
      fs.writeFileSync(path.join(dir, "c.log.gz"), "gz")
      fs.appendFileSync(path.join(dir, "d.log"), "more")
      fs.writeFileSync(path.join(dir, "new.log"), "new")
      const found = violations(before, snapshot([dir]))
      assert.deepStrictEqual(found.sort(), [`${path.join(dir, "a.log")} was removed`, `${path.join(dir, "b.log")} shrank (4 → 1 bytes)`, `${path.join(dir, "c.log")} was gzipped`].sort())
      assert.deepStrictEqual(violations(before, before), [])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
