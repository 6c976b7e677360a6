/**
 * Runs a Plan read from a JSON file in this fresh process, against the test world, and prints
 * what happened as JSON on stdout. Used by planJson.test.ts: the plan crossed a process
 * boundary as text, nothing else.
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import { Plan } from "@byteport/core"
import * as W from "../world"

const file = process.argv[2]
if (!file) {
  process.stderr.write("usage: runPlan.ts <plan.json>\n")
  process.exit(1)
}
const plan = Plan.fromJson(fs.readFileSync(file, "utf8"))
const world = W.makeWorld()
const hs = W.handlers(world)
const program = W.execute(plan).pipe(Effect.provide(W.layer(world, hs)))
Effect.runPromise(program).then((res) => {
  process.stdout.write(
    JSON.stringify({
      status: res.status,
      planDigest: res.planDigest,
      outcomes: res.outcomes.map((o) => [o.stepPath, o.kind, o.status]),
      writes: Object.values(hs).flatMap((h) => h.writes.map((w) => w.action.description)),
      handoffs: res.handoffs.map((s) => [s.type, s.parent?.hop ?? 0]),
      proposals: res.proposals.map((p) => p.title),
      bumps: world.bumps
    }) + "\n"
  )
})
