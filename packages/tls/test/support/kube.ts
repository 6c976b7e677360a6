/** kube-sim with the cert-manager controller model, for the cert-manager and ingress tests. */
import * as fs from "node:fs"
import { type IncidentReport, Runbook, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { KubeSim } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api } from "@kubernetes/client-node"
import { Effect } from "effect"
import { afterEach, assert } from "vitest"
import * as CertManager from "../../src/certmanager/CertManager"
import * as R from "../../src/certmanager/Resources"
import * as CertificateSignals from "../../src/detectors/CertificateSignals"
import * as Inspection from "../../src/Inspection"
import * as CertManagerModel from "../../src/testing/certManager"
import * as IngressController from "../../src/testing/ingress"

/** A running kube-sim whose clock is `Date.now() + offset`, with the cert-manager model installed. */
export interface CertManagerWorld {
  readonly sim: KubeSimInstance
  readonly kc: KubeConfig
  readonly core: CoreV1Api
  readonly custom: CustomObjectsApi
  readonly model: CertManagerModel.CertManagerModel
  /** Moves the simulator's clock (ms, relative to real time). */
  readonly advance: (ms: number) => void
  readonly now: () => number
  readonly close: () => Promise<void>
}

/** Starts kube-sim with the model answering dns-01 through challtestsrv (and http-01 through nginx's webroot when up). */
export const startWorld = async (env: Readonly<Record<string, string>>): Promise<CertManagerWorld> => {
  let offset = 0
  const now = () => Date.now() + offset
  const model = CertManagerModel.make({
    solvers: {
      dns01: CertManagerModel.challtestsrvDns01(env.BYTEPORT_TEST_CHALLTESTSRV_URL ?? ""),
      ...(env.BYTEPORT_TEST_NGINX_WEBROOT !== undefined ? { http01: CertManagerModel.webrootHttp01(env.BYTEPORT_TEST_NGINX_WEBROOT) } : {})
    },
    acmeCa: fs.readFileSync(env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? "", "utf8"),
    resyncMillis: 50,
    acmeRetryMaxAttempts: 0
  })
  const sim = await KubeSim.start({ seed: 15, now, install: [model.install] })
  const kc = new KubeConfig()
  kc.loadFromString(sim.kubeconfig())
  const world: CertManagerWorld = {
    sim, kc, model, now,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    advance: (ms) => {
      offset += ms
    },
    close: () => sim.close()
  }
  return world
}

/** A ClusterIssuer for a Pebble directory with one dns-01 solver. */
export const clusterIssuer = (name: string, server: string) => ({
  apiVersion: "cert-manager.io/v1",
  kind: "ClusterIssuer",
  metadata: { name },
  spec: { acme: { server, email: "sre@byteport.test", privateKeySecretRef: { name: `${name}-account` }, solvers: [{ dns01: { route53: { region: "us-east-1" } } }] } }
})

/** A Certificate for `dnsNames` into `secretName`. */
export const certificate = (o: { name: string; namespace?: string; secretName: string; dnsNames: ReadonlyArray<string>; issuer: string; renewBefore?: string }) => ({
  apiVersion: "cert-manager.io/v1",
  kind: "Certificate",
  metadata: { name: o.name, namespace: o.namespace ?? "default", labels: { app: "shop" } },
  spec: {
    secretName: o.secretName,
    dnsNames: [...o.dnsNames],
    issuerRef: { name: o.issuer, kind: "ClusterIssuer", group: "cert-manager.io" },
    privateKey: { algorithm: "ECDSA", rotationPolicy: "Always" },
    ...(o.renewBefore !== undefined ? { renewBefore: o.renewBefore } : {})
  }
})

/** Polls `probe` (real time) until it returns a value. */
export const until = async <A>(probe: () => Promise<A | undefined>, timeoutMillis: number, what: string): Promise<A> => {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const a = await probe()
    if (a !== undefined) return a
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Points the ClusterIssuer `name` at another ACME server. */
export const setIssuerServer = async (w: CertManagerWorld, name: string, server: string): Promise<void> => {
  const issuer = (await w.custom.getClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name })) as { spec: { acme: { server: string } } }
  issuer.spec.acme.server = server
  await w.custom.replaceClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", name, body: { ...issuer, metadata: { name } } })
}

/**
 * A ClusterIssuer `pebble` for `server`, the Certificate `default/shop` for `domain` into the
 * Secret `shop-tls` (renewBefore 48h), issued once (revision 1), and an Ingress serving it.
 */
export const issueBehindIngress = async (w: CertManagerWorld, o: { readonly domain: string; readonly server: string }): Promise<R.Certificate> => {
  await w.custom.createClusterCustomObject({ group: R.GROUP, version: R.VERSION, plural: "clusterissuers", body: clusterIssuer("pebble", o.server) })
  await w.custom.createNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", body: certificate({ name: "shop", secretName: "shop-tls", dnsNames: [o.domain], issuer: "pebble", renewBefore: "48h" }) })
  const first = await until(async () => {
    const c = (await w.custom.getNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", name: "shop" })) as R.Certificate
    return R.isReady(c) && c.status?.revision === 1 ? c : undefined
  }, 20_000, "the first issuance")
  await w.kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({
    namespace: "default",
    body: { metadata: { name: "shop" }, spec: { tls: [{ hosts: [o.domain], secretName: "shop-tls" }], rules: [{ host: o.domain, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "shop", port: { number: 80 } } } }] } }] } }
  })
  return first
}

/** The Certificate `default/shop` of {@link issueBehindIngress}. */
export const getShop = async (w: CertManagerWorld): Promise<R.Certificate> =>
  (await w.custom.getNamespacedCustomObject({ group: R.GROUP, version: R.VERSION, plural: "certificates", namespace: "default", name: "shop" })) as R.Certificate

/** A world per test: `start` it in the test, it is closed after each. */
export const worldPerTest = (env: Readonly<Record<string, string>>): { readonly start: () => Promise<CertManagerWorld> } => {
  let world: CertManagerWorld | undefined
  afterEach(async () => {
    await world?.close()
    world = undefined
  })
  return { start: async () => (world = await startWorld(env)) }
}

/** What the runbook end-to-ends share once the Secret is served: the test ingress controller, the roots, the endpoint, the leaf served before and the expiring signal (7 days). */
export interface ServedScene {
  readonly controller: IngressController.IngressController
  readonly ca: ReadonlyArray<string>
  readonly endpoint: { readonly host: string; readonly port: number; readonly servername: string }
  readonly before: Inspection.Inspection
  readonly signal: Signal.Signal
}

/** Starts the ingress controller before `w`, inspects `domain` and polls the expiry detector (its 7-day threshold fires: a 5-day certificate). */
export const servedScene = async (env: Readonly<Record<string, string>>, w: CertManagerWorld, domain: string, thresholdDays?: ReadonlyArray<number>): Promise<ServedScene> => {
  const controller = await IngressController.start({ kubeConfig: w.kc })
  const ca = [env.BYTEPORT_TEST_PEBBLE_SHORT_ROOT ?? "", env.BYTEPORT_TEST_PEBBLE_ROOT ?? ""].map((f) => fs.readFileSync(f, "utf8"))
  const endpoint = { host: controller.host, port: controller.port, servername: domain }
  const before = await Effect.runPromise(Inspection.inspect({ ...endpoint, ca }))
  const signals = await Effect.runPromise(CertificateSignals.pollOnce({ ...endpoint, ca, ...(thresholdDays !== undefined ? { thresholdDays } : {}) }))
  const signal = signals.find((s) => s.type === CertificateSignals.SIGNAL_EXPIRING_SOON)!
  assert.strictEqual(signal.evidence["thresholdDays"], 7)
  return { controller, ca, endpoint, before, signal }
}

/** Handles `signal` with `runbook` in `mode`, the cert-manager action handlers registered. */
export const handle = async <F>(w: CertManagerWorld, runbook: Runbook.Runbook<F>, signal: Signal.Signal, mode: "auto" | "dry_run"): Promise<IncidentReport.IncidentReport> =>
  (await Effect.runPromise(Runbook.handle(runbook, signal, { mode }).pipe(
    Effect.provide(Testing.layer({ handlers: CertManager.handlers(w.kc) }))
  ))) as IncidentReport.IncidentReport
