/**
 * The package's exports map: `@byteport/core` and `@byteport/core/testing` resolve (for Node's
 * default conditions to the built files, for `@byteport/source` to the sources), and nothing
 * internal is reachable through it — no deep import of a module, and no value of an internal
 * module (Permit minting, the stores' internal state, the journal and cause helpers) among
 * everything the two entries export.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Core from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as ShellEntry from "@byteport/core/shell"
import * as Cause from "../../src/internal/cause"
import * as Handlers from "../../src/internal/handlers"
import * as Journal from "../../src/internal/journal"
import * as Permit from "../../src/Permit"
import * as FileLock from "../../src/stores/internal/fileLock"
import * as State from "../../src/stores/internal/state"

const pkgDir = nodePath.resolve(__dirname, "../..")
const pkg = JSON.parse(fs.readFileSync(nodePath.join(pkgDir, "package.json"), "utf8"))

const internalSpecifiers = [
  "@byteport/core/src/Permit",
  "@byteport/core/src/Permit.ts",
  "@byteport/core/Permit",
  "@byteport/core/stores/internal/state",
  "@byteport/core/src/stores/internal/state.ts",
  "@byteport/core/internal/journal",
  "@byteport/core/dist/index.js",
  "@byteport/core/dist/types/Permit.d.ts",
  "@byteport/core/testing/Recording",
  "@byteport/core/shell/Shell",
  "@byteport/core/src/shell/Shell.ts",
  "@byteport/core/types/Permit",
  "@byteport/core/types/internal/journal"
]

/** Resolves specifiers in a real Node process (as a user's program would), with the given conditions. */
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

/** Every value reachable from an object's own enumerable and static members, down to `depth`. */
const reachable = (root: unknown, depth: number, seen = new Set<unknown>()): Set<unknown> => {
  if (root === null || (typeof root !== "object" && typeof root !== "function") || seen.has(root) || depth < 0) return seen
  seen.add(root)
  for (const key of Object.getOwnPropertyNames(root)) {
    if (key === "prototype" || key === "caller" || key === "arguments") continue
    let value: unknown
    try {
      value = (root as Record<string, unknown>)[key] // module namespaces may expose getters
    } catch {
      continue
    }
    reachable(value, depth - 1, seen)
  }
  return seen
}

describe("package exports", () => {
  it("the exports map names exactly the public entries, each with source, types and import targets", () => {
    assert.deepStrictEqual(Object.keys(pkg.exports), [".", "./testing", "./shell", "./types/*"])
    // declarations only (so a consumer's declaration emit can name every type); nothing at run time
    assert.deepStrictEqual(pkg.exports["./types/*"], { types: "./dist/types/*.d.ts" })
    for (const [entry, targets] of Object.entries<Record<string, string>>(pkg.exports)) {
      if (entry === "./types/*") continue
      assert.deepStrictEqual(Object.keys(targets), ["@byteport/source", "types", "default"], entry)
      assert.isTrue(fs.existsSync(nodePath.join(pkgDir, targets["@byteport/source"]!)), `${entry} source exists`)
      assert.match(targets["types"]!, /^\.\/dist\/types\/.*index\.d\.ts$/)
      assert.match(targets["default"]!, /^\.\/dist\/.*index\.js$/)
      assert.notInclude(entry, "*")
    }
  })

  it("@byteport/core, @byteport/core/testing and @byteport/core/shell resolve under Node's default conditions and @byteport/source", () => {
    const built = resolveInNode([], ["@byteport/core", "@byteport/core/testing", "@byteport/core/shell"])
    assert.strictEqual(built["@byteport/core"], `file://${pkgDir}/dist/index.js`)
    assert.strictEqual(built["@byteport/core/testing"], `file://${pkgDir}/dist/testing/index.js`)
    assert.strictEqual(built["@byteport/core/shell"], `file://${pkgDir}/dist/shell/index.js`)
    const source = resolveInNode(["@byteport/source"], ["@byteport/core", "@byteport/core/testing", "@byteport/core/shell"])
    assert.strictEqual(source["@byteport/core"], `file://${pkgDir}/src/index.ts`)
    assert.strictEqual(source["@byteport/core/testing"], `file://${pkgDir}/src/testing/index.ts`)
    assert.strictEqual(source["@byteport/core/shell"], `file://${pkgDir}/src/shell/index.ts`)
  })

  it("no internal module resolves through the exports map", () => {
    for (const conditions of [[], ["@byteport/source"]]) {
      const r = resolveInNode(conditions, internalSpecifiers)
      for (const s of internalSpecifiers) assert.strictEqual(r[s], "error:ERR_PACKAGE_PATH_NOT_EXPORTED", `${s} (${conditions.join(",") || "default"})`)
    }
  })

  it("no value of an internal module is reachable from the public entries (permits are minted only by the executor)", () => {
    const publicValues = reachable(Core, 3, reachable(Testing, 3, reachable(ShellEntry, 3)))
    assert.isTrue(publicValues.has(Core.Runbook.handle)) // the walk does reach namespace members
    assert.isTrue(publicValues.has(Testing.storeContract))
    assert.isTrue(publicValues.has(ShellEntry.Shell.make))
    const internals: Record<string, Record<string, unknown>> = {
      "Permit.mint": { mint: Permit.mint, sealedState: Permit.sealedState },
      "internal/handlers": Handlers,
      "stores/internal/state": State,
      "stores/internal/fileLock": FileLock,
      "internal/journal": Journal,
      "internal/cause": Cause
    }
    for (const [name, mod] of Object.entries(internals)) {
      for (const [key, value] of Object.entries(mod)) {
        if (typeof value !== "function") continue
        assert.isFalse(publicValues.has(value), `${name}.${key} is reachable from the public entries`)
      }
    }
    assert.notProperty(Core.Permit, "mint")
    assert.notProperty(Core, "mint")
  })
})
