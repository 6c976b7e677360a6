/** The simulated image registries, image references and the kubelet's pull-secret keyring. */
/** Image references normalised as containerd does. */
export * as ImageReference from "./Reference"
/** The kubelet's pull-secret keyring. */
export * as PullKeyring from "./Keyring"
/** The registries behind `sim.setImage`. */
export { DIAL_TIMEOUT_MS, ImageRegistry } from "./ImageRegistry"
/** Registry types. */
export type { ImageChange, Platform, PullResult, PushOptions, RegistryUser, Runtime } from "./ImageRegistry"
