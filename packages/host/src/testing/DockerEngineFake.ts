/**
 * A loopback fake of the Docker Engine API, for tests of `Docker` (the test machines have no
 * Docker engine). It speaks the real wire shape of the endpoints a prune uses — `GET /_ping`
 * (with `API-Version`), versioned paths `/v1.xx/…`, `GET /system/df`, `GET /images/json`,
 * `POST /images/prune` (with `filters`), `POST /build/prune` (`all`), `POST /containers/prune`,
 * `POST /networks/prune`, `POST /volumes/prune` — over a unix socket (Docker's transport) or
 * 127.0.0.1, keeps a model of images, containers, build cache, networks and volumes that the
 * prunes really change, and logs every request. It is a fake, not Docker: only these endpoints.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as http from "node:http"
import type * as net from "node:net"

/** An image of the model. */
export interface Image {
  readonly Id: string
  readonly RepoTags: ReadonlyArray<string>
  readonly Size: number
}
/** A container of the model (`State`: running, exited, created …). */
export interface Container {
  readonly Id: string
  readonly Image: string
  readonly State: string
}
/** A build-cache record of the model. */
export interface BuildCache {
  readonly ID: string
  readonly Size: number
  readonly InUse: boolean
  /** Referenced by a kept build result (kept by `docker builder prune`, removed by `--all`). */
  readonly Shared?: boolean
}
/** A volume of the model. */
export interface Volume {
  readonly Name: string
  readonly Size: number
  readonly used: boolean
}

/** The model. */
export interface State {
  images: Array<Image>
  containers: Array<Container>
  buildCache: Array<BuildCache>
  networks: Array<{ readonly Name: string; readonly used: boolean }>
  volumes: Array<Volume>
}

/** One request the fake received. */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
}

/** A running fake. */
export interface DockerEngineFake {
  /** The unix socket, when listening on one. */
  readonly socketPath?: string
  /** `http://127.0.0.1:<port>`, when listening on TCP. */
  readonly baseUrl?: string
  /** The model (mutable: tests arrange it, prunes change it). */
  readonly state: State
  /** Every request, in order. */
  readonly requests: Array<LoggedRequest>
  readonly close: () => Promise<void>
}

/** The API version the fake announces. */
export const API_VERSION = "1.43"

const inUseImages = (s: State) => new Set(s.containers.map((c) => c.Image))
const dangling = (i: Image) => i.RepoTags.length === 0 || i.RepoTags.every((t) => t === "<none>:<none>")

const handle = (s: State, method: string, path: string, q: URLSearchParams): { status: number; body: unknown } => {
  const filters = q.get("filters") ? (JSON.parse(q.get("filters")!) as Record<string, ReadonlyArray<string>>) : {}
  const key = `${method} ${path}`
  switch (key) {
    case "GET /system/df": {
      const used = inUseImages(s)
      return {
        status: 200,
        body: {
          LayersSize: s.images.reduce((n, i) => n + i.Size, 0),
          Images: s.images.map((i) => ({ Id: i.Id, RepoTags: i.RepoTags, Size: i.Size, SharedSize: -1, Containers: s.containers.filter((c) => c.Image === i.Id).length || (used.has(i.Id) ? 1 : 0) })),
          Containers: s.containers.map((c) => ({ Id: c.Id, Image: c.Image, ImageID: c.Image, State: c.State })),
          Volumes: s.volumes.map((v) => ({ Name: v.Name, UsageData: { Size: v.Size, RefCount: v.used ? 1 : 0 } })),
          BuildCache: s.buildCache.map((b) => ({ ID: b.ID, Size: b.Size, InUse: b.InUse, Shared: b.Shared ?? false }))
        }
      }
    }
    case "GET /images/json": {
      const onlyDangling = filters["dangling"]?.includes("true") ?? false
      return { status: 200, body: s.images.filter((i) => !onlyDangling || dangling(i)).map((i) => ({ Id: i.Id, RepoTags: i.RepoTags, Size: i.Size })) }
    }
    case "POST /images/prune": {
      // dangling=true (the default): untagged images only; dangling=false: every image no container uses
      const all = filters["dangling"]?.includes("false") ?? false
      const used = inUseImages(s)
      const gone = s.images.filter((i) => !used.has(i.Id) && (all || dangling(i)))
      s.images = s.images.filter((i) => !gone.includes(i))
      return {
        status: 200,
        body: { ImagesDeleted: gone.length === 0 ? null : gone.map((i) => ({ Deleted: i.Id })), SpaceReclaimed: gone.reduce((n, i) => n + i.Size, 0) }
      }
    }
    case "POST /build/prune": {
      const all = q.get("all") === "1" || q.get("all") === "true"
      const gone = s.buildCache.filter((b) => !b.InUse && (all || !b.Shared))
      s.buildCache = s.buildCache.filter((b) => !gone.includes(b))
      return { status: 200, body: { CachesDeleted: gone.map((b) => b.ID), SpaceReclaimed: gone.reduce((n, b) => n + b.Size, 0) } }
    }
    case "POST /containers/prune": {
      const gone = s.containers.filter((c) => c.State !== "running" && c.State !== "paused" && c.State !== "restarting")
      s.containers = s.containers.filter((c) => !gone.includes(c))
      return { status: 200, body: { ContainersDeleted: gone.map((c) => c.Id), SpaceReclaimed: 0 } }
    }
    case "POST /networks/prune": {
      const gone = s.networks.filter((n) => !n.used && !["bridge", "host", "none"].includes(n.Name))
      s.networks = s.networks.filter((n) => !gone.includes(n))
      return { status: 200, body: { NetworksDeleted: gone.map((n) => n.Name) } }
    }
    case "POST /volumes/prune": {
      const gone = s.volumes.filter((v) => !v.used)
      s.volumes = s.volumes.filter((v) => !gone.includes(v))
      return { status: 200, body: { VolumesDeleted: gone.map((v) => v.Name), SpaceReclaimed: gone.reduce((n, v) => n + v.Size, 0) } }
    }
    default:
      return { status: 404, body: { message: `page not found: ${method} ${path}` } }
  }
}

/**
 * Starts a fake on a unix socket (`socketPath`) or on 127.0.0.1 (an ephemeral port); the state
 * starts as given (empty otherwise). Close it with `close()`.
 */
export const start = (options: { readonly socketPath?: string; readonly state?: Partial<State> } = {}): Promise<DockerEngineFake> => {
  const state: State = {
    images: [...(options.state?.images ?? [])],
    containers: [...(options.state?.containers ?? [])],
    buildCache: [...(options.state?.buildCache ?? [])],
    networks: [...(options.state?.networks ?? [])],
    volumes: [...(options.state?.volumes ?? [])]
  }
  const requests: Array<LoggedRequest> = []
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://docker")
    requests.push({ method: req.method ?? "", path: u.pathname, query: Object.fromEntries(u.searchParams) })
    req.resume()
    req.on("end", () => {
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body)
        res.writeHead(status, { "content-type": "application/json", "api-version": API_VERSION, "docker-experimental": "false", "server": "Docker/24.0.7 (linux)" })
        res.end(text)
      }
      if (u.pathname === "/_ping") {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "api-version": API_VERSION, "ostype": "linux" })
        res.end("OK")
        return
      }
      const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(u.pathname)
      const path = m ? m[2]! : u.pathname
      if (m && Number(m[1]) > Number(API_VERSION)) {
        send(400, { message: `client version ${m[1]} is too new. Maximum supported API version is ${API_VERSION}` })
        return
      }
      const r = handle(state, req.method ?? "", path, u.searchParams)
      send(r.status, r.body)
    })
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    const done = () => {
      const addr = server.address() as net.AddressInfo | string
      resolve({
        ...(options.socketPath !== undefined ? { socketPath: options.socketPath } : { baseUrl: `http://127.0.0.1:${(addr as net.AddressInfo).port}` }),
        state,
        requests,
        close: () => new Promise<void>((ok) => server.close(() => ok()))
      })
    }
    if (options.socketPath !== undefined) server.listen(options.socketPath, done)
    else server.listen(0, "127.0.0.1", done)
  })
}

/** `start` as a scoped Effect: the fake closes with the scope. */
export const scoped = (options: Parameters<typeof start>[0] = {}): Effect.Effect<DockerEngineFake, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (f) => Effect.promise(() => f.close()))
