/**
 * The recorded fixture chains (`fixtures/record.sh`; which ones are openssl-made and why:
 * `fixtures/README.md`): the served chain, the root it verifies to, and how it was recorded.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { X509Certificate } from "node:crypto"
import { Certificate, Chain } from "../../src/index"

const FIXTURES = path.join(import.meta.dirname, "../../fixtures")

/** One recorded chain. */
export interface Recorded {
  /** What the server sent, the leaf first. */
  readonly served: ReadonlyArray<X509Certificate>
  /** The root the chain verifies to (`root.pem`; for the openssl-made ones, the chain's own root). */
  readonly roots: ReadonlyArray<X509Certificate>
  readonly leaf: Certificate.Certificate
  /** `recorded.json`: server, SNI, CA, how; undefined for the openssl-made chains. */
  readonly meta: { readonly server: string; readonly servername: string; readonly ca: string; readonly how: string } | undefined
}

const read = (dir: string): Recorded => {
  const served = Certificate.parsePemBundle(fs.readFileSync(path.join(dir, "chain.pem"), "utf8"))
  const rootFile = path.join(dir, "root.pem")
  const roots = fs.existsSync(rootFile) ? Certificate.parsePemBundle(fs.readFileSync(rootFile, "utf8")) : served.slice(1)
  const metaFile = path.join(dir, "recorded.json")
  return { served, roots, leaf: Certificate.fromX509(served[0]!), meta: fs.existsSync(metaFile) ? JSON.parse(fs.readFileSync(metaFile, "utf8")) : undefined }
}

/** The chain of a seven-class class (`fixtures/seven-class/<class>/`). */
export const sevenClass = (cls: string): Recorded => read(path.join(FIXTURES, "seven-class", cls))

/** One of the edge-case chains (`fixtures/chains/<name>/`: short_lived, wrong_name, incomplete). */
export const chain = (name: string): Recorded => read(path.join(FIXTURES, "chains", name))

/** The chain verdict of a recorded chain for `name` at `now` (default: a minute after notBefore). */
export const verdictOf = (r: Recorded, name: string, now: number = r.leaf.notBefore + 60_000): Chain.Verdict =>
  Chain.verify({ served: r.served, roots: r.roots, name, now })
