/** kube-sim with the cert-manager controller model, for the cert-manager and ingress tests. */
import * as fs from "node:fs"
import { KubeSim } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node"
import * as CertManagerModel from "../../src/testing/certManager"

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
