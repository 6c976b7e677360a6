/**
 * The facts of one X.509 certificate, read with `crypto.X509Certificate`: subject and issuer
 * O/CN, SANs, serial, SHA-256 fingerprint, validity (epoch ms) and the OCSP responder URL from
 * the Authority Information Access extension.
 *
 * @since 0.1.0
 */
import { X509Certificate } from "node:crypto"

/** The facts of one certificate (plain data: safe to put in evidence and reports). */
export interface Certificate {
  /** Subject CN, when present. */
  readonly subjectCN: string | undefined
  /** Issuer O (organization), when present. */
  readonly issuerO: string | undefined
  /** Issuer CN, when present. */
  readonly issuerCN: string | undefined
  /** DNS names of the subjectAltName extension, in order (`*.example.com` for a wildcard). */
  readonly dnsNames: ReadonlyArray<string>
  /** IP addresses of the subjectAltName extension. */
  readonly ipAddresses: ReadonlyArray<string>
  /** Serial number, upper-case hex as OpenSSL prints it. */
  readonly serial: string
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint256: string
  /** notBefore, epoch ms. */
  readonly notBefore: number
  /** notAfter, epoch ms. */
  readonly notAfter: number
  /** The OCSP responder URL (AIA `OCSP - URI:`), when the certificate names one. */
  readonly ocspUrl: string | undefined
  /** basicConstraints CA:TRUE. */
  readonly isCA: boolean
  /** Subject and issuer are the same name (a root or a self-signed leaf). */
  readonly selfIssued: boolean
}

/** Reads one attribute (`CN`, `O` …) of an X509Certificate subject/issuer string (one `K=V` per line). */
export const nameAttribute = (name: string, attribute: string): string | undefined => {
  for (const line of name.split("\n")) {
    const i = line.indexOf("=")
    if (i > 0 && line.slice(0, i).trim() === attribute) return line.slice(i + 1).trim()
  }
  return undefined
}

/** Splits a subjectAltName string (`DNS:a, IP Address:1.2.3.4`) into DNS names and IP addresses. */
export const parseSubjectAltName = (san: string | undefined): { readonly dnsNames: ReadonlyArray<string>; readonly ipAddresses: ReadonlyArray<string> } => {
  const dnsNames: Array<string> = []
  const ipAddresses: Array<string> = []
  for (const part of (san ?? "").split(/,\s*/)) {
    if (part.startsWith("DNS:")) dnsNames.push(part.slice(4).replace(/^"|"$/g, ""))
    else if (part.startsWith("IP Address:")) ipAddresses.push(part.slice(11))
  }
  return { dnsNames, ipAddresses }
}

/** The first OCSP responder URL of an infoAccess string (`OCSP - URI:http://…`). */
export const ocspUrlOf = (infoAccess: string | undefined): string | undefined => {
  for (const line of (infoAccess ?? "").split("\n")) {
    const m = /^OCSP - URI:(.+)$/.exec(line.trim())
    if (m?.[1] !== undefined) return m[1].replace(/^"|"$/g, "")
  }
  return undefined
}

/** The facts of a parsed certificate. */
export const fromX509 = (x509: X509Certificate): Certificate => {
  const { dnsNames, ipAddresses } = parseSubjectAltName(x509.subjectAltName)
  return {
    subjectCN: nameAttribute(x509.subject, "CN"),
    issuerO: nameAttribute(x509.issuer, "O"),
    issuerCN: nameAttribute(x509.issuer, "CN"),
    dnsNames,
    ipAddresses,
    serial: x509.serialNumber.toUpperCase(),
    fingerprint256: x509.fingerprint256,
    notBefore: Date.parse(x509.validFrom),
    notAfter: Date.parse(x509.validTo),
    ocspUrl: ocspUrlOf(x509.infoAccess),
    isCA: x509.ca,
    selfIssued: x509.subject === x509.issuer
  }
}

/** Splits a PEM bundle into its `CERTIFICATE` blocks and parses each (throws on a malformed block). */
export const parsePemBundle = (pem: string): ReadonlyArray<X509Certificate> =>
  (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block))

/** Is `name` a wildcard name (`*.example.com`)? */
export const isWildcard = (name: string): boolean => name.startsWith("*.")
