/**
 * Finds exports without a doc comment. Scans packages/<pkg>/src/**.ts for top-level `export`
 * lines (declarations and re-exports) whose preceding non-blank line does not close a `/** … *\/`
 * comment, and prints the count per package.
 *
 *   npx tsx scripts/doc-comments.ts                  # counts per package
 *   npx tsx scripts/doc-comments.ts --list core      # also every undocumented export of core
 *   npx tsx scripts/doc-comments.ts --fail core k8s  # exit 1 when core or k8s has any
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** An export line without a doc comment. */
export interface Missing {
  readonly file: string
  readonly line: number
  readonly text: string
}

const root = path.resolve(import.meta.dirname, "..")

/** Whether the comment that ends on line `end` (index) starts with `/**`. */
const isDocComment = (lines: ReadonlyArray<string>, end: number): boolean => {
  for (let i = end; i >= 0; i--) {
    const t = lines[i]!.trim()
    if (t.startsWith("/**")) return true
    if (t.startsWith("/*")) return false
    if (i < end && t.endsWith("*/")) return false // another comment ended above without opening ours
  }
  return false
}

/** The undocumented export lines of one file. */
export const scanFile = (file: string): Array<Missing> => {
  const lines = fs.readFileSync(file, "utf8").split("\n")
  const out: Array<Missing> = []
  let inBlock = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const t = line.trim()
    if (!inBlock && t.startsWith("/*") && !t.includes("*/")) inBlock = true
    else if (inBlock && t.includes("*/")) {
      inBlock = false
      continue
    }
    if (inBlock || !line.startsWith("export ")) continue
    if (/^export\s*\{\s*\}\s*;?\s*$/.test(line)) continue // `export {}` marks a module, exports nothing
    let j = i - 1
    while (j >= 0 && lines[j]!.trim() === "") j--
    const prev = j >= 0 ? lines[j]!.trim() : ""
    if (prev.endsWith("*/") && isDocComment(lines, j)) continue
    out.push({ file: path.relative(root, file), line: i + 1, text: t.slice(0, 100) })
  }
  return out
}

/** Every .ts file under a directory. */
const tsFiles = (dir: string): Array<string> =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile() && d.name.endsWith(".ts") && !d.name.endsWith(".d.ts"))
      .map((d) => path.join(d.parentPath, d.name))
      .sort()
    : []

/** Counts (and with --list, lists) the undocumented exports of every package; --fail exits 1 for the named ones. */
const main = (args: ReadonlyArray<string>): void => {
  const mode = args[0] === "--list" || args[0] === "--fail" ? args[0] : undefined
  const selected = new Set(mode ? args.slice(1) : [])
  let failing = false
  for (const pkg of packages()) {
    const files = tsFiles(path.join(root, "packages", pkg, "src"))
    const missing = files.flatMap(scanFile)
    console.log(`${pkg}: ${missing.length} undocumented export(s) in ${files.length} files`)
    if (selected.has(pkg) && mode === "--list") for (const m of missing) console.log(`  ${m.file}:${m.line}: ${m.text}`)
    if (selected.has(pkg) && mode === "--fail" && missing.length > 0) failing = true
  }
  if (failing) process.exit(1)
}

/** The packages that have a src folder. */
export const packages = (): Array<string> =>
  fs.readdirSync(path.join(root, "packages")).filter((p) => fs.existsSync(path.join(root, "packages", p, "src"))).sort()

/** The undocumented exports of one package's src. */
export const scanPackage = (pkg: string): Array<Missing> => tsFiles(path.join(root, "packages", pkg, "src")).flatMap(scanFile)

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2))
