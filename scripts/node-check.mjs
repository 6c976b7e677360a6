/**
 * The engine check of every BytePort package, run after `tsup` by each package's build script.
 * Writes dist/node-version.js — a side-effect module that throws "BytePort needs Node ≥ 22.19
 * (found v20.x)" on an older Node — and makes it the first import of every built entry (the
 * package's `exports` targets and its `bin` files). ESM evaluates a module's imports in the order
 * they are written, so the check runs before any dependency (client-node's undici crashes on
 * Node 20 with a TypeError that names neither BytePort nor Node). The package's `sideEffects`
 * lists dist/node-version.js so bundlers keep it.
 * Usage (in a package directory): node ../../scripts/node-check.mjs
 */
import * as fs from "node:fs"
import * as path from "node:path"

const MINIMUM = [22, 19]
const dir = process.cwd()
const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
const engines = pkg.engines?.node
if (engines !== `>=${MINIMUM.join(".")}`) throw new Error(`${pkg.name}: engines.node is ${engines}, the check enforces >=${MINIMUM.join(".")}`)
if (!(pkg.sideEffects ?? []).includes("./dist/node-version.js")) throw new Error(`${pkg.name}: sideEffects must list ./dist/node-version.js`)

const check = `// BytePort's engine check: evaluated before anything else the entry imports.
const found = typeof process === "object" && process !== null && process.versions ? process.versions.node : undefined
if (typeof found === "string") {
  const [major, minor] = found.split(".").map(Number)
  if (major < ${MINIMUM[0]} || (major === ${MINIMUM[0]} && minor < ${MINIMUM[1]})) {
    throw new Error(\`BytePort needs Node ≥ ${MINIMUM.join(".")} (found v\${found})\`)
  }
}
`
fs.writeFileSync(path.join(dir, "dist/node-version.js"), check)

const targets = new Set([
  ...Object.values(pkg.exports).map((t) => t.default).filter((t) => t !== undefined),
  ...Object.values(pkg.bin ?? {})
])
for (const target of targets) {
  const file = path.join(dir, target)
  const text = fs.readFileSync(file, "utf8")
  let spec = path.relative(path.dirname(file), path.join(dir, "dist/node-version.js")).split(path.sep).join("/")
  if (!spec.startsWith(".")) spec = `./${spec}`
  const line = `import "${spec}";`
  if (text.includes(line)) continue
  // after a shebang; on the first line otherwise, so the source map's lines stay where they are
  const out = text.startsWith("#!") ? text.replace(/^(#![^\n]*\n)/, `$1${line}`) : `${line}${text}`
  fs.writeFileSync(file, out)
}
console.log(`node-check: ${[...targets].join(", ")} import dist/node-version.js first`)
