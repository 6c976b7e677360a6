/**
 * Declarations emitted by tsc keep the sources' extensionless relative specifiers ("./Plan"),
 * which an ESM consumer (moduleResolution node16/nodenext) cannot resolve. This rewrites every
 * relative specifier in dist/types/**.d.ts to name its file ("./Plan.js", "./sinks/index.js", ".." →
 * "../index.js").
 * Usage: node scripts/fix-dts-extensions.mjs [dir] (default dist/types).
 */
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(process.argv[2] ?? "dist/types")
const SPECIFIER = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}(?:\/[^"']*?)?)\2/g
let files = 0
let rewritten = 0
for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue
  const file = path.join(entry.parentPath, entry.name)
  const text = fs.readFileSync(file, "utf8")
  const out = text.replace(SPECIFIER, (all, lead, q, spec) => {
    if (/\.(js|mjs|cjs|json)$/.test(spec)) return all
    const base = path.resolve(path.dirname(file), spec)
    const dir = spec.endsWith("/") ? spec.slice(0, -1) : spec
    const target = /(^|\/)\.{1,2}$/.test(dir) ? `${dir}/index.js` : fs.existsSync(`${base}.d.ts`) ? `${spec}.js` : fs.existsSync(path.join(base, "index.d.ts")) ? `${spec}/index.js` : undefined
    if (target === undefined) throw new Error(`${file}: cannot resolve ${spec}`)
    rewritten++
    return `${lead}${q}${target}${q}`
  })
  if (out !== text) fs.writeFileSync(file, out)
  files++
}
console.log(`fix-dts-extensions: ${rewritten} specifiers in ${files} declaration files`)
