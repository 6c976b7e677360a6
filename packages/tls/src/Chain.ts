/**
 * Chain validation as the runbooks define it: the served chain alone (no AIA fetching, no
 * intermediates from elsewhere) must lead from the leaf to one of the configured roots, every
 * certificate on the path must be within its validity at `now` (from the Effect Clock, so tests
 * move it with TestClock), every issuer on the path must be a CA, and the leaf must match the name
 * (`X509Certificate.checkHost` / `checkIP`).
 *
 * @since 0.1.0
 */
import { isIP } from "node:net"
import { rootCertificates } from "node:tls"
import { X509Certificate } from "node:crypto"

/** Why a chain is not valid (several may hold at once). */
export type Problem =
  | { readonly kind: "name_mismatch"; readonly name: string }
  | { readonly kind: "self_signed"; readonly subject: string }
  | { readonly kind: "incomplete"; readonly missingIssuerOf: string }
  | { readonly kind: "untrusted_root"; readonly subject: string }
  | { readonly kind: "expired"; readonly subject: string; readonly notAfter: number }
  | { readonly kind: "not_yet_valid"; readonly subject: string; readonly notBefore: number }
  | { readonly kind: "issuer_not_ca"; readonly subject: string }
  | { readonly kind: "too_long" }

/** The outcome of a chain check. */
export interface Verdict {
  /** True when there is no problem. */
  readonly valid: boolean
  /** Every problem found (empty when valid). */
  readonly problems: ReadonlyArray<Problem>
  /** SHA-256 fingerprints of the path from the leaf up to (and including) the trusted root, as far as it got. */
  readonly path: ReadonlyArray<string>
  /** The leaf matches the name. */
  readonly nameMatches: boolean
}

const MAX_DEPTH = 10

let defaultRootsCache: ReadonlyArray<X509Certificate> | undefined
/** Node's bundled root certificates (`tls.rootCertificates`), parsed once. */
export const defaultRoots = (): ReadonlyArray<X509Certificate> => {
  defaultRootsCache ??= rootCertificates.map((pem) => new X509Certificate(pem))
  return defaultRootsCache
}

const issues = (issuer: X509Certificate, subject: X509Certificate): boolean => {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey)
  } catch {
    return false
  }
}

const subjectOf = (c: X509Certificate) => c.subject.replace(/\n/g, ", ")

/** Does the leaf match `name` (a DNS name, wildcard rules of RFC 6125; or an IP address)? */
export const nameMatches = (leaf: X509Certificate, name: string): boolean =>
  isIP(name) !== 0 ? leaf.checkIP(name) !== undefined : leaf.checkHost(name) !== undefined

/**
 * Checks `served` (the leaf first, then what the server sent) against `roots` at `now` for `name`.
 * Only the served certificates are candidates for intermediates.
 */
export const verify = (options: {
  readonly served: ReadonlyArray<X509Certificate>
  readonly roots: ReadonlyArray<X509Certificate>
  readonly name: string
  readonly now: number
}): Verdict => {
  const [leaf, ...rest] = options.served
  if (leaf === undefined) return { valid: false, problems: [{ kind: "incomplete", missingIssuerOf: "(no certificate served)" }], path: [], nameMatches: false }
  const problems: Array<Problem> = []
  const matches = nameMatches(leaf, options.name)
  if (!matches) problems.push({ kind: "name_mismatch", name: options.name })
  const checkValidity = (c: X509Certificate) => {
    const notBefore = Date.parse(c.validFrom)
    const notAfter = Date.parse(c.validTo)
    if (options.now >= notAfter) problems.push({ kind: "expired", subject: subjectOf(c), notAfter })
    else if (options.now < notBefore) problems.push({ kind: "not_yet_valid", subject: subjectOf(c), notBefore })
  }
  const rootFingerprints = new Set(options.roots.map((r) => r.fingerprint256))
  const path: Array<string> = [leaf.fingerprint256]
  let current = leaf
  checkValidity(current)
  for (let depth = 0; ; depth++) {
    if (depth >= MAX_DEPTH) {
      problems.push({ kind: "too_long" })
      break
    }
    if (rootFingerprints.has(current.fingerprint256)) break // the server served a trusted root itself
    const root = options.roots.find((r) => issues(r, current))
    if (root !== undefined) {
      if (!root.ca) problems.push({ kind: "issuer_not_ca", subject: subjectOf(root) })
      checkValidity(root)
      path.push(root.fingerprint256)
      break
    }
    if (current.checkIssued(current) && issues(current, current)) {
      problems.push(depth === 0 ? { kind: "self_signed", subject: subjectOf(current) } : { kind: "untrusted_root", subject: subjectOf(current) })
      break
    }
    const next = rest.find((c) => c !== current && !path.includes(c.fingerprint256) && issues(c, current))
    if (next === undefined) {
      problems.push({ kind: "incomplete", missingIssuerOf: subjectOf(current) })
      break
    }
    if (!next.ca) problems.push({ kind: "issuer_not_ca", subject: subjectOf(next) })
    checkValidity(next)
    path.push(next.fingerprint256)
    current = next
  }
  return { valid: problems.length === 0, problems, path, nameMatches: matches }
}

/** A one-line description of a problem (for evidence and reports). */
export const describe = (problem: Problem): string => {
  switch (problem.kind) {
    case "name_mismatch": return `certificate does not match ${problem.name}`
    case "self_signed": return `self-signed certificate (${problem.subject}) is not a configured root`
    case "incomplete": return `the served chain has no issuer for ${problem.missingIssuerOf} (missing intermediate?)`
    case "untrusted_root": return `chain ends in ${problem.subject}, not a configured root`
    case "expired": return `${problem.subject} expired at ${new Date(problem.notAfter).toISOString()}`
    case "not_yet_valid": return `${problem.subject} is not valid before ${new Date(problem.notBefore).toISOString()}`
    case "issuer_not_ca": return `${problem.subject} issues certificates but is not a CA`
    case "too_long": return `chain longer than ${MAX_DEPTH}`
  }
}
