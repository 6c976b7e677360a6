/**
 * Host probes of a node, run through the node's `Shell` (see `NodeShell`): the kubelet unit
 * (`systemctl is-active` / `is-failed` / `show`), the container runtime unit (containerd or
 * CRI-O), the kernel log (`journalctl -k`, and `-b -1` for a panic in the previous boot), the
 * kubelet journal (30 min, 200 lines), `df -P -B1` and `df -P -i` of the kubelet and image
 * filesystems, `/proc/sys/fs/file-nr` and `crictl images -o json`. Every command is an argv with
 * `LC_ALL=C` and a timeout; a command that cannot run, times out, exits with an unexpected code
 * or prints what its parser cannot read fails the probe, so the fact is Unknown — never a guess.
 *
 * @since 0.2.0
 */
import { Crictl, Df, FileNr, Free, Journalctl, Shell, Systemctl } from "@byteport/core/shell"
import { type Duration, Effect, Option } from "effect"
import type { DiskFacts, FileNrFacts, ImageFacts, InodeFacts, KernelFacts, KubeletJournalFacts, RuntimeFacts, UnitFacts } from "../classifiers/nodeNotReady"
import { NodeShell } from "../node/NodeShell"

/** Options of the host probes. */
export interface HostProbeOptions {
  /** Per-command timeout (default 10 s). */
  readonly commandTimeout?: Duration.Input
  /** The kubelet journal window (default "30 min ago"). */
  readonly journalSince?: string
  /** The kubelet journal lines (default 200). */
  readonly journalLines?: number
  /** Paths whose filesystems are checked for space and inodes (default kubelet root and both image roots). */
  readonly paths?: ReadonlyArray<string>
}

/** The seed's defaults. */
export const defaults = {
  commandTimeout: "10 seconds",
  journalSince: "30 min ago",
  journalLines: 200,
  paths: ["/var/lib/kubelet", "/var/lib/containerd", "/var/lib/containers", "/"]
} as const

/** A command that did not give a usable answer. */
export class HostCommandFailed extends Error {
  readonly _tag = "HostCommandFailed"
}

/** The node's Shell through the `NodeShell` service when one is provided (none provided: `None`, the default). */
export const resolveShell = (node: string): Effect.Effect<Option.Option<Shell.ShellShape>> =>
  Effect.flatMap(Effect.serviceOption(NodeShell), (ns) => (Option.isSome(ns) ? ns.value.forNode(node) : Effect.succeed(Option.none())))

/** The node's Shell, or a failure saying there is none (the facts become Unknown). */
export const shellFor = (node: string): Effect.Effect<Shell.ShellShape, HostCommandFailed> =>
  resolveShell(node).pipe(
    Effect.flatMap((o) => (Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new HostCommandFailed(`no NodeShell reaches node ${node}: node facts are Unknown`))))
  )

const run = (shell: Shell.ShellShape, argv: ReadonlyArray<string>, o: HostProbeOptions, ok: ReadonlyArray<number> = [0]) =>
  shell.run(argv, { env: { LC_ALL: "C" }, timeout: o.commandTimeout ?? defaults.commandTimeout }).pipe(
    Effect.mapError((e) => new HostCommandFailed(`${argv.join(" ")} on ${shell.name}: ${e.reason}: ${e.message}`)),
    Effect.flatMap((r) =>
      ok.includes(r.exitCode)
        ? Effect.succeed(r)
        : Effect.fail(new HostCommandFailed(`${argv.join(" ")} on ${shell.name} exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().split("\n")[0]!.slice(0, 200)}` : ""}`))
    )
  )

const parsed = <A>(argv: ReadonlyArray<string>, eff: Effect.Effect<A, { readonly message: string }>) =>
  Effect.mapError(eff, (e) => new HostCommandFailed(`${argv[0]} output unreadable: ${e.message}`))

const SHOW_PROPS = "LoadState,ActiveState,SubState,NRestarts,Result"

/**
 * A unit's state: `systemctl is-active` (exit 0 = active), `systemctl is-failed` (exit 0 =
 * failed) and `systemctl show -p LoadState,ActiveState,SubState,NRestarts,Result`. A host
 * without systemd ("System has not been booted with systemd") fails: Unknown.
 */
export const unit = (shell: Shell.ShellShape, name: string, o: HostProbeOptions = {}): Effect.Effect<UnitFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const known = <A>(argv: ReadonlyArray<string>, c: Systemctl.Check<A>) =>
      c._tag === "Known" ? Effect.succeed(c.value) : Effect.fail(new HostCommandFailed(`${argv.join(" ")} on ${shell.name}: ${c.reason}`))
    const activeArgv = ["systemctl", "is-active", name]
    const a = yield* known(activeArgv, yield* parsed(activeArgv, Systemctl.parseIsActive(yield* run(shell, activeArgv, o, [0, 1, 2, 3, 4]))))
    const failedArgv = ["systemctl", "is-failed", name]
    const f = yield* known(failedArgv, yield* parsed(failedArgv, Systemctl.parseIsFailed(yield* run(shell, failedArgv, o, [0, 1, 2, 3, 4]))))
    const showArgv = ["systemctl", "show", name, "-p", SHOW_PROPS]
    const props = yield* known(showArgv, yield* parsed(showArgv, Systemctl.parseUnit(yield* run(shell, showArgv, o, [0, 1]))))
    const activeState = props?.activeState ?? a.state
    return {
      unit: name,
      present: props !== undefined,
      activeState,
      subState: props?.subState ?? null,
      active: a.yes,
      failed: f.yes || activeState === "failed",
      restarts: props?.restarts ?? null,
      result: props?.result ?? null
    }
  })

/** The kubelet unit. */
export const kubelet = (shell: Shell.ShellShape, o: HostProbeOptions = {}) => unit(shell, "kubelet", o)

/** The container runtime: containerd if its unit is loaded, else CRI-O; neither → fails (Unknown). */
export const runtime = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<RuntimeFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const containerd = yield* unit(shell, "containerd", o)
    if (containerd.present) return { name: "containerd" as const, unit: containerd }
    const crio = yield* unit(shell, "crio", o)
    if (crio.present) return { name: "crio" as const, unit: crio }
    return yield* Effect.fail(new HostCommandFailed(`neither a containerd nor a crio unit on ${shell.name}`))
  })

const journalLines = (text: string, truncated: boolean) =>
  Effect.map(Journalctl.parse(text, { truncated }), (es) => es.map((e) => e.message ?? "").filter((m) => m.length > 0))

/**
 * The kernel log: `journalctl -k -o json` since the current boot (global OOM, hardware errors)
 * and `journalctl -k -b -1 -o json` (a panic before the last reboot). A journal without a
 * previous boot ("no persistent journal", "No such boot ID") has no previous-boot panic.
 */
export const kernel = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<KernelFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const argv = ["journalctl", "-k", "-b", "0", "-o", "json", "--no-pager", "-n", "2000"]
    const now = yield* run(shell, argv, o)
    const current = yield* parsed(argv, journalLines(now.stdout, now.stdoutTruncated))
    const prevArgv = ["journalctl", "-k", "-b", "-1", "-o", "json", "--no-pager", "-n", "500"]
    const prev = yield* run(shell, prevArgv, o, [0, 1])
    let previous: ReadonlyArray<string> = []
    if (prev.exitCode === 0) previous = yield* parsed(prevArgv, journalLines(prev.stdout, prev.stdoutTruncated))
    else if (!Journalctl.noJournal(prev.stderr)) {
      return yield* Effect.fail(new HostCommandFailed(`journalctl -k -b -1 on ${shell.name} exited 1: ${prev.stderr.trim().slice(0, 200)}`))
    }
    const f = Journalctl.kernelFindings(current)
    const p = Journalctl.kernelFindings(previous)
    return { globalOom: f.globalOom, hardwareErrors: [...p.hardwareErrors, ...f.hardwareErrors], panics: [...p.panics, ...f.panics] }
  })

/** The kubelet journal: `journalctl -u kubelet --since "30 min ago" -n 200 -o json`. */
export const kubeletJournal = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<KubeletJournalFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const argv = ["journalctl", "-u", "kubelet", "--since", o.journalSince ?? defaults.journalSince, "-n", String(o.journalLines ?? defaults.journalLines), "-o", "json", "--no-pager"]
    const r = yield* run(shell, argv, o)
    const lines = yield* parsed(argv, journalLines(r.stdout, r.stdoutTruncated))
    return { lines: lines.length, cniErrors: cniErrors(lines), tail: lines.slice(-20) }
  })

const relevant = <F extends { readonly mountedOn: string }>(fss: ReadonlyArray<F>, paths: ReadonlyArray<string>): ReadonlyArray<F> => {
  const out = new Map<string, F>()
  for (const p of paths) {
    const f = Df.filesystemOf(fss, p)
    if (f) out.set(f.mountedOn, f)
  }
  return [...out.values()]
}

/** The fullest of the kubelet / image filesystems (`df -P -B1`); a `-` capacity on one of them is Unknown. */
export const disk = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<DiskFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const argv = ["df", "-P", "-B1"]
    const r = yield* run(shell, argv, o)
    const df = yield* parsed(argv, Df.parse(r.stdout))
    const fss = relevant(df.filesystems, o.paths ?? defaults.paths)
    if (fss.length === 0) return yield* Effect.fail(new HostCommandFailed(`df on ${shell.name} shows none of the kubelet or image filesystems`))
    let worst: DiskFacts | undefined
    for (const f of fss) {
      if (f.capacityPercent === undefined) return yield* Effect.fail(new HostCommandFailed(`df on ${shell.name}: no capacity for ${f.mountedOn} ("-")`))
      if (!worst || f.capacityPercent > worst.usedPercent) worst = { mount: f.mountedOn, usedPercent: f.capacityPercent }
    }
    return worst!
  })

/** The fewest free inodes among the same filesystems (`df -P -i`); `-` (no inode accounting) is Unknown. */
export const inodes = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<InodeFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const argv = ["df", "-P", "-i"]
    const r = yield* run(shell, argv, o)
    const df = yield* parsed(argv, Df.parse(r.stdout))
    const fss = relevant(df.filesystems, o.paths ?? defaults.paths)
    if (fss.length === 0) return yield* Effect.fail(new HostCommandFailed(`df -i on ${shell.name} shows none of the kubelet or image filesystems`))
    let worst: InodeFacts | undefined
    for (const f of fss) {
      if (f.capacityPercent === undefined || f.total === 0) return yield* Effect.fail(new HostCommandFailed(`df -i on ${shell.name}: no inode count for ${f.mountedOn} ("-")`))
      const free = Math.round((f.available / f.total) * 1000) / 10
      if (!worst || free < worst.freePercent) worst = { mount: f.mountedOn, freePercent: free }
    }
    return worst!
  })

/** `/proc/sys/fs/file-nr`. */
export const fileNr = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<FileNrFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const argv = ["cat", "/proc/sys/fs/file-nr"]
    const r = yield* run(shell, argv, o)
    const f = yield* parsed(argv, FileNr.parse(r.stdout))
    return { allocated: f.allocated.toString(), max: f.max.toString(), usedRatio: f.usedPercent / 100 }
  })

/** `crictl images -o json`: how many images and their total size. */
export const images = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<ImageFacts, HostCommandFailed> =>
  Effect.gen(function*() {
    const argv = ["crictl", "images", "-o", "json"]
    const r = yield* run(shell, argv, o)
    const list = yield* parsed(argv, Crictl.parseImages(r.stdout))
    return { count: list.length, totalBytes: Crictl.totalSize(list) }
  })

/** Lines of a kubelet journal that tell of a CNI / network plugin failure. */
export const cniErrors = (lines: ReadonlyArray<string>): ReadonlyArray<string> =>
  lines.filter((l) => /NetworkPluginNotReady|NetworkReady=false|cni plugin not initialized|network plugin (?:returns error|is not ready)|failed to (?:setup|set up) network|\bCNI\b.*(?:error|fail)|cni config uninitialized|no networks found in \/etc\/cni/i.test(l))

/** The node's memory in use as a share of its total (`free -b`: total − available). */
export const memoryUsedRatio = (shell: Shell.ShellShape, o: HostProbeOptions = {}): Effect.Effect<number, HostCommandFailed> =>
  Effect.gen(function*() {
    const argv = ["free", "-b"]
    const r = yield* run(shell, argv, o)
    const f = yield* parsed(argv, Free.parse(r.stdout))
    const used = f.mem.available !== undefined ? f.mem.total - f.mem.available : f.mem.used
    return f.mem.total > 0 ? used / f.mem.total : 1
  })
