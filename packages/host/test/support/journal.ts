/**
 * Real journal files for tests: systemd-journal-remote writes them from the journal export format;
 * an archived file gets journald's rotation name (`system@<seqnum id>-<head seqnum>-<head realtime>.journal`).
 */
import * as nodePath from "node:path"
import * as fs from "node:fs"
import { Effect } from "effect"
import { Shell } from "@byteport/core/shell"

/** Where systemd-journal-remote is (scripts/services.sh hosttools). */
export const JOURNAL_REMOTE = process.env.BYTEPORT_TEST_JOURNAL_REMOTE ?? "/lib/systemd/systemd-journal-remote"

let seq = 1

/** Writes one journal file into `dir` (archived: journald's rotated name; else `system.journal`); returns its path. */
export const writeJournal = (
  dir: string,
  options: { readonly archived: boolean; readonly ageMs?: number; readonly messages: ReadonlyArray<string>; readonly unit?: string }
): Effect.Effect<string, Shell.ShellError> =>
  Effect.gen(function*() {
    const t0 = Date.now() - (options.ageMs ?? 0)
    const stream = options.messages.map((m, i) =>
      [
        `__REALTIME_TIMESTAMP=${(t0 + i) * 1000}`,
        `__MONOTONIC_TIMESTAMP=${i + 1}`,
        "_BOOT_ID=0123456789abcdef0123456789abcdef",
        `MESSAGE=${m}`,
        ...(options.unit !== undefined ? [`_SYSTEMD_UNIT=${options.unit}`] : []),
        "SYSLOG_IDENTIFIER=byteport-test",
        "_HOSTNAME=testhost",
        ""
      ].join("\n")
    ).join("\n") + "\n"
    const tmp = nodePath.join(dir, `.writing-${process.pid}-${seq}.journal`)
    const r = yield* Shell.local.run([JOURNAL_REMOTE, `--output=${tmp}`, "--split-mode=none", "-"], { stdin: stream, timeout: "30 seconds" })
    if (r.exitCode !== 0) return yield* Effect.die(new Error(`systemd-journal-remote exited ${r.exitCode}: ${r.stderr}`))
    const name = options.archived
      ? `system@${"0123456789abcdef".repeat(2)}-${(seq++).toString(16).padStart(16, "0")}-${(t0 * 1000).toString(16).padStart(16, "0")}.journal`
      : "system.journal"
    const target = nodePath.join(dir, name)
    fs.renameSync(tmp, target)
    return target
  })
