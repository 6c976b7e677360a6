/**
 * Volume growth, the reclaim's last step (opt-in): the host cannot grow a cloud volume itself, so
 * it hands that to its owner (core's `HandOffs.VolumeGrowRequested`, owned by "@byteport/cloud and
 * the delivery runbooks": EBS ModifyVolume, GCP disks.resize) and, once the child reports, grows
 * the partition and the filesystem here:
 *
 * 1. `resolve(mount)`: the mount's device from `/proc/self/mountinfo`, its volume id from the
 *    `/dev/disk/by-id` link that resolves to it (`nvme-Amazon_Elastic_Block_Store_vol0abc…` →
 *    `vol-0abc…`; `google-<name>` / `scsi-0Google_PersistentDisk_<name>` → `<name>`; otherwise the
 *    link's name), the partition (disk and number) from `/sys/class/block`, the size from sysfs;
 * 2. `requestedBytes`: +25 %, rounded up to whole GiB, capped at `policy.maxVolumeGb`, never less
 *    than the current size (at the cap: no request, an escalation);
 * 3. the awaited hand-off (`Plan.handOff(signal, { await })`);
 * 4. `host.volume.growfs`: the device must now be larger than the filesystem (else it fails: the
 *    volume was not grown); `growpart <disk> <n>` for a partition; `resize2fs <device>` (ext4/3/2)
 *    or `xfs_growfs <mount>` (xfs); then statfs again: the filesystem must have grown.
 *    `offlineExt4` (off by default) unmounts, runs `e2fsck -f -p`, `resize2fs` and mounts again:
 *    for kernels or filesystems without online ext4 resize, on a data volume nothing holds open.
 *
 * dry_run runs nothing and lists the argv. `observe`: the filesystem is at least the requested size
 * (within 5 %) → Applied, else NotApplied.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, HandOffs, TargetRef } from "@byteport/core"
import type { Signal } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"
import * as Measured from "./Measured"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Statfs from "../readers/Statfs"

/** The action kind that grows the partition and filesystem after the volume grew. */
export const KIND = "host.volume.growfs"

/** +25 %: the seed's growth. */
export const GROWTH_FACTOR = 1.25

const GiB = 1024 ** 3

/** Where the resolver reads (tests point these at temp dirs). */
export interface ResolveOptions {
  /** Default `/proc/self/mountinfo`. */
  readonly mountinfo?: string
  /** Default `/dev/disk/by-id`. */
  readonly byIdDir?: string
  /** Default `/sys/class/block`. */
  readonly sysBlock?: string
}

/** A mount's volume. */
export interface Volume {
  readonly mount: string
  readonly device: string
  readonly fstype: string
  /** The cloud volume id (or the by-id name when it is not a known cloud naming). */
  readonly volumeId: string
  /** The by-id link that named it. */
  readonly byId: string
  /** The block device's size, bytes (the whole disk's when `partition` is set). */
  readonly sizeBytes: number
  /** Set when the filesystem is on a partition: growpart's disk and number. */
  readonly partition?: { readonly disk: string; readonly number: number }
}

/** The volume could not be resolved. */
export class VolumeError extends Schema.TaggedError<VolumeError>()("VolumeError", {
  mount: Schema.String,
  message: Schema.String
}) {}

/** Pure: the volume id of a by-id name. */
export const volumeIdOf = (byIdName: string): string => {
  const name = byIdName.replace(/-part\d+$/, "")
  const ebs = /^nvme-Amazon_Elastic_Block_Store_vol([0-9a-f]+)(_\d+)?$/.exec(name)
  if (ebs) return `vol-${ebs[1]}`
  const gcp = /^(?:google-|scsi-0Google_PersistentDisk_)(.+)$/.exec(name)
  if (gcp) return gcp[1]!
  return name
}

/** Pure: the mount point's line of a mountinfo text (the last one: the visible mount): source device and fstype. */
export const parseMountinfo = (text: string, mount: string): { readonly source: string; readonly fstype: string } | undefined => {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
  let found: { source: string; fstype: string } | undefined
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ")
    if (left === undefined || right === undefined) continue
    const f = left.split(" ")
    if (f[4] !== undefined && unescape(f[4]) === mount) {
      const r = right.split(" ")
      found = { fstype: r[0]!, source: unescape(r[1]!) }
    }
  }
  return found
}

const readSize = (sysBlock: string, name: string): number => Number(fs.readFileSync(nodePath.join(sysBlock, name, "size"), "utf8").trim()) * 512

/** Resolves a mount to its volume. */
export const resolve = (mount: string, options: ResolveOptions = {}): Effect.Effect<Volume, VolumeError> =>
  Effect.try({
    try: () => {
      const info = parseMountinfo(fs.readFileSync(options.mountinfo ?? "/proc/self/mountinfo", "utf8"), mount)
      if (info === undefined) throw new Error(`${mount} is not a mount point`)
      const device = fs.realpathSync(info.source)
      const sysBlock = options.sysBlock ?? "/sys/class/block"
      const dev = nodePath.basename(device)
      let partition: Volume["partition"]
      let disk = dev
      const partFile = nodePath.join(sysBlock, dev, "partition")
      if (fs.existsSync(partFile)) {
        disk = nodePath.basename(nodePath.dirname(fs.realpathSync(nodePath.join(sysBlock, dev))))
        partition = { disk: `/dev/${disk}`, number: Number(fs.readFileSync(partFile, "utf8").trim()) }
      }
      const byIdDir = options.byIdDir ?? "/dev/disk/by-id"
      const diskPath = partition?.disk ?? device
      const links = fs.readdirSync(byIdDir).sort()
      const byId = links.find((n) => {
        try {
          return fs.realpathSync(nodePath.join(byIdDir, n)) === diskPath
        } catch {
          return false
        }
      })
      if (byId === undefined) throw new Error(`no ${byIdDir} link resolves to ${diskPath}`)
      return { mount, device, fstype: info.fstype, volumeId: volumeIdOf(byId), byId, sizeBytes: readSize(sysBlock, disk), ...(partition ? { partition } : {}) }
    },
    catch: (e) => new VolumeError({ mount, message: e instanceof Error ? e.message : String(e) })
  })

/**
 * Pure: the requested size: +25 % of the current size rounded up to whole GiB, capped at
 * `maxVolumeGb` GiB; undefined when that is not more than the current size (at the cap; never shrinks).
 */
export const requestedBytes = (currentBytes: number, maxVolumeGb: number): number | undefined => {
  const want = Math.ceil((currentBytes * GROWTH_FACTOR) / GiB) * GiB
  const capped = Math.min(want, maxVolumeGb * GiB)
  return capped > currentBytes ? capped : undefined
}

/** The hand-off's target: the volume (`host.volume`, ref the volume id). */
export const target = (v: Volume): TargetRef.TargetRef => TargetRef.make("host.volume", v.volumeId)

/** The `volume grow requested` hand-off signal for a volume. */
export const signal = (v: Volume, requested: number, usedBytes: number, observedAt: number, reason: string): Effect.Effect<Signal.Signal, HandOffs.InvalidHandOff> =>
  HandOffs.signal(HandOffs.VolumeGrowRequested, {
    target: target(v),
    evidence: { reason, capacityBytes: v.sizeBytes, requestedBytes: requested, usedBytes },
    observedAt,
    source: "host.disk.reclaim"
  })

/** Params of `host.volume.growfs`. */
export const Params = Schema.Struct({
  mount: Schema.String,
  device: Schema.String,
  fstype: Schema.String,
  requestedBytes: Schema.Number,
  /** The filesystem's size (statfs totalBytes) when planned. */
  fsBytes: Schema.Number,
  partition: Schema.optionalKey(Schema.Struct({ disk: Schema.String, number: Schema.Number })),
  offlineExt4: Schema.optionalKey(Schema.Boolean)
})
/** Params of `host.volume.growfs`. */
export type Params = typeof Params.Type

/** Pure: the commands, in order. An unsupported filesystem is an empty list. */
export const commands = (p: Params): ReadonlyArray<ReadonlyArray<string>> => {
  const part = p.partition ? [["growpart", p.partition.disk, String(p.partition.number)]] : []
  if (["ext4", "ext3", "ext2"].includes(p.fstype)) {
    return p.offlineExt4
      ? [...part, ["umount", p.mount], ["e2fsck", "-f", "-p", p.device], ["resize2fs", p.device], ["mount", "-t", p.fstype, p.device, p.mount]]
      : [...part, ["resize2fs", p.device]]
  }
  if (p.fstype === "xfs") return [...part, ["xfs_growfs", p.mount]]
  return []
}

const res = (detail: string, result: ActionHandler.HandlerResult["result"]): ActionHandler.HandlerResult => ({ detail, result })

/** The `host.volume.growfs` handler: growpart / resize2fs / xfs_growfs through the Shell, then statfs re-verified. */
export const spec = (shell: Shell.ShellShape, options: { readonly sysBlock?: string } = {}): Measured.Spec<Params> => ({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, conflict })
        const cmds = commands(p)
        if (cmds.length === 0) return yield* fail(`${p.mount}: cannot grow a ${p.fstype} filesystem`)
        const sysBlock = options.sysBlock ?? "/sys/class/block"
        const devName = nodePath.basename(p.partition?.disk ?? p.device)
        const size = yield* Effect.try({ try: () => readSize(sysBlock, devName), catch: (e) => fail(`${devName}: size unreadable: ${String(e)}`) })
        if (size <= p.fsBytes * 1.01 || size < p.requestedBytes * 0.99) {
          return yield* fail(`${p.partition?.disk ?? p.device} is ${size} bytes, not the requested ${p.requestedBytes}: the volume was not grown`, true)
        }
        if (ctx.dryRun) return res(`would run ${cmds.map((c) => Shell.formatArgv(c)).join("; ")}`, { dryRun: true, commands: cmds.map((c) => [...c]) })
        const before = yield* Effect.mapError(Statfs.read(p.mount), (e) => fail(e.message))
        for (const c of cmds) {
          const r = yield* shell.run(c, { timeout: "10 minutes" }).pipe(Effect.mapError((e) => fail(`${Shell.formatArgv(c)}: ${e.message}`)))
          // growpart exits 1 when there is nothing to grow (NOCHANGE): not a failure
          if (r.exitCode !== 0 && !(c[0] === "growpart" && r.exitCode === 1 && /NOCHANGE/.test(r.stdout))) {
            return yield* fail(`${Shell.formatArgv(c)} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ")}`)
          }
        }
        const after = yield* Effect.mapError(Statfs.read(p.mount), (e) => fail(e.message))
        if (after.totalBytes <= before.totalBytes) return yield* fail(`${p.mount}: the filesystem did not grow (${before.totalBytes} → ${after.totalBytes} bytes)`)
        return res(`grew ${p.mount} ${before.totalBytes} → ${after.totalBytes} bytes (${after.usedPercent}% used)`, {
          dryRun: false,
          commands: cmds.map((c) => [...c]),
          fsBytesBefore: before.totalBytes,
          fsBytesAfter: after.totalBytes,
          usedPercentAfter: after.usedPercent
        })
      }),
    observe: (p) =>
      Effect.map(Statfs.read(p.mount), (u) =>
        u.totalBytes >= p.requestedBytes * 0.9 ? ActionHandler.applied(`${p.mount} is ${u.totalBytes} bytes`) : ActionHandler.notApplied(`${p.mount} is still ${u.totalBytes} bytes`))
})

/** Pure: the size request's text (+N GiB) for reports. */
export const describe = (v: Volume, requested: number): string =>
  `grow ${v.volumeId} (${v.mount}) ${Math.round(v.sizeBytes / GiB * 10) / 10} GiB → ${requested / GiB} GiB (+25 %, whole GiB)`

/** The action as a core `ActionHandler` (unmeasured; the disk runbooks register `Measured.measured(spec(…))`). */
export const handler = (shell: Shell.ShellShape, options: { readonly sysBlock?: string } = {}): ActionHandler.ActionHandler => Measured.handlerOf(spec(shell, options))

/** The `host.volume.growfs` action for a volume (after its growth hand-off). */
export const growAction = (mount: TargetRef.TargetRef, v: Volume, fsBytes: number, requested: number, offlineExt4 = false): Action.Action =>
  Action.make({
    kind: KIND,
    target: TargetRef.make("host.volume", v.volumeId),
    params: {
      mount: v.mount,
      device: v.device,
      fstype: v.fstype,
      requestedBytes: requested,
      fsBytes,
      ...(v.partition ? { partition: { disk: v.partition.disk, number: v.partition.number } } : {}),
      ...(offlineExt4 ? { offlineExt4 } : {})
    },
    idempotencyKey: `${KIND}:${v.volumeId}:${requested}`,
    description: `grow the filesystem of ${mount.ref}: ${commands({ mount: v.mount, device: v.device, fstype: v.fstype, requestedBytes: requested, fsBytes, ...(v.partition ? { partition: v.partition } : {}), offlineExt4 }).map((c) => c.join(" ")).join("; ")}`
  })
