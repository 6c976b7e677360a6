/**
 * cert-manager's resources as the API serves them (cert-manager.io/v1): the group, the plural
 * names, the Certificate's conditions and the pure rules both the renewer and the controller model
 * in `@byteport/tls/testing` read — Go durations, the renewal time (`renewBefore`,
 * `renewBeforePercentage`, default a third of the duration), the failure back-off.
 *
 * @since 0.1.0
 */

/** The API group of cert-manager's resources. */
export const GROUP = "cert-manager.io"
/** The served version. */
export const VERSION = "v1"
/** `cert-manager.io/v1`. */
export const API_VERSION = `${GROUP}/${VERSION}`

/** The plural resource names of cert-manager.io/v1. */
export const Plurals = {
  certificates: "certificates",
  certificaterequests: "certificaterequests",
  issuers: "issuers",
  clusterissuers: "clusterissuers"
} as const

/** Annotations cert-manager writes on the Secret (and reads back). */
export const Annotations = {
  certificateName: "cert-manager.io/certificate-name",
  issuerName: "cert-manager.io/issuer-name",
  issuerKind: "cert-manager.io/issuer-kind",
  issuerGroup: "cert-manager.io/issuer-group",
  commonName: "cert-manager.io/common-name",
  altNames: "cert-manager.io/alt-names",
  ipSans: "cert-manager.io/ip-sans",
  uriSans: "cert-manager.io/uri-sans",
  certificateRevision: "cert-manager.io/certificate-revision",
  privateKeySecretName: "cert-manager.io/private-key-secret-name"
} as const

/** A status condition of a Certificate or CertificateRequest. */
export interface Condition {
  readonly type: string
  readonly status: "True" | "False" | "Unknown"
  readonly reason?: string
  readonly message?: string
  readonly lastTransitionTime?: string
  readonly observedGeneration?: number
}

/** The reason `cmctl renew` writes on the Issuing condition. */
export const MANUALLY_TRIGGERED = "ManuallyTriggered"
/** The message `cmctl renew` writes on the Issuing condition. */
export const MANUALLY_TRIGGERED_MESSAGE = "Certificate re-issuance manually triggered"

/** The fields of a Certificate this package reads. */
export interface Certificate {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata: {
    readonly name: string
    readonly namespace?: string
    readonly uid?: string
    readonly resourceVersion?: string
    readonly generation?: number
    readonly labels?: Record<string, string>
    readonly annotations?: Record<string, string>
    readonly deletionTimestamp?: string
  }
  readonly spec: {
    readonly secretName: string
    readonly issuerRef: { readonly name: string; readonly kind?: string; readonly group?: string }
    readonly dnsNames?: ReadonlyArray<string>
    readonly commonName?: string
    readonly duration?: string
    readonly renewBefore?: string
    readonly renewBeforePercentage?: number
    readonly privateKey?: { readonly algorithm?: string; readonly size?: number; readonly rotationPolicy?: string }
    readonly secretTemplate?: { readonly annotations?: Record<string, string>; readonly labels?: Record<string, string> }
    readonly [key: string]: unknown
  }
  readonly status?: {
    readonly conditions?: ReadonlyArray<Condition>
    readonly notBefore?: string
    readonly notAfter?: string
    readonly renewalTime?: string
    readonly revision?: number
    readonly lastFailureTime?: string
    readonly failedIssuanceAttempts?: number
  }
}

/** The condition of `type`, if any. */
export const condition = (cert: Pick<Certificate, "status">, type: string): Condition | undefined =>
  cert.status?.conditions?.find((c) => c.type === type)

/** Whether the Certificate is being issued (Issuing=True). */
export const isIssuing = (cert: Pick<Certificate, "status">): boolean => condition(cert, "Issuing")?.status === "True"

/** Whether the Certificate is Ready=True. */
export const isReady = (cert: Pick<Certificate, "status">): boolean => condition(cert, "Ready")?.status === "True"

/** Parses a Go duration (`2160h`, `1h30m`, `90s`, `500ms`) to milliseconds; undefined when malformed. */
export const parseDuration = (text: string): number | undefined => {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy
  let total = 0
  let matched = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const n = Number(m[1])
    total += n * (m[2] === "h" ? 3_600_000 : m[2] === "m" ? 60_000 : m[2] === "s" ? 1_000 : 1)
    matched = re.lastIndex
  }
  return matched === text.length && text.length > 0 ? total : undefined
}

/** cert-manager's default duration: 90 days. */
export const DEFAULT_DURATION_MS = 90 * 86_400_000

/**
 * When cert-manager renews a certificate valid from `notBefore` to `notAfter`: `notAfter −
 * renewBefore`, or `renewBeforePercentage` of the actual duration before notAfter, else a third
 * of the actual duration before notAfter (cert-manager's default). A renewBefore not shorter
 * than the duration falls back to the default, as cert-manager does.
 */
export const renewalTime = (spec: Pick<Certificate["spec"], "renewBefore" | "renewBeforePercentage">, notBefore: number, notAfter: number): number => {
  const actual = notAfter - notBefore
  const third = Math.floor(actual / 3)
  if (spec.renewBeforePercentage !== undefined) {
    const before = Math.floor((actual * spec.renewBeforePercentage) / 100)
    return notAfter - (before > 0 && before < actual ? before : third)
  }
  const before = spec.renewBefore !== undefined ? parseDuration(spec.renewBefore) : undefined
  return notAfter - (before !== undefined && before > 0 && before < actual ? before : third)
}

/** The back-off after `failedIssuanceAttempts` failures: 1 h, doubling, at most 32 h (cert-manager's). */
export const backoffMillis = (failedIssuanceAttempts: number): number =>
  Math.min(32, 2 ** Math.max(0, failedIssuanceAttempts - 1)) * 3_600_000

/** RFC 3339 without fractional seconds, as the API serves timestamps. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")
