/**
 * Small parsers of node-tool output that `@byteport/core/shell` does not have (yet):
 * `/proc/sys/fs/file-nr` (bigint), `crictl images -o json`, `systemctl is-active` /
 * `is-failed` answers (exit code + state word; "System has not been booted with systemd" is
 * Unknown), and the kernel-log findings of the node runbooks: a global OOM (never a cgroup OOM),
 * `[Hardware Error]` / machine checks, and `Kernel panic`.
 *
 * @since 0.2.0
 */
import { Redactor } from "@byteport/core"
import { ParseError } from "@byteport/core/shell"
import { Effect } from "effect"

const err = (parser: string, line: number, text: string, problem: string, path?: string) => {
  const cut = Redactor.defaultRedactor.redactString(text).slice(0, 200)
  return new ParseError({
    parser,
    line,
    text: cut,
    ...(path !== undefined ? { path } : {}),
    message: `${parser}:${line === 0 ? "" : ` line ${line}`}${path !== undefined ? ` at ${path}` : ""}: ${problem}${cut.length ? `: ${JSON.stringify(cut)}` : ""}`
  })
}

/** `/proc/sys/fs/file-nr`: allocated handles, allocated-but-unused handles, the maximum. */
export interface FileNr {
  readonly allocated: bigint
  readonly unused: bigint
  readonly max: bigint
}

/** Parses `/proc/sys/fs/file-nr` (three non-negative integers separated by whitespace; values may exceed 2^53). */
export const parseFileNr = (text: string): Effect.Effect<FileNr, ParseError> =>
  Effect.suspend(() => {
    const t = text.trim()
    const parts = t.split(/\s+/)
    if (t === "" || parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) {
      return Effect.fail(err("file-nr", 1, t, "expected three integers: allocated, unused, max"))
    }
    const [allocated, unused, max] = parts.map((p) => BigInt(p)) as [bigint, bigint, bigint]
    return Effect.succeed({ allocated, unused, max })
  })

/** One image of `crictl images -o json`. */
export interface CriImage {
  readonly id: string
  readonly repoTags: ReadonlyArray<string>
  readonly sizeBytes: number
}

/** Parses `crictl images -o json` (`{"images":[{"id","repoTags","size":"123"}]}`; size is a decimal string or a number). */
export const parseCrictlImages = (text: string): Effect.Effect<ReadonlyArray<CriImage>, ParseError> =>
  Effect.suspend(() => {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch {
      return Effect.fail(err("crictl images -o json", 1, text.split("\n")[0] ?? "", "truncated or invalid JSON"))
    }
    const images = (doc as { images?: unknown } | null)?.images
    if (!Array.isArray(images)) return Effect.fail(err("crictl images -o json", 0, "", "expected an object with an images array", "images"))
    const out: Array<CriImage> = []
    for (let i = 0; i < images.length; i++) {
      const im = images[i] as Record<string, unknown> | null
      if (typeof im !== "object" || im === null) return Effect.fail(err("crictl images -o json", 0, "", "expected an object", `images[${i}]`))
      if (typeof im["id"] !== "string") return Effect.fail(err("crictl images -o json", 0, "", "expected a string", `images[${i}].id`))
      const size = typeof im["size"] === "number" ? im["size"] : typeof im["size"] === "string" && /^\d+$/.test(im["size"]) ? Number(im["size"]) : NaN
      if (!Number.isFinite(size)) return Effect.fail(err("crictl images -o json", 0, "", "expected a size in bytes", `images[${i}].size`))
      const tags = Array.isArray(im["repoTags"]) ? im["repoTags"].filter((x): x is string => typeof x === "string") : []
      out.push({ id: im["id"], repoTags: tags, sizeBytes: size })
    }
    return Effect.succeed(out)
  })

/** What `systemctl is-active` / `is-failed` said: a state word, or that systemd is not there. */
export type UnitAnswer =
  | { readonly _tag: "State"; readonly state: string; readonly exitCode: number }
  | { readonly _tag: "NoSystemd"; readonly message: string }

/**
 * Reads `systemctl is-active|is-failed <unit>` from its exit code and output: the first stdout
 * line is the state (`active`, `inactive`, `failed`, `activating`, `unknown` …). "System has
 * not been booted with systemd" (or "Failed to connect to bus") is `NoSystemd` (an Unknown, not
 * an inactive unit). Empty output fails.
 */
export const parseUnitAnswer = (result: { readonly exitCode: number; readonly stdout: string; readonly stderr: string }): Effect.Effect<UnitAnswer, ParseError> =>
  Effect.suspend((): Effect.Effect<UnitAnswer, ParseError> => {
    const all = `${result.stdout}\n${result.stderr}`
    if (/System has not been booted with systemd|Failed to connect to bus|Host is down/i.test(all)) {
      return Effect.succeed({ _tag: "NoSystemd", message: all.trim().split("\n").find((l) => l.trim() !== "")?.trim() ?? "no systemd" })
    }
    const state = result.stdout.trim().split("\n")[0]?.trim() ?? ""
    if (!/^[a-z-]+$/.test(state)) return Effect.fail(err("systemctl is-active", 1, state, "expected a unit state word"))
    return Effect.succeed({ _tag: "State", state, exitCode: result.exitCode })
  })

/** The kernel-log findings the node classifier reads. */
export interface KernelFindings {
  /** Global (system-wide) OOM kills: `Out of memory: Killed process` without a memory-cgroup context. */
  readonly globalOom: ReadonlyArray<string>
  /** Hardware errors: `[Hardware Error]`, machine checks (MCE), EDAC uncorrectable errors. */
  readonly hardwareErrors: ReadonlyArray<string>
  /** `Kernel panic` lines. */
  readonly panics: ReadonlyArray<string>
}

const CGROUP_OOM = /Memory cgroup out of memory|oom-kill:.*(?:constraint=CONSTRAINT_MEMCG)|memory: usage .* limit .* failcnt/i
const HARDWARE = /\[Hardware Error\]|Machine Check Exception|\bmce: .*(?:Hardware Error|machine check)|EDAC .*(?:UE|uncorrectable)/i
const PANIC = /Kernel panic - not syncing|\bKernel panic\b/i

/**
 * Sorts kernel log lines (`journalctl -k` messages, oldest first) into global OOM kills,
 * hardware errors and panics. A memory-cgroup OOM (a container at its own limit) is not a node
 * failure: an "Out of memory" line is global only when no "Memory cgroup out of memory" /
 * CONSTRAINT_MEMCG line is part of the same report (the 20 lines before it).
 */
export const kernelFindings = (lines: ReadonlyArray<string>): KernelFindings => {
  const globalOom: Array<string> = []
  const hardwareErrors: Array<string> = []
  const panics: Array<string> = []
  lines.forEach((line, i) => {
    if (HARDWARE.test(line)) hardwareErrors.push(line)
    if (PANIC.test(line)) panics.push(line)
    if (/Out of memory: Kill(?:ed)? process/i.test(line)) {
      const context = lines.slice(Math.max(0, i - 20), i + 1)
      if (!context.some((l) => CGROUP_OOM.test(l))) globalOom.push(line)
    }
  })
  return { globalOom, hardwareErrors, panics }
}

/** Lines of a kubelet journal that tell of a CNI / network plugin failure. */
export const cniErrors = (lines: ReadonlyArray<string>): ReadonlyArray<string> =>
  lines.filter((l) => /NetworkPluginNotReady|NetworkReady=false|cni plugin not initialized|network plugin (?:returns error|is not ready)|failed to (?:setup|set up) network|\bCNI\b.*(?:error|fail)|cni config uninitialized|no networks found in \/etc\/cni/i.test(l))
