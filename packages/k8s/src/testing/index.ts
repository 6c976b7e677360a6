/**
 * `@byteport/k8s/testing` — test helpers for users' own classifiers and runbooks: decode a
 * recorded fixture directory (what the API and `kubectl get -o json` return) into the facts the
 * k8s.oom.six-signal classifier reads, and the signal it would have received.
 *
 * @since 0.1.0
 */

/** Recorded OOM fixtures → `OomFacts` and the Signal (`OomFixture.decode(dir)`, `OomFixture.signal(dir)`). */
export * as OomFixture from "../probes/oomFixture"
/** Recorded pod fixtures (`kubectl get -o json`, `kubectl logs --previous`) → pod-family facts (`PodFixture.decode(dir)`). */
export * as PodFixture from "./podFixture"
/** Recorded k8s.image-pull / k8s.pending fixtures → their facts (`PullPendingFixture.decodeImagePull(dir)`, `decodePending(dir)`). */
export * as PullPendingFixture from "./pullPendingFixture"
/** Recorded k8s.crashloop.five-branch fixtures → its facts and signal (`FiveBranchFixture.decode(dir)`). */
export * as FiveBranchFixture from "./fiveBranchFixture"
/** Recorded pod fixtures → the facts and signal of k8s.crashloop.exit-code and k8s.oom.exit-137 (`ExitCodeFixture.decode(dir)`). */
export * as ExitCodeFixture from "./exitCodeFixture"
/** Recorded k8s.crashloop.seven-class fixtures → its facts and signal (`SevenClassFixture.decode(dir)`). */
export * as SevenClassFixture from "./sevenClassFixture"
