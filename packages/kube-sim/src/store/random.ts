/** A small seeded PRNG (mulberry32) so uids and generated names are reproducible. */
export const seeded = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const HEX = "0123456789abcdef"
/** The alphabet Kubernetes uses for generated name suffixes. */
export const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

/** A version-4-shaped UUID drawn from `random`. */
export const uuid = (random: () => number): string => {
  let s = ""
  for (let i = 0; i < 32; i++) {
    let d = Math.floor(random() * 16)
    if (i === 12) d = 4
    if (i === 16) d = (d & 0x3) | 0x8
    s += HEX[d]
    if (i === 7 || i === 11 || i === 15 || i === 19) s += "-"
  }
  return s
}

/** A random suffix of `n` characters from the Kubernetes name alphabet. */
export const nameSuffix = (random: () => number, n = 5): string => {
  let s = ""
  for (let i = 0; i < n; i++) s += NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)]
  return s
}

/** RFC 3339 timestamp with second precision, as the API serves metav1.Time. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")
