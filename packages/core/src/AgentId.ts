/**
 * The identity of the running agent. Per-target leases are held by an agent working on an
 * incident (`<incidentId>@<agentId>`), not by the incident alone: when an agent starts it
 * resumes the open incidents whose lease has expired (their agent died) or that it holds
 * itself, never those another live agent is still working on.
 *
 * The identity comes from `BYTEPORT_AGENT_ID`; the default is `<hostname>/<pid>/<random>`,
 * unique per process. Give each replica a stable, distinct id only if a restarted replica
 * should take its own incidents back at once instead of waiting for their leases to expire.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { Config, Context, Effect, Layer } from "effect"

let processDefault: string | undefined

/** This process's default identity: `<hostname>/<pid>/<random>` (computed once per process). */
export const defaultId = (): string => (processDefault ??= `${hostname()}/${process.pid}/${randomBytes(4).toString("hex")}`)

/** The agent identity (a reference: the process default unless a layer provides another). */
export const AgentId: Context.Reference<string> = Context.Reference<string>("@byteport/core/AgentId", {
  defaultValue: defaultId
})

/** The agent identity from `BYTEPORT_AGENT_ID` (absent or empty: `defaultId()`). */
export const config: Config.Config<string> = Config.option(Config.NonEmptyString("BYTEPORT_AGENT_ID")).pipe(
  Config.map((o) => (o._tag === "Some" ? o.value : defaultId()))
)

/** A layer giving the agent an explicit identity. */
export const layer = (id: string): Layer.Layer<never> => Layer.succeed(AgentId, id)

/** A layer with the identity from `BYTEPORT_AGENT_ID` (default `<hostname>/<pid>/<random>`). */
export const layerConfig: Layer.Layer<never, Config.ConfigError> = Layer.unwrap(Effect.map(config, layer))

/** The lease holder of an incident worked on by an agent: `<incidentId>@<agentId>`. */
export const holder = (agentId: string, incidentId: string): string => `${incidentId}@${agentId}`

/** The current agent's identity. */
export const current: Effect.Effect<string> = Effect.service(AgentId)
