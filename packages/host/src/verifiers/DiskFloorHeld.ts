/**
 * The verifier of `host.disk.cleanup`: statfs of the mount once the plan ran.
 *
 * - under the floor (used % below 80 by default, > 5 % inodes free) → Recovered;
 * - 80–85 % (at most `escalatePercent`, inodes fine) → Recovered with a `warning` check (the
 *   incident closes, the report carries the warning);
 * - over 85 % (or ≤ 5 % inodes free) after every safe step → NotRecovered: the incident escalates
 *   naming the bytes each step reclaimed (statfs deltas), the top-5 directories and the growth
 *   needed, +N GiB = ceil(used / floor − size).
 *
 * A mount that cannot be read is Inconclusive, never Recovered.
 *
 * @since 0.1.0
 */
import { Verdict, Verifier } from "@byteport/core"
import type { Fact, Outcome } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { DiskFacts } from "../diagnosers/DiskDiagnoser"
import * as Cleaners from "../actions/Cleaners"
import * as DiskFloor from "../DiskFloor"
import * as Statfs from "../readers/Statfs"
import * as R from "../remediators/DiskCleanupRemediator"

/** Check at once: the plan measured every step already. */
export const DEFAULT_SCHEDULE: Verifier.VerifySchedule = Verifier.once("0 seconds")

/** Bytes one step (action kind) reclaimed: the sum of its applied acts' statfs deltas. */
export interface StepBytes {
  readonly step: string
  readonly kind: string
  readonly files: number
  readonly bytesFreed: number
}

/** Pure: the bytes per step, in plan order, from the outcomes. */
export const stepBytes = (outcomes: ReadonlyArray<Outcome.Outcome>): ReadonlyArray<StepBytes> => {
  const out = new Map<string, { files: number; bytesFreed: number }>()
  for (const o of outcomes) {
    const b = o.result?.["bytesFreed"]
    if (o.status !== "applied" || typeof b !== "number" || R.STEP_NAMES[o.kind] === undefined) continue
    if (!out.has(o.kind)) out.set(o.kind, { files: 0, bytesFreed: 0 })
    const s = out.get(o.kind)!
    out.set(o.kind, { files: s.files + 1, bytesFreed: s.bytesFreed + b })
  }
  // every step the plan ran, in the runbooks' order (the two cleanup steps always listed)
  for (const kind of [Cleaners.GZIP_LOG, Cleaners.DELETE_TMP]) if (!out.has(kind)) out.set(kind, { files: 0, bytesFreed: 0 })
  const order = Object.keys(R.STEP_NAMES)
  return [...out].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0])).map(([kind, s]) => ({ step: R.STEP_NAMES[kind]!, kind, ...s }))
}

/** Pure: the per-step lines of a report. */
export const stepLines = (steps: ReadonlyArray<StepBytes>): ReadonlyArray<string> =>
  steps.map((s) => `${s.step}: ${s.bytesFreed} bytes reclaimed (${s.files} file(s), statfs delta)`)

/** The verifier. */
export const make = (options: { readonly floorPercent?: number; readonly escalatePercent?: number } = {}): Verifier.Verifier<DiskFacts> => (ctx) =>
  Effect.gen(function*() {
    const floor = options.floorPercent ?? DiskFloor.DEFAULT_FLOOR_PERCENT
    const high = options.escalatePercent ?? R.DEFAULT_ESCALATE_PERCENT
    const u = yield* Statfs.read(ctx.signal.target.ref)
    const at = yield* Clock.currentTimeMillis
    const steps = stepBytes(ctx.outcomes)
    const observed = {
      usedPercent: u.usedPercent,
      usedBytes: u.usedBytes,
      freeInodes: u.freeInodes,
      steps: steps.map((s) => ({ step: s.step, kind: s.kind, files: s.files, bytesFreed: s.bytesFreed }))
    }
    const now = `${u.path}: ${u.usedPercent}% used, ${u.freeInodes}/${u.totalInodes} inodes free`
    if (DiskFloor.below(u, floor)) {
      return Verdict.fromChecks([{ name: "floor held", ok: true, detail: `${now} (< ${floor}%); ${stepLines(steps).join("; ")}`, observed }], at)
    }
    const inodesOver = Statfs.isOver(u, 101, DiskFloor.INODE_FREE_PERCENT)
    if (u.usedPercent <= high && !inodesOver) {
      return Verdict.fromChecks([
        { name: "floor held", ok: true, detail: `${now}: not escalated (≤ ${high}%); ${stepLines(steps).join("; ")}`, observed },
        { name: "warning", ok: true, detail: `still ${u.usedPercent}% used after every safe step: over the ${floor}% floor, at most ${high}%` }
      ], at)
    }
    const top = ctx.facts.topDirs !== undefined && (ctx.facts.topDirs as Fact.Fact<DiskFacts["topDirs"]>)._tag === "Known"
      ? (ctx.facts.topDirs as Extract<Fact.Fact<DiskFacts["topDirs"]>, { _tag: "Known" }>).value
      : []
    const grow = R.growthGiB(u, floor)
    return Verdict.fromChecks([{
      name: "floor held",
      ok: false,
      detail: `${now} after every safe step (> ${high}%); reclaimed: ${stepLines(steps).join("; ")}; top directories: ${
        R.topLines(top).join(", ") || "(unknown)"
      }; grow by +${grow} GiB (ceil(used / ${floor}% − size))`,
      observed: { ...observed, growGiB: grow, topDirs: top.map((d) => ({ path: d.path, bytes: d.bytes })) }
    }], at)
  }).pipe(Effect.catchCause(() => Effect.map(Clock.currentTimeMillis, (at) => Verdict.inconclusive(`${ctx.signal.target.ref} could not be read`, at))))
