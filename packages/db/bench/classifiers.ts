/**
 * Classifier throughput (issue 17 §2), not a test: db.pool.six-class's `PoolSixClass` classifier
 * over the recorded fixtures of `test/pool/fixtures` (pg_stat_activity and the other facts, decoded
 * once), on one core after a warm-up: facts per second, the classifier alone. One `BENCH {json}`
 * row for `scripts/bench.ts`. `BENCH_SECONDS` (default 2), `BENCH_WARMUP_SECONDS` (0.5).
 */
import * as Testing from "@byteport/core/testing"
import { Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as PoolSixClass from "../src/classifiers/PoolSixClass"
import type { PoolFacts } from "../src/diagnosers/PoolDiagnoser"
import { PgSession } from "../src/probes/PgActivity"

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 2)
const WARMUP = Number(process.env["BENCH_WARMUP_SECONDS"] ?? 0.5)
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../test/pool/fixtures")
const decodeSessions = Schema.decodeUnknownSync(Schema.Array(PgSession))

const facts = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort().flatMap((f) => {
  const raw = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"))
  if (!raw?.facts?.sessions) return []
  return [Testing.facts({ ...raw.facts, sessions: decodeSessions(raw.facts.sessions) } as unknown as PoolFacts)]
})
const classify = PoolSixClass.classifier()
const loop = (seconds: number) => {
  const end = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < end) for (const f of facts) {
    classify(f)
    n++
  }
  return n
}
loop(WARMUP)
const rates = [0, 1, 2].map(() => {
  const t = performance.now()
  const n = loop(SECONDS / 3)
  return n / ((performance.now() - t) / 1000)
}).sort((a, b) => a - b)
const sessions = facts.reduce((a, f) => a + ((f as any).sessions?.value?.length ?? 0), 0)
console.log(`db.pool.six-class PoolSixClass: ${rates[1]!.toFixed(0)} facts/s (${facts.length} recorded fixtures, ${sessions} sessions)`)
console.log(`BENCH ${JSON.stringify({ metric: `classifier throughput: db.pool.six-class PoolSixClass (${facts.length} recorded fixtures, classify only)`, byteport: rates[1], unit: "facts/s", runs: 3, spread: `${rates[0]!.toFixed(0)}–${rates[2]!.toFixed(0)}/s` })}`)
