/**
 * `npm run bench` (issue 17 §2): every benchmark of the repository in one run, one table.
 *
 *   npm run bench                 # full: 10,000 pods / 500 nodes, 1,000 PostgreSQL connections
 *   npm run bench -- --quick      # CI: 1,000 pods / 50 nodes, 100 connections (benches cannot rot)
 *
 * Each bench runs as its own process (the repository's Node, `tsx`, the `@byteport/source`
 * condition) and prints, besides its own log (passed through, indented), one `BENCH {json}` line
 * per figure: `{ metric, byteport?, baseline?, unit, runs, spread?, note? }`. This runner prints the
 * environment (CPU, cores, memory, Node, commit) and one table: metric, BytePort, baseline, ratio
 * (BytePort ÷ baseline: below 1 BytePort is lower, i.e. faster or smaller), runs, spread.
 *
 * Nothing asserts speed: a bench that exits non-zero (it broke) fails the run; slow numbers never do.
 * Never part of `npm test`.
 */
import { spawn } from "node:child_process"
import { execFileSync } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const quick = process.argv.includes("--quick")

interface Row {
  readonly metric: string
  readonly byteport?: number
  readonly baseline?: number
  readonly unit: string
  readonly runs: number
  readonly spread?: string
  readonly note?: string
}
interface Bench {
  readonly name: string
  readonly script: string
  readonly env: Readonly<Record<string, string>>
  readonly nodeArgs?: ReadonlyArray<string>
}

const benches: ReadonlyArray<Bench> = [
  {
    name: "k8s detection in one process (the OOMKilled detector against kube-sim's API server)",
    script: "packages/k8s/bench/oom.ts",
    env: quick
      ? { BENCH_PODS: "1000", BENCH_NODES: "50", BENCH_REPLICAS: "10", BENCH_INJECTIONS: "5", BENCH_FULL_PODS: "1000", BENCH_FULL_NODES: "50", BENCH_KUBECTL_RUNS: "2", BENCH_IDLE_SECONDS: "3", BENCH_SKIP_B: "1" }
      : { BENCH_PODS: "10000", BENCH_NODES: "500", BENCH_INJECTIONS: "20", BENCH_KUBECTL_RUNS: "3", BENCH_SKIP_B: "1" }
  },
  {
    name: "k8s agent and kube-sim as separate processes (RSS, start → watching, idle requests, CPU, OOMKill → first action)",
    script: "packages/k8s/bench/processes.ts",
    env: quick
      ? { BENCH_SIZES: "1000", BENCH_IDLE_AT: "1000", BENCH_BASELINE_AT: "1000", BENCH_IDLE_SECONDS: "10", BENCH_INJECTIONS: "5", BENCH_KUBECTL_RUNS: "1", BENCH_E2E_PODS: "1000", BENCH_E2E_INJECTIONS: "3", BENCH_ACTION_WAIT_MS: "10000" }
      : { BENCH_SIZES: "0,1000,10000,30000", BENCH_IDLE_AT: "10000", BENCH_BASELINE_AT: "10000", BENCH_IDLE_SECONDS: "600", BENCH_INJECTIONS: "20", BENCH_KUBECTL_RUNS: "3", BENCH_E2E_PODS: "10000", BENCH_E2E_INJECTIONS: "20" }
  },
  { name: "kube-sim list/watch", script: "packages/kube-sim/bench/list-watch.ts", env: quick ? { KUBE_SIM_BENCH_PODS: "1000", KUBE_SIM_BENCH_WRITES: "200" } : { KUBE_SIM_BENCH_PODS: "10000" }, nodeArgs: ["--expose-gc"] },
  { name: "classifier throughput (k8s)", script: "packages/k8s/bench/classifiers.ts", env: quick ? { BENCH_SECONDS: "0.6", BENCH_WARMUP_SECONDS: "0.2" } : { BENCH_SECONDS: "3", BENCH_WARMUP_SECONDS: "1" } },
  { name: "classifier throughput (db)", script: "packages/db/bench/classifiers.ts", env: quick ? { BENCH_SECONDS: "0.6", BENCH_WARMUP_SECONDS: "0.2" } : { BENCH_SECONDS: "3", BENCH_WARMUP_SECONDS: "1" } },
  { name: "PostgreSQL diagnosis (db.pool.six-class)", script: "packages/db/bench/diagnose-1000.ts", env: { BENCH_CONNECTIONS: quick ? "100" : "1000", BENCH_RUNS: quick ? "5" : "20" } }
]

/** The bench running now: ended with the runner (SIGINT, SIGTERM), never left behind. */
let current: ReturnType<typeof spawn> | undefined
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    current?.kill("SIGTERM")
    process.exit(130)
  })
}

const run = (b: Bench): Promise<{ readonly code: number | null; readonly rows: ReadonlyArray<Row>; readonly seconds: number }> =>
  new Promise((resolve) => {
    const t = performance.now()
    const child = spawn(process.execPath, [...(b.nodeArgs ?? []), "--import", "tsx", "--conditions=@byteport/source", path.join(repo, b.script)], {
      cwd: repo,
      env: { ...process.env, ...b.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    current = child
    const rows: Array<Row> = []
    let buf = ""
    const line = (l: string) => {
      if (l.startsWith("BENCH ")) {
        try {
          rows.push(JSON.parse(l.slice(6)) as Row)
        } catch {
          process.stdout.write(`  (unreadable BENCH line: ${l.slice(0, 200)})\n`)
        }
      } else process.stdout.write(`  ${l}\n`)
    }
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString()
      const parts = buf.split("\n")
      buf = parts.pop()!
      parts.forEach(line)
    })
    child.stderr.on("data", (d: Buffer) => process.stdout.write(d.toString().split("\n").map((l) => (l ? `  ! ${l}` : l)).join("\n")))
    child.on("exit", (code) => {
      if (buf) line(buf)
      resolve({ code, rows, seconds: (performance.now() - t) / 1000 })
    })
  })

const fmt = (v: number | undefined, unit: string): string => {
  if (v === undefined || !Number.isFinite(v)) return "—"
  const n = Number.isInteger(v) || Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)
  return `${n} ${unit}`
}
const ratio = (r: Row): string => {
  if (r.byteport === undefined || r.baseline === undefined || !Number.isFinite(r.byteport) || !Number.isFinite(r.baseline) || r.baseline === 0) return "—"
  const x = r.byteport / r.baseline
  if (x === 0) return "0×"
  return x >= 0.1 ? `${x.toFixed(2)}×` : `1/${Math.round(1 / x)}`
}
const git = (args: ReadonlyArray<string>) => {
  try {
    return execFileSync("git", [...args], { cwd: repo, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

const environment = [
  `CPU: ${os.cpus()[0]?.model ?? "unknown"}`,
  `cores: ${os.cpus().length} (load average ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")} at start)`,
  `memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
  `Node: ${process.version}`,
  `commit: ${git(["rev-parse", "--short=12", "HEAD"])}${git(["status", "--porcelain"]) === "" ? "" : " (with uncommitted changes)"}`,
  `mode: ${quick ? "--quick (1,000 pods / 50 nodes, 100 connections)" : "full (10,000 pods / 500 nodes, 1,000 connections)"}`
]

const main = async () => {
  console.log(`npm run bench${quick ? " -- --quick" : ""}\n${environment.map((l) => `  ${l}`).join("\n")}\n`)
  const all: Array<Row> = []
  const failed: Array<string> = []
  for (const b of benches) {
    console.log(`── ${b.name} (${b.script}) ──`)
    const r = await run(b)
    console.log(`  → exit ${r.code}, ${r.seconds.toFixed(0)} s, ${r.rows.length} figure(s)\n`)
    if (r.code !== 0) failed.push(`${b.name} (exit ${r.code})`)
    if (r.code === 0 && r.rows.length === 0) failed.push(`${b.name} (no BENCH rows)`)
    all.push(...r.rows)
  }
  const head = ["metric", "BytePort", "baseline", "ratio", "runs", "spread"]
  const body = all.map((r) => [r.metric, fmt(r.byteport, r.unit), fmt(r.baseline, r.unit), ratio(r), String(r.runs), r.spread ?? ""])
  console.log("## Results\n")
  console.log(environment.map((l) => `- ${l}`).join("\n") + "\n")
  console.log(`| ${head.join(" | ")} |`)
  console.log(`|${head.map(() => "---").join("|")}|`)
  for (const row of body) console.log(`| ${row.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`)
  const notes = all.filter((r) => r.note)
  if (notes.length > 0) console.log(`\nNotes:\n${notes.map((r) => `- ${r.metric}: ${r.note}`).join("\n")}`)
  if (failed.length > 0) {
    console.log(`\nbench(es) failed: ${failed.join("; ")}`)
    process.exit(1)
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
