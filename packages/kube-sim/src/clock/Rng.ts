/**
 * A small seeded pseudo-random generator (sfc32) for everything random in the simulator:
 * UIDs, pod-name suffixes, IPs, container IDs and metric jitter.
 */

/** The alphabet Kubernetes uses for generated name suffixes and template hashes. */
export const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

/** A deterministic random source. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** Seed the generator; the same seed always yields the same sequence. */
  constructor(seed: number = 1) {
    const s = Math.floor(seed) >>> 0
    this.a = 0x9e3779b9 ^ s
    this.b = 0x243f6a88 ^ Math.imul(s, 0x85ebca6b)
    this.c = 0xb7e15162 ^ Math.imul(s, 0xc2b2ae35)
    this.d = 1
    for (let i = 0; i < 16; i++) this.nextU32()
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    let { a, b, c, d } = this
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    this.a = a; this.b = b; this.c = c; this.d = d
    return t >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** `n` characters from the Kubernetes safe alphabet (pod-name suffixes). */
  suffix(n: number = 5): string {
    let s = ""
    for (let i = 0; i < n; i++) s += SAFE_ALPHABET[this.int(SAFE_ALPHABET.length)]
    return s
  }

  /** `n` lowercase hex digits. */
  hex(n: number): string {
    let s = ""
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[this.int(16)]
    return s
  }

  /** A version-4-shaped UUID. */
  uid(): string {
    const h = this.hex(32)
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${"89ab"[this.int(4)]}${h.slice(17, 20)}-${h.slice(20, 32)}`
  }
}

/** FNV-1a 32-bit hash of a string (the hash Kubernetes uses for pod-template-hash). */
export const fnv32a = (s: string): number => {
  let h = 0x811c9dc5
  const bytes = Buffer.from(s, "utf8")
  for (const b of bytes) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** Go's rand.SafeEncodeString: map each character onto the safe alphabet. */
export const safeEncode = (s: string): string => {
  let out = ""
  for (const ch of s) out += SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length]
  return out
}

/** A stable hash in [0,1) of a string, for deterministic jitter independent of call order. */
export const hashUnit = (s: string): number => fnv32a(s) / 4294967296
