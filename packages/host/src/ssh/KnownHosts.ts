/**
 * OpenSSH `known_hosts` for pinning host keys: parse the file, find the entries of a host
 * (plain, `[host]:port`, wildcard `*`/`?` and negated `!` patterns, hashed `|1|salt|hash` names)
 * and decide whether a presented key is known, unknown or changed. `@revoked` keys are refused;
 * `@cert-authority` lines are ignored (host certificates are not accepted).
 *
 * @since 0.2.0
 */
import { createHmac } from "node:crypto"

/** One usable `known_hosts` line. */
export interface Entry {
  /** The comma-separated host patterns as written (`host`, `[host]:2222`, `*.example.com`, `!x`, `|1|…|…`). */
  readonly patterns: ReadonlyArray<string>
  /** The key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa` …). */
  readonly keyType: string
  /** The key blob, base64 as in the file. */
  readonly key: string
  /** `@revoked` marker. */
  readonly revoked: boolean
  /** The 1-based line number. */
  readonly line: number
}

/** Parses `known_hosts` text; comments, blank lines, `@cert-authority` and malformed lines are skipped. */
export const parse = (text: string): ReadonlyArray<Entry> => {
  const out: Array<Entry> = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim()
    if (raw.length === 0 || raw.startsWith("#")) continue
    let fields = raw.split(/\s+/)
    let revoked = false
    if (fields[0]!.startsWith("@")) {
      if (fields[0] === "@revoked") revoked = true
      else continue // @cert-authority and unknown markers
      fields = fields.slice(1)
    }
    if (fields.length < 3) continue
    const [hosts, keyType, key] = fields as [string, string, string]
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key)) continue
    out.push({ patterns: hosts.split(","), keyType, key, revoked, line: i + 1 })
  }
  return out
}

/** The name a host is looked up under: `host` for port 22, else `[host]:port` (as OpenSSH writes it). */
export const hostName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`)

const wildcard = (pattern: string, name: string): boolean => {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i")
  return re.test(name)
}

const hashedMatch = (pattern: string, name: string): boolean => {
  const parts = pattern.split("|") // ["", "1", salt, hash]
  if (parts.length !== 4 || parts[1] !== "1") return false
  const salt = Buffer.from(parts[2]!, "base64")
  const hash = createHmac("sha1", salt).update(name).digest("base64")
  return hash === parts[3]
}

/** Whether an entry's host patterns name `name` (a negated pattern that matches excludes it). */
export const matches = (entry: Entry, name: string): boolean => {
  let hit = false
  for (const p of entry.patterns) {
    if (p.startsWith("|")) {
      if (hashedMatch(p, name)) hit = true
    } else if (p.startsWith("!")) {
      if (wildcard(p.slice(1), name)) return false
    } else if (wildcard(p, name)) hit = true
  }
  return hit
}

/** The verdict on a presented host key. */
export type Verdict =
  | { readonly _tag: "Known"; readonly line: number }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Changed"; readonly lines: ReadonlyArray<number> }
  | { readonly _tag: "Revoked"; readonly line: number }

/**
 * Checks a presented key (its wire blob) for `host:port`: `Revoked` if any `@revoked` line lists
 * the key; `Known` if a line for the host has this key; `Changed` if lines for the host exist but
 * none has it (whatever their type: a pinned host presenting another key is refused); else `Unknown`.
 */
export const verify = (entries: ReadonlyArray<Entry>, host: string, port: number, blob: Buffer): Verdict => {
  const same = (e: Entry) => Buffer.from(e.key, "base64").equals(blob)
  for (const e of entries) if (e.revoked && same(e)) return { _tag: "Revoked", line: e.line }
  const names = [hostName(host, port)]
  const mine = entries.filter((e) => !e.revoked && names.some((n) => matches(e, n)))
  const hit = mine.find(same)
  if (hit !== undefined) return { _tag: "Known", line: hit.line }
  if (mine.length > 0) return { _tag: "Changed", lines: mine.map((e) => e.line) }
  return { _tag: "Unknown" }
}

const ALGORITHMS: Readonly<Record<string, ReadonlyArray<string>>> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
}

/** The host-key algorithms to offer for `host:port`: those of its pinned keys (empty: no pinned key). */
export const algorithmsFor = (entries: ReadonlyArray<Entry>, host: string, port: number): ReadonlyArray<string> => {
  const name = hostName(host, port)
  const out: Array<string> = []
  for (const e of entries) {
    if (e.revoked || !matches(e, name)) continue
    for (const a of ALGORITHMS[e.keyType] ?? []) if (!out.includes(a)) out.push(a)
  }
  return out
}
