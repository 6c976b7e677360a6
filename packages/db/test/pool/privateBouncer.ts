/**
 * A private pgbouncer for the tests that edit pgbouncer.ini and saturate a pool: the shared test
 * pgbouncer is used by concurrent test runs (and by PgBouncer.test.ts, which edits the same ini),
 * so these tests start their own pgbouncer process — the same Debian binary, configured like the
 * shared one (a copy of its ini: same databases on the real PostgreSQL, same auth file, transaction
 * pooling, pool of 4) on its own 127.0.0.1 port, in its own directory, as the `postgres` OS user
 * (pgbouncer refuses to run as root). It is stopped by its pid and its directory removed.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

/** A running private pgbouncer. */
export interface PrivateBouncer {
  readonly iniPath: string
  readonly port: number
  /** The app user's URL through it. */
  readonly url: string
  /** The admin console URL. */
  readonly adminUrl: string
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = net.createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
  })

const withPort = (url: string, port: number) => {
  const u = new URL(url)
  u.port = String(port)
  return u.toString()
}

/** Starts a private pgbouncer configured like the shared one. */
export const start = async (env: Readonly<Record<string, string>>): Promise<PrivateBouncer> => {
  const sharedIni = env.BYTEPORT_TEST_PGBOUNCER_INI ?? ""
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bp-pool-pgbouncer-"))
  const iniPath = path.join(dir, "pgbouncer.ini")
  const pidfile = path.join(dir, "pgbouncer.pid")
  const owner = fs.statSync(sharedIni)
  const port = await freePort()
  const text = fs.readFileSync(sharedIni, "utf8")
    .replace(/^listen_port\s*=.*$/m, `listen_port = ${port}`)
    .replace(/^logfile\s*=.*$/m, `logfile = ${path.join(dir, "pgbouncer.log")}`)
    .replace(/^pidfile\s*=.*$/m, `pidfile = ${pidfile}`)
    // Pool sizes are pinned, not inherited: PgBouncer.test.ts raises the shared ini's sizes while
    // it runs, and a copy taken at that moment would make "saturation" a transient login wait.
    .replace(/^default_pool_size\s*=.*$/m, "default_pool_size = 4")
    .replace(/^([^#;\n]*=\s*host=[^\n]*?)\s+pool_size\s*=\s*\d+/gm, "$1")
  fs.writeFileSync(iniPath, text, { mode: 0o644 })
  fs.chownSync(dir, owner.uid, owner.gid)
  fs.chownSync(iniPath, owner.uid, owner.gid)
  await run("runuser", ["-u", "postgres", "--", "pgbouncer", "-d", "-q", iniPath])
  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (Date.now() > deadline) throw new Error(`private pgbouncer did not start on ${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const stop = async () => {
    const pid = Number(fs.readFileSync(pidfile, "utf8").trim())
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, "SIGTERM")
      } catch {
        // already gone
      }
      const until = Date.now() + 5_000
      while (Date.now() < until) {
        try {
          process.kill(pid, 0)
        } catch {
          break
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return {
    iniPath,
    port,
    url: withPort(env.BYTEPORT_TEST_PGBOUNCER_URL ?? "", port),
    adminUrl: withPort(env.BYTEPORT_TEST_PGBOUNCER_ADMIN_URL ?? "", port),
    stop
  }
}
