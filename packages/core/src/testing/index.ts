/**
 * `@byteport/core/testing` — the testing kit: fixtures decoded with Schema (errors name the bad
 * field's path), golden plans with readable diffs and an update switch, recording handlers and a
 * one-line test layer, TestClock helpers, `replay` ("what would it do") and the GuardrailStore
 * contract suite.
 *
 * @since 0.1.0
 */
/** Fixture loading and decoding. */
export { decode as decodeFixture, facts, FixtureError, formatPath, load as loadFixture, parse as parseFixture } from "./Fixture"
/** Golden files. */
export { diff, expectGolden, expectPlan, GoldenMismatch, planText, serialize, updating } from "./Golden"
/** Recording handlers and the test layer. */
export { layer, type LayerOptions, type RecordingHandler, recordingHandler, type RecordingOptions, type Run, type TestServices } from "./Recording"
/** Virtual time helpers. */
export { advance, type AdvanceOptions, runAdvancing } from "./Clock"
/** Replays. */
export { asReplayModule, InvalidReplayModule, type Replayed, replay, replayFile, replayFixture, type ReplayModule, replaySignal, render as renderReplay } from "./Replay"
/** The contract suite every GuardrailStore implementation must pass. */
export { SECRETS as storeSecrets, secretsPlanted as storeSecretsPlanted, storeContract, type StoreContractOptions } from "./StoreContract"
/** A scripted Shell: expected commands (argv matched exactly) and their answers. */
export { scriptedShell, type ScriptedShell, type ScriptOptions, type ShellExpectation, UnexpectedCommand } from "./ScriptedShell"
