/**
 * The kube-sim facade: starts the API server on 127.0.0.1 (random port by default) over an
 * in-memory store, wires fault injection, the request recorder, PDB status maintenance and any
 * controllers, and hands back everything a test needs.
 *
 * ```ts
 * const sim = await KubeSim.start({ seed: 42 })
 * const kc = new KubeConfig(); kc.loadFromString(sim.kubeconfig())
 * // … drive it with client-node or kubectl …
 * await sim.close()
 * ```
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import * as Faults from "./faults/Faults"
import * as Recorder from "./recorder/Recorder"
import * as Crds from "./server/crds"
import * as Disruption from "./server/disruption"
import * as Authz from "./server/authz"
import * as Exec from "./server/exec"
import type { ExtraRoute } from "./server/Server"
import { makeHandler } from "./server/Server"
import * as Watch from "./server/watch"
import * as PodLogs from "./store/logs"
import { MemoryStore } from "./store/MemoryStore"
import * as Recording from "./store/recording"
import { Keys } from "./store/registry"

/** Something an installer returns to be torn down on close. */
export type Disposable = { dispose(): void | Promise<void> } | (() => void | Promise<void>) | void

/** What a controller installer receives. */
export interface InstallContext {
  /** The object store (also the concrete MemoryStore API: scan, entry, eventsSince …). */
  readonly store: MemoryStore
  /** The pod log source the kubelet writes. */
  readonly logs: PodLogs.PodLogs
  /** The clock driving timestamps (epoch ms). */
  readonly now: () => number
  /** The simulation seed. */
  readonly seed: number
  /** Fault injection (controllers may expose scenario faults through it). */
  readonly faults: Faults.Faults
  /** Registers an extra HTTP route after start (e.g. metrics.k8s.io). */
  readonly addRoute: (route: ExtraRoute) => void
  /** Sets what `pods/exec` runs (default `Exec.builtinBackend`: echo, true, false). */
  readonly setExecBackend: (backend: Exec.ExecBackend) => void
}

/** A controller installer. */
export type Installer = (ctx: InstallContext) => Disposable | Promise<Disposable>

/** Options of `KubeSim.start`. */
export interface StartOptions {
  /** TCP port on 127.0.0.1 (default 0: random). */
  readonly port?: number
  /** Seed for uids, generated names and fault rates (default 1). */
  readonly seed?: number
  /** Clock for timestamps (epoch ms; default Date.now). The virtual clock plugs in here. */
  readonly now?: () => number
  /** Controller installers (run in order after the store exists, before the server listens). */
  readonly install?: ReadonlyArray<Installer>
  /** Alias of `install`. */
  readonly controllers?: ReadonlyArray<Installer>
  /** Extra HTTP routes tried before the Kubernetes API routes. */
  readonly extraRoutes?: ReadonlyArray<ExtraRoute>
  /** Watch replay history size (default 10,000 changes). */
  readonly historySize?: number
  /** Interval of watch bookmarks when a client allows them (default 60 s). */
  readonly bookmarkIntervalMs?: number
  /** Bytes a watch may have buffered unsent before it is dropped with 410 (default 64 MiB). */
  readonly watchBufferLimitBytes?: number
  /** Graceful pod deletion (default false; a kubelet installer turns it on via `store.gracefulDeletion`). */
  readonly gracefulDeletion?: boolean
  /**
   * Require `Authorization: Bearer <token>` on every request (401 otherwise). client-node sends
   * tokens over http; kubectl only sends credentials over TLS, so leave this unset for kubectl.
   */
  readonly token?: string
  /**
   * Serve HTTPS: `true` makes a self-signed certificate for 127.0.0.1 with the system `openssl`
   * (the kubeconfig then carries it as certificate-authority-data), or pass PEM `cert`/`key`.
   * Needed to test bearer-token auth with kubectl, which sends credentials only over TLS.
   */
  readonly tls?: boolean | { readonly cert: string; readonly key: string }
  /**
   * Authorize requests by RBAC (rbac.authorization.k8s.io/v1 Roles, ClusterRoles and bindings in
   * the store): a ServiceAccount token from `serviceAccountToken` is that ServiceAccount and
   * gets exactly what its bindings allow (else 403 with the apiserver's wording); the admin
   * token (`token`), or no credentials when `token` is unset, may do everything. Off by default.
   */
  readonly authorization?: boolean
  /** Namespaces created at start (default: default, kube-system, kube-public, kube-node-lease). */
  readonly namespaces?: ReadonlyArray<string>
  /**
   * The IPv4 block Service cluster IPs are allocated from (default `10.96.0.0/12`). The addresses
   * are simulator data only: nothing listens on them.
   */
  readonly serviceCidr?: string
  /**
   * A recorded incident loaded verbatim before controllers start (`Recording.load`): a
   * `kubectl get -o json` List (its JSON text, or an array of objects) with every uid,
   * creationTimestamp, managedFields entry, status and null kept. Without `now`, the clock starts
   * at `capturedAt` (default: the latest timestamp in the recording) and runs in real time.
   */
  readonly recording?: { readonly objects: Recording.Recording; readonly capturedAt?: Date | string | number }
}

/** A running simulator. */
export interface KubeSim {
  /** `http://127.0.0.1:PORT` (or `https://…` with `tls`). */
  readonly url: string
  readonly port: number
  readonly store: MemoryStore
  readonly logs: PodLogs.PodLogs
  readonly faults: Faults.Faults
  readonly recorder: Recorder.Recorder
  /** Number of open watch streams. */
  readonly openWatches: number
  /** What `recording` loaded (undefined without one). */
  readonly loaded: Recording.LoadResult | undefined
  /** The capture time the clock started at (epoch ms; undefined without a recording). */
  readonly capturedAt: number | undefined
  /** Kubeconfig YAML pointing at the server (context `kube-sim`, namespace `default`). */
  kubeconfig(options?: { namespace?: string; token?: string }): string
  /** The token required by the server (if `token` was given to start). */
  readonly token: string | undefined
  /**
   * A bearer token for the ServiceAccount `namespace/name` (created if missing) — needs
   * `authorization: true`; put it in a kubeconfig with `kubeconfig({ token })`.
   */
  serviceAccountToken(namespace: string, name: string): string
  /** The PEM certificate served with `tls` (the kubeconfig's CA). */
  readonly certificate: string | undefined
  /** Writes `kubeconfig()` to a file (mode 0600). */
  writeKubeconfig(path: string, options?: { namespace?: string; token?: string }): void
  /**
   * Simulates an apiserver restart: closes every connection and watch, keeps state and the port.
   * With `downtimeMs` the port refuses connections for that long (real time) before serving again.
   */
  restart(options?: { downtimeMs?: number }): Promise<void>
  /** Stops controllers and the server. */
  close(): Promise<void>
}

const DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]

/** A kube-sim start failure (e.g. no `openssl` for `tls: true`). */
export class StartError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "StartError"
  }
}

const selfSigned = (): Promise<{ cert: string; key: string }> =>
  new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-tls-"))
    const keyPath = join(dir, "key.pem")
    const certPath = join(dir, "cert.pem")
    execFile(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", "/CN=kube-sim",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"
      ],
      { timeout: 30_000 },
      (err) => {
        try {
          if (err) reject(new StartError(`tls: true needs openssl to make a self-signed certificate: ${err.message}`))
          else resolve({ cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") })
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
    )
  })

const listen = (server: http.Server, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e)
    server.once("error", onError)
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError)
      resolve((server.address() as AddressInfo).port)
    })
  })

const closeServer = (server: http.Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })

/** Starts a simulator. */
export const start = async (options: StartOptions = {}): Promise<KubeSim> => {
  const seed = options.seed ?? 1
  const capturedAt = options.recording
    ? options.recording.capturedAt !== undefined
      ? new Date(options.recording.capturedAt).getTime()
      : Recording.latestTimestamp(options.recording.objects) ?? Date.now()
    : undefined
  const startedAt = Date.now()
  const now = options.now ?? (capturedAt !== undefined ? () => capturedAt + (Date.now() - startedAt) : Date.now)
  const store = new MemoryStore({
    now,
    seed,
    ...(options.historySize !== undefined ? { historySize: options.historySize } : {}),
    ...(options.serviceCidr !== undefined ? { serviceCidr: options.serviceCidr } : {}),
    gracefulDeletion: options.gracefulDeletion ?? false
  })
  const logs = PodLogs.make({ now })
  const faults = Faults.make(seed)
  const recorder = Recorder.make()
  const hub = Watch.make(store, {
    ...(options.bookmarkIntervalMs !== undefined ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}),
    ...(options.watchBufferLimitBytes !== undefined ? { maxBufferedBytes: options.watchBufferLimitBytes } : {})
  })
  const extraRoutes: Array<ExtraRoute> = [...(options.extraRoutes ?? [])]
  faults.onDropWatches = (abrupt) => hub.closeAll(abrupt)
  faults.onCompact = () => store.compact()
  for (const ns of options.namespaces ?? DEFAULT_NAMESPACES) {
    if (!store.entry(Keys.namespaces, undefined, ns)) store.create(Keys.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
  }
  const loaded = options.recording ? Recording.load(store, options.recording.objects) : undefined
  const disposers: Array<() => void | Promise<void>> = []
  disposers.push(Disruption.install(store))
  disposers.push(Crds.install(store))
  disposers.push(store.subscribe((key, ev) => {
    if (key.group === "" && key.resource === "pods" && ev.type === "DELETED") logs.remove(ev.object.metadata.namespace ?? "default", ev.object.metadata.name)
  }))
  let execBackend: Exec.ExecBackend = Exec.builtinBackend
  const ctx: InstallContext = { store, logs, now, seed, faults, addRoute: (r) => extraRoutes.push(r), setExecBackend: (b) => (execBackend = b) }
  for (const install of [...(options.install ?? []), ...(options.controllers ?? [])]) {
    const d = await install(ctx)
    if (typeof d === "function") disposers.push(d)
    else if (d && typeof d.dispose === "function") disposers.push(() => d.dispose())
  }
  const tls = options.tls === true ? await selfSigned() : options.tls ? options.tls : undefined
  const tokens = options.authorization ? new Authz.Tokens() : undefined
  const handler = makeHandler({ store, logs, faults, recorder, hub, extraRoutes, ...(options.token !== undefined ? { token: options.token } : {}), ...(tokens ? { tokens } : {}) })
  const makeServer = (): http.Server => {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      void handler(req, res)
    }
    const s: http.Server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, onRequest) : http.createServer(onRequest)
    s.keepAliveTimeout = 5_000
    // pods/exec over WebSocket; upgraded sockets are closed with the server
    const onUpgrade = Exec.makeUpgradeHandler({ store, faults, recorder, token: options.token, tokens, backend: () => execBackend })
    s.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      upgraded.add(socket)
      socket.on("close", () => upgraded.delete(socket))
      onUpgrade(req, socket, head)
    })
    return s
  }
  const upgraded = new Set<Duplex>()
  const dropUpgraded = () => {
    for (const u of upgraded) u.destroy()
    upgraded.clear()
  }
  let server = makeServer()
  const port = await listen(server, options.port ?? 0)
  const url = `${tls ? "https" : "http"}://127.0.0.1:${port}`
  let closed = false
  const kubeconfig = (opts: { namespace?: string; token?: string } = {}) => {
    const o = { ...opts, ...(opts.token === undefined && options.token !== undefined ? { token: options.token } : {}) }
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: kube-sim",
      "  cluster:",
      `    server: ${url}`,
      tls ? `    certificate-authority-data: ${Buffer.from(tls.cert).toString("base64")}` : "    insecure-skip-tls-verify: true",
      "users:",
      "- name: kube-sim",
      `  user: ${o.token ? `\n    token: ${JSON.stringify(o.token)}` : "{}"}`,
      "contexts:",
      "- name: kube-sim",
      "  context:",
      "    cluster: kube-sim",
      "    user: kube-sim",
      `    namespace: ${o.namespace ?? "default"}`,
      "current-context: kube-sim",
      ""
    ].join("\n")
  }
  return {
    url,
    port,
    token: options.token,
    certificate: tls?.cert,
    serviceAccountToken: (namespace, name) => {
      if (!tokens) throw new Error("serviceAccountToken needs KubeSim.start({ authorization: true })")
      if (!store.get(Keys.serviceaccounts, namespace, name)) {
        store.create(Keys.serviceaccounts, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } })
      }
      const token = `kube-sim-sa.${namespace}.${name}.${randomBytes(12).toString("hex")}`
      tokens.serviceAccount(token, namespace, name)
      return token
    },
    store,
    logs,
    faults,
    recorder,
    get openWatches() {
      return hub.size
    },
    loaded,
    capturedAt,
    kubeconfig,
    writeKubeconfig: (path, o) => writeFileSync(path, kubeconfig(o), { mode: 0o600 }),
    restart: async (o = {}) => {
      hub.closeAll(true)
      dropUpgraded()
      await closeServer(server)
      if (o.downtimeMs !== undefined && o.downtimeMs > 0) await new Promise((r) => setTimeout(r, o.downtimeMs))
      server = makeServer()
      await listen(server, port)
    },
    close: async () => {
      if (closed) return
      closed = true
      for (const d of disposers.reverse()) await d()
      hub.dispose()
      dropUpgraded()
      await closeServer(server)
    }
  }
}
