/**
 * Production wiring. `Agent.layer({ handlers, checks })` builds every service a catalog of
 * runbooks needs from configuration (effect `Config`, so environment variables by default; see
 * docs/configuration.md for every `BYTEPORT_*` key):
 *
 * - the store: a FileStore at `BYTEPORT_STORE_DIR` unless another store layer is given
 *   (PostgreSQL, Kubernetes Leases);
 * - the `ActionRegistry` of the handlers and checks, the `IncidentBus` (hop limit);
 * - the `Redactor` (default rules plus options), with the loggers wrapped so logs are redacted;
 * - the `Audit` log at `BYTEPORT_AUDIT_LOG`;
 * - the sinks from `SinkConfig` (ops channel, pager, ticket sink) and `Notifier.fromSinks`;
 * - the approval channel: HTTP on 127.0.0.1 when `BYTEPORT_APPROVAL_TOKEN` is set, else the CLI;
 * - the agent identity (`BYTEPORT_AGENT_ID`) that holds per-target leases.
 *
 * Every key is read when the layer is built, so an invalid value is a typed `ConfigError` at
 * startup, never a failure later in an incident. `Agent.run(catalog, options)` is
 * `Catalog.run` with that layer provided.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer } from "effect"
import * as ActionRegistry from "./ActionRegistry"
import type { ActionHandler } from "./ActionHandler"
import * as AgentId from "./AgentId"
import * as Approval from "./Approval"
import { ApprovalChannel } from "./approval/Channel"
import * as Audit from "./Audit"
import * as Catalog from "./Catalog"
import type { Check } from "./Check"
import type { Guardrail } from "./Guardrail"
import type { GuardrailStore, StoreError } from "./GuardrailStore"
import * as IncidentBus from "./IncidentBus"
import * as Notifier from "./Notifier"
import * as Redactor from "./Redactor"
import * as Runbook from "./Runbook"
import type { Services as RunbookServices } from "./Runbook"
import * as Settings from "./Settings"
import type { OpsChannel, Pager, TicketSink } from "./sinks/Sink"
import * as SinkConfig from "./sinks/SinkConfig"
import * as FileStore from "./stores/FileStore"

/** Options of `Agent.layer`. */
export interface LayerOptions<R = never, E = never, RS = never> {
  /** The action handlers of every package the catalog's runbooks use. */
  readonly handlers: ReadonlyArray<ActionHandler<R>>
  /** The registered checks plans reference (`Until`, `WaitFor`, `Fallback on check`). */
  readonly checks?: ReadonlyArray<Check<R>>
  /** Guardrails in front of every handler's own (see `ActionRegistry.layer`). */
  readonly guardrails?: ReadonlyArray<Guardrail<R>>
  /** Another store instead of the FileStore at `BYTEPORT_STORE_DIR` (e.g. PostgreSQL or Kubernetes Leases). */
  readonly store?: Layer.Layer<GuardrailStore, E, RS>
  /** The IncidentBus hop limit (default 3). */
  readonly hopLimit?: number
  /** Extra keys, patterns or allowed keys for the Redactor. */
  readonly redactor?: Redactor.Options
  /** Wrap the loggers so every log line is redacted (default true). */
  readonly redactLogs?: boolean
  /**
   * The runbooks that will run (`Agent.run` passes its catalog's): their mode keys and declared
   * `config` are validated when the layer is built.
   */
  readonly runbooks?: ReadonlyArray<Runbook.Any<unknown>>
  /** More configuration to validate at startup (Configs, or validators such as `Settings.positiveCount(cap)`). */
  readonly config?: ReadonlyArray<Effect.Effect<unknown, Config.ConfigError>>
}

/** The services `Agent.layer` provides. */
export type Services =
  | RunbookServices
  | Redactor.Redactor
  | Audit.Audit
  | OpsChannel
  | Pager
  | TicketSink
  | ApprovalChannel

/** Why the agent could not start: a configuration key is invalid, the store or approval server could not open. */
export type StartError = Config.ConfigError | StoreError | Approval.ApprovalServerError

/** The approval channel: HTTP when `BYTEPORT_APPROVAL_TOKEN` is set (port `BYTEPORT_APPROVAL_PORT`), else the CLI. */
export const approvalLayer: Layer.Layer<ApprovalChannel, Config.ConfigError | Approval.ApprovalServerError, GuardrailStore> = Layer.unwrap(
  Effect.map(Config.option(Approval.tokenConfig), (token) => (token._tag === "Some" ? Approval.layerHttp : Approval.cli))
)

/**
 * Reads every key the agent depends on once, so an invalid value is a `ConfigError` naming the
 * key at startup: `BYTEPORT_MODE` and every `BYTEPORT_MODE_*` key (unknown modes such as `atuo`;
 * values are case-insensitive), the sink timeout (> 0) and retries (≥ 0), the approval port
 * (0–65535, 0: any free port — checked even without a token), the given runbooks' mode keys and
 * declared `config` and guardrail caps, the handlers' guardrail caps, and the extra `config`.
 */
export const validate = (options: {
  readonly runbooks?: ReadonlyArray<Runbook.Any<unknown>>
  readonly handlers?: ReadonlyArray<ActionHandler<unknown>>
  readonly config?: ReadonlyArray<Effect.Effect<unknown, Config.ConfigError>>
} = {}): Effect.Effect<void, Config.ConfigError> =>
  Effect.gen(function*() {
    yield* Settings.validateModes((options.runbooks ?? []).map((rb) => Settings.modeKey(rb.id)))
    yield* SinkConfig.config
    yield* Config.option(Settings.port("BYTEPORT_APPROVAL_PORT", { allowAny: true }))
    for (const rb of options.runbooks ?? []) yield* Runbook.validateConfig(rb)
    // Caps the action kinds' guardrails read from configuration (e.g. kills_per_minute_cap).
    yield* Settings.validateAll((options.handlers ?? []).flatMap((h) => (h.guardrails ?? []).flatMap((g) => g.config ?? [])))
    yield* Settings.validateAll(options.config ?? [])
  })

/**
 * The production layer: store, registry, bus, redactor, audit log, sinks, notifier, approval
 * channel and agent identity, from configuration. Fails to build with a `ConfigError` naming
 * the key when a value is invalid (see `validate`): before the store opens or anything runs.
 */
export const layer = <R = never, E = never, RS = never>(
  options: LayerOptions<R, E, RS>
): Layer.Layer<Services, StartError | E, R | RS> => {
  const redactor = Redactor.layer(options.redactor ?? {})
  const store: Layer.Layer<GuardrailStore, StoreError | Config.ConfigError | E, RS> = options.store ?? FileStore.layerConfig
  const outputs = Layer.mergeAll(Audit.layer, SinkConfig.layer).pipe(Layer.provideMerge(redactor))
  const notifier = Notifier.fromSinks.pipe(Layer.provideMerge(outputs))
  const logs = options.redactLogs === false ? Layer.empty : Redactor.layerLogger().pipe(Layer.provide(redactor))
  const validated = Layer.effectDiscard(validate({ ...(options.runbooks ? { runbooks: options.runbooks } : {}), handlers: options.handlers, ...(options.config ? { config: options.config } : {}) }))
  return Layer.mergeAll(
    notifier,
    approvalLayer.pipe(Layer.provideMerge(store)),
    ActionRegistry.layer<R>({ handlers: options.handlers, checks: options.checks ?? [], ...(options.guardrails ? { guardrails: options.guardrails } : {}) }),
    IncidentBus.layer(options.hopLimit !== undefined ? { hopLimit: options.hopLimit } : {}),
    AgentId.layerConfig,
    logs
  ).pipe(Layer.provide(validated))
}

/** Options of `Agent.run`: the layer's and `Catalog.run`'s. */
export interface RunOptions<R = never, E = never, RS = never> extends LayerOptions<R, E, RS>, Catalog.RunOptions {}

/**
 * Runs a catalog in production: `Catalog.run(catalog, options)` with `Agent.layer(options)`
 * provided. Fails at startup with a `StartError` when the configuration is invalid; otherwise
 * runs until interrupted.
 */
export const run = <RC, R = never, E = never, RS = never>(
  catalog: Catalog.Catalog<RC>,
  options: RunOptions<R, E, RS>
): Effect.Effect<void, StartError | E, Exclude<RC, Services> | R | RS> =>
  Catalog.run(catalog, options).pipe(
    Effect.provide(layer({ ...options, runbooks: [...(options.runbooks ?? []), ...catalog.entries.filter((e) => e.enabled).map((e) => e.runbook)] }))
  ) as Effect.Effect<void, StartError | E, Exclude<RC, Services> | R | RS>
