/** ACM test plumbing: the validation-CNAME zone as a Map, with the names written to it. */
import { Effect } from "effect"
import type * as Acm from "../../src/acm/Acm"

/** An in-memory `ValidationDns` (what the ACM fake's managed renewal reads, via `records.get`). */
export const memoryValidationDns = () => {
  const records = new Map<string, string>()
  const dnsWrites: Array<string> = []
  const dns: Acm.ValidationDns = {
    getCname: (name) => Effect.sync(() => records.get(name)),
    upsertCname: (name, value) => Effect.sync(() => {
      dnsWrites.push(name)
      records.set(name, value)
    })
  }
  return { records, dnsWrites, dns }
}
