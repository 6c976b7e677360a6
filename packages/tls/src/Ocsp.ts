/**
 * The stapled OCSP response, as far as this release reads it: present or not, its size, and the
 * OCSPResponse's `responseStatus` (RFC 6960 §4.2.1, the first field of the DER). The certificate
 * status, nextUpdate and signer checks come next (see the README).
 *
 * @since 0.1.0
 */

/** RFC 6960 responseStatus values. */
export type ResponseStatus = "successful" | "malformedRequest" | "internalError" | "tryLater" | "sigRequired" | "unauthorized"

const STATUSES: Record<number, ResponseStatus> = {
  0: "successful",
  1: "malformedRequest",
  2: "internalError",
  3: "tryLater",
  5: "sigRequired",
  6: "unauthorized"
}

/** What the client saw of a staple. */
export interface Staple {
  /** The staple's size in bytes. */
  readonly bytes: number
  /** The responseStatus, or undefined when the bytes are not a DER OCSPResponse. */
  readonly responseStatus: ResponseStatus | undefined
}

/** Reads a DER length at `offset`; returns [length, offset of the content] or undefined. */
const derLength = (der: Uint8Array, offset: number): readonly [number, number] | undefined => {
  const first = der[offset]
  if (first === undefined) return undefined
  if (first < 0x80) return [first, offset + 1]
  const n = first & 0x7f
  if (n === 0 || n > 4) return undefined
  let length = 0
  for (let i = 1; i <= n; i++) {
    const b = der[offset + i]
    if (b === undefined) return undefined
    length = length * 256 + b
  }
  return [length, offset + 1 + n]
}

/** Parses the outer SEQUENCE and the responseStatus ENUMERATED of an OCSPResponse. */
export const responseStatusOf = (der: Uint8Array): ResponseStatus | undefined => {
  if (der[0] !== 0x30) return undefined
  const outer = derLength(der, 1)
  if (outer === undefined || outer[1] + outer[0] !== der.length) return undefined
  const at = outer[1]
  if (der[at] !== 0x0a) return undefined
  const inner = derLength(der, at + 1)
  if (inner === undefined || inner[0] !== 1) return undefined
  const value = der[inner[1]]
  return value === undefined ? undefined : STATUSES[value]
}

/** Reads a staple. */
export const readStaple = (der: Uint8Array): Staple => ({ bytes: der.length, responseStatus: responseStatusOf(der) })
