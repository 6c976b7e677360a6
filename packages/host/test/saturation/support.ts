/**
 * Synthetic `/proc/stat` and `/proc/meminfo` files the saturation runbooks read (their `statPath` /
 * `meminfoPath`): the machine's own figures depend on every other process here, so the tests
 * decide the host-wide figures while the processes acted on are real.
 */
import * as fs from "node:fs"

/** Replaces the file atomically (temp file, rename): the runbook's async read never sees it half-written. */
const writeAtomic = (path: string, text: string) => {
  const tmp = `${path}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, path)
}

/** A `/proc/stat` whose counters advance by 100 ticks per `tick()` at the given busy / steal percent. */
export const cpuStat = (path: string) => {
  const t = { user: 1000, nice: 0, system: 0, idle: 9000, iowait: 0, irq: 0, softirq: 0, steal: 0 }
  const write = () =>
    writeAtomic(path, `cpu  ${t.user} ${t.nice} ${t.system} ${t.idle} ${t.iowait} ${t.irq} ${t.softirq} ${t.steal} 0 0\ncpu0 ${t.user} ${t.nice} ${t.system} ${t.idle} ${t.iowait} ${t.irq} ${t.softirq} ${t.steal} 0 0\nintr 0\n`)
  write()
  return {
    /** Advances the counters by one interval of 100 ticks: `busy` % busy, of which `steal` % is steal. */
    tick: (busy: number, steal = 0) => {
      t.user += busy - steal
      t.steal += steal
      t.idle += 100 - busy
      write()
    }
  }
}

/** A feeder advancing a cpuStat every 20 ms at the current `busy` / `steal` (for live runbook runs). */
export const cpuFeed = (path: string, initial: { busy: number; steal?: number }) => {
  const stat = cpuStat(path)
  const state = initial
  const timer = setInterval(() => stat.tick(state.busy, state.steal ?? 0), 20)
  return { state, stop: () => clearInterval(timer) }
}

/** Writes a `/proc/meminfo` (kB figures) with MemTotal 8 GiB. */
export const meminfo = (path: string, m: { readonly usedPercent: number; readonly cachedPercent?: number; readonly shmemPercent?: number }) => {
  const total = 8 * 1024 * 1024
  const available = Math.round(total * (1 - m.usedPercent / 100))
  const cached = Math.round(total * ((m.cachedPercent ?? 5) / 100))
  const shmem = Math.round(total * ((m.shmemPercent ?? 1) / 100))
  writeAtomic(path, [
    `MemTotal:       ${total} kB`,
    `MemFree:        ${Math.max(0, available - cached)} kB`,
    `MemAvailable:   ${available} kB`,
    `Buffers:        1024 kB`,
    `Cached:         ${cached} kB`,
    `SwapCached:     0 kB`,
    `Shmem:          ${shmem} kB`,
    `SwapTotal:      0 kB`,
    `SwapFree:       0 kB`,
    ""
  ].join("\n"))
}
