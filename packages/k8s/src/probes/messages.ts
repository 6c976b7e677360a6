/**
 * Parsers of the kubelet's and the container runtime's messages, as they appear in Events and
 * container states: back-offs, probe failures (status code, connection refused, timeout),
 * terminations (exit code + reason, what the code means), CreateContainerConfigError's missing
 * ConfigMap/Secret/key, and ErrImagePull's causes (not found, unauthorized, DNS, timeout,
 * refused, x509, proxy, platform). Every parser is pure and total: an unrecognised message gives
 * `undefined` (or an `other` cause), never a throw. Real strings from the kubelet, containerd and
 * the scheduler are in the tests.
 *
 * @example
 * ```ts
 * import { PodMessages } from "@byteport/k8s"
 * PodMessages.probe("Liveness probe failed: HTTP probe failed with statuscode: 404")
 * // { probe: "Liveness", failure: "status", statusCode: 404, … }
 * ```
 *
 * @since 0.1.0
 */

/** `Back-off restarting failed container app in pod web-abc_shop(uid)` / `Back-off pulling image "x"`. */
export type BackOff =
  | { readonly _tag: "Restart"; readonly container: string; readonly pod: string | null; readonly namespace: string | null; readonly uid: string | null }
  | { readonly _tag: "Pull"; readonly image: string }

/** Parses a kubelet back-off message. */
export const backOff = (message: string): BackOff | undefined => {
  const r = /^Back-off restarting failed container (\S+) in pod (\S+?)_(\S+?)\(([^)]*)\)/.exec(message)
  if (r) return { _tag: "Restart", container: r[1]!, pod: r[2]!, namespace: r[3]!, uid: r[4]! || null }
  const r2 = /^Back-off restarting failed container (\S+)/.exec(message)
  if (r2) return { _tag: "Restart", container: r2[1]!, pod: null, namespace: null, uid: null }
  const p = /^Back-off pulling image "([^"]+)"/.exec(message)
  return p ? { _tag: "Pull", image: p[1]! } : undefined
}

/** How a probe failed. */
export type ProbeFailureKind = "status" | "refused" | "timeout" | "reset" | "exec" | "grpc" | "other"

/** A parsed probe failure (`Liveness probe failed: …`) or kill (`Container app failed liveness probe, will be restarted`). */
export interface ProbeFailure {
  /** `Liveness`, `Readiness` or `Startup`. */
  readonly probe: "Liveness" | "Readiness" | "Startup"
  readonly failure: ProbeFailureKind
  /** The HTTP status code (`status`), else null. */
  readonly statusCode: number | null
  /** The probed `host:port`, when the message names it. */
  readonly address: string | null
  /** The container, for a kill message. */
  readonly container: string | null
  /** Whether this is the kubelet's kill (`will be restarted`) rather than one failed attempt. */
  readonly kill: boolean
  /** The text after `probe failed: `. */
  readonly detail: string
}

const probeName = (s: string): ProbeFailure["probe"] => (s.toLowerCase() === "liveness" ? "Liveness" : s.toLowerCase() === "readiness" ? "Readiness" : "Startup")

/** Classifies the detail of a probe failure (the text after `probe failed: `). */
export const probeDetail = (detail: string): { readonly failure: ProbeFailureKind; readonly statusCode: number | null; readonly address: string | null } => {
  const addr = /dial tcp (\[?[0-9a-fA-F.:]+\]?:\d+)/.exec(detail)?.[1] ?? /service "([^"]+)"/.exec(detail)?.[1] ?? /https?:\/\/([^/"]+)/.exec(detail)?.[1] ?? null
  const status = /statuscode: (\d{3})/.exec(detail)
  if (status) return { failure: "status", statusCode: Number(status[1]), address: addr }
  if (/connection refused/.test(detail)) return { failure: "refused", statusCode: null, address: addr }
  if (/context deadline exceeded|Client\.Timeout exceeded|i\/o timeout|timed out|timeout:/i.test(detail)) return { failure: "timeout", statusCode: null, address: addr }
  if (/connection reset by peer|EOF$/.test(detail)) return { failure: "reset", statusCode: null, address: addr }
  if (/service unhealthy|NOT_SERVING/.test(detail)) return { failure: "grpc", statusCode: null, address: addr }
  if (/^command ".*" exited with|exit status|OCI runtime exec failed/.test(detail)) return { failure: "exec", statusCode: null, address: null }
  return { failure: "other", statusCode: null, address: addr }
}

/** Parses a probe failure Event message (`Unhealthy`) or a probe kill (`Killing`). */
export const probe = (message: string): ProbeFailure | undefined => {
  const f = /^(Liveness|Readiness|Startup) probe failed: ([\s\S]*)$/.exec(message)
  if (f) return { probe: probeName(f[1]!), ...probeDetail(f[2]!.trim()), container: null, kill: false, detail: f[2]!.trim() }
  const errored = /^(Liveness|Readiness|Startup) probe errored(?: and resulted in unknown state)?: ([\s\S]*)$/.exec(message)
  if (errored) return { probe: probeName(errored[1]!), ...probeDetail(errored[2]!.trim()), container: null, kill: false, detail: errored[2]!.trim() }
  const k = /^Container (\S+) failed (liveness|startup) probe, will be restarted$/.exec(message)
  if (k) return { probe: probeName(k[2]!), failure: "other", statusCode: null, address: null, container: k[1]!, kill: true, detail: message }
  return undefined
}

/** What an exit code means. */
export type ExitMeaning =
  | "success"
  | "error"
  | "misuse"
  | "start_error"
  | "not_executable"
  | "not_found"
  | "sigkill"
  | "sigterm"
  | "config"
  | "signal"
  | "other"

/** A parsed termination. */
export interface Termination {
  readonly exitCode: number | null
  readonly reason: string | null
  readonly meaning: ExitMeaning
  /** For codes above 128: the signal number. */
  readonly signal: number | null
  readonly message: string | null
  readonly finishedAt: string | null
  readonly startedAt: string | null
  /** How long the container ran (ms), when both times are known. */
  readonly ranMs: number | null
}

/**
 * The meaning of an exit code with the runtime's reason: 127 (or reason `StartError` / `ContainerCannotRun`
 * with "executable file not found") is a missing binary; 126 a binary that is not executable (never
 * a missing binary); 128 with `StartError` a failed start; 137 is SIGKILL (the OOM killer only
 * when the reason is `OOMKilled`); 143 SIGTERM; 78 `EX_CONFIG`.
 */
export const exitMeaning = (exitCode: number | null, reason: string | null, message: string | null = null): ExitMeaning => {
  if ((reason === "StartError" || reason === "ContainerCannotRun") && /executable file not found|no such file or directory/.test(message ?? "")) return "not_found"
  if (exitCode === null) return reason === "StartError" || reason === "ContainerCannotRun" ? "start_error" : "other"
  if (exitCode === 0) return "success"
  if (exitCode === 127) return "not_found"
  if (exitCode === 126) return "not_executable"
  if (reason === "StartError" || reason === "ContainerCannotRun") return "start_error"
  if (exitCode === 78) return "config"
  if (exitCode === 137) return "sigkill"
  if (exitCode === 143) return "sigterm"
  if (exitCode === 128) return "start_error"
  if (exitCode > 128 && exitCode < 160) return "signal"
  if (exitCode === 2) return "misuse"
  if (exitCode === 1) return "error"
  return "other"
}

/** A terminated container state → `Termination`. */
export const termination = (t: {
  readonly exitCode?: number | undefined
  readonly reason?: string | undefined
  readonly message?: string | null | undefined
  readonly finishedAt?: string | null | undefined
  readonly startedAt?: string | null | undefined
}): Termination => {
  const exitCode = t.exitCode ?? null
  const reason = t.reason ?? null
  const message = t.message ?? null
  const start = t.startedAt ? Date.parse(t.startedAt) : Number.NaN
  const end = t.finishedAt ? Date.parse(t.finishedAt) : Number.NaN
  return {
    exitCode,
    reason,
    meaning: exitMeaning(exitCode, reason, message),
    signal: exitCode !== null && exitCode > 128 && exitCode < 160 ? exitCode - 128 : null,
    message,
    finishedAt: t.finishedAt ?? null,
    startedAt: t.startedAt ?? null,
    ranMs: Number.isFinite(start) && Number.isFinite(end) ? end - start : null
  }
}

/** What a CreateContainerConfigError is missing. */
export interface ConfigError {
  readonly kind: "ConfigMap" | "Secret"
  readonly name: string
  /** The namespace, when the message names it (`couldn't find key K in Secret ns/name`). */
  readonly namespace: string | null
  /** The missing key, for a key error; null when the whole object is missing. */
  readonly key: string | null
}

/**
 * Parses CreateContainerConfigError (and MountVolume.SetUp) messages: `configmap "x" not found`,
 * `secret "x" not found` (also the plural API forms), `couldn't find key K in ConfigMap ns/x`,
 * `couldn't find key K in Secret ns/x`. Anything else (e.g. `container has runAsNonRoot and
 * image will run as root`) gives undefined.
 */
export const configError = (message: string): ConfigError | undefined => {
  const missing = /\b(configmaps?|secrets?) "([^"]+)" not found/i.exec(message)
  if (missing) return { kind: /^config/i.test(missing[1]!) ? "ConfigMap" : "Secret", name: missing[2]!, namespace: null, key: null }
  const key = /couldn't find key (\S+) in (ConfigMap|Secret) (?:([^/\s]+)\/)?(\S+)/.exec(message)
  if (key) return { kind: key[2] as "ConfigMap" | "Secret", name: key[4]!, namespace: key[3] ?? null, key: key[1]! }
  return undefined
}

/** The cause of a failed pull, from the runtime's message alone. */
export type PullCause =
  | "not_found"
  | "unauthorized"
  /** "pull access denied, repository does not exist or may require authorization": ambiguous by design. */
  | "denied_or_not_found"
  | "dns"
  | "timeout"
  | "refused"
  | "x509"
  | "proxy"
  | "platform"
  | "invalid_name"
  | "never_pull"
  | "other"

/** A parsed pull failure. */
export interface PullFailure {
  readonly cause: PullCause
  /** The image reference the runtime tried (`docker.io/library/nginx:1.99`), when named. */
  readonly reference: string | null
  /** The registry host, when the message names it. */
  readonly registry: string | null
  /** Whether the cause is on the network path (dns, timeout, refused, x509, proxy). */
  readonly network: boolean
}

const NETWORK: ReadonlySet<PullCause> = new Set(["dns", "timeout", "refused", "x509", "proxy"])

/**
 * Parses an ErrImagePull message (containerd or CRI-O). "pull access denied" with an
 * `insufficient_scope` / `401 Unauthorized` trailer is still `denied_or_not_found`: a registry
 * answers so for a missing repository too, so the image-pull runbook decides from the pull
 * secrets and the previous tag, never from this message alone.
 */
export const imagePull = (message: string): PullFailure => {
  const reference = /(?:image|reference) "([^"]+)"/.exec(message)?.[1] ?? null
  const registry =
    /lookup ([^\s:]+)(?: on [^:]+:\d+)?: no such host/.exec(message)?.[1] ??
    /https?:\/\/([^/"\s]+)/.exec(message)?.[1] ??
    (reference !== null && reference.split("/")[0]!.includes(".") ? reference.split("/")[0]! : null)
  const out = (cause: PullCause): PullFailure => ({ cause, reference, registry, network: NETWORK.has(cause) })
  if (/InvalidImageName|invalid reference format|couldn't parse image (?:name|reference)/i.test(message)) return out("invalid_name")
  if (/is not present with pull policy of Never/.test(message)) return out("never_pull")
  if (/proxyconnect tcp|proxy ?connect|Proxy Authentication Required|\b407\b/i.test(message)) return out("proxy")
  if (/x509:|tls: failed to verify certificate|certificate signed by unknown authority|certificate has expired/i.test(message)) return out("x509")
  if (/no such host|server misbehaving|Temporary failure in name resolution/.test(message)) return out("dns")
  if (/no match for platform in manifest|image with reference .* was found but does not match the specified platform|exec format error/i.test(message)) return out("platform")
  if (/pull access denied|repository does not exist or may require authorization/i.test(message)) return out("denied_or_not_found")
  if (/401 Unauthorized|unauthorized: |authentication required|403 Forbidden|denied: |UNAUTHORIZED/i.test(message)) return out("unauthorized")
  if (/: not found$|manifest unknown|not found: manifest|code = NotFound|manifest for .* not found|name unknown/i.test(message)) return out("not_found")
  if (/connection refused/.test(message)) return out("refused")
  if (/i\/o timeout|context deadline exceeded|TLS handshake timeout|DeadlineExceeded|Client\.Timeout/i.test(message)) return out("timeout")
  return out("other")
}
