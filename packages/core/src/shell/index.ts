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
/** `systemctl show` and `systemctl list-units` (JSON and plain). */
export * as Systemctl from "./Systemctl"
/** `journalctl -o json`. */
export * as Journalctl from "./Journalctl"
/** `df -P`. */
export * as Df from "./Df"
/** `free -b`. */
export * as Free from "./Free"
/** `ps -eo pid,ppid,rss,pcpu,comm` and similar. */
export * as Ps from "./Ps"
/** `crictl ps -o json` and `crictl inspect`. */
export * as Crictl from "./Crictl"
