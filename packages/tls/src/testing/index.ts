/**
 * @byteport/tls/testing: loopback fakes and models for the tls package's own tests and for users'
 * tests — the DNS API fakes (Route53, Cloudflare v4, Cloud DNS v1) feeding pebble-challtestsrv.
 *
 * @since 0.1.0
 */

/** Loopback fakes of the Route53, Cloudflare v4 and Cloud DNS v1 APIs (real wire shapes), feeding challtestsrv. */
export * as DnsFakes from "./DnsFakes"
