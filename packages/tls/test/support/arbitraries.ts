/** fast-check inputs the runbooks' never-rule properties share. */
import * as fc from "fast-check"
import type { Certificate } from "../../src/index"

/** A DNS-01 provider name, or none. */
export const provider = fc.option(fc.constantFrom("route53", "cloudflare", "clouddns"), { nil: null })

/** An http-01 webroot, or none. */
export const webroot = fc.option(fc.constantFrom("/var/www/acme"), { nil: undefined })

/** An issuer organization on no ACME list and not Amazon's. */
export const nonAcmeIssuer = fc.string({ minLength: 1, maxLength: 20 }).filter((x) => !/pebble|let's encrypt|zerossl|amazon|\br1\d|\be\d/i.test(x))

/** The leaf with issuer names `issuer` (kept as recorded for an internal CA: its names are what `internalCas` matches). */
export const withIssuer = (leaf: Certificate.Certificate, internal: boolean, issuer: string): Certificate.Certificate =>
  internal ? leaf : { ...leaf, issuerO: issuer, issuerCN: `${issuer} CA` }

/** A non-ACME issuer with whatever renewal options an endpoint may carry. */
export const manualCa = fc.record({ issuer: nonAcmeIssuer, provider, webroot })
