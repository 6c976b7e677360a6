/**
 * @byteport/tls/testing: loopback fakes and models for the tls package's own tests and for users'
 * tests — the DNS API fakes (Route53, Cloudflare v4, Cloud DNS v1) feeding pebble-challtestsrv.
 *
 * @since 0.1.0
 */

/** Loopback fakes of the Route53, Cloudflare v4 and Cloud DNS v1 APIs (real wire shapes), feeding challtestsrv. */
export * as DnsFakes from "./DnsFakes"
/** A cert-manager controller model for kube-sim (CRDs, trigger/issuing/readiness, real ACME issuance into the Secret). */
export * as CertManagerModel from "./certManager"
/** A test ingress controller: a node:tls server serving each Ingress host's Secret. */
export * as IngressController from "./ingress"
/** A loopback AWS Certificate Manager fake (JSON 1.1) for @aws-sdk/client-acm. */
export * as AcmFake from "./acm"
