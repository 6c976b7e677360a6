/**
 * Finding what serves an endpoint and from which files: the process listening on a TCP port
 * (`/proc/net/tcp{,6}` socket inodes matched against `/proc/<pid>/fd`), the certificate files of
 * an nginx configuration (`nginx -T`, includes followed), of a haproxy configuration
 * (`bind … ssl crt …`) and of a Caddyfile (`tls <cert> <key>`, see `Caddy.manualCertificates`).
 * Read-only: nothing here writes or signals.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import type { Shell } from "@byteport/core/shell"
import { Effect } from "effect"
import { ReloadFailed, runChecked } from "./Server"

/** A process holding a listening socket. */
export interface Listener {
  readonly pid: number
  /** Parent PID. */
  readonly ppid: number
  /** `/proc/<pid>/comm`. */
  readonly comm: string
  /** The command line, arguments joined by spaces. */
  readonly cmdline: string
}

/** What listens on a port: every process holding the socket, and the one whose parent does not (nginx's or haproxy's master). */
export interface Listening {
  readonly port: number
  readonly processes: ReadonlyArray<Listener>
  /** The holder whose parent does not hold the socket too (the master of a master/worker server). */
  readonly main: Listener | undefined
}

const hexPort = (port: number) => port.toString(16).toUpperCase().padStart(4, "0")

/** Socket inodes in LISTEN state on `port` (any local address), from `/proc/net/tcp` and `tcp6`. */
export const listeningInodes = (port: number, procRoot = "/proc"): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const file of ["net/tcp", "net/tcp6"]) {
    let text = ""
    try {
      text = fs.readFileSync(`${procRoot}/${file}`, "utf8")
    } catch {
      continue
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/)
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || f[3] !== "0A") continue
      if (f[1]!.split(":")[1] === hexPort(port) && f[9] !== "0") out.push(f[9]!)
    }
  }
  return out
}

const read = (p: string) => {
  try {
    return fs.readFileSync(p, "utf8")
  } catch {
    return undefined
  }
}

/** The processes holding a listening socket on `port` (needs permission to read their fds: root, or the same user). */
export const listening = (port: number, procRoot = "/proc"): Listening => {
  const inodes = new Set(listeningInodes(port, procRoot).map((i) => `socket:[${i}]`))
  const processes: Array<Listener> = []
  if (inodes.size > 0) {
    for (const name of fs.readdirSync(procRoot)) {
      if (!/^\d+$/.test(name)) continue
      let fds: Array<string>
      try {
        fds = fs.readdirSync(`${procRoot}/${name}/fd`)
      } catch {
        continue
      }
      const holds = fds.some((fd) => {
        try {
          return inodes.has(fs.readlinkSync(`${procRoot}/${name}/fd/${fd}`))
        } catch {
          return false
        }
      })
      if (!holds) continue
      const stat = read(`${procRoot}/${name}/stat`) ?? ""
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? 0)
      processes.push({
        pid: Number(name),
        ppid,
        comm: (read(`${procRoot}/${name}/comm`) ?? "").trim(),
        cmdline: (read(`${procRoot}/${name}/cmdline`) ?? "").split("\0").filter((s) => s !== "").join(" ")
      })
    }
  }
  const pids = new Set(processes.map((p) => p.pid))
  const main = processes.filter((p) => !pids.has(p.ppid)).sort((a, b) => a.pid - b.pid)[0]
  return { port, processes, main }
}

/** One TLS server block of an nginx configuration. */
export interface NginxSite {
  /** `listen` values (`127.0.0.1:443 ssl`). */
  readonly listen: ReadonlyArray<string>
  readonly serverNames: ReadonlyArray<string>
  readonly certificate: string | undefined
  readonly certificateKey: string | undefined
  readonly stapling: boolean
}

/** Splits `nginx -T` output into file → content. */
export const splitDump = (dump: string): ReadonlyMap<string, string> => {
  const files = new Map<string, string>()
  let current: string | undefined
  let lines: Array<string> = []
  for (const line of dump.split("\n")) {
    const m = /^# configuration file (.+):$/.exec(line)
    if (m) {
      if (current !== undefined) files.set(current, lines.join("\n"))
      current = m[1]!
      lines = []
    } else if (current !== undefined) lines.push(line)
  }
  if (current !== undefined) files.set(current, lines.join("\n"))
  return files
}

const globToRegExp = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`)

type Token = { readonly t: "word"; readonly v: string } | { readonly t: "{" | "}" | ";" }

const tokenize = (text: string): Array<Token> => {
  const out: Array<Token> = []
  const re = /#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)/g
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].startsWith("#")) continue
    if (m[3] !== undefined) out.push({ t: m[3] as "{" | "}" | ";" })
    else out.push({ t: "word", v: m[1] ?? m[2] ?? m[4]! })
  }
  return out
}

/** The TLS sites of an nginx configuration given as `nginx -T` output (includes expanded from the dump). */
export const nginxSites = (dump: string, mainFile?: string): ReadonlyArray<NginxSite> => {
  const files = splitDump(dump)
  const first = mainFile ?? [...files.keys()][0]
  if (first === undefined) return []
  const expand = (file: string, depth: number): Array<Token> => {
    const tokens = tokenize(files.get(file) ?? "")
    const out: Array<Token> = []
    for (let i = 0; i < tokens.length; i++) {
      const tok = tokens[i]!
      const arg = tokens[i + 1]
      if (tok.t === "word" && tok.v === "include" && arg?.t === "word" && tokens[i + 2]?.t === ";" && depth < 16) {
        const re = globToRegExp(arg.v)
        for (const f of [...files.keys()].filter((k) => re.test(k)).sort()) out.push(...expand(f, depth + 1))
        i += 2
      } else out.push(tok)
    }
    return out
  }
  const tokens = expand(first, 0)
  const sites: Array<NginxSite> = []
  // a stack of blocks; directives collected per `server` block
  const stack: Array<{ name: string; directives: Array<ReadonlyArray<string>> }> = []
  let words: Array<string> = []
  for (const tok of tokens) {
    if (tok.t === "word") words.push(tok.v)
    else if (tok.t === ";") {
      stack[stack.length - 1]?.directives.push(words)
      words = []
    } else if (tok.t === "{") {
      stack.push({ name: words[0] ?? "", directives: [] })
      words = []
    } else {
      const block = stack.pop()
      words = []
      const inHttp = stack.some((b) => b.name === "http")
      if (block?.name === "server" && inHttp) {
        const all = (d: string) => block.directives.filter((w) => w[0] === d).map((w) => w.slice(1))
        const certificate = all("ssl_certificate")[0]?.[0]
        const listen = all("listen").map((w) => w.join(" "))
        if (certificate === undefined && !listen.some((l) => /\bssl\b/.test(l))) continue
        sites.push({
          listen,
          serverNames: all("server_name").flat(),
          certificate,
          certificateKey: all("ssl_certificate_key")[0]?.[0],
          stapling: all("ssl_stapling")[0]?.[0] === "on"
        })
      }
    }
  }
  return sites
}

/** Runs `nginx -T` on `conf` and returns its TLS sites. */
export const nginxSitesOf = (o: { readonly conf: string; readonly errorLog?: string; readonly binary?: string }): Effect.Effect<ReadonlyArray<NginxSite>, ReloadFailed, Shell.Shell> =>
  Effect.map(
    runChecked("nginx", [o.binary ?? "nginx", "-c", o.conf, ...(o.errorLog !== undefined ? ["-e", o.errorLog] : []), "-T"], "nginx -T"),
    (r) => nginxSites(r.stdout, o.conf)
  )

/** One TLS `bind` of a haproxy configuration. */
export interface HaproxyBind {
  /** The section (`frontend tls`). */
  readonly section: string
  readonly address: string
  /** Every `crt` argument (a PEM file or a directory). */
  readonly crt: ReadonlyArray<string>
}

/** The `bind … ssl crt …` lines of a haproxy configuration. */
export const haproxyBinds = (cfg: string): ReadonlyArray<HaproxyBind> => {
  const out: Array<HaproxyBind> = []
  let section = ""
  for (const raw of cfg.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim()
    if (line === "") continue
    const words = line.split(/\s+/)
    if (!/^\s/.test(raw) && ["global", "defaults", "frontend", "backend", "listen", "peers", "resolvers", "userlist", "program", "ring", "mailers", "cache", "http-errors"].includes(words[0]!)) {
      section = words.slice(0, 2).join(" ")
      continue
    }
    if (words[0] !== "bind" || !words.includes("ssl")) continue
    const crt: Array<string> = []
    words.forEach((w, i) => {
      if (w === "crt" && words[i + 1] !== undefined) crt.push(words[i + 1]!)
    })
    out.push({ section, address: words[1] ?? "", crt })
  }
  return out
}

/** Reads a haproxy configuration file and returns its TLS binds. */
export const haproxyBindsOf = (cfgPath: string): Effect.Effect<ReadonlyArray<HaproxyBind>, ReloadFailed> =>
  Effect.try({ try: () => haproxyBinds(fs.readFileSync(cfgPath, "utf8")), catch: () => new ReloadFailed({ server: "haproxy", message: `cannot read ${cfgPath}` }) })
