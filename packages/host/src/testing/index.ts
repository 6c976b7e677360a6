/**
 * @byteport/host/testing — test doubles for the systems the host runbooks talk to where the test
 * machines have none: a loopback Docker Engine API fake.
 *
 * @since 0.1.0
 */

/** A loopback fake of the Docker Engine API (real wire shape, request log). */
export * as DockerEngineFake from "./DockerEngineFake"
