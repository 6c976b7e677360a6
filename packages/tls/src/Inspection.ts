/**
 * Inspection of a served certificate over a real TLS handshake (`node:tls`, with SNI and
 * `requestOCSP: true`), as `openssl s_client -servername … -status -showcerts` shows it: the leaf
 * and the chain the server sent, parsed by `X509Certificate`, the chain verdict at the Effect
 * Clock's `now`, and whether the server stapled an OCSP response.
 *
 * The handshake never trusts on its own (`rejectUnauthorized: false`): the verdict is computed by
 * {@link Chain.verify} against the configured roots, so an expired or untrusted certificate is
 * still inspected. Its timeout is a real timer (the handshake happens outside the Effect Clock).
 *
 * @since 0.1.0
 */
import { X509Certificate } from "node:crypto"
import { isIP } from "node:net"
import * as tls from "node:tls"
import type { PeerCertificate } from "node:tls"
import { Clock, Effect } from "effect"
import * as Certificate from "./Certificate"
import * as Chain from "./Chain"
import * as Ocsp from "./Ocsp"
import * as OcspResponse from "./OcspResponse"
import { TlsConnectionRefused, TlsHandshakeFailed, TlsTimeout } from "./TlsError"
import type { InspectError } from "./TlsError"

/** What to inspect. */
export interface Options {
  /** Host to connect to (a name or an IP address). */
  readonly host: string
  /** Port (default 443). */
  readonly port?: number
  /** SNI name and the name the certificate must match (default: `host`). */
  readonly servername?: string
  /** Trusted roots as PEM strings (default: Node's bundled roots, `tls.rootCertificates`). */
  readonly ca?: ReadonlyArray<string>
  /** Connect + handshake budget in ms (default 10 000). */
  readonly timeoutMillis?: number
}

/** The default handshake budget. */
export const DEFAULT_TIMEOUT_MILLIS = 10_000

/** The result of one inspection. */
export interface Inspection {
  readonly host: string
  readonly port: number
  /** The SNI name sent and checked. */
  readonly servername: string
  /** When the verdict was computed (Effect Clock, epoch ms). */
  readonly inspectedAt: number
  /** The leaf. */
  readonly leaf: Certificate.Certificate
  /** The rest of the chain as the server sent it, in issuer order (plus a trusted root Node's store appended, if any). */
  readonly chain: ReadonlyArray<Certificate.Certificate>
  /** The chain verdict. */
  readonly verdict: Chain.Verdict
  /** The stapled OCSP response, when the server sent one. */
  readonly staple: Ocsp.Staple | undefined
  /** The staple checked for the leaf at `inspectedAt` (status, serial, nextUpdate, signer), when one was sent. */
  readonly stapleCheck: StapleCheck | undefined
  /** The negotiated protocol (`TLSv1.3` …). */
  readonly protocol: string | undefined
}

/** A staple's check, as plain data. */
export interface StapleCheck {
  /** Successful, for the leaf's serial, `good`, before nextUpdate, signed by the issuer (or its delegated responder). */
  readonly good: boolean
  readonly problems: ReadonlyArray<OcspResponse.Problem>
  readonly certStatus: OcspResponse.CertStatus | undefined
  /** epoch ms */
  readonly thisUpdate: number | undefined
  /** epoch ms */
  readonly nextUpdate: number | undefined
}

/** What a handshake gives back before any verdict. */
export interface Handshake {
  /** Leaf first, then the rest of the served chain. */
  readonly served: ReadonlyArray<X509Certificate>
  /** The raw stapled OCSP response, if any. */
  readonly staple: Buffer | undefined
  readonly protocol: string | undefined
}

const REFUSED = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"])

const chainOf = (peer: PeerCertificate & { issuerCertificate?: PeerCertificate }): ReadonlyArray<X509Certificate> => {
  const out: Array<X509Certificate> = []
  const seen = new Set<string>()
  let current: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = peer
  while (current !== undefined && current.raw !== undefined && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256)
    out.push(new X509Certificate(current.raw))
    current = current.issuerCertificate
  }
  return out
}

/** Performs the handshake and returns the served chain and staple (no verdict). */
export const handshake = (options: Options): Effect.Effect<Handshake, InspectError> => {
  const host = options.host
  const port = options.port ?? 443
  const servername = options.servername ?? host
  const timeoutMillis = options.timeoutMillis ?? DEFAULT_TIMEOUT_MILLIS
  return Effect.callback<Handshake, InspectError>((resume) => {
    let staple: Buffer | undefined
    let done = false
    const connectOptions: tls.ConnectionOptions = {
      host,
      port,
      rejectUnauthorized: false,
      requestOCSP: true,
      ...(options.ca !== undefined ? { ca: [...options.ca] } : {}),
      ...(isIP(servername) !== 0 ? {} : { servername })
    }
    const socket = tls.connect(connectOptions)
    const finish = (effect: Effect.Effect<Handshake, InspectError>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resume(effect)
    }
    const timer = setTimeout(() => {
      finish(Effect.fail(new TlsTimeout({ host, port, timeoutMillis, message: `no TLS handshake with ${host}:${port} within ${timeoutMillis} ms` })))
    }, timeoutMillis)
    socket.on("OCSPResponse", (response: Buffer | null) => {
      // Node emits null when the server sent no staple
      if (response !== null && response !== undefined && response.length > 0) staple = response
    })
    socket.once("secureConnect", () => {
      try {
        const served = chainOf(socket.getPeerCertificate(true))
        if (served.length === 0) {
          finish(Effect.fail(new TlsHandshakeFailed({ host, port, message: `${host}:${port} sent no certificate` })))
          return
        }
        finish(Effect.succeed({ served, staple, protocol: socket.getProtocol() ?? undefined }))
      } catch (e) {
        finish(Effect.fail(new TlsHandshakeFailed({ host, port, message: `cannot read the certificate of ${host}:${port}: ${String((e as Error)?.message ?? e)}` })))
      }
    })
    socket.once("error", (e: NodeJS.ErrnoException) => {
      const code = typeof e.code === "string" ? e.code : undefined
      if (code !== undefined && REFUSED.has(code)) {
        finish(Effect.fail(new TlsConnectionRefused({ host, port, code, message: `connection to ${host}:${port} refused (${code})` })))
      } else {
        finish(Effect.fail(new TlsHandshakeFailed({ host, port, code, message: `TLS handshake with ${host}:${port} failed: ${e.message}` })))
      }
    })
    socket.once("close", () => {
      finish(Effect.fail(new TlsHandshakeFailed({ host, port, message: `${host}:${port} closed the connection during the TLS handshake` })))
    })
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      socket.destroy()
    })
  })
}

/**
 * Inspects `host:port`: handshake, parsed leaf and chain, chain verdict at the Clock's now for
 * the SNI name, and the staple.
 */
export const inspect = (options: Options): Effect.Effect<Inspection, InspectError> =>
  Effect.gen(function*() {
    const result = yield* handshake(options)
    const now = yield* Clock.currentTimeMillis
    const servername = options.servername ?? options.host
    const roots = options.ca !== undefined ? options.ca.flatMap((pem) => Certificate.parsePemBundle(pem)) : Chain.defaultRoots()
    const verdict = Chain.verify({ served: result.served, roots, name: servername, now })
    const [leaf, ...chain] = result.served.map(Certificate.fromX509)
    const leafX509 = result.served[0]!
    const issuer = [...result.served.slice(1), ...roots].find((c) => {
      try {
        return leafX509.checkIssued(c) && leafX509.verify(c.publicKey)
      } catch {
        return false
      }
    })
    const checked = result.staple === undefined ? undefined : OcspResponse.check(result.staple, leafX509, issuer, now)
    return {
      host: options.host,
      port: options.port ?? 443,
      servername,
      inspectedAt: now,
      leaf: leaf!,
      chain,
      verdict,
      staple: result.staple === undefined ? undefined : Ocsp.readStaple(result.staple),
      stapleCheck: checked === undefined ? undefined : {
        good: checked.good,
        problems: checked.problems,
        certStatus: checked.parsed?.certStatus,
        thisUpdate: checked.parsed?.thisUpdate,
        nextUpdate: checked.parsed?.nextUpdate
      },
      protocol: result.protocol
    }
  })
