/**
 * The contents of a stapled OCSP response (RFC 6960 §4.2.1): the single response for the leaf
 * (certStatus good / revoked / unknown, thisUpdate, nextUpdate) and its signer. `check` says
 * whether a staple is good at `now`: successful, for this leaf's serial, `good`, not past
 * nextUpdate, signed by the leaf's issuer or by a responder certificate the issuer signed with the
 * OCSPSigning extended key usage.
 * A minimal DER reader: only what OCSP responses use.
 *
 * @since 0.1.0
 */
import { verify as cryptoVerify, X509Certificate } from "node:crypto"
import { responseStatusOf } from "./Ocsp"
import type { ResponseStatus } from "./Ocsp"

interface Tlv {
  readonly tag: number
  readonly start: number
  readonly content: number
  readonly end: number
}

const tlv = (der: Uint8Array, at: number): Tlv => {
  const tag = der[at]
  const first = der[at + 1]
  if (tag === undefined || first === undefined) throw new Error("truncated")
  let length = first
  let content = at + 2
  if (first >= 0x80) {
    const n = first & 0x7f
    if (n === 0 || n > 4) throw new Error("bad length")
    length = 0
    for (let i = 0; i < n; i++) length = length * 256 + (der[at + 2 + i] ?? 0)
    content = at + 2 + n
  }
  if (content + length > der.length) throw new Error("truncated")
  return { tag, start: at, content, end: content + length }
}

const children = (der: Uint8Array, parent: Tlv): Array<Tlv> => {
  const out: Array<Tlv> = []
  for (let at = parent.content; at < parent.end;) {
    const t = tlv(der, at)
    out.push(t)
    at = t.end
  }
  return out
}

const time = (der: Uint8Array, t: Tlv): number => {
  const s = Buffer.from(der.subarray(t.content, t.end)).toString("latin1")
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s)
  if (m === null) throw new Error("bad time")
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

const oid = (der: Uint8Array, t: Tlv): string => {
  const bytes = der.subarray(t.content, t.end)
  const parts: Array<number> = []
  let value = 0
  bytes.forEach((b, i) => {
    value = value * 128 + (b & 0x7f)
    if ((b & 0x80) === 0) {
      if (i === 0 || parts.length === 0) parts.push(Math.floor(value / 40), value % 40)
      else parts.push(value)
      value = 0
    }
  })
  return parts.join(".")
}

const HASHES: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.113549.1.1.5": "sha1"
}

/** The certificate status of the single response. */
export type CertStatus = "good" | "revoked" | "unknown"

/** A parsed OCSP response. */
export interface Parsed {
  readonly responseStatus: ResponseStatus | undefined
  /** Serial (upper-case hex, no leading zeros) of the single response. */
  readonly serial: string | undefined
  readonly certStatus: CertStatus | undefined
  /** epoch ms */
  readonly thisUpdate: number | undefined
  /** epoch ms, when present */
  readonly nextUpdate: number | undefined
  /** The signed bytes, the signature and its hash (for the signer check). */
  readonly tbs: Uint8Array | undefined
  readonly signature: Uint8Array | undefined
  readonly hash: string | undefined
  /** Responder certificates sent in the response. */
  readonly certs: ReadonlyArray<X509Certificate>
}

/** Parses an OCSPResponse; undefined when the bytes are not one. */
export const parse = (der: Uint8Array): Parsed | undefined => {
  const responseStatus = responseStatusOf(der)
  if (responseStatus === undefined) return undefined
  const empty: Parsed = { responseStatus, serial: undefined, certStatus: undefined, thisUpdate: undefined, nextUpdate: undefined, tbs: undefined, signature: undefined, hash: undefined, certs: [] }
  if (responseStatus !== "successful") return empty
  try {
    const outer = children(der, tlv(der, 0))
    const responseBytes = outer[1]
    if (responseBytes === undefined) return undefined
    const rb = children(der, children(der, responseBytes)[0]!)
    const octets = rb[1]!
    const basic = children(der, tlv(der, octets.content))
    const tbsT = basic[0]!
    const algo = children(der, basic[1]!)[0]!
    const sigT = basic[2]!
    const certs = basic[3] === undefined ? [] : children(der, children(der, basic[3])[0]!).map((c) => new X509Certificate(Buffer.from(der.subarray(c.start, c.end))))
    const data = children(der, tbsT)
    const offset = data[0]?.tag === 0xa0 ? 1 : 0
    const responses = children(der, data[offset + 2]!)
    const single = children(der, responses[0]!)
    const certId = children(der, single[0]!)
    const serialT = certId[3]!
    const serial = Buffer.from(der.subarray(serialT.content, serialT.end)).toString("hex").toUpperCase().replace(/^0+(?=.)/, "")
    const statusTag = single[1]!.tag
    const certStatus: CertStatus = statusTag === 0x80 ? "good" : statusTag === 0xa1 ? "revoked" : "unknown"
    const thisUpdate = time(der, single[2]!)
    const next = single[3]?.tag === 0xa0 ? time(der, children(der, single[3])[0]!) : undefined
    return {
      responseStatus, serial, certStatus, thisUpdate, nextUpdate: next,
      tbs: der.subarray(tbsT.start, tbsT.end),
      signature: der.subarray(sigT.content + 1, sigT.end), // BIT STRING: skip the unused-bits byte
      hash: HASHES[oid(der, algo)],
      certs
    }
  } catch {
    return undefined
  }
}

/** The id-kp-OCSPSigning extended key usage a delegated responder must carry. */
export const OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"

/** Why a staple is not good. */
export type Problem = "not_ocsp" | "unsuccessful" | "wrong_serial" | "revoked" | "unknown" | "expired" | "bad_signer"

/**
 * Checks a staple for `leaf` issued by `issuer` at `now`. The signer is the issuer itself, or a
 * responder certificate in the response that the issuer signed (delegated responder).
 */
export const check = (der: Uint8Array, leaf: X509Certificate, issuer: X509Certificate | undefined, now: number): { readonly good: boolean; readonly problems: ReadonlyArray<Problem>; readonly parsed: Parsed | undefined } => {
  const parsed = parse(der)
  if (parsed === undefined) return { good: false, problems: ["not_ocsp"], parsed }
  if (parsed.responseStatus !== "successful") return { good: false, problems: ["unsuccessful"], parsed }
  const problems: Array<Problem> = []
  if (parsed.serial !== leaf.serialNumber.toUpperCase().replace(/^0+(?=.)/, "")) problems.push("wrong_serial")
  if (parsed.certStatus === "revoked") problems.push("revoked")
  if (parsed.certStatus === "unknown") problems.push("unknown")
  if (parsed.nextUpdate !== undefined && now >= parsed.nextUpdate) problems.push("expired")
  const delegated = (c: X509Certificate) => {
    try {
      return issuer !== undefined && (c.keyUsage ?? []).includes(OCSP_SIGNING) && c.verify(issuer.publicKey)
    } catch {
      return false
    }
  }
  const signers = issuer === undefined ? [] : [issuer, ...parsed.certs.filter(delegated)]
  const signed = signers.some((s) => {
    try {
      return parsed.tbs !== undefined && parsed.signature !== undefined && cryptoVerify(parsed.hash ?? null, parsed.tbs, s.publicKey, parsed.signature)
    } catch {
      return false
    }
  })
  if (!signed) problems.push("bad_signer")
  return { good: problems.length === 0, problems, parsed }
}
