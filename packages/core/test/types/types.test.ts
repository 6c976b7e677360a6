/**
 * Types users can build on: `inference.ts` (facts inferred from the Diagnoser, rules typed by
 * their needed keys, `@ts-expect-error` on what must not compile) compiles with no diagnostic,
 * and the public declarations of `@byteport/core` and `@byteport/core/testing` contain no `any`.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const require = createRequire(import.meta.url)
const ts: typeof import("typescript") = require("typescript")

const pkgDir = nodePath.resolve(__dirname, "../..")
const repoDir = nodePath.resolve(pkgDir, "../..")

const compilerOptions = (): import("typescript").CompilerOptions => {
  const config = ts.readConfigFile(nodePath.join(repoDir, "tsconfig.base.json"), ts.sys.readFile)
  return ts.parseJsonConfigFileContent(config.config, ts.sys, repoDir).options
}

const format = (ds: ReadonlyArray<import("typescript").Diagnostic>): string =>
  ts.formatDiagnostics(ds, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => repoDir, getNewLine: () => "\n" })

/** The declaration files a public entry reaches through its re-exports (`export * from`, `export { … } from`). */
const publicDeclarations = (dir: string, entries: ReadonlyArray<string>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file) || !fs.existsSync(file)) return
    seen.add(file)
    const text = fs.readFileSync(file, "utf8")
    for (const m of text.matchAll(/^export (?:\*|\* as \w+|(?:type )?\{[^}]*\}) from "(\.{1,2}\/[^"]+)"/gm)) {
      const target = nodePath.resolve(nodePath.dirname(file), m[1]!)
      visit(fs.existsSync(`${target}.d.ts`) ? `${target}.d.ts` : nodePath.join(target, "index.d.ts"))
    }
  }
  for (const e of entries) visit(nodePath.join(dir, e))
  return [...seen]
}

/** The `any`s of a declaration file, outside comments and outside the base classes tsc writes for Effect's error constructors. */
const anys = (file: string): ReadonlyArray<string> => {
  const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/\/\/.*$/gm, "").replace(/"(?:[^"\\\n]|\\.)*"/g, (q) => q.replace(/./g, " "))
  return text
    .split("\n")
    .map((line, i) => [line, i + 1] as const)
    .filter(([line]) => /\bany\b/.test(line) && !/^declare const \w+_base: /.test(line.trim()))
    .map(([line, n]) => `${nodePath.relative(pkgDir, file)}:${n}: ${line.trim().slice(0, 160)}`)
}

describe("types", () => {
  it.live("inference.ts compiles: facts inferred from the Diagnoser, and every @ts-expect-error is an error", () =>
    Effect.sync(() => {
      const program = ts.createProgram([nodePath.join(__dirname, "inference.ts")], { ...compilerOptions(), noEmit: true })
      const diagnostics = ts.getPreEmitDiagnostics(program)
      assert.strictEqual(diagnostics.length, 0, format(diagnostics))
      // the checks are not vacuous: removing an expected error makes the file fail to compile
      const source = fs.readFileSync(nodePath.join(__dirname, "inference.ts"), "utf8")
      const broken = source.replace("// @ts-expect-error: `memory` is not a fact of this Diagnoser", "")
      assert.notStrictEqual(broken, source)
      const tmp = nodePath.join(__dirname, `.inference-broken-${process.pid}.ts`)
      fs.writeFileSync(tmp, broken)
      try {
        const p2 = ts.createProgram([tmp], { ...compilerOptions(), noEmit: true })
        const d2 = ts.getPreEmitDiagnostics(p2)
        assert.isTrue(d2.some((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n").includes("\"memory\"")), format(d2))
      } finally {
        fs.rmSync(tmp, { force: true })
      }
    }), { timeout: 120_000 })

  it.live("the public declarations (.d.ts of every module the two entries re-export) contain no `any`", () =>
    Effect.sync(() => {
      const out = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-dts-"))
      try {
        const config = ts.readConfigFile(nodePath.join(pkgDir, "tsconfig.build.json"), ts.sys.readFile)
        const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, pkgDir)
        const program = ts.createProgram(parsed.fileNames, { ...parsed.options, outDir: out, noEmit: false, emitDeclarationOnly: true, declaration: true })
        const emitted = program.emit()
        assert.strictEqual(emitted.diagnostics.length, 0, format(emitted.diagnostics))
        const files = publicDeclarations(out, ["index.d.ts", "testing/index.d.ts"])
        // the walk reaches the modules this issue is about
        for (const m of ["Classifier.d.ts", "Catalog.d.ts", "runbook/Definition.d.ts", "sinks/Sink.d.ts", "sinks/SinkConfig.d.ts", "ActionHandler.d.ts", "testing/Replay.d.ts", "Plan.d.ts", "Json.d.ts"]) {
          assert.include(files.map((f) => nodePath.relative(out, f)), m)
        }
        const found = files.flatMap(anys)
        assert.deepStrictEqual(found, [], `public \`any\`s:\n${found.join("\n")}`)
        // the scan finds an `any` when there is one
        const probe = nodePath.join(out, "probe.d.ts")
        fs.writeFileSync(probe, "/** any in a comment is fine */\nexport declare const f: (x: any) => void;\n")
        assert.strictEqual(anys(probe).length, 1)
      } finally {
        fs.rmSync(out, { recursive: true, force: true })
      }
    }), { timeout: 120_000 })
})
