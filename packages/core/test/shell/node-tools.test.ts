/**
 * The node-tool parsers the node runbooks read (issue 12 §1): systemctl is-active/is-failed with
 * their exit codes and no systemd → Unknown, `show` not-found = no unit, `journalctl -u kubelet -o
 * json` with a byte-array MESSAGE, the kernel log (global vs cgroup OOM, hardware errors, panics),
 * `df -h`/`-i` with `-` → Unknown, file-nr as bigints, `crictl images -o json`. Real output,
 * malformed and truncated fixtures.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { Crictl, Df, FileNr, Journalctl, ParseError, Systemctl } from "@byteport/core/shell"

const ok = <A>(e: Effect.Effect<A, ParseError>): A => Effect.runSync(e)
const fail = <A>(e: Effect.Effect<A, ParseError>): ParseError => {
  const r = Effect.runSync(Effect.result(e))
  if (r._tag === "Success") throw new Error(`expected a ParseError, got ${JSON.stringify(r.success, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`)
  return r.failure
}
const out = (exitCode: number, stdout: string, stderr = "") => ({ exitCode, stdout, stderr })
const NO_SYSTEMD = "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n"

describe("Systemctl.parseIsActive / parseIsFailed", () => {
  it("reads active (exit 0), inactive and failed (exit 3) for is-active", () => {
    assert.deepStrictEqual(ok(Systemctl.parseIsActive(out(0, "active\n"))), Systemctl.known({ state: "active", yes: true }))
    assert.deepStrictEqual(ok(Systemctl.parseIsActive(out(3, "inactive\n"))), Systemctl.known({ state: "inactive", yes: false }))
    assert.deepStrictEqual(ok(Systemctl.parseIsActive(out(3, "failed\n"))), Systemctl.known({ state: "failed", yes: false }))
    assert.deepStrictEqual(ok(Systemctl.parseIsActive(out(3, "activating\n"))), Systemctl.known({ state: "activating", yes: false }))
  })
  it("reads is-failed: exit 0 failed, exit 1 otherwise", () => {
    assert.deepStrictEqual(ok(Systemctl.parseIsFailed(out(0, "failed\n"))), Systemctl.known({ state: "failed", yes: true }))
    assert.deepStrictEqual(ok(Systemctl.parseIsFailed(out(1, "inactive\n"))), Systemctl.known({ state: "inactive", yes: false }))
    assert.deepStrictEqual(ok(Systemctl.parseIsFailed(out(1, "active\n"))), Systemctl.known({ state: "active", yes: false }))
  })
  it("no systemd, no bus, no output or 'unknown' → Unknown, never inactive", () => {
    for (const o of [out(1, "", NO_SYSTEMD), out(1, "offline\n", "Failed to connect to bus: No such file or directory\n"), out(3, ""), out(3, "unknown\n")]) {
      assert.strictEqual(ok(Systemctl.parseIsActive(o))._tag, "Unknown", JSON.stringify(o))
      assert.strictEqual(ok(Systemctl.parseIsFailed(o))._tag, "Unknown", JSON.stringify(o))
    }
    const u = ok(Systemctl.parseIsActive(out(1, "", NO_SYSTEMD)))
    assert.match(u._tag === "Unknown" ? u.reason : "", /not been booted with systemd/)
  })
  it("an exit code contradicting the state, a non-state or two lines fail", () => {
    assert.match(fail(Systemctl.parseIsActive(out(0, "inactive\n"))).message, /contradicts/)
    assert.match(fail(Systemctl.parseIsActive(out(3, "active\n"))).message, /contradicts/)
    assert.match(fail(Systemctl.parseIsFailed(out(1, "failed\n"))).message, /contradicts/)
    assert.strictEqual(fail(Systemctl.parseIsActive(out(3, "Actif\n"))).line, 1)
    assert.strictEqual(fail(Systemctl.parseIsActive(out(3, "active\ninactive\n"))).line, 2)
  })
})

describe("Systemctl.parseUnit (show -p LoadState,ActiveState,NRestarts)", () => {
  it("reads a loaded unit with its restarts", () => {
    const r = ok(Systemctl.parseUnit(out(0, "NRestarts=2\nLoadState=loaded\nActiveState=inactive\n")))
    assert.strictEqual(r._tag, "Known")
    const u = r._tag === "Known" ? r.value : undefined
    assert.strictEqual(u?.restarts, 2)
    assert.strictEqual(u?.activeState, "inactive")
  })
  it("LoadState=not-found is no unit (Known undefined), not an inactive one", () => {
    const r = ok(Systemctl.parseUnit(out(0, "NRestarts=0\nLoadState=not-found\nActiveState=inactive\n")))
    assert.deepStrictEqual(r, Systemctl.known(undefined))
  })
  it("no systemd or a non-zero exit → Unknown; truncated or malformed output fails", () => {
    assert.strictEqual(ok(Systemctl.parseUnit(out(1, "", NO_SYSTEMD)))._tag, "Unknown")
    assert.strictEqual(ok(Systemctl.parseUnit(out(1, "", "Failed to get properties: Access denied\n")))._tag, "Unknown")
    assert.strictEqual(fail(Systemctl.parseUnit(out(0, "NRestarts=0\nLoadState"))).line, 2)
    assert.strictEqual(fail(Systemctl.parseUnit(out(0, ""))).line, 0)
  })
})

describe("Journalctl: the kubelet journal and the kernel log", () => {
  // MESSAGE with a non-UTF-8-safe byte (journalctl prints such messages as byte arrays)
  const bytes = [...new TextEncoder().encode("E1207 15:30:01.123 kubelet.go:2862] \"Container runtime network not ready\" networkReady=\"NetworkReady=false\"")]
  const kubelet = [
    JSON.stringify({ __CURSOR: "s=1;i=1", __REALTIME_TIMESTAMP: "1796657401123456", _SYSTEMD_UNIT: "kubelet.service", SYSLOG_IDENTIFIER: "kubelet", _PID: "812", PRIORITY: "6", MESSAGE: "I1207 15:30:00.000 server.go:487] \"Kubelet version\" kubeletVersion=\"v1.30.2\"" }),
    JSON.stringify({ __CURSOR: "s=1;i=2", __REALTIME_TIMESTAMP: "1796657402123456", _SYSTEMD_UNIT: "kubelet.service", SYSLOG_IDENTIFIER: "kubelet", _PID: "812", PRIORITY: "3", MESSAGE: bytes }),
    ""
  ].join("\n")
  it("decodes a MESSAGE sent as a byte array (journalctl -u kubelet -o json)", () => {
    const entries = ok(Journalctl.parse(kubelet))
    assert.lengthOf(entries, 2)
    assert.match(entries[1]!.message ?? "", /NetworkReady=false/)
    assert.strictEqual(entries[1]!.priority, 3)
  })
  it("a truncated last line fails unless the output is flagged truncated", () => {
    const cut = kubelet.slice(0, kubelet.length - 40)
    assert.strictEqual(fail(Journalctl.parse(cut)).line, 2)
    assert.lengthOf(ok(Journalctl.parse(cut, { truncated: true })), 1)
  })
  it("a MESSAGE of the wrong shape fails naming the field", () => {
    const e = fail(Journalctl.parse(`${JSON.stringify({ __REALTIME_TIMESTAMP: "1", MESSAGE: { a: 1 } })}\n`))
    assert.strictEqual(e.path, "MESSAGE")
  })
  const kernel = [
    "Dec 07 15:01:02 node-1 kernel: java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=968",
    "Dec 07 15:01:02 node-1 kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-1.scope,mems_allowed=0,oom_memcg=/kubepods/burstable/pod1,task=java,pid=4242,uid=0",
    "Dec 07 15:01:02 node-1 kernel: Memory cgroup out of memory: Killed process 4242 (java) total-vm:3800000kB, anon-rss:1048576kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:2400kB oom_score_adj:968",
    "-- Boot 0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e --",
    ""
  ].join("\n")
  it("a cgroup OOM is not a global OOM", () => {
    const f = Journalctl.kernelFindings(Journalctl.plainLines(kernel))
    assert.lengthOf(f.globalOom, 0)
    assert.lengthOf(f.cgroupOom, 2)
    assert.lengthOf(f.hardwareErrors, 0)
  })
  it("reads a global OOM, machine-check errors and a panic from the previous boot", () => {
    const f = Journalctl.kernelFindings([
      "Dec 07 15:01:02 node-1 kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task=kubelet,pid=812,uid=0",
      "Dec 07 15:01:02 node-1 kernel: Out of memory: Killed process 812 (kubelet) total-vm:2000000kB, anon-rss:900000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:2000kB oom_score_adj:-999",
      "Dec 07 15:02:00 node-1 kernel: mce: [Hardware Error]: Machine check events logged",
      "Dec 07 15:02:00 node-1 kernel: [Hardware Error]: CPU 3: Machine Check: 0 Bank 7: be00000000800400",
      "Dec 07 15:03:00 node-1 kernel: Kernel panic - not syncing: Fatal machine check"
    ])
    assert.lengthOf(f.globalOom, 2)
    assert.lengthOf(f.hardwareErrors, 2)
    assert.lengthOf(f.panics, 1)
  })
  it("a missing previous boot is recognised (Unknown, not 'no panic')", () => {
    assert.isTrue(Journalctl.noJournal("Data from the specified boot (-1) is not available: No such boot ID in journal\n"))
    assert.isTrue(Journalctl.noJournal("Specifying boot ID or boot offset has no effect, no persistent journal was found.\n"))
    assert.isFalse(Journalctl.noJournal(""))
  })
})

describe("Df.parseHuman (df -h, df -i)", () => {
  const h = [
    "Filesystem      Size  Used Avail Use% Mounted on",
    "overlay          97G   83G   14G  86% /",
    "tmpfs            64M     0   64M   0% /dev",
    "/dev/mapper/vg0-containerd--data--volume--long",
    "                 50G   10G   40G  20% /var/lib/containerd",
    "/dev/nvme0n1p1  1.5T  1.1T  400G  74% /data dir",
    ""
  ].join("\n")
  it("reads sizes with suffixes, a wrapped long device name and a mount point with a space", () => {
    const d = ok(Df.parseHuman(h))
    assert.strictEqual(d.unit, "bytes")
    assert.lengthOf(d.filesystems, 4)
    assert.strictEqual(d.filesystems[0]!.size, 97 * 1024 ** 3)
    assert.strictEqual(d.filesystems[0]!.usePercent, 86)
    assert.strictEqual(d.filesystems[2]!.filesystem, "/dev/mapper/vg0-containerd--data--volume--long")
    assert.strictEqual(d.filesystems[3]!.mountedOn, "/data dir")
    assert.strictEqual(d.filesystems[3]!.size, Math.round(1.5 * 1024 ** 4))
    assert.strictEqual(Df.filesystemOf(d.filesystems, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs")?.mountedOn, "/var/lib/containerd")
    assert.strictEqual(Df.filesystemOf(d.filesystems, "/var/log")?.mountedOn, "/")
  })
  it("df -i: '-' is Unknown (undefined), never 0 or full", () => {
    const d = ok(Df.parseHuman([
      "Filesystem       Inodes   IUsed   IFree IUse% Mounted on",
      "/dev/nvme0n1p1  6553600 6291456  262144   96% /",
      "/dev/sdb1             -       -       -     - /var/lib/btrfs",
      "tmpfs            1007591      1 1007590    1% /run",
      ""
    ].join("\n")))
    assert.strictEqual(d.unit, "inodes")
    assert.strictEqual(Df.freePercent(d.filesystems[0]!), 4)
    assert.isUndefined(d.filesystems[1]!.size)
    assert.isUndefined(d.filesystems[1]!.usePercent)
    assert.isUndefined(Df.freePercent(d.filesystems[1]!))
  })
  it("fails on empty output, a localized header, a cut row and a non-size", () => {
    assert.strictEqual(fail(Df.parseHuman("")).line, 0)
    assert.strictEqual(fail(Df.parseHuman("Dateisystem    Größe Benutzt Verf. Verw% Eingehängt auf\n")).line, 1)
    assert.strictEqual(fail(Df.parseHuman("Filesystem      Size  Used Avail Use% Mounted on\noverlay          97G   83G\n")).line, 2)
    assert.strictEqual(fail(Df.parseHuman("Filesystem      Size  Used Avail Use% Mounted on\noverlay          97Q   83G   14G  86% /\n")).line, 2)
  })
})

describe("FileNr.parse", () => {
  it("reads 2^63-1 as a bigint maximum", () => {
    const f = ok(FileNr.parse("9824\t0\t9223372036854775807\n"))
    assert.strictEqual(f.allocated, 9824n)
    assert.strictEqual(f.max, 9223372036854775807n)
    assert.isTrue(f.usedPercent < 0.000001)
  })
  it("computes the in-use share", () => {
    const f = ok(FileNr.parse("95000\t0\t100000\n"))
    assert.strictEqual(f.inUse, 95000n)
    assert.strictEqual(f.usedPercent, 95)
  })
  it("fails on truncated, signed, text and multi-line output", () => {
    assert.strictEqual(fail(FileNr.parse("9824\t0")).line, 1)
    assert.strictEqual(fail(FileNr.parse("-1\t0\t100\n")).line, 1)
    assert.strictEqual(fail(FileNr.parse("cat: /proc/sys/fs/file-nr: No such file or directory\n")).line, 1)
    assert.strictEqual(fail(FileNr.parse("1 0 2\n3 0 4\n")).line, 2)
    assert.strictEqual(fail(FileNr.parse("")).line, 0)
  })
})

describe("Crictl.parseImages", () => {
  const images = JSON.stringify({
    images: [
      { id: "sha256:e6f1816883972d4be47bd48879a08919b96afcd344132622e4d444987919323c", repoTags: ["registry.k8s.io/pause:3.9"], repoDigests: ["registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097"], size: "321520", uid: { value: "65535" }, username: "", spec: null, pinned: true },
      { id: "sha256:1b44d5f1e2c1", repoTags: [], repoDigests: ["docker.io/library/app@sha256:aa"], size: "734003200", uid: null, username: "", spec: null, pinned: false }
    ]
  }, null, 2)
  it("reads sizes sent as strings, untagged images and the pinned flag", () => {
    const list = ok(Crictl.parseImages(images))
    assert.lengthOf(list, 2)
    assert.strictEqual(list[0]!.sizeBytes, 321520)
    assert.isTrue(list[0]!.pinned)
    assert.deepStrictEqual(list[1]!.repoTags, [])
    assert.strictEqual(Crictl.totalSize(list), 321520 + 734003200)
    assert.lengthOf(ok(Crictl.parseImages("{}")), 0)
  })
  it("fails on truncated JSON and a bad size, naming the place", () => {
    const e = fail(Crictl.parseImages(images.slice(0, 200)))
    assert.match(e.message, /truncated JSON/)
    const bad = fail(Crictl.parseImages(JSON.stringify({ images: [{ id: "sha256:x", size: "12MB" }] })))
    assert.strictEqual(bad.path, "images[0].size")
  })
})

describe("node-tool parsers never throw", () => {
  // any output (garbage, cut JSON, binary) is a typed value or a ParseError: never a defect, never a guess
  const parsers: ReadonlyArray<readonly [string, (text: string) => Effect.Effect<unknown, ParseError>]> = [
    ["is-active", (t) => Systemctl.parseIsActive(out(3, t))],
    ["is-failed", (t) => Systemctl.parseIsFailed(out(1, t))],
    ["show", (t) => Systemctl.parseUnit(out(0, t))],
    ["df -h", Df.parseHuman],
    ["file-nr", FileNr.parse],
    ["crictl images", Crictl.parseImages],
    ["journalctl", (t) => Journalctl.parse(t, { truncated: true })]
  ]
  const seeds = [
    "active\n", "NRestarts=2\nLoadState=loaded\n", "Filesystem Size Used Avail Use% Mounted on\n/dev/x 1G 1G 0 100% /\n",
    "1\t0\t2\n", JSON.stringify({ images: [{ id: "x", size: "1" }] }), JSON.stringify({ __REALTIME_TIMESTAMP: "1", MESSAGE: [104, 105] })
  ]
  for (const [name, parse] of parsers) {
    it(`${name}: arbitrary text and cut real output give a value or a ParseError`, () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.tuple(fc.constantFrom(...seeds), fc.nat(200)).map(([s, n]) => s.slice(0, n)), fc.json()), (text) => {
          const r = Effect.runSync(Effect.exit(parse(text)))
          if (r._tag === "Failure") {
            const e = Effect.runSync(Effect.flip(parse(text)))
            assert.strictEqual(e._tag, "ParseError")
          }
        }),
        { numRuns: 300 }
      )
    })
  }
  it("kernelFindings on arbitrary lines never throws and only reports lines it was given", () => {
    fc.assert(fc.property(fc.array(fc.string()), (lines) => {
      const f = Journalctl.kernelFindings(lines)
      const all = new Set(lines.flatMap((l) => l.split("\n")))
      for (const l of [...f.globalOom, ...f.cgroupOom, ...f.hardwareErrors, ...f.panics]) assert.isTrue(all.has(l))
    }), { numRuns: 300 })
  })
})
