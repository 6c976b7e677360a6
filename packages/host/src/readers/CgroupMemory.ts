/**
 * A memory cgroup's usage and limit: v1 `memory.usage_in_bytes` / `memory.limit_in_bytes`, v2
 * `memory.current` / `memory.max`. A v1 limit at or above 2^62 (the kernel's "unlimited", rounded
 * to the page) and v2 `max` read as no limit.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as nodePath from "node:path"
import * as HostError from "../HostError"

/** A cgroup's memory figures (bytes); `limitBytes` undefined when unlimited. */
export interface CgroupMemory {
  readonly version: 1 | 2
  readonly usageBytes: number
  readonly limitBytes: number | undefined
}

/** v1's "no limit" boundary. */
export const V1_UNLIMITED = 2 ** 62

/** Parses a limit file's text (`max`, or a byte count); undefined when unlimited, null when malformed. */
export const parseLimit = (text: string): number | undefined | null => {
  const t = text.trim()
  if (t === "max") return undefined
  if (!/^\d+$/.test(t)) return null
  const n = Number(t)
  return n >= V1_UNLIMITED ? undefined : n
}

const malformed = (path: string, text: string) => new HostError.HostReadError({ path, op: "parse", message: `${path}: not a byte count: ${JSON.stringify(text.slice(0, 40))}` })

/** Reads a cgroup directory (v2 when `memory.current` exists, else v1). */
export const read = (dir: string): Effect.Effect<CgroupMemory, HostError.HostReadError> =>
  Effect.gen(function*() {
    const v2 = yield* Effect.result(HostError.readText(nodePath.join(dir, "memory.current")))
    const version: 1 | 2 = v2._tag === "Success" ? 2 : 1
    const usagePath = nodePath.join(dir, version === 2 ? "memory.current" : "memory.usage_in_bytes")
    const limitPath = nodePath.join(dir, version === 2 ? "memory.max" : "memory.limit_in_bytes")
    const usageText = v2._tag === "Success" ? v2.success : yield* HostError.readText(usagePath)
    const limitText = yield* HostError.readText(limitPath)
    const usage = parseLimit(usageText)
    if (usage === null || usage === undefined) return yield* malformed(usagePath, usageText)
    const limit = parseLimit(limitText)
    if (limit === null) return yield* malformed(limitPath, limitText)
    return { version, usageBytes: usage, limitBytes: limit }
  })
