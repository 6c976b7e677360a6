/**
 * Test PKI made with the `openssl` CLI through `@byteport/core/shell` (`Shell.local`, argv only):
 * a root CA, an intermediate, and leaves with exact validity (`openssl ca -startdate/-enddate`:
 * the machine's OpenSSL 3.0 has no `x509 -not_before/-not_after`). Everything lives in a fresh
 * temporary directory.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Shell } from "@byteport/core/shell"
import { Effect } from "effect"

/** A certificate with its key, as files and PEM text. */
export interface Issued {
  readonly certPath: string
  readonly keyPath: string
  readonly cert: string
  readonly key: string
}

const openssl = (dir: string, args: ReadonlyArray<string>) =>
  Effect.map(Shell.local.run(["openssl", ...args], { cwd: dir, inheritEnv: true }), (r) => {
    if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`)
    return r
  })

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z")

let counter = 0

/** A PKI in a temporary directory. */
export const make = Effect.gen(function*() {
  const dir = mkdtempSync(join(tmpdir(), "byteport-tls-pki-"))
  writeFileSync(join(dir, "index.txt"), "")
  writeFileSync(join(dir, "serial"), `${randomBytes(8).toString("hex").replace(/^0/, "1")}\n`) // serials differ across PKIs
  writeFileSync(join(dir, "ca.cnf"), [
    "[ca]", "default_ca = CA_default",
    "[CA_default]", `dir = ${dir}`, "database = $dir/index.txt", "new_certs_dir = $dir", "serial = $dir/serial",
    "default_md = sha256", "policy = policy_any", "copy_extensions = copy", "unique_subject = no", "email_in_dn = no",
    "[policy_any]", "commonName = supplied", "organizationName = optional", ""
  ].join("\n"))

  const key = (name: string) => openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`])
  const csr = (name: string, subj: string, ext: ReadonlyArray<string>) =>
    openssl(dir, ["req", "-new", "-key", `${name}.key`, "-subj", subj, ...ext.flatMap((e) => ["-addext", e]), "-out", `${name}.csr`])
  const files = (name: string): Issued => ({
    certPath: join(dir, `${name}.pem`),
    keyPath: join(dir, `${name}.key`),
    cert: readFileSync(join(dir, `${name}.pem`), "utf8"),
    key: readFileSync(join(dir, `${name}.key`), "utf8")
  })
  const sign = (name: string, issuer: Issued | undefined, notBefore: number, notAfter: number) =>
    openssl(dir, [
      "ca", "-batch", "-config", "ca.cnf", "-notext", "-in", `${name}.csr`, "-out", `${name}.pem`,
      "-startdate", stamp(notBefore), "-enddate", stamp(notAfter),
      ...(issuer === undefined ? ["-selfsign", "-keyfile", `${name}.key`] : ["-cert", issuer.certPath, "-keyfile", issuer.keyPath])
    ])

  const now = Date.now()
  const YEAR = 365 * 86_400_000
  const caExt = ["basicConstraints=critical,CA:true", "keyUsage=critical,keyCertSign,cRLSign"]

  /** A CA (self-signed when `issuer` is undefined). */
  const ca = (subj: string, issuer?: Issued) =>
    Effect.gen(function*() {
      const name = `ca${++counter}`
      yield* key(name)
      yield* csr(name, subj, caExt)
      yield* sign(name, issuer, now - YEAR, now + 10 * YEAR)
      return files(name)
    })

  /** A leaf for `names` (DNS, or IP when it looks like one), valid over [notBefore, notAfter]. */
  const leaf = (options: {
    readonly names: ReadonlyArray<string>
    readonly issuer?: Issued
    readonly notBefore?: number
    readonly notAfter: number
    readonly ocspUrl?: string
    readonly selfSigned?: boolean
  }) =>
    Effect.gen(function*() {
      const name = `leaf${++counter}`
      yield* key(name)
      const san = options.names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",")
      yield* csr(name, `/CN=${options.names[0]}`, [
        `subjectAltName=${san}`,
        "basicConstraints=critical,CA:false",
        ...(options.ocspUrl !== undefined ? [`authorityInfoAccess=OCSP;URI:${options.ocspUrl}`] : [])
      ])
      yield* sign(name, options.selfSigned === true ? undefined : options.issuer, options.notBefore ?? now - 86_400_000, options.notAfter)
      return files(name)
    })

  /** A real OCSP response (DER) for `cert`, signed by its issuer, made by `openssl ocsp` from the CA database. */
  const ocspResponse = (cert: Issued, issuer: Issued, options: { readonly signer?: Issued; readonly revoke?: boolean } = {}) =>
    Effect.gen(function*() {
      const name = `ocsp${++counter}`
      if (options.revoke === true) yield* openssl(dir, ["ca", "-config", "ca.cnf", "-revoke", cert.certPath, "-cert", issuer.certPath, "-keyfile", issuer.keyPath])
      const signer = options.signer ?? issuer
      yield* openssl(dir, ["ocsp", "-issuer", issuer.certPath, "-cert", cert.certPath, "-no_nonce", "-reqout", `${name}.req`])
      yield* openssl(dir, ["ocsp", "-index", "index.txt", "-CA", issuer.certPath, "-rsigner", signer.certPath, "-rkey", signer.keyPath, "-reqin", `${name}.req`, "-respout", `${name}.der`, "-ndays", "1"])
      return readFileSync(join(dir, `${name}.der`))
    })

  const root = yield* ca("/O=BytePort Test/CN=BytePort Test Root")
  const intermediate = yield* ca("/O=BytePort Test/CN=BytePort Test Intermediate", root)
  return { dir, now, root, intermediate, ca, leaf, ocspResponse }
})
