/**
 * A test ingress controller: a real TLS server (`node:tls`) on 127.0.0.1 that serves, for each SNI
 * name, the `kubernetes.io/tls` Secret an Ingress names for that host (`spec.tls[].hosts`,
 * `secretName`, same namespace), read through the Kubernetes API (client-node) — so a handshake
 * shows what the cluster's Secret holds, as ingress-nginx does after it syncs. It also writes the
 * Ingresses' `status.loadBalancer.ingress` (`127.0.0.1`) for its class.
 *
 * Secrets are read again at most every `syncMillis` (default 0: on every handshake), which models an
 * ingress controller's sync delay.
 *
 * Left out: HTTP routing (the connection is closed after the handshake), the default "fake"
 * certificate (an SNI name no Ingress names, or a Secret without a valid pair, fails the
 * handshake), wildcard `hosts`, IngressClass parameters and the admission webhook.
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import * as tls from "node:tls"
import { CoreV1Api, NetworkingV1Api } from "@kubernetes/client-node"
import type { KubeConfig, V1Ingress } from "@kubernetes/client-node"

/** Options of `start`. */
export interface Options {
  readonly kubeConfig: KubeConfig
  /** The namespaces whose Ingresses are served (default `["default"]`). */
  readonly namespaces?: ReadonlyArray<string>
  /** Serve only Ingresses of this `spec.ingressClassName` (default: every Ingress). */
  readonly ingressClassName?: string
  /** Port on 127.0.0.1 (default 0: a free one). */
  readonly port?: number
  /** How long a Secret read is reused (ms, default 0: read on every handshake). */
  readonly syncMillis?: number
}

/** A running controller. */
export interface IngressController {
  readonly host: "127.0.0.1"
  readonly port: number
  /** Handshakes served, by SNI name (failed ones included). */
  readonly handshakes: () => Readonly<Record<string, number>>
  readonly close: () => Promise<void>
}

interface Cached {
  readonly at: number
  readonly context: tls.SecureContext
}

/** Starts the controller. */
export const start = async (options: Options): Promise<IngressController> => {
  const core = options.kubeConfig.makeApiClient(CoreV1Api)
  const networking = options.kubeConfig.makeApiClient(NetworkingV1Api)
  const namespaces = options.namespaces ?? ["default"]
  const cache = new Map<string, Cached>()
  const counts: Record<string, number> = {}

  const ingresses = async (): Promise<Array<V1Ingress>> => {
    const lists = await Promise.all(namespaces.map((namespace) => networking.listNamespacedIngress({ namespace })))
    return lists.flatMap((l) => l.items).filter((i) => options.ingressClassName === undefined || i.spec?.ingressClassName === options.ingressClassName)
  }

  const contextFor = async (servername: string): Promise<tls.SecureContext> => {
    const ing = (await ingresses()).find((i) => (i.spec?.tls ?? []).some((t) => (t.hosts ?? []).includes(servername)))
    const entry = ing?.spec?.tls?.find((t) => (t.hosts ?? []).includes(servername))
    if (ing === undefined || entry?.secretName === undefined) throw new Error(`no Ingress serves ${servername}`)
    const namespace = ing.metadata?.namespace ?? "default"
    const id = `${namespace}/${entry.secretName}`
    const hit = cache.get(id)
    if (hit !== undefined && Date.now() - hit.at < (options.syncMillis ?? 0)) return hit.context
    const secret = await core.readNamespacedSecret({ namespace, name: entry.secretName })
    const crt = secret.data?.["tls.crt"]
    const key = secret.data?.["tls.key"]
    if (crt === undefined || key === undefined) throw new Error(`Secret ${id} holds no tls.crt/tls.key`)
    const context = tls.createSecureContext({ cert: Buffer.from(crt, "base64"), key: Buffer.from(key, "base64") })
    cache.set(id, { at: Date.now(), context })
    return context
  }

  const sockets = new Set<net.Socket>()
  const server = tls.createServer({
    SNICallback: (servername, cb) => {
      counts[servername] = (counts[servername] ?? 0) + 1
      contextFor(servername).then((ctx) => cb(null, ctx), (e: unknown) => cb(e instanceof Error ? e : new Error(String(e))))
    }
  }, (socket) => {
    socket.on("error", () => {})
    socket.end()
  })
  server.on("connection", (s: net.Socket) => {
    sockets.add(s)
    s.on("error", () => {})
    s.on("close", () => sockets.delete(s))
  })
  server.on("tlsClientError", () => {})
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  })
  // the load balancer address, as controllers publish it
  for (const ing of await ingresses()) {
    const namespace = ing.metadata?.namespace ?? "default"
    const name = ing.metadata?.name ?? ""
    await networking.replaceNamespacedIngressStatus({ namespace, name, body: { ...ing, status: { loadBalancer: { ingress: [{ ip: "127.0.0.1", ports: [{ port, protocol: "TCP" }] }] } } } }).catch(() => undefined)
  }
  return {
    host: "127.0.0.1",
    port,
    handshakes: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
