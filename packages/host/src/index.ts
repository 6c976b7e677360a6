/**
 * @byteport/host — BytePort for Linux hosts: /proc and statfs readers, a du walker and the
 * safety core of the disk cleaners (roots, hard safe-list, no symlink followed, open files kept).
 *
 * @since 0.1.0
 */

/** Typed errors of the readers (`HostReadError`). */
export * as HostError from "./HostError"
/** `/proc/meminfo`. */
export * as Meminfo from "./readers/Meminfo"
/** The cpu lines of `/proc/stat` and the busy fraction between samples. */
export * as CpuStat from "./readers/CpuStat"
/** `/proc/<pid>/status` (VmRSS, RssAnon, RssFile, RssShmem). */
export * as ProcStatus from "./readers/ProcStatus"
/** `/proc/<pid>/stat`, split at the last `)`. */
export * as PidStat from "./readers/PidStat"
/** `/proc/<pid>` oom_score_adj, cmdline and named environ variables only. */
export * as ProcInfo from "./readers/ProcInfo"
/** statfs with df's Use% and inode usage. */
export * as Statfs from "./readers/Statfs"
/** The du walker: allocated bytes, hard links once, no symlinks, one filesystem, time-budgeted. */
export * as Du from "./Du"
/** The cleaners' safety core: roots under a prefix, the hard safe-list, no symlinks, open files kept. */
export * as Safety from "./safety/Safety"
/** Temp-file and log cleaners (`host.tmp.delete`, `host.log.gzip` action handlers). */
export * as Cleaners from "./actions/Cleaners"
/** The disk floor: the `host.disk.below-floor` check and statfs-delta measurement of a step. */
export * as DiskFloor from "./DiskFloor"
/** The `host.disk.usage` statfs poll detector. */
export * as DiskUsage from "./detectors/DiskUsage"
/** The diagnoser of `host.disk.cleanup`: statfs, du top-5, cleaner candidates. */
export * as DiskDiagnoser from "./diagnosers/DiskDiagnoser"
/** The classifier of `host.disk.cleanup` (one class, `disk_over_floor`). */
export * as DiskCleanup from "./classifiers/DiskCleanup"
/** The remediator of `host.disk.cleanup`: safe steps inside `Plan.until(floor)`, measured handlers. */
export * as DiskCleanupRemediator from "./remediators/DiskCleanupRemediator"
/** The verifier of `host.disk.cleanup`: floor held, 80–85 % warning, > 85 % escalation with +N GiB. */
export * as DiskFloorHeld from "./verifiers/DiskFloorHeld"
/** The `host.disk.cleanup` runbook. */
export * as HostDiskCleanup from "./runbooks/host.disk.cleanup"
/** OpenSSH known_hosts parsing and host-key pinning. */
export * as KnownHosts from "./ssh/KnownHosts"
/** `Ssh`: a core Shell over SSH (ssh2): pinned host keys, key auth, quoted argv, process-group kill on timeout. */
export * as Ssh from "./ssh/Ssh"
/** `HostFs`: read, readdir, lstat, statfs, rename, unlink — local (node:fs) or over SFTP. */
export * as HostFs from "./fs/HostFs"
/** The disk runbooks' measured steps (`bytesFreed` = statfs delta of the mount). */
export * as Measured from "./actions/Measured"
/** journald vacuum (`journalctl --vacuum-size` / `--vacuum-time`) through a Shell (`host.journal.vacuum`). */
export * as JournalVacuum from "./actions/JournalVacuum"
/** logrotate with a generated config for logs over 100 MB (`host.log.rotate`). */
export * as Logrotate from "./actions/Logrotate"
/** Docker prune through the Engine API, opt-in, never volumes (`host.docker.prune`). */
export * as Docker from "./actions/Docker"
/** `crictl rmi --prune` through a Shell, opt-in (`host.crictl.prune`). */
export * as CrictlPrune from "./actions/CrictlPrune"
/** apt/yum/dnf/pip/npm cache prune, opt-in (`host.package-cache.prune`). */
export * as PackageCaches from "./actions/PackageCaches"
/** Volume growth: mount → volume id, the `volume grow requested` hand-off, growpart/resize2fs/xfs_growfs (`host.volume.growfs`). */
export * as VolumeGrowth from "./actions/VolumeGrowth"
/** The steps the disk runbooks share (actions, step names). */
export * as DiskSteps from "./remediators/DiskSteps"
/** The diagnoser of `host.disk.reclaim` (parallel: df/inode/du/docker/journald, volume). */
export * as ReclaimDiagnoser from "./diagnosers/ReclaimDiagnoser"
/** The remediator of `host.disk.reclaim`: the seed's steps in order inside `Plan.until(floor)`. */
export * as ReclaimRemediator from "./remediators/ReclaimRemediator"
/** The `host.disk.reclaim` runbook. */
export * as HostDiskReclaim from "./runbooks/host.disk.reclaim"
/** `ServiceManager`: is-active, show (ActiveState, MainPID, NRestarts, MemoryMax), restart, runtime MemoryMax, journal vacuum — systemd through a Shell. */
export * as ServiceManager from "./services/ServiceManager"
/** `LocalSupervisor`: a Shell answering systemctl / journalctl from real processes in their own memory cgroups, with real journal files. */
export * as LocalSupervisor from "./services/LocalSupervisor"
/** The never-touched set of process control (PID 1, kernel threads, sshd, systemd-*, kubelet, runtimes, databases, BytePort and its ancestors, the operator's list). */
export * as ProcessGuard from "./process/ProcessGuard"
/** Process control action kinds: renice, oom_score_adj, non-terminating signals, restart through a ServiceManager; each conditional on pid + starttime. */
export * as ProcessControl from "./process/ProcessControl"
/** A sustained-threshold window (every sample over the threshold for a continuous window; a dip resets). */
export * as Sustained from "./saturation/Sustained"
/** Per-process CPU and RSS samples with identity, unit and the never-touched verdict. */
export * as ProcSample from "./saturation/ProcSample"
/** The `host.cpu.saturation` runbook and its parts. */
export * as HostCpuSaturation from "./runbooks/host.cpu.saturation"
/** The `host.memory.saturation` runbook and its parts. */
export * as HostMemorySaturation from "./runbooks/host.memory.saturation"
/** The runaway detector's growth window (RSS growth rate over a window; a plateau or a restart resets). */
export * as RunawayGrowth from "./runaway/Growth"
/** `DeploySource`: where `host.memory.runaway` learns of the target's latest deploy (default none). */
export * as DeploySource from "./runaway/DeploySource"
/** The `host.memory.runaway` runbook and its parts. */
export * as HostMemoryRunaway from "./runbooks/host.memory.runaway"
/** OOM kills from `/dev/kmsg` (`oom-kill:` / `Killed process` lines) as a Stream. */
export * as Kmsg from "./readers/Kmsg"
/** A memory cgroup's usage and limit (v1 and v2). */
export * as CgroupMemory from "./readers/CgroupMemory"
/** The memory history statistics of `host.memory.five-class` (climb, span, p99, rps correlation). */
export * as FiveClassStats from "./fivec/Stats"
/** Runtime detection (JVM / Node / Go heap flags) and the jcmd / Node heap probes. */
export * as FiveClassRuntime from "./fivec/Runtime"
/** The `host.memory.five-class` runbook and its parts. */
export * as HostMemoryFiveClass from "./runbooks/host.memory.five-class"
/** The default catalog of the host runbooks (families `host.memory`, `host.cpu`, `host.disk`; precedence; defaults) and how to extend it. */
export * as HostCatalog from "./catalog"
/** The restart budget of a service shared by `host.memory.five-class` and `host.memory.runaway` (≤ 3 per service per hour). */
export * as RestartBudget from "./process/RestartBudget"
/** `RequestRateHistory`: a service's request rate over time for five-class's traffic_spike (pluggable; store-backed default). */
export * as RequestRateHistory from "./fivec/RequestRate"
/** Kubernetes pods as a host sees them: a kubepods cgroup's pod uid and container id, named from the kubelet's log links. */
export * as Pods from "./fivec/Pods"
