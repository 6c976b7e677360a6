/** @byteport/core (placeholder, being written). */
export const version = "0.1.0"
