/**
 * The db package's exports map: `@byteport/db` and `@byteport/db/testing` resolve (for Node's
 * default conditions to the built files, for `@byteport/source` to the sources), nothing else
 * does, and the testing entry reaches the library through its public entry only.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Db from "@byteport/db"
import * as DbTesting from "@byteport/db/testing"

const pkgDir = nodePath.resolve(__dirname, "../..")
const pkg = JSON.parse(fs.readFileSync(nodePath.join(pkgDir, "package.json"), "utf8"))

const resolveInNode = (conditions: ReadonlyArray<string>, specifiers: ReadonlyArray<string>): Record<string, string> => {
  const script = `const out = {}
for (const s of ${JSON.stringify(specifiers)}) {
  try { out[s] = import.meta.resolve(s) } catch (e) { out[s] = "error:" + e.code }
}
process.stdout.write(JSON.stringify(out))`
  const stdout = execFileSync(process.execPath, [...conditions.map((c) => `--conditions=${c}`), "--input-type=module", "-e", script], {
    cwd: pkgDir,
    encoding: "utf8"
  })
  return JSON.parse(stdout)
}

describe("@byteport/db package exports", () => {
  it("the exports map names exactly the public entries, each with source, types and import targets", () => {
    assert.deepStrictEqual(Object.keys(pkg.exports), [".", "./testing", "./types/*"])
    // declarations only: lets a consumer's emitted declarations name our types
    assert.deepStrictEqual(pkg.exports["./types/*"], { types: "./dist/types/*.d.ts" })
    for (const [entry, targets] of Object.entries<Record<string, string>>(pkg.exports)) {
      if (entry === "./types/*") continue
      assert.deepStrictEqual(Object.keys(targets), ["@byteport/source", "types", "default"], entry)
      assert.isTrue(fs.existsSync(nodePath.join(pkgDir, targets["@byteport/source"]!)), `${entry} source exists`)
      assert.match(targets["types"]!, /^\.\/dist\/types\/.*index\.d\.ts$/)
      assert.match(targets["default"]!, /^\.\/dist\/.*index\.js$/)
    }
    const tsup = fs.readFileSync(nodePath.join(pkgDir, "tsup.config.ts"), "utf8")
    assert.include(tsup, "\"src/testing/index.ts\"") // the build emits the entry the map points at
  })

  it("@byteport/db and @byteport/db/testing resolve under Node's default conditions and @byteport/source; deep imports do not", () => {
    const built = resolveInNode([], ["@byteport/db", "@byteport/db/testing"])
    assert.strictEqual(built["@byteport/db"], `file://${pkgDir}/dist/index.js`)
    assert.strictEqual(built["@byteport/db/testing"], `file://${pkgDir}/dist/testing/index.js`)
    const source = resolveInNode(["@byteport/source"], ["@byteport/db", "@byteport/db/testing"])
    assert.strictEqual(source["@byteport/db"], `file://${pkgDir}/src/index.ts`)
    assert.strictEqual(source["@byteport/db/testing"], `file://${pkgDir}/src/testing/index.ts`)
    const deep = ["@byteport/db/testing/Table", "@byteport/db/src/testing/PgRecording.ts", "@byteport/db/sessions/LockChain"]
    for (const conditions of [[], ["@byteport/source"]]) {
      const r = resolveInNode(conditions, deep)
      for (const s of deep) assert.strictEqual(r[s], "error:ERR_PACKAGE_PATH_NOT_EXPORTED", s)
    }
  })

  it("the testing entry imports the library through @byteport/db (one copy of every module), never by relative path", () => {
    for (const file of fs.readdirSync(nodePath.join(pkgDir, "src/testing"))) {
      const text = fs.readFileSync(nodePath.join(pkgDir, "src/testing", file), "utf8")
      for (const m of text.matchAll(/from "([^"]+)"/g)) assert.notMatch(m[1]!, /^\.\.\//, `${file} imports ${m[1]}`)
    }
    assert.isFunction(DbTesting.PgRecording.facts)
    assert.isFunction(DbTesting.Table.parse)
    assert.isFunction(Db.PgActivity.longRunningOf)
  })
})
