/** Real tmpfs mounts for the host tests (the tests run as root; roots always in temp dirs). */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"

/**
 * Mounts a tmpfs (default 64 MiB) on a fresh temp dir; under CI=true a failing mount fails the
 * test, elsewhere it warns and returns undefined (the caller skips its body).
 */
export const mountTmpfs = (options: { readonly prefix?: string; readonly mountOptions?: string } = {}): string | undefined => {
  const dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), options.prefix ?? "byteport-tmpfs-")))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options.mountOptions ?? "size=64m", "tmpfs", dir])
    return dir
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true })
    if (process.env["CI"] === "true") throw e
    console.warn(`tmpfs mount unavailable, test not run: ${String(e)}`)
    return undefined
  }
}

/** Unmounts a tmpfs from `mountTmpfs` and removes its directory. */
export const unmount = (dir: string): void => {
  execFileSync("umount", [dir])
  fs.rmSync(dir, { recursive: true, force: true })
}

/** Sets a file's atime and mtime `ageMs` in the past. */
export const old = (p: string, ageMs: number): void => {
  const t = (Date.now() - ageMs) / 1000
  fs.utimesSync(p, t, t)
}
