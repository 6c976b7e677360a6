/**
 * The node-tool output parsers, table-driven with real output shapes and near misses (empty
 * output, header only, truncated lines, localized output and decimals), plus this machine's own
 * `df -P`, `free -b` and `ps` output through `Shell.local`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Crictl, Df, Free, Journalctl, ParseError, Ps, Shell, Systemctl } from "@byteport/core/shell"

const ok = <A>(e: Effect.Effect<A, ParseError>): A => Effect.runSync(e)
const fail = <A>(e: Effect.Effect<A, ParseError>): ParseError => {
  const r = Effect.runSync(Effect.result(e))
  if (r._tag === "Success") throw new Error(`expected a ParseError, got ${JSON.stringify(r.success)}`)
  return r.failure
}

interface Miss {
  readonly name: string
  readonly text: string
  /** The line the error must name (0: the output as a whole). */
  readonly line: number
  readonly message?: RegExp
  readonly path?: string
}

const misses = (parser: (text: string) => Effect.Effect<unknown, ParseError>, cases: ReadonlyArray<Miss>) => {
  for (const c of cases) {
    it(`fails on ${c.name}`, () => {
      const e = fail(parser(c.text))
      assert.strictEqual(e._tag, "ParseError")
      assert.strictEqual(e.line, c.line, e.message)
      if (c.message) assert.match(e.message, c.message)
      if (c.path !== undefined) assert.strictEqual(e.path, c.path)
    })
  }
}

// ---------------------------------------------------------------------------------------------

describe("Systemctl.parseShow", () => {
  const kubelet = [
    "Type=simple",
    "Restart=always",
    "NRestarts=4",
    "MainPID=8123",
    "Result=success",
    "ExecStart={ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml ; ignore_errors=no }",
    "Id=kubelet.service",
    "Description=kubelet: The Kubernetes Node Agent",
    "LoadState=loaded",
    "ActiveState=active",
    "SubState=running",
    "Environment=",
    ""
  ].join("\n")

  it("reads the properties of one unit, values containing '=' and empty values", () => {
    const [u, ...rest] = ok(Systemctl.parseShow(kubelet))
    assert.lengthOf(rest, 0)
    assert.strictEqual(u!.id, "kubelet.service")
    assert.strictEqual(u!.activeState, "active")
    assert.strictEqual(u!.subState, "running")
    assert.strictEqual(u!.loadState, "loaded")
    assert.strictEqual(u!.mainPid, 8123)
    assert.strictEqual(u!.restarts, 4)
    assert.strictEqual(u!.result, "success")
    assert.strictEqual(u!.properties["ExecStart"], "{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml ; ignore_errors=no }")
    assert.strictEqual(u!.properties["Environment"], "")
  })

  it("reads several units separated by blank lines, a failed unit and an unknown one", () => {
    const text = "Id=a.service\nActiveState=failed\nSubState=failed\nResult=oom-kill\nMainPID=0\n\nId=nope.service\nLoadState=not-found\nActiveState=inactive\n"
    const units = ok(Systemctl.parseShow(text))
    assert.deepStrictEqual(units.map((u) => [u.id, u.activeState, u.result, u.mainPid, u.loadState]), [
      ["a.service", "failed", "oom-kill", undefined, undefined],
      ["nope.service", "inactive", undefined, undefined, "not-found"]
    ])
    assert.strictEqual(fail(Systemctl.parseShowOne(text)).line, 0)
    assert.strictEqual(ok(Systemctl.parseShowOne("Id=x.service\r\nActiveState=active\r\n")).activeState, "active")
  })

  misses(Systemctl.parseShow, [
    { name: "empty output", text: "", line: 0, message: /empty output/ },
    { name: "blank lines only", text: "\n\n", line: 0 },
    { name: "a line without '=' (truncated)", text: "Id=kubelet.service\nActiveSt", line: 2, message: /Key=Value.*"ActiveSt"/ },
    { name: "an error message instead of properties", text: "Failed to connect to bus: Host is down\n", line: 1 },
    { name: "an empty property name", text: "Id=x\n=value\n", line: 2 }
  ])
})

describe("Systemctl.parseListUnits", () => {
  const json = JSON.stringify([
    { unit: "kubelet.service", load: "loaded", active: "active", sub: "running", description: "kubelet: The Kubernetes Node Agent" },
    { unit: "containerd.service", load: "loaded", active: "failed", sub: "failed", description: "containerd container runtime" }
  ])

  it("reads --output=json", () => {
    const units = ok(Systemctl.parseListUnits(json))
    assert.deepStrictEqual(units.map((u) => [u.unit, u.active, u.sub]), [["kubelet.service", "active", "running"], ["containerd.service", "failed", "failed"]])
    assert.deepStrictEqual(ok(Systemctl.parseListUnits("[]\n")), [])
  })

  it("reads the plain table with its header, failed-unit marker and legend", () => {
    const text = [
      "  UNIT               LOAD   ACTIVE SUB     DESCRIPTION",
      "● containerd.service loaded failed failed  containerd container runtime",
      "  kubelet.service    loaded active running kubelet: The Kubernetes Node Agent",
      "",
      "LOAD   = Reflects whether the unit definition was properly loaded.",
      "ACTIVE = The high-level unit activation state, i.e. generalization of SUB.",
      "SUB    = The low-level unit activation state, values depend on unit type.",
      "",
      "2 loaded units listed."
    ].join("\n")
    const units = ok(Systemctl.parseListUnits(text))
    assert.deepStrictEqual(units, [
      { unit: "containerd.service", load: "loaded", active: "failed", sub: "failed", description: "containerd container runtime" },
      { unit: "kubelet.service", load: "loaded", active: "active", sub: "running", description: "kubelet: The Kubernetes Node Agent" }
    ])
  })

  it("reads --plain --no-legend, and a header alone or empty output is no units", () => {
    assert.deepStrictEqual(ok(Systemctl.parseListUnits("kubelet.service loaded active running kubelet\n")).map((u) => u.unit), ["kubelet.service"])
    assert.deepStrictEqual(ok(Systemctl.parseListUnits("UNIT LOAD ACTIVE SUB DESCRIPTION\n")), [])
    assert.deepStrictEqual(ok(Systemctl.parseListUnits("")), [])
  })

  misses(Systemctl.parseListUnits, [
    { name: "a truncated row", text: "UNIT LOAD ACTIVE SUB DESCRIPTION\nkubelet.service loaded\n", line: 2 },
    { name: "truncated JSON", text: json.slice(0, 80), line: 1, message: /truncated JSON/ },
    { name: "JSON of the wrong shape", text: JSON.stringify([{ unit: "a", load: "loaded", active: 1, sub: "x" }]), line: 0, path: "[0].active" },
    { name: "a JSON object instead of an array", text: "{}", line: 1 }
  ])
})

// ---------------------------------------------------------------------------------------------

describe("Journalctl.parse", () => {
  const entry = (fields: Record<string, unknown>) => JSON.stringify({ __CURSOR: "s=abc;i=1", __REALTIME_TIMESTAMP: "1733570000123456", _BOOT_ID: "b", ...fields })

  it("reads one JSON object per line: timestamps, string and byte-array messages, multi-valued and elided fields", () => {
    const text = [
      entry({ MESSAGE: "Started kubelet.", PRIORITY: "6", _SYSTEMD_UNIT: "kubelet.service", _PID: "8123", SYSLOG_IDENTIFIER: "systemd", _HOSTNAME: "node-1" }),
      entry({ MESSAGE: [0x4f, 0x4f, 0x4d, 0x20, 0xc3, 0xa9], __REALTIME_TIMESTAMP: "1733570001000000" }),
      entry({ MESSAGE: ["first", [0x32]], CODE_LINE: null }),
      entry({ MESSAGE: null }),
      ""
    ].join("\n")
    const es = ok(Journalctl.parse(text))
    assert.lengthOf(es, 4)
    assert.strictEqual(es[0]!.message, "Started kubelet.")
    assert.strictEqual(es[0]!.realtimeMicros, 1733570000123456)
    assert.strictEqual(es[0]!.time.toISOString(), "2024-12-07T11:13:20.123Z")
    assert.strictEqual(es[0]!.priority, 6)
    assert.strictEqual(es[0]!.unit, "kubelet.service")
    assert.strictEqual(es[0]!.pid, 8123)
    assert.strictEqual(es[0]!.identifier, "systemd")
    assert.strictEqual(es[0]!.hostname, "node-1")
    assert.strictEqual(es[0]!.cursor, "s=abc;i=1")
    assert.strictEqual(es[1]!.message, "OOM é")
    assert.strictEqual(es[2]!.message, "first\n2")
    assert.notProperty(es[2]!.fields, "CODE_LINE")
    assert.isUndefined(es[3]!.message)
  })

  it("empty output and '-- No entries --' are no entries", () => {
    assert.deepStrictEqual(ok(Journalctl.parse("")), [])
    assert.deepStrictEqual(ok(Journalctl.parse("-- No entries --\n")), [])
  })

  it("a line cut by the output cap is dropped only when the output is flagged truncated", () => {
    const full = entry({ MESSAGE: "one" })
    const text = `${full}\n${entry({ MESSAGE: "two" }).slice(0, 40)}`
    assert.strictEqual(fail(Journalctl.parse(text)).line, 2)
    assert.deepStrictEqual(ok(Journalctl.parse(text, { truncated: true })).map((e) => e.message), ["one"])
    // flagged, but the cut line is not the last: still an error
    assert.strictEqual(fail(Journalctl.parse(`${entry({ MESSAGE: "two" }).slice(0, 40)}\n${full}`, { truncated: true })).line, 1)
  })

  misses((t) => Journalctl.parse(t), [
    { name: "short output instead of JSON", text: "Dec 07 11:13:20 node-1 systemd[1]: Started kubelet.\n", line: 1, message: /one JSON object per line/ },
    { name: "a truncated line", text: `${entry({ MESSAGE: "a" })}\n{"__REALTIME_TIMESTAMP":"17335`, line: 2, message: /truncated/ },
    { name: "a JSON array line", text: "[1,2]\n", line: 1 },
    { name: "no __REALTIME_TIMESTAMP", text: JSON.stringify({ MESSAGE: "x" }), line: 1, path: "__REALTIME_TIMESTAMP" },
    { name: "a non-integer timestamp", text: JSON.stringify({ __REALTIME_TIMESTAMP: "1.5e15" }), line: 1 },
    { name: "a MESSAGE of the wrong type", text: entry({ MESSAGE: { a: 1 } }), line: 1, path: "MESSAGE" }
  ])

  it("the error's text of an offending line is redacted", () => {
    const e = fail(Journalctl.parse(`Dec 07 connecting to postgres://app:hunter2@db/x`))
    assert.notInclude(e.text + e.message, "hunter2")
  })
})

// ---------------------------------------------------------------------------------------------

describe("Df.parse", () => {
  const text = [
    "Filesystem     1024-blocks      Used Available Capacity Mounted on",
    "/dev/sda1        102687672  52081720  45346360      54% /",
    "tmpfs               816052      2172    813880       1% /run",
    "/dev/sdb1          1000000    500000    500000      50% /mnt/my disk",
    "overlay          102687672  52081720  45346360      54% /var/lib/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs",
    "none                     0         0         0        - /sys/fs/bpf",
    ""
  ].join("\n")

  it("reads 1024-blocks, mount points with spaces, and '-' capacity", () => {
    const df = ok(Df.parse(text))
    assert.strictEqual(df.unit, "blocks")
    assert.strictEqual(df.blockSize, 1024)
    assert.lengthOf(df.filesystems, 5)
    const root = df.filesystems[0]!
    assert.deepStrictEqual([root.filesystem, root.mountedOn, root.total, root.used, root.available, root.capacityPercent], ["/dev/sda1", "/", 102687672, 52081720, 45346360, 54])
    assert.strictEqual(root.usedBytes, 52081720 * 1024)
    assert.strictEqual(df.filesystems[2]!.mountedOn, "/mnt/my disk")
    assert.isUndefined(df.filesystems[4]!.capacityPercent)
  })

  it("reads 512-blocks, 1-blocks (-B1) and inodes (-i); a header alone is no filesystems", () => {
    assert.strictEqual(ok(Df.parse("Filesystem 512-blocks Used Available Capacity Mounted on\n/dev/sda1 200 100 100 50% /\n")).filesystems[0]!.totalBytes, 200 * 512)
    assert.strictEqual(ok(Df.parse("Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/vda 1000 1 999 1% /\n")).filesystems[0]!.totalBytes, 1000)
    assert.strictEqual(ok(Df.parse("Filesystem 1B-blocks Used Available Capacity Mounted on\n/dev/vda 1000 1 999 1% /\n")).blockSize, 1)
    const inodes = ok(Df.parse("Filesystem      Inodes  IUsed   IFree IUse% Mounted on\n/dev/sda1      6553600 412345 6141255    7% /\n"))
    assert.strictEqual(inodes.unit, "inodes")
    assert.strictEqual(inodes.filesystems[0]!.used, 412345)
    assert.isUndefined(inodes.filesystems[0]!.usedBytes)
    assert.deepStrictEqual(ok(Df.parse("Filesystem     1024-blocks      Used Available Capacity Mounted on\n")).filesystems, [])
  })

  misses(Df.parse, [
    { name: "empty output", text: "", line: 0, message: /empty output/ },
    { name: "a localized header", text: "Dateisystem    1K-Blöcke  Benutzt Verfügbar Verw% Eingehängt auf\n/dev/sda1 100 50 50 50% /\n", line: 1, message: /LC_ALL=C/ },
    { name: "human-readable sizes (-h)", text: "Filesystem      Size  Used Avail Capacity Mounted on\n/dev/sda1        98G   50G   44G      54% /\n", line: 1 },
    { name: "localized decimals in sizes", text: "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1,5 1 0 54% /\n", line: 2 },
    { name: "a truncated row", text: `${text.split("\n")[0]}\n/dev/sda1        102687672  5208`, line: 2 },
    { name: "a row without its mount point", text: `${text.split("\n")[0]}\n/dev/sda1 100 50 50 50%\n`, line: 2 },
    { name: "df's error instead of output", text: "df: /nope: No such file or directory\n", line: 1 }
  ])
})

// ---------------------------------------------------------------------------------------------

describe("Free.parse", () => {
  it("reads the current procps layout", () => {
    const text = [
      "               total        used        free      shared  buff/cache   available",
      "Mem:     8248537088  2187145216  3213639680    43880448  3103477760  6061391872",
      "Swap:    2147479552           0  2147479552",
      ""
    ].join("\n")
    assert.deepStrictEqual(ok(Free.parse(text)), {
      mem: { total: 8248537088, used: 2187145216, free: 3213639680, shared: 43880448, buffCache: 3103477760, available: 6061391872 },
      swap: { total: 2147479552, used: 0, free: 2147479552 }
    })
  })

  it("reads the old layout (buffers, cached, -/+ buffers/cache) and free -w and -t", () => {
    const old = [
      "             total       used       free     shared    buffers     cached",
      "Mem:    8248537088 7000000000 1248537088   43880448  200000000 3000000000",
      "-/+ buffers/cache: 3800000000 4448537088",
      "Swap:   2147479552          0 2147479552"
    ].join("\n")
    const f = ok(Free.parse(old))
    assert.strictEqual(f.mem.buffCache, 3200000000)
    assert.isUndefined(f.mem.available)
    assert.strictEqual(f.swap!.total, 2147479552)
    const wide = "               total        used        free      shared     buffers       cache   available\nMem:      100  10  20  1  5  6  80\nSwap: 0 0 0\nTotal: 100 10 20\n"
    assert.strictEqual(ok(Free.parse(wide)).mem.buffCache, 11)
    assert.isUndefined(ok(Free.parse("total used free shared buff/cache available\nMem: 1 2 3 4 5 6\n")).swap)
  })

  misses(Free.parse, [
    { name: "empty output", text: "", line: 0 },
    { name: "header only", text: "               total        used        free      shared  buff/cache   available\n", line: 0, message: /no Mem: row/ },
    { name: "free -h sizes", text: "               total        used        free      shared  buff/cache   available\nMem:           7.7Gi       2.0Gi       3.0Gi        41Mi       2.9Gi       5.6Gi\n", line: 2, message: /free -b/ },
    { name: "localized decimals", text: "               total        used        free      shared  buff/cache   available\nMem:           7,7Gi       2,0Gi       3,0Gi        41Mi       2,9Gi       5,6Gi\n", line: 2 },
    { name: "a localized header", text: "              gesamt      benutzt     frei      gemns.  Puffer/Cache verfügbar\nSpeicher:  100 10 20 1 5 80\n", line: 1, message: /LC_ALL=C/ },
    { name: "a localized row label", text: "total used free shared buff/cache available\nSpeicher: 1 2 3 4 5 6\n", line: 2, message: /LC_ALL=C/ },
    { name: "a truncated Mem row", text: "total used free shared buff/cache available\nMem: 8248537088 2187145216 321\n", line: 2, message: /expected 6 values, got 3/ }
  ])
})

// ---------------------------------------------------------------------------------------------

describe("Ps.parse", () => {
  it("reads ps -eo pid,ppid,rss,pcpu,comm, commands with spaces", () => {
    const text = [
      "    PID    PPID   RSS %CPU COMMAND",
      "      1       0 12344  0.0 systemd",
      "   8123       1 98765 12.5 kubelet",
      "   9001    8123  2048  0.3 Web Content",
      "    812       2     0  0.0 kworker/0:1-events",
      ""
    ].join("\n")
    const ps = ok(Ps.parse(text))
    assert.deepStrictEqual(ps.map((p) => [p.pid, p.ppid, p.rssKiB, p.cpuPercent, p.command]), [
      [1, 0, 12344, 0, "systemd"],
      [8123, 1, 98765, 12.5, "kubelet"],
      [9001, 8123, 2048, 0.3, "Web Content"],
      [812, 2, 0, 0, "kworker/0:1-events"]
    ])
  })

  it("reads other columns (user, %mem, vsz, stat, etime/etimes, args) and a decimal comma", () => {
    const text = [
      "USER         PID %CPU %MEM    VSZ   RSS STAT     ELAPSED COMMAND",
      "root        8123  1,5  0,8 1876540 98765 Ssl   1-02:03:04 /usr/bin/kubelet --config=/var/lib/kubelet/config.yaml",
      "nobody       900  0.0  0.1  12000  1000 S          05:09 sleep 30",
      "nobody       901  0.0  0.1  12000  1000 S           3600 sleep 31"
    ].join("\n")
    const [k, s, t] = ok(Ps.parse(text))
    assert.strictEqual(k!.user, "root")
    assert.strictEqual(k!.cpuPercent, 1.5)
    assert.strictEqual(k!.memPercent, 0.8)
    assert.strictEqual(k!.vszKiB, 1876540)
    assert.strictEqual(k!.stat, "Ssl")
    assert.strictEqual(k!.elapsedSeconds, 86400 + 2 * 3600 + 3 * 60 + 4)
    assert.strictEqual(k!.command, "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml")
    assert.strictEqual(s!.elapsedSeconds, 309)
    assert.strictEqual(t!.elapsedSeconds, 3600)
    assert.isUndefined(s!.ppid)
  })

  it("a header alone is no processes", () => {
    assert.deepStrictEqual(ok(Ps.parse("    PID    PPID   RSS %CPU COMMAND\n")), [])
  })

  misses(Ps.parse, [
    { name: "empty output", text: "", line: 0 },
    { name: "a header without PID", text: "USER COMMAND\nroot init\n", line: 1 },
    { name: "a truncated row", text: "    PID    PPID   RSS %CPU COMMAND\n      1       0 123", line: 2, message: /cut short/ },
    { name: "a row without its command", text: "    PID    PPID   RSS %CPU COMMAND\n      1       0 12344  0.0\n", line: 2 },
    { name: "a non-integer RSS", text: "PID RSS COMMAND\n1 12.5k init\n", line: 2, message: /RSS/ },
    { name: "a thousands-grouped percentage", text: "PID %CPU COMMAND\n1 1.234,5 init\n", line: 2, message: /%CPU/ },
    { name: "headerless output (ps -o pid=)", text: "1 0 123 0.0 init\n", line: 1 }
  ])
})

// ---------------------------------------------------------------------------------------------

describe("Crictl", () => {
  const container = {
    id: "4b0e5f1c9d2a",
    podSandboxId: "9f8e7d6c5b4a",
    metadata: { name: "api", attempt: 3 },
    image: { image: "sha256:0123", annotations: {}, userSpecifiedImage: "" },
    imageRef: "docker.io/acme/api@sha256:0123",
    state: "CONTAINER_RUNNING",
    createdAt: "1733570000123456789",
    labels: {
      "io.kubernetes.container.name": "api",
      "io.kubernetes.pod.name": "api-7d9f-x2",
      "io.kubernetes.pod.namespace": "shop",
      "io.kubernetes.pod.uid": "uid-1"
    },
    annotations: { "io.kubernetes.container.restartCount": "3", "io.kubernetes.container.hash": "abc" }
  }

  it("parsePs reads crictl ps -o json (int64 as strings), and {} or no containers is none", () => {
    const [c] = ok(Crictl.parsePs(JSON.stringify({ containers: [container] }, null, 2)))
    assert.strictEqual(c!.id, "4b0e5f1c9d2a")
    assert.strictEqual(c!.name, "api")
    assert.strictEqual(c!.attempt, 3)
    assert.strictEqual(c!.state, "CONTAINER_RUNNING")
    assert.strictEqual(c!.createdAt!.toISOString(), "2024-12-07T11:13:20.123Z")
    assert.strictEqual(c!.podName, "api-7d9f-x2")
    assert.strictEqual(c!.podNamespace, "shop")
    assert.strictEqual(c!.restartCount, 3)
    assert.strictEqual(c!.imageRef, "docker.io/acme/api@sha256:0123")
    assert.deepStrictEqual(ok(Crictl.parsePs("{}")), [])
    assert.deepStrictEqual(ok(Crictl.parsePs('{"containers":[]}')), [])
  })

  const inspect = {
    status: {
      id: "4b0e5f1c9d2a",
      metadata: { attempt: 3, name: "api" },
      state: "CONTAINER_EXITED",
      createdAt: "2024-12-07T11:13:20.123456789Z",
      startedAt: "2024-12-07T11:13:21.000000000Z",
      finishedAt: "2024-12-07T11:20:00.5Z",
      exitCode: 137,
      image: { annotations: {}, image: "docker.io/acme/api:1.2.3" },
      imageRef: "docker.io/acme/api@sha256:0123",
      reason: "OOMKilled",
      message: "",
      labels: container.labels,
      annotations: container.annotations,
      mounts: [],
      logPath: "/var/log/pods/shop_api-7d9f-x2_uid-1/api/3.log",
      resources: { linux: { cpuPeriod: "100000", cpuQuota: "50000", memoryLimitInBytes: "268435456", oomScoreAdj: "936" } }
    },
    info: { sandboxID: "9f8e7d6c5b4a", pid: 0, runtimeSpec: { ociVersion: "1.1.0" } }
  }

  it("parseInspect reads an OOM-killed container: exit 137, reason, times, memory limit", () => {
    const i = ok(Crictl.parseInspect(JSON.stringify(inspect, null, 2)))
    assert.strictEqual(i.state, "CONTAINER_EXITED")
    assert.strictEqual(i.exitCode, 137)
    assert.strictEqual(i.reason, "OOMKilled")
    assert.isUndefined(i.message)
    assert.isUndefined(i.pid)
    assert.strictEqual(i.memoryLimitBytes, 268435456)
    assert.strictEqual(i.finishedAt!.toISOString(), "2024-12-07T11:20:00.500Z")
    assert.strictEqual(i.startedAt!.toISOString(), "2024-12-07T11:13:21.000Z")
    assert.strictEqual(i.podNamespace, "shop")
    assert.strictEqual(i.restartCount, 3)
  })

  it("parseInspect reads a created container: zero times are undefined, numbers as numbers", () => {
    const created = { status: { ...inspect.status, state: "CONTAINER_CREATED", startedAt: "0001-01-01T00:00:00Z", finishedAt: "1970-01-01T00:00:00Z", exitCode: 0, reason: "", resources: { linux: { memoryLimitInBytes: 0 } } }, info: { pid: 4242 } }
    const i = ok(Crictl.parseInspect(JSON.stringify(created)))
    assert.isUndefined(i.startedAt)
    assert.isUndefined(i.finishedAt)
    assert.isUndefined(i.reason)
    assert.isUndefined(i.memoryLimitBytes)
    assert.strictEqual(i.pid, 4242)
  })

  misses(Crictl.parsePs, [
    { name: "empty output", text: "", line: 0, message: /empty output/ },
    { name: "truncated JSON (output cap)", text: JSON.stringify({ containers: [container] }, null, 2).slice(0, 200), line: 11, message: /truncated JSON/ },
    { name: "JSON cut at a line end", text: JSON.stringify({ containers: [container] }, null, 2).split("\n").slice(0, 6).join("\n") + "\n", line: 6, message: /truncated JSON/ },
    { name: "an unknown state", text: JSON.stringify({ containers: [{ ...container, state: "RUNNING" }] }), line: 0, path: "containers[0].state" },
    { name: "a missing id", text: JSON.stringify({ containers: [container, { ...container, id: undefined }] }), line: 0, path: "containers[1].id" },
    { name: "a label that is not a string", text: JSON.stringify({ containers: [{ ...container, labels: { a: 1 } }] }), line: 0, path: "containers[0].labels.a" },
    { name: "the table instead of JSON", text: "CONTAINER  IMAGE  CREATED  STATE  NAME  ATTEMPT  POD ID  POD\n", line: 1, message: /invalid JSON/ }
  ])

  misses(Crictl.parseInspect, [
    { name: "no status", text: JSON.stringify({ info: {} }), line: 0, path: "status" },
    { name: "a bad time", text: JSON.stringify({ status: { ...inspect.status, startedAt: "yesterday" } }), line: 0, path: "status.startedAt" },
    { name: "a non-integer exit code", text: JSON.stringify({ status: { ...inspect.status, exitCode: "x" } }), line: 0, path: "status.exitCode" }
  ])
})

// ---------------------------------------------------------------------------------------------

describe("this machine's own output parses (Shell.local)", () => {
  const run = (argv: ReadonlyArray<string>) => Shell.runOk(argv, { env: { LC_ALL: "C" } }).pipe(Effect.provide(Shell.layerLocal))

  it.live("df -P, df -P -B1, free -b and ps -eo pid,ppid,rss,pcpu,comm", () =>
    Effect.gen(function*() {
      const df = yield* Df.parse((yield* run(["df", "-P"])).stdout)
      assert.isTrue(df.filesystems.some((f) => f.mountedOn === "/"), "the root filesystem is listed")
      assert.strictEqual(df.blockSize, 1024)
      const bytes = yield* Df.parse((yield* run(["df", "-P", "-B1", "/"])).stdout)
      assert.strictEqual(bytes.blockSize, 1)
      assert.strictEqual(bytes.filesystems[0]!.totalBytes, bytes.filesystems[0]!.total)
      const free = yield* Free.parse((yield* run(["free", "-b"])).stdout)
      assert.isAbove(free.mem.total, 0)
      assert.isAbove(free.mem.total, free.mem.free - 1)
      const ps = yield* Ps.parse((yield* run(["ps", "-eo", "pid,ppid,rss,pcpu,comm"])).stdout)
      assert.isTrue(ps.some((p) => p.pid === process.pid), "this process is listed")
      assert.isTrue(ps.every((p) => p.command !== undefined && p.command.length > 0))
    }))
})
