/**
 * Classifier throughput (issue 17 §2), not a test: every k8s runbook family of the reliability
 * suite (`test-reliability/families.ts`) run over its recorded fixtures, on one core (one Node
 * thread, nothing else running), after a warm-up. A run is the family's pipeline: decode the
 * recorded files → facts → classify → plan (when Classified), so the rate is fixtures per second
 * through the whole pure path, an upper bound on what the classifier alone costs.
 *
 * Each family prints one `BENCH {json}` row for `scripts/bench.ts`. `BENCH_SECONDS` (default 2)
 * per family, `BENCH_WARMUP_SECONDS` (default 0.5).
 */
import { Effect } from "effect"
import { families } from "../test-reliability/families"

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 2)
const WARMUP = Number(process.env["BENCH_WARMUP_SECONDS"] ?? 0.5)

for (const [runbook, family] of Object.entries(families)) {
  const once = (dir: string) => Effect.runSync(Effect.exit(family.pipeline(dir)))
  const loop = (seconds: number) => {
    const end = performance.now() + seconds * 1000
    let n = 0
    while (performance.now() < end) for (const d of family.fixtures) {
      once(d)
      n++
    }
    return n
  }
  loop(WARMUP)
  // three rounds: the rate is their median, the spread their range
  const rates = [0, 1, 2].map(() => {
    const t = performance.now()
    const n = loop(SECONDS / 3)
    return n / ((performance.now() - t) / 1000)
  }).sort((a, b) => a - b)
  console.log(`${runbook}: ${rates[1]!.toFixed(0)} fixtures/s (${family.fixtures.length} fixtures)`)
  console.log(`BENCH ${JSON.stringify({ metric: `classifier throughput: ${runbook} (decode → classify → plan, ${family.fixtures.length} recorded fixtures)`, byteport: rates[1], unit: "facts/s", runs: 3, spread: `${rates[0]!.toFixed(0)}–${rates[2]!.toFixed(0)}/s` })}`)
}
