/**
 * Global setup for `npm test`: starts the real servers the integration tests need
 * (see scripts/services.sh) and stops them afterwards. Packages add their services here.
 */
export async function setup(): Promise<void> {}
export async function teardown(): Promise<void> {}
