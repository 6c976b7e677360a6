/**
 * The consumer test (`npm run test:consumer`, a CI step of its own after `npm test`): BytePort as a
 * new user gets it. Builds and `npm pack`s every package, checks each tarball's contents, installs
 * the tarballs into a fresh project under os.tmpdir() (no workspace links, no `@byteport/source`
 * condition) and there
 *   - type-checks with strict, skipLibCheck: false, module/moduleResolution nodenext, declaration:
 *     true, under the repository's TypeScript and under the latest TypeScript of the registry;
 *   - builds a shared-runbook library whose exports carry no type annotations (so every type in
 *     our public signatures must be nameable from a public entry);
 *   - compiles and runs every ```ts block of every package README (see "README blocks" below);
 *   - loads every entry with `require` and with `import`;
 *   - imports every entry under a Node older than 22.19 (the machine's, or a stubbed version)
 *     and expects "BytePort needs Node ≥ 22.19 (found v…)";
 *   - repeats the type-check and the loads against the lowest effect the peer range allows.
 *
 * README blocks: a ```ts block is a complete program; it is type-checked and run (exit 0 within
 * 60 s; a block importing @effect/vitest is run by vitest). An excerpt gets what it needs from a
 * hidden set-up right above it: an HTML comment `<!-- ts-setup` … `-->` whose lines are put before
 * the block, and whose lines after a `/* block *\/` line are put after it (to wrap `yield*` lines in
 * an Effect.gen). The registry page and GitHub do not show the comment. ```ts no-run marks a block that is type-checked but not run (it needs a server such as
 * PostgreSQL or a cluster, or runs forever). ```ts fragment marks a block that is an excerpt
 * (continues the block before it, or elides parts with `…`); it is neither checked nor run. Keep
 * both markers rare: a README example that cannot run as written is a README example that drifts.
 *
 * Options: --no-build (reuse dist/), --keep (keep the temporary project), --skip-latest-ts,
 * --skip-lowest-effect. Environment: BYTEPORT_OLD_NODE (a Node < 22.19 binary; default /usr/bin/node
 * when it is one).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const repo = path.resolve(import.meta.dirname, "..")
const args = new Set(process.argv.slice(2))
const packages = ["core", "kube-sim", "k8s", "db", "host", "tls", "cloud", "cli"]
const rootPkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"))
const repoUrl = "https://github.com/byteport/byteport"
const started = Date.now()
const timings = []
const failures = []

const step = (name, f) => {
  const t0 = Date.now()
  process.stdout.write(`\n▶ ${name}\n`)
  try {
    return f()
  } finally {
    const ms = Date.now() - t0
    timings.push([name, ms])
    process.stdout.write(`  (${(ms / 1000).toFixed(1)} s)\n`)
  }
}
const fail = (message) => {
  failures.push(message)
  process.stdout.write(`  ✗ ${message}\n`)
}
const ok = (message) => process.stdout.write(`  ✓ ${message}\n`)
const run = (cmd, argv, opts = {}) => {
  const r = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts })
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error }
}
const must = (cmd, argv, opts = {}) => {
  const r = run(cmd, argv, opts)
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}
const npm = process.platform === "win32" ? "npm.cmd" : "npm"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-consumer-"))
const tarballs = path.join(tmp, "tarballs")
const project = path.join(tmp, "project")
fs.mkdirSync(tarballs)
fs.mkdirSync(project)
process.stdout.write(`consumer project: ${project} (node ${process.version})\n`)

// ---------------------------------------------------------------------------------------------
// 1. build and pack
if (!args.has("--no-build")) step("build every package", () => must(npm, ["run", "build"], { cwd: repo, stdio: "inherit" }))

const packed = step("npm pack every package and check its contents", () => {
  const out = {}
  for (const p of packages) {
    const dir = path.join(repo, "packages", p)
    const [info] = JSON.parse(must(npm, ["pack", "--json", "--pack-destination", tarballs], { cwd: dir }))
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
    out[pkg.name] = { dir, pkg, tarball: path.join(tarballs, info.filename), files: info.files.map((f) => f.path) }
    checkContents(pkg, out[pkg.name].files, dir)
    checkReadmeLinks(pkg, dir, out[pkg.name].files)
  }
  return out
})

function checkContents(pkg, files, dir) {
  const has = (f) => files.includes(f)
  for (const required of ["LICENSE", "README.md", "package.json"]) {
    if (!has(required)) fail(`${pkg.name}: the tarball has no ${required}`)
  }
  const tests = files.filter((f) => /(^|\/)(test|tests|__tests__|bench)\//.test(f) || /\.(test|spec)\.[cm]?[jt]s$/.test(f))
  if (tests.length > 0) fail(`${pkg.name}: the tarball ships tests or benchmarks: ${tests.slice(0, 5).join(", ")}`)
  const junk = files.filter((f) => /(^|\/)(tsconfig[^/]*\.json|tsup\.config\.ts|\.tsbuildinfo|node_modules\/)/.test(f) || f.endsWith(".tsbuildinfo"))
  if (junk.length > 0) fail(`${pkg.name}: the tarball ships build files: ${junk.join(", ")}`)
  for (const [entry, targets] of Object.entries(pkg.exports)) {
    for (const [condition, target] of Object.entries(targets)) {
      if (condition === "@byteport/source") continue
      if (entry.includes("*")) {
        // a declarations-only pattern: its directory ships declarations
        const prefix = target.replace(/^\.\//, "").split("*")[0]
        if (!files.some((f) => f.startsWith(prefix) && f.endsWith(".d.ts"))) fail(`${pkg.name}: exports["${entry}"] matches no shipped declaration`)
        continue
      }
      if (!has(target.replace(/^\.\//, ""))) fail(`${pkg.name}: exports["${entry}"].${condition} → ${target} is not in the tarball`)
    }
  }
  for (const bin of Object.values(pkg.bin ?? {})) if (!has(bin.replace(/^\.\//, ""))) fail(`${pkg.name}: bin ${bin} is not in the tarball`)
  // recorded fixtures ship whole: every file of a shipped fixture directory (a recording with its
  // pod.json; the previous container log where one was recorded) is in the tarball
  const fixtureDirs = [...new Set(files.filter((f) => /^fixtures\/[^/]+\/[^/]+\/pod\.json$/.test(f)).map((f) => path.posix.dirname(f)))]
  for (const d of fixtureDirs) {
    for (const f of fs.readdirSync(path.join(dir, d))) if (!has(`${d}/${f}`)) fail(`${pkg.name}: ${d} ships without ${f}`)
  }
  if (pkg.license !== "Apache-2.0") fail(`${pkg.name}: license is ${pkg.license}`)
  if (!pkg.repository?.url?.includes("github.com/byteport/byteport")) fail(`${pkg.name}: no repository field`)
  ok(`${pkg.name}: ${files.length} files, LICENSE, README, every exports target, no tests`)
}

/** Every link of the README resolves on the registry page: absolute, an anchor, or a shipped file. */
function checkReadmeLinks(pkg, dir, files) {
  let fenced = false
  const text = fs.readFileSync(path.join(dir, "README.md"), "utf8").split("\n").filter((line) => {
    if (/^```/.test(line)) fenced = !fenced
    return !fenced && !/^```/.test(line)
  }).join("\n")
  if (fenced) fail(`${pkg.name}: README has an unterminated code block`)
  const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1])
  let bad = 0
  for (const link of links) {
    if (/^(https?:|mailto:|#)/.test(link)) continue
    const file = path.posix.normalize(link.replace(/#.*$/, "").replace(/^\.\//, ""))
    const shipped = files.includes(file) || files.some((f) => f.startsWith(`${file.replace(/\/$/, "")}/`))
    if (file.startsWith("..") || !shipped) {
      fail(`${pkg.name}: README link (${link}) does not resolve on the registry page (use ${repoUrl}/blob/main/… or ship the file)`)
      bad++
    }
  }
  if (bad === 0) ok(`${pkg.name}: ${links.length} README links resolve`)
  if (!text.includes("BytePort needs Node ≥ 22.19")) fail(`${pkg.name}: the README's set-up does not name the Node version check`)
}

// ---------------------------------------------------------------------------------------------
// 2. the consumer project
const corePkg = JSON.parse(fs.readFileSync(path.join(repo, "packages/core/package.json"), "utf8"))
const effectLatest = must(npm, ["view", `effect@${corePkg.peerDependencies.effect}`, "version", "--json"], { cwd: project })
// the registry lists matching versions in publication order, not semver order ("4.1.0", "4.1.5", "4.1.2")
const semverKey = (v) => v.split(/[.+-]/).slice(0, 3).map(Number)
const effectVersions = [].concat(JSON.parse(effectLatest)).filter((v) => !v.includes("-"))
  .sort((a, b) => { const x = semverKey(a), y = semverKey(b); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] })
const effectNewest = effectVersions[effectVersions.length - 1]
const effectLowest = corePkg.peerDependencies.effect.replace(/^\^/, "")
const devDeps = rootPkg.devDependencies

const consumerPkg = {
  name: "byteport-consumer",
  private: true,
  type: "module",
  dependencies: {
    ...Object.fromEntries(Object.entries(packed).map(([name, p]) => [name, `file:${p.tarball}`])),
    "effect": effectNewest,
    "@effect/vitest": devDeps["@effect/vitest"],
    "vitest": devDeps["vitest"],
    "typescript": devDeps["typescript"],
    "@types/node": devDeps["@types/node"]
  },
  // the tarballs depend on each other by version: resolve those to the tarballs, not the registry
  overrides: Object.fromEntries(Object.keys(packed).map((name) => [name, `$${name}`]))
}
fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(consumerPkg, null, 2))

const tsconfig = {
  compilerOptions: {
    target: "ES2023",
    lib: ["ES2023"],
    module: "nodenext",
    moduleResolution: "nodenext",
    types: ["node"],
    strict: true,
    skipLibCheck: false,
    declaration: true,
    outDir: "build",
    rootDir: "."
  },
  include: ["lib", "src", "readme"]
}
fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))

step(`npm install the tarballs (effect ${effectNewest}, typescript ${devDeps.typescript})`, () =>
  must(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: project }))

// every public entry of every package
const entries = Object.entries(packed).flatMap(([name, p]) =>
  Object.keys(p.pkg.exports).filter((e) => !e.includes("*")).map((e) => (e === "." ? name : `${name}/${e.slice(2)}`)))

writeSources()

// ---------------------------------------------------------------------------------------------
// 3. type-check and build (repository TypeScript), run the README blocks
const readmeBlocks = extractReadmeBlocks()

const tsc = (bin, label, options = {}) => {
  const r = run(process.execPath, [bin, "-p", "tsconfig.json"], { cwd: project })
  let out = `${r.stdout}${r.stderr}`.trim()
  if (r.status !== 0 && options.effectsOwn) {
    // effect 4.1.0's own declarations name DOM types (CryptoKey, JsonWebKey) that a Node project
    // without lib "DOM" lacks (fixed in 4.1.5): a user of that effect has them with or without
    // BytePort. Reported, not failed; any other error fails.
    const lines = out.split("\n")
    const own = lines.filter((l) => /^node_modules\/effect\/.*error TS/.test(l))
    const rest = lines.filter((l) => /error TS/.test(l) && !/^node_modules\/effect\//.test(l))
    if (own.length > 0 && rest.length === 0) {
      process.stdout.write(`  ! ${label}: ${own.length} errors inside effect's own declarations (not BytePort's), e.g.\n    ${own[0]}\n`)
      ok(`${label}: no error in BytePort's declarations or the project`)
      return true
    }
    out = lines.filter((l) => !/^node_modules\/effect\//.test(l)).join("\n")
  }
  if (r.status !== 0) {
    fail(`${label}: ${out.split("\n").filter((l) => /error TS/.test(l)).length} errors`)
    process.stdout.write(out.split("\n").slice(0, 80).map((l) => `    ${l}`).join("\n") + "\n")
    return false
  }
  ok(`${label}: no errors`)
  return true
}

const compiled = step(`tsc ${devDeps.typescript} (strict, skipLibCheck false, nodenext, declaration)`, () =>
  tsc(path.join(project, "node_modules/typescript/bin/tsc"), `typescript ${devDeps.typescript}`))

if (compiled) {
  step("the shared-runbook library's declarations name only public entries", () => {
    const dts = fs.readFileSync(path.join(project, "build/lib/sharedRunbook.d.ts"), "utf8")
    // public entries, or the declarations-only `<package>/types/*` subpath of each package
    const deep = [...dts.matchAll(/["'](@byteport\/[^"']+)["']/g)].map((m) => m[1]).filter((s) => !entries.includes(s) && !/^@byteport\/[^/]+\/types\//.test(s))
    if (deep.length > 0) fail(`build/lib/sharedRunbook.d.ts reaches into ${[...new Set(deep)].join(", ")}`)
    else ok("build/lib/sharedRunbook.d.ts imports only public entries")
  })
  step("run the README blocks", () => runReadmeBlocks(readmeBlocks))
}

step("load every entry with require and with import", () => loadEntries())
step("a Node older than 22.19 gets a clear message", () => oldNode())

// ---------------------------------------------------------------------------------------------
// 4. the latest TypeScript of the registry
if (!args.has("--skip-latest-ts")) {
  step("latest TypeScript of the registry", () => {
    const dir = path.join(tmp, "ts-latest")
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "ts-latest", private: true }))
    const r = run(npm, ["install", "--no-audit", "--no-fund", "typescript@latest"], { cwd: dir })
    if (r.status !== 0) return fail(`npm install typescript@latest failed:\n${r.stderr}`)
    const version = JSON.parse(fs.readFileSync(path.join(dir, "node_modules/typescript/package.json"), "utf8")).version
    const bin = path.join(dir, "node_modules/typescript/bin/tsc")
    fs.rmSync(path.join(project, "build"), { recursive: true, force: true })
    tsc(bin, `typescript ${version}`)
  })
}

// ---------------------------------------------------------------------------------------------
// 5. the lowest effect the peer range allows
if (!args.has("--skip-lowest-effect") && effectLowest !== effectNewest) {
  step(`lowest allowed effect (${effectLowest})`, () => {
    // @effect/vitest at the lowest version core's peer range allows (4.1.x requires effect ^4.1.5)
    const vitestLowest = corePkg.peerDependencies["@effect/vitest"].replace(/^\^/, "")
    must(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", `effect@${effectLowest}`, `@effect/vitest@${vitestLowest}`], { cwd: project })
    fs.rmSync(path.join(project, "build"), { recursive: true, force: true })
    if (tsc(path.join(project, "node_modules/typescript/bin/tsc"), `effect ${effectLowest}, typescript ${devDeps.typescript}`, { effectsOwn: true })) {
      runReadmeBlocks(readmeBlocks)
    }
    loadEntries()
  })
}

// ---------------------------------------------------------------------------------------------
const total = (Date.now() - started) / 1000
process.stdout.write(`\n${timings.map(([n, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${n}`).join("\n")}\n  ${total.toFixed(1).padStart(6)} s  total\n`)
if (!args.has("--keep") && failures.length === 0) fs.rmSync(tmp, { recursive: true, force: true })
else process.stdout.write(`kept ${tmp}\n`)
if (failures.length > 0) {
  process.stdout.write(`\n${failures.length} failure(s):\n${failures.map((f) => `  - ${f.split("\n")[0]}`).join("\n")}\n`)
  process.exit(1)
}
process.stdout.write("\nconsumer test passed\n")

// ---------------------------------------------------------------------------------------------
function writeSources() {
  const write = (file, text) => {
    fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true })
    fs.writeFileSync(path.join(project, file), text)
  }
  // Every entry, as a namespace, in one exported value: its declaration names every entry.
  write(
    "src/entries.ts",
    entries.map((e, i) => `import * as E${i} from "${e}"`).join("\n") +
      `\n\nexport const entries = { ${entries.map((e, i) => `${JSON.stringify(e)}: E${i}`).join(", ")} }\n`
  )
  // A team's shared runbook library: no annotation on any export.
  write(
    "lib/sharedRunbook.ts",
    `import { Config, Effect, Layer } from "effect"
import { ActionRegistry, Detector, IncidentBus, MemoryStore, Notifier, Runbook, Verifier } from "@byteport/core"
import { Kube, MemoryPressureDetector, Metrics, OomActions, OomClassifier, OomKilledDetector, OomSignals, OomSixSignal } from "@byteport/k8s"
import { OomFixture } from "@byteport/k8s/testing"
import { PoolDiagnoser, PoolSixClass, Postgres } from "@byteport/db"

export const detector = Detector.merge("acme.oom", [OomKilledDetector.make(), MemoryPressureDetector.make()])
export const diagnose = OomSixSignal.diagnose()
export const classify = OomClassifier.classify({ ...OomClassifier.defaults, minConfidence: 0.8 })

export const strictOom = Runbook.make({
  id: "acme.oom.strict",
  family: "k8s.oom",
  signals: [OomSignals.SignalTypes.oomKilled, OomSignals.SignalTypes.memoryPressure],
  detector,
  diagnose,
  classify,
  remediate: OomSixSignal.make().remediate,
  verify: Verifier.fromChecks(() => Effect.succeed([])),
  defaultMode: "dry_run"
})

export const stock = OomSixSignal.make()
export const stockFromConfig = OomSixSignal.fromConfig()

export const coreLayer = Layer.mergeAll(
  MemoryStore.layer,
  ActionRegistry.layer({ handlers: OomActions.handlers() }),
  IncidentBus.layer(),
  Notifier.memory
)

export const kubeLayer = Kube.layerDefault
export const metricsLayer = Metrics.layerMetricsServer

export const dbDiagnoser = PoolDiagnoser.make()
export const dbClassify = PoolSixClass.classifier()
export const postgres = Postgres.layerConfig

export const decodeFixture = (dir: string) => OomFixture.decode(dir)
export const maxRestarts = Config.Int("max_restarts").pipe(Config.withDefault(3))
`
  )
}

function extractReadmeBlocks() {
  const blocks = []
  for (const [name, p] of Object.entries(packed)) {
    // the README that ships, as the registry page shows it
    const readme = fs.readFileSync(path.join(project, "node_modules", name, "README.md"), "utf8")
    const lines = readme.split("\n")
    let i = 0
    let n = 0
    while (i < lines.length) {
      const open = /^```(ts|typescript)(?:\s+(.*))?$/.exec(lines[i])
      if (!open) {
        i++
        continue
      }
      const line = i + 1
      const body = []
      i++
      while (i < lines.length && !/^```\s*$/.test(lines[i])) body.push(lines[i++])
      i++
      n++
      const marker = (open[2] ?? "").trim()
      if (marker === "fragment") continue
      // hidden set-up: an HTML comment `<!-- ts-setup … -->` right above the block (invisible on the
      // registry page) whose lines before a `/* block */` line are put before the block, after it after
      const setup = { before: [], after: [] }
      let k = line - 2
      while (k >= 0 && lines[k].trim() === "") k--
      if (k >= 0 && lines[k].trim() === "-->") {
        let s = k - 1
        while (s >= 0 && !lines[s].startsWith("<!-- ts-setup")) s--
        if (s >= 0) {
          let into = setup.before
          for (const l of lines.slice(s + 1, k)) {
            if (l.trim() === "/* block */") into = setup.after
            else into.push(l)
          }
        }
      }
      if (setup.after.length > 0) {
        // the block's own imports stay at the top of the module when the set-up wraps the block
        let end = 0
        while (end < body.length && /^import\s/.test(body[end])) {
          while (end < body.length && !/["']\s*;?\s*(\/\/.*)?$/.test(body[end])) end++
          end++
        }
        setup.before.unshift(...body.splice(0, end))
      }
      body.unshift(...setup.before)
      body.push(...setup.after)
      // a block that imports @effect/vitest is a test file: run by vitest, not node
      const isTest = body.some((l) => /from "@effect\/vitest"/.test(l))
      const file = `readme/${p.pkg.name.replace("@byteport/", "")}-${String(n).padStart(2, "0")}${isTest ? ".test" : ""}.ts`
      fs.mkdirSync(path.join(project, "readme"), { recursive: true })
      fs.writeFileSync(path.join(project, file), `${body.join("\n")}\n${/^\s*(import|export)\s/m.test(body.join("\n")) ? "" : "export {}\n"}`)
      if (marker !== "" && marker !== "no-run") fail(`${name} README line ${line}: unknown marker "${marker}" (no-run or fragment)`)
      blocks.push({ name, line, file, isTest, run: marker !== "no-run" })
    }
  }
  const counted = blocks.length
  ok(`${counted} README blocks extracted (${blocks.filter((b) => b.run).length} to run)`)
  return blocks
}

function runReadmeBlocks(blocks) {
  for (const b of blocks.filter((b) => b.run)) {
    const js = path.join(project, "build", b.file.replace(/\.ts$/, ".js"))
    // from the project's directory, as a user runs it
    const r = b.isTest
      ? run(process.execPath, [path.join(project, "node_modules/vitest/vitest.mjs"), "run", "--root", project, b.file], { cwd: project, timeout: 120_000 })
      : run(process.execPath, [js], { cwd: project, timeout: 60_000 })
    if (r.status !== 0) fail(`${b.name} README line ${b.line} (${b.file}) exited ${r.status ?? r.signal}:\n${(r.stderr || r.stdout).slice(-2000)}`)
    else ok(`${b.name} README line ${b.line} ran`)
  }
}

function loadEntries() {
  for (const e of entries) {
    for (const [how, argv] of [
      ["require", ["-e", `const m = require(${JSON.stringify(e)}); if (Object.keys(m).length === 0) throw new Error("empty")`]],
      ["import", ["--input-type=module", "-e", `const m = await import(${JSON.stringify(e)}); if (Object.keys(m).length === 0) throw new Error("empty")`]]
    ]) {
      const r = run(process.execPath, argv, { cwd: project })
      if (r.status !== 0) fail(`${how}("${e}") failed: ${r.stderr.split("\n").find((l) => /Error/.test(l)) ?? r.stderr}`)
    }
  }
  ok(`${entries.length} entries load with require and import`)
}

function oldNode() {
  const expectMessage = (label, r, version) => {
    const want = `BytePort needs Node ≥ 22.19 (found v${version})`
    if (r.status === 0 || !r.stderr.includes(want)) fail(`${label}: expected "${want}", got ${r.status}: ${r.stderr.split("\n").slice(0, 6).join(" | ")}`)
  }
  const candidate = process.env.BYTEPORT_OLD_NODE ?? "/usr/bin/node"
  const v = fs.existsSync(candidate) ? run(candidate, ["-p", "process.versions.node"]).stdout.trim() : ""
  const [maj, min] = v.split(".").map(Number)
  if (v !== "" && (maj < 22 || (maj === 22 && min < 19))) {
    for (const e of entries) expectMessage(`import("${e}") on Node ${v}`, run(candidate, ["--input-type=module", "-e", `await import(${JSON.stringify(e)})`], { cwd: project }), v)
    ok(`every entry fails on Node ${v} with the version message`)
  } else {
    process.stdout.write(`  (no Node < 22.19 at ${candidate}: the stubbed version only)\n`)
  }
  // the current Node with process.versions.node stubbed to 22.18.0, through import and require
  const stub = `data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"22.18.0"}})`
  for (const e of entries) {
    expectMessage(`import("${e}") with node 22.18.0 stubbed`, run(process.execPath, ["--import", stub, "--input-type=module", "-e", `await import(${JSON.stringify(e)})`], { cwd: project }), "22.18.0")
    expectMessage(`require("${e}") with node 22.18.0 stubbed`, run(process.execPath, ["--import", stub, "-e", `require(${JSON.stringify(e)})`], { cwd: project }), "22.18.0")
  }
  ok(`every entry fails with node 22.18.0 stubbed, through import and require`)
}
