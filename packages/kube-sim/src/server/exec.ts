/**
 * `pods/exec` over WebSocket, as the real apiserver serves it to client-node's `Exec` and to
 * kubectl (1.30+): the `v5.channel.k8s.io` / `v4.channel.k8s.io` channel protocols (one byte of
 * channel id per binary message: 0 stdin, 1 stdout, 2 stderr, 3 the final `Status`, 4 resize, 255
 * close-stream in v5), a minimal RFC 6455 server (no extensions; ping/pong, close, fragmented
 * client frames).
 *
 * Refusals come back as HTTP errors with a Status body before the upgrade, as the apiserver's:
 * 401 without the token, 404 for a missing pod, 400 for a pod without a node, a completed pod, a
 * container that is not in the pod or not running, no command, no stream, SPDY (kube-sim speaks
 * WebSocket only), 500 "error dialing backend" when the node is unreachable. Injected faults on
 * `pods/exec` (errors and latency) apply.
 *
 * What runs is the backend's business (`ExecBackend`): kube-sim routes `nsenter -t 1 …` in a
 * privileged hostPID pod to the node's host shell; other commands are not simulated.
 */
import { createHash } from "node:crypto"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import type { Faults } from "../faults/Faults"
import type { Recorder } from "../recorder/Recorder"
import type { MemoryStore } from "../store/MemoryStore"
import { Keys } from "../store/registry"
import type { KubeObject } from "../store/types"
import * as Authz from "./authz"
import { ApiError, badRequest, forbidden, forStatus, notFound, unauthorized } from "./status"

type Obj = Record<string, unknown>

/** One exec request, validated: the pod is scheduled, not completed, the container runs. */
export interface ExecRequest {
  readonly pod: KubeObject
  readonly container: string
  readonly command: ReadonlyArray<string>
  /** Bytes the client sent on stdin (empty when `stdin=false`). */
  readonly stdin: Uint8Array
  readonly tty: boolean
}

/** What a command did: an exit code and output, or an error the runtime reported (no exit code). */
export type ExecOutcome =
  | { readonly exitCode: number; readonly stdout: string; readonly stderr: string }
  | { readonly error: string }

/** Runs exec requests; may throw an `ApiError` to refuse before the upgrade. */
export interface ExecBackend {
  /** Checked before the upgrade (e.g. the node is unreachable → 500). */
  readonly admit?: (pod: KubeObject) => ApiError | undefined
  readonly run: (request: ExecRequest) => ExecOutcome | Promise<ExecOutcome>
}

/** The WebSocket channel protocols served, in order of preference. */
export const PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const

/** A backend that runs nothing real: `echo`, `true`, `false` and `cat` (stdin to stdout) only (kube-sim without controllers). */
export const builtinBackend: ExecBackend = {
  run: ({ command, stdin }) => {
    const [program, ...args] = command
    if (program === "cat" && args.length === 0) return { exitCode: 0, stdout: new TextDecoder().decode(stdin), stderr: "" }
    if (program === "true") return { exitCode: 0, stdout: "", stderr: "" }
    if (program === "false") return { exitCode: 1, stdout: "", stderr: "" }
    if (program === "echo") return { exitCode: 0, stdout: `${args.join(" ")}\n`, stderr: "" }
    return notSimulated(command)
  }
}

/** The runtime's answer for a program the container does not have (how runc reports it). */
export const notSimulated = (command: ReadonlyArray<string>): ExecOutcome => ({
  error: `failed to exec in container: failed to start exec "${createHash("sha256").update(command.join(" ")).digest("hex")}": OCI runtime exec failed: exec failed: unable to start container process: exec: "${command[0] ?? ""}": executable file not found in $PATH: unknown`
})

/** The Status a finished command sends on channel 3. */
export const statusOf = (command: ReadonlyArray<string>, outcome: ExecOutcome): Obj => {
  if ("error" in outcome) {
    return { metadata: {}, status: "Failure", message: outcome.error, reason: "InternalError", details: { causes: [{ message: outcome.error }] }, code: 500 }
  }
  if (outcome.exitCode === 0) return { metadata: {}, status: "Success" }
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${outcome.exitCode}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(outcome.exitCode) }] }
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 6455 framing

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
const CHUNK = 32 * 1024

/** One unmasked server frame. */
const frame = (opcode: number, payload: Uint8Array): Buffer => {
  const len = payload.length
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10)
  head[0] = 0x80 | opcode
  if (len < 126) head[1] = len
  else if (len < 65536) {
    head[1] = 126
    head.writeUInt16BE(len, 2)
  } else {
    head[1] = 127
    head.writeBigUInt64BE(BigInt(len), 2)
  }
  return Buffer.concat([head, payload])
}

/** Reads client frames from a byte stream: complete messages (defragmented) and control frames. */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0)
  private fragments: Array<Buffer> = []
  private fragmentOpcode = 0
  constructor(private readonly onMessage: (opcode: number, payload: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    for (;;) {
      if (this.buf.length < 2) return
      const b0 = this.buf[0]!
      const b1 = this.buf[1]!
      const fin = (b0 & 0x80) !== 0
      const opcode = b0 & 0x0f
      const masked = (b1 & 0x80) !== 0
      let len = b1 & 0x7f
      let off = 2
      if (len === 126) {
        if (this.buf.length < 4) return
        len = this.buf.readUInt16BE(2)
        off = 4
      } else if (len === 127) {
        if (this.buf.length < 10) return
        len = Number(this.buf.readBigUInt64BE(2))
        off = 10
      }
      const maskOff = off
      if (masked) off += 4
      if (this.buf.length < off + len) return
      const payload = Buffer.from(this.buf.subarray(off, off + len))
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= this.buf[maskOff + (i % 4)]!
      this.buf = this.buf.subarray(off + len)
      if (opcode >= 0x8) this.onMessage(opcode, payload)
      else if (opcode === 0) {
        this.fragments.push(payload)
        if (fin) {
          this.onMessage(this.fragmentOpcode, Buffer.concat(this.fragments))
          this.fragments = []
        }
      } else if (fin) this.onMessage(opcode, payload)
      else {
        this.fragmentOpcode = opcode
        this.fragments = [payload]
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// the upgrade handler

/** What the upgrade handler needs. */
export interface ExecContext {
  readonly store: MemoryStore
  readonly faults: Faults
  readonly recorder: Recorder
  readonly token?: string | undefined
  /** ServiceAccount tokens: when set, exec is authorized by RBAC (`create` on `pods/exec`). */
  readonly tokens?: Authz.Tokens | undefined
  /** The backend (read per request: controllers install theirs after start). */
  readonly backend: () => ExecBackend
}

const REASONS: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" }

const refuse = (socket: Duplex, e: ApiError): void => {
  const body = JSON.stringify(e.body)
  const headers = [
    `HTTP/1.1 ${e.code} ${REASONS[e.code] ?? "Error"}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Cache-Control: no-cache, private",
    ...Object.entries(e.headers).map(([k, v]) => `${k}: ${v}`),
    "Connection: close",
    "",
    ""
  ].join("\r\n")
  socket.end(headers + body)
}

const isTrue = (v: string | null): boolean => v === "true" || v === "1"

const parseExecPath = (pathname: string): { namespace: string; pod: string; sub: string } | undefined => {
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/([^/]+)\/?$/.exec(pathname)
  if (m === null) return undefined
  try {
    return { namespace: decodeURIComponent(m[1]!), pod: decodeURIComponent(m[2]!), sub: m[3]! }
  } catch {
    return undefined
  }
}

/** Validates the pod and container as the apiserver and kubelet do; returns the container name. */
const admitPod = (pod: KubeObject, containerParam: string | null): string => {
  const spec = (pod["spec"] ?? {}) as Obj
  const status = (pod["status"] ?? {}) as Obj
  const name = pod.metadata.name
  const containers = ((spec["containers"] ?? []) as Array<Obj>).map((c) => String(c["name"]))
  const all = [...containers, ...((spec["initContainers"] ?? []) as Array<Obj>).map((c) => String(c["name"])), ...((spec["ephemeralContainers"] ?? []) as Array<Obj>).map((c) => String(c["name"]))]
  let container = containerParam ?? ""
  if (container === "") {
    if (containers.length === 1) container = containers[0]!
    else throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]`)
  }
  if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`)
  if (typeof spec["nodeName"] !== "string" || spec["nodeName"] === "") throw badRequest(`pod ${name} does not have a host assigned`)
  const phase = status["phase"]
  if (phase === "Succeeded" || phase === "Failed") throw badRequest(`cannot exec into a container in a completed pod; current phase is ${String(phase)}`)
  const statuses = [...((status["containerStatuses"] ?? []) as Array<Obj>), ...((status["initContainerStatuses"] ?? []) as Array<Obj>)]
  const cs = statuses.find((s) => s["name"] === container)
  const running = cs !== undefined && typeof cs["state"] === "object" && cs["state"] !== null && "running" in (cs["state"] as Obj)
  if (!running) throw badRequest(`unable to upgrade connection: container not found ("${container}")`)
  return container
}

/**
 * The `upgrade` listener of kube-sim's HTTP server: serves `pods/{name}/exec` over WebSocket and
 * answers every other upgrade with an HTTP error.
 */
export const makeUpgradeHandler = (ctx: ExecContext) => (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
  socket.on("error", () => socket.destroy())
  void (async () => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const q = url.searchParams
    const path = parseExecPath(url.pathname)
    const rec = ctx.recorder.record({
      method: (req.method ?? "GET").toUpperCase(),
      path: url.pathname,
      query: Object.fromEntries(q.entries()),
      contentType: undefined,
      dryRun: false,
      watch: false,
      body: "",
      time: Date.now(),
      status: 0
    })
    try {
      const who = Authz.authenticate(ctx, req.headers["authorization"])
      if (who === undefined) throw unauthorized()
      if (path === undefined || path.sub !== "exec") {
        throw new ApiError(400, "BadRequest", `kube-sim serves upgrades for pods/exec only, not ${url.pathname}`)
      }
      const facts = { verb: "create", key: Keys.pods, namespace: path.namespace, name: path.pod, subresource: "exec" }
      if (!Authz.allows(ctx.store, who, { verb: "create", group: "", resource: "pods", subresource: "exec", namespace: path.namespace, name: path.pod })) {
        throw forbidden({ ...facts, user: who.user })
      }
      const decision = ctx.faults.decide({ method: (req.method ?? "GET").toUpperCase(), verb: "create", path: url.pathname, resource: "pods", subresource: "exec" })
      if (decision.delayMs > 0) await new Promise((r) => setTimeout(r, decision.delayMs))
      if (decision.error) throw forStatus(decision.error.status, decision.error.message, decision.error.retryAfterSeconds, { ...facts, ...(decision.error.user ? { user: decision.error.user } : {}) })
      const upgrade = String(req.headers["upgrade"] ?? "").toLowerCase()
      if (upgrade !== "websocket") throw badRequest(`unable to upgrade connection: kube-sim serves exec over WebSocket only (asked for ${upgrade || "no protocol"})`)
      const key = req.headers["sec-websocket-key"]
      if (typeof key !== "string" || key.length === 0) throw badRequest("missing Sec-WebSocket-Key")
      const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0)
      const protocol = PROTOCOLS.find((p) => offered.includes(p))
      if (protocol === undefined) throw badRequest(`unable to upgrade connection: none of the offered subprotocols [${offered.join(", ")}] is supported (${PROTOCOLS.join(", ")})`)
      const entry = ctx.store.entry(Keys.pods, path.namespace, path.pod)
      if (!entry) throw notFound(Keys.pods, path.pod)
      const pod = entry.obj
      const command = q.getAll("command")
      const wantStdin = isTrue(q.get("stdin"))
      const wantStdout = isTrue(q.get("stdout"))
      const wantStderr = isTrue(q.get("stderr"))
      const tty = isTrue(q.get("tty"))
      if (!wantStdin && !wantStdout && !wantStderr) throw badRequest("you must specify at least 1 of stdin, stdout, stderr")
      if (command.length === 0) throw badRequest("you must specify at least one command for the container")
      const container = admitPod(pod, q.get("container"))
      const backend = ctx.backend()
      const refusal = backend.admit?.(pod)
      if (refusal) throw refusal
      // the handshake
      const accept = createHash("sha1").update(key + GUID).digest("base64")
      socket.write([
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Accept: ${accept}`,
        `Sec-WebSocket-Protocol: ${protocol}`,
        "",
        ""
      ].join("\r\n"))
      rec.status = 101
      // output goes in messages of at most 32 KiB, cut at byte boundaries as the kubelet's copy buffer does
      const send = (channel: number, data: Uint8Array) => {
        for (let off = 0; off === 0 || off < data.length; off += CHUNK) {
          if (!socket.writable) return
          const part = data.subarray(off, off + CHUNK)
          const payload = Buffer.alloc(part.length + 1)
          payload[0] = channel
          payload.set(part, 1)
          socket.write(frame(0x2, payload))
        }
      }
      let closed = false
      const close = () => {
        if (closed) return
        closed = true
        if (socket.writable) socket.end(frame(0x8, Buffer.from([0x03, 0xe8])))
      }
      const stdinChunks: Array<Buffer> = []
      let stdinDone = !wantStdin
      let started = false
      const start = async () => {
        if (started) return
        started = true
        let outcome: ExecOutcome
        try {
          outcome = await backend.run({ pod, container, command, stdin: Buffer.concat(stdinChunks), tty })
        } catch (e) {
          outcome = { error: e instanceof Error ? e.message : String(e) }
        }
        if (!("error" in outcome)) {
          const enc = new TextEncoder()
          if (wantStdout && outcome.stdout.length > 0) send(1, enc.encode(outcome.stdout))
          // with a tty, stderr is merged into stdout
          if (outcome.stderr.length > 0) {
            if (tty && wantStdout) send(1, enc.encode(outcome.stderr))
            else if (wantStderr) send(2, enc.encode(outcome.stderr))
          }
        }
        send(3, Buffer.from(JSON.stringify(statusOf(command, outcome))))
        close()
      }
      const reader = new FrameReader((opcode, payload) => {
        if (opcode === 0x8) {
          // a close before the command ran ends stdin (v4 has no close-stream message)
          if (!stdinDone) {
            stdinDone = true
            void start()
          }
          close()
          return
        }
        if (opcode === 0x9) {
          if (socket.writable) socket.write(frame(0xa, payload))
          return
        }
        if (opcode !== 0x2 && opcode !== 0x1) return
        const channel = payload[0]
        if (channel === 0 && !stdinDone) stdinChunks.push(payload.subarray(1))
        else if (channel === 255 && payload[1] === 0 && !stdinDone) {
          stdinDone = true
          void start()
        }
      })
      socket.on("data", (chunk: Buffer) => reader.push(chunk))
      socket.on("close", () => {
        closed = true
      })
      if (head.length > 0) reader.push(head)
      if (stdinDone) await start()
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, "InternalError", `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`)
      rec.status = err.code
      refuse(socket, err)
    }
  })()
}
