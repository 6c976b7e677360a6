/**
 * @byteport/tls: served-certificate inspection over a real TLS handshake, chain and name checks
 * against configured roots, certificate files (PEM bundles, key–cert match) and the certificate
 * detectors (expiring soon at 30/14/7/1 days, expired, chain invalid, OCSP stapling failure).
 *
 * @since 0.1.0
 */

/** Certificate facts read with `X509Certificate`. */
export * as Certificate from "./Certificate"
/** Chain validation: served chain only, configured roots, name match. */
export * as Chain from "./Chain"
/** Certificate and key files: PEM bundles, key–cert match. */
export * as Files from "./Files"
/** Handshake and inspection of a served certificate. */
export * as Inspection from "./Inspection"
/** The stapled OCSP response. */
export * as Ocsp from "./Ocsp"
/** The contents of an OCSP response: status, serial, thisUpdate/nextUpdate, signer. */
export * as OcspResponse from "./OcspResponse"
/** The certificate detectors. */
export * as CertificateSignals from "./detectors/CertificateSignals"
/** Typed errors. */
export { CertFileError, TlsConnectionRefused, TlsHandshakeFailed, TlsTimeout } from "./TlsError"
/** Any error of an inspection. */
export type { InspectError } from "./TlsError"
/** Renewal-path classification facts and rules (ACME issuer, ACME client dirs, wildcards). */
export * as RenewalPath from "./classifiers/RenewalPath"
/** Certificate backups (manifest, 0700/0600), verification, restore and the atomic swap. */
export * as Backup from "./backup/Backup"
/** The reloadable servers' common interface and `ReloadFailed`. */
export * as Server from "./servers/Server"
/** nginx: `nginx -t`, `-s reload`, the new worker generation. */
export * as Nginx from "./servers/Nginx"
/** haproxy: master CLI `reload`, `show proc`, runtime API `set ssl cert` / `commit ssl cert`. */
export * as Haproxy from "./servers/Haproxy"
/** Caddy: `caddy validate`, admin API `POST /load` (forced). */
export * as Caddy from "./servers/Caddy"
/** The install/restore certificate action kinds for nginx, haproxy and caddy. */
export * as InstallCertificate from "./reloaders/InstallCertificate"
/** What serves an endpoint: the listening process, nginx / haproxy certificate files. */
export * as Discover from "./servers/Discover"
/** Verification after a change: new leaf, notAfter > now + 30 d, chain valid, staple good when expected (retried). */
export * as Verify from "./reloaders/Verify"
/** The one interface of every renewer (acme-client, certbot, acme.sh, cert-manager, ACM): request, result, typed errors. */
export * as Renewer from "./renewers/Renewer"
/** DNS-01 providers: the `DnsProvider` interface, findZone (label boundary), TXT upsert/delete, visibility. */
export * as DnsProvider from "./dns/DnsProvider"
/** The in-process ACME renewer (acme-client): http-01 webroot / standalone, dns-01 through a DnsProvider. */
export * as AcmeClientRenewer from "./renewers/AcmeClient"
/** Route53 DNS-01 provider (@aws-sdk/client-route-53; GetChange PENDING → INSYNC). */
export * as Route53 from "./dns/Route53"
/** Cloudflare v4 DNS-01 provider (fetch). */
export * as Cloudflare from "./dns/Cloudflare"
/** Google Cloud DNS v1 DNS-01 provider (fetch). */
export * as CloudDns from "./dns/CloudDns"
/** The renewal signals (acme_challenge_failure, renewal_rate_limit_hit) and the Retry-After gate. */
export * as RenewalSignals from "./renewers/RenewalSignals"
/** certbot renewer: `renew --cert-name` / `certonly`, `--server`, REQUESTS_CA_BUNDLE, webroot / standalone, dns-01 by hooks or plugins. */
export * as CertbotRenewer from "./renewers/Certbot"
/** acme.sh renewer: `--renew -d` / `--issue`, `--dns dns_aws|dns_cf|dns_gcloud` (argv unit-tested; acme.sh is not on the test machines). */
export * as AcmeShRenewer from "./renewers/AcmeSh"
/** The certbot dns-01 hook: the shipped Node script and the loopback server it calls. */
export * as DnsHook from "./renewers/DnsHook"
/** cert-manager's resources (cert-manager.io/v1): conditions, Go durations, renewal time, back-off. */
export * as CertManagerResources from "./certmanager/Resources"
/** cert-manager: force-renew as `cmctl renew`, delete-and-re-create keeping the Secret, the Renewer and action kinds. */
export * as CertManager from "./certmanager/CertManager"
/** The Kubernetes ingress reloader: the Secret written with a resourceVersion precondition, verified by handshake. */
export * as IngressSecret from "./kubernetes/IngressSecret"
/** AWS Certificate Manager: renewal by type (validation CNAMEs, RenewCertificate, re-import) as action kinds. */
export * as Acm from "./acm/Acm"
/** The seven renewal classes of `tls.expiry.seven-class` (ours per rule, ≥ 0.70, a rate limit first). */
export * as SevenClass from "./classifiers/SevenClass"
/** The action kind `tls.renew`: a Renewer into a staging directory (dry_run: no order). */
export * as RenewAction from "./runbooks/RenewAction"
/** The runbook `tls.expiry.seven-class`. */
export * as SevenClassRunbook from "./runbooks/tls.expiry.seven-class"
/** CAA (RFC 8659): tree climbing, issue / issuewild, and an injectable resolver. */
export * as Caa from "./probes/Caa"
/** The read-only pre-renewal checks: names resolve, zone owned, CAA, ACM validation CNAMEs, TXT visible. */
export * as PreRenewal from "./probes/PreRenewal"
/** Pre/post snapshots of an endpoint (chain, notAfter, SANs, staple, file hashes) and their diff. */
export * as Snapshot from "./probes/Snapshot"
/** The staged-certificate checks shared by the install actions (key match, chain). */
export * as NewCertificate from "./checks/NewCertificate"
/** The runbook `tls.expiry.threshold`. */
export * as ThresholdRunbook from "./runbooks/tls.expiry.threshold"
/** The renewal classes of `tls.expiry.end-to-end` (the seed's first-match order, a rate limit first). */
export * as EndToEnd from "./classifiers/EndToEnd"
/** The runbook `tls.expiry.end-to-end`. */
export * as EndToEndRunbook from "./runbooks/tls.expiry.end-to-end"
/** The envoy reloader: file-based SDS, new files then an atomic rename of the watched resource (tested against the documented mechanism). */
export * as EnvoySds from "./reloaders/EnvoySds"
/** The traefik reloader: file provider, files swapped then the dynamic configuration renamed into place (tested against the documented mechanism). */
export * as TraefikFile from "./reloaders/TraefikFile"
