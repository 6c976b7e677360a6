/** Every export of core's sources has a doc comment (scripts/doc-comments.ts). */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { scanFile, scanPackage } from "../../../../scripts/doc-comments"

describe("doc comments", () => {
  it("the scanner finds an export without a doc comment and accepts a documented one", () => {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-doc-"))
    const file = nodePath.join(dir, "sample.ts")
    fs.writeFileSync(file, [
      "/** Documented. */",
      "export const a = 1",
      "",
      "// a line comment is not a doc comment",
      "export const b = 2",
      "/* nor is a block comment */",
      "export type C = number",
      "/**",
      " * export const inDocs = 'not an export'",
      " */",
      "export * from \"./x\"",
      "export const d = 3",
      "export {}"
    ].join("\n"))
    assert.deepStrictEqual(scanFile(file).map((m) => m.line), [5, 7, 12])
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("every export in packages/core/src has a doc comment", () => {
    assert.deepStrictEqual(scanPackage("core"), [])
  })
})
