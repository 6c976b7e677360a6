/**
 * What the disk runbooks' tests share: the recorded-fixture fields both runbooks' facts have and a
 * snapshot of every file under a mount.
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Schema } from "effect"
import * as Statfs from "../../src/readers/Statfs"
import * as Safety from "../../src/safety/Safety"

/** The facts fields of both disk runbooks' fixtures: statfs usage, top dirs, old logs and stale temp files. */
export const diskFactsFields = {
  usage: Statfs.Usage,
  topDirs: Schema.Array(Schema.Struct({ path: Schema.String, bytes: Schema.Number })),
  logs: Schema.Array(Safety.Candidate),
  tmp: Schema.Array(Safety.Candidate)
}

/** Every regular file under `dir` (recursive) with its inode, size and mtime, by relative path. */
export const fileSnapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name of fs.readdirSync(dir, { recursive: true }) as Array<string>) {
    const s = fs.lstatSync(nodePath.join(dir, name))
    if (s.isFile()) out[name] = `${s.ino} ${s.size} ${s.mtimeMs}`
  }
  return out
}
