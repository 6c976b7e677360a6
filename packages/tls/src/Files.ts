/**
 * Certificate and key files on disk: PEM bundles parsed into certificates, and the key–cert match
 * (`X509Certificate.checkPrivateKey`). Errors name the path only: key material never reaches an
 * error message, a log or a report.
 *
 * @since 0.1.0
 */
import { createPrivateKey, X509Certificate } from "node:crypto"
import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import * as Certificate from "./Certificate"
import { CertFileError } from "./TlsError"

const read = (path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (e) => new CertFileError({ path, message: `cannot read ${path} (${(e as NodeJS.ErrnoException)?.code ?? "error"})` })
  })

/** Reads a PEM bundle (leaf first, as servers expect) into certificates; fails when it holds none. */
export const readBundle = (path: string): Effect.Effect<ReadonlyArray<X509Certificate>, CertFileError> =>
  Effect.flatMap(read(path), (pem) =>
    Effect.try({
      try: () => {
        const certs = Certificate.parsePemBundle(pem)
        if (certs.length === 0) throw new Error("no certificate")
        return certs
      },
      catch: () => new CertFileError({ path, message: `${path} holds no parsable PEM certificate` })
    }))

/** Does the private key in `keyPath` belong to the first certificate of `certPath`? */
export const keyMatches = (certPath: string, keyPath: string): Effect.Effect<boolean, CertFileError> =>
  Effect.gen(function*() {
    const [leaf] = yield* readBundle(certPath)
    const pem = yield* read(keyPath)
    const key = yield* Effect.try({
      try: () => createPrivateKey(pem),
      catch: () => new CertFileError({ path: keyPath, message: `${keyPath} holds no parsable private key` })
    })
    return leaf!.checkPrivateKey(key)
  })
