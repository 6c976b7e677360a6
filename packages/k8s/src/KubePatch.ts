/**
 * Patches that BytePort is allowed to send: every patch names its content type explicitly and
 * carries a precondition, so a change planned from one state of an object is never applied to
 * another one.
 *
 * - `merge` (`application/merge-patch+json`) and `strategic` (`application/strategic-merge-patch+json`)
 *   bodies must contain `metadata.resourceVersion`: the apiserver answers 409 Conflict when the
 *   object changed since it was read.
 * - `json` (`application/json-patch+json`) patches must start with a `test` operation
 *   (typically on `/metadata/resourceVersion` or on the very value being changed): the apiserver
 *   answers 422 when the test fails.
 *
 * The types make a patch without a precondition unrepresentable; `validate` re-checks at run
 * time (for values built from `any`), and the Kube service refuses an invalid patch with
 * `KubeBadRequest` before sending anything.
 *
 * @example
 * ```ts
 * import { KubePatch } from "@byteport/k8s"
 * const p = KubePatch.strategic(deploy.metadata.resourceVersion, {
 *   spec: { template: { spec: { containers: [{ name: "app", resources: { limits: { memory: "512Mi" } } }] } } }
 * })
 * const q = KubePatch.json(KubePatch.test("/spec/replicas", 3), { op: "replace", path: "/spec/replicas", value: 4 })
 * ```
 *
 * @since 0.1.0
 */
import { PatchStrategy } from "@kubernetes/client-node"

/** A JSON-patch `test` operation: the patch applies only if `path` holds `value`. */
export interface TestOp {
  readonly op: "test"
  readonly path: string
  readonly value: unknown
}

/** Any RFC 6902 JSON-patch operation. */
export type JsonPatchOp =
  | TestOp
  | { readonly op: "add" | "replace"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "move" | "copy"; readonly from: string; readonly path: string }

/** A merge or strategic-merge body: any object whose `metadata.resourceVersion` is set. */
export interface PreconditionedBody {
  readonly metadata: { readonly resourceVersion: string; readonly [key: string]: unknown }
  readonly [key: string]: unknown
}

/** A patch with an explicit content type and a precondition. */
export type KubePatch =
  | { readonly type: "merge"; readonly body: PreconditionedBody }
  | { readonly type: "strategic"; readonly body: PreconditionedBody }
  | { readonly type: "json"; readonly ops: readonly [TestOp, ...ReadonlyArray<JsonPatchOp>] }

/** The body of a merge or strategic patch, before the precondition is added. */
export type PatchBody = { readonly metadata?: Record<string, unknown>; readonly [key: string]: unknown }

const withVersion = (resourceVersion: string, body: PatchBody): PreconditionedBody => ({
  ...body,
  metadata: { ...(body.metadata ?? {}), resourceVersion }
})

/** A JSON merge patch (RFC 7386) conditional on `resourceVersion`. Note: merge replaces whole lists. */
export const merge = (resourceVersion: string, body: PatchBody): KubePatch => ({ type: "merge", body: withVersion(resourceVersion, body) })

/** A strategic merge patch (lists merged by their merge key, e.g. containers by name) conditional on `resourceVersion`. */
export const strategic = (resourceVersion: string, body: PatchBody): KubePatch => ({ type: "strategic", body: withVersion(resourceVersion, body) })

/** A JSON patch (RFC 6902) whose first operation is the `test` precondition. */
export const json = (precondition: TestOp, ...ops: ReadonlyArray<JsonPatchOp>): KubePatch => ({ type: "json", ops: [precondition, ...ops] })

/** A JSON-patch `test` operation. */
export const test = (path: string, value: unknown): TestOp => ({ op: "test", path, value })

/** The `test` on `/metadata/resourceVersion` (the usual JSON-patch precondition). */
export const testResourceVersion = (resourceVersion: string): TestOp => test("/metadata/resourceVersion", resourceVersion)

/** The Content-Type header of a patch. */
export const contentType = (patch: KubePatch): string => {
  switch (patch.type) {
    case "merge":
      return PatchStrategy.MergePatch
    case "strategic":
      return PatchStrategy.StrategicMergePatch
    case "json":
      return PatchStrategy.JsonPatch
  }
}

/** The request body of a patch. */
export const body = (patch: KubePatch): unknown => (patch.type === "json" ? patch.ops : patch.body)

/** The precondition a patch carries, for logs and reports (`resourceVersion=123` or `test /spec/replicas`). */
export const describePrecondition = (patch: KubePatch): string =>
  patch.type === "json" ? `test ${patch.ops[0].path}` : `resourceVersion=${patch.body.metadata.resourceVersion}`

/**
 * Checks at run time that a patch has its precondition (for values that bypassed the types):
 * returns a reason when it does not, `undefined` when it is fine.
 */
export const validate = (patch: unknown): string | undefined => {
  if (patch === null || typeof patch !== "object") return "a patch must be an object"
  const p = patch as { type?: unknown; body?: unknown; ops?: unknown }
  if (p.type === "merge" || p.type === "strategic") {
    const rv = (p.body as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion
    if (typeof rv !== "string" || rv.length === 0) return `a ${p.type} patch must carry metadata.resourceVersion as its precondition`
    return undefined
  }
  if (p.type === "json") {
    if (!Array.isArray(p.ops) || p.ops.length === 0) return "a json patch must have operations"
    const first = p.ops[0] as { op?: unknown; path?: unknown } | undefined
    if (first?.op !== "test" || typeof first.path !== "string") return "a json patch must start with a test operation as its precondition"
    return undefined
  }
  return `unknown patch type ${JSON.stringify(p.type)} (expected merge, strategic or json)`
}
