/**
 * `@byteport/core/shell` — run commands on hosts and nodes (`Shell`: argv only, timeouts, output
 * caps, typed errors, redacted transcripts) and parse the output of common node tools.
 *
 * @since 0.2.0
 */
/** The Shell service, `Shell.local`, `Shell.make`, errors and report-facing transcripts. */
export * as Shell from "./Shell"
/** The error every parser fails with: parser, line (or JSON path), offending text (redacted). */
export { ParseError } from "./ParseError"
/** `systemctl show`, `list-units` (JSON and plain), `is-active`/`is-failed` with their exit codes, and Unknown without systemd. */
export * as Systemctl from "./Systemctl"
/** `journalctl -o json` (MESSAGE as text or bytes) and the kernel log findings (global OOM, hardware errors, panics). */
export * as Journalctl from "./Journalctl"
/** `df -P`, and `df -h` / `df -i` (`-` is Unknown). */
export * as Df from "./Df"
/** `free -b`. */
export * as Free from "./Free"
/** `ps -eo pid,ppid,rss,pcpu,comm` and similar. */
export * as Ps from "./Ps"
/** `crictl ps -o json`, `crictl inspect` and `crictl images -o json`. */
export * as Crictl from "./Crictl"
/** `/proc/sys/fs/file-nr` (bigints). */
export * as FileNr from "./FileNr"
