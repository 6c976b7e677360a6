/**
 * @byteport/cloud — delivery and cloud for BytePort: the GitHub Actions deploy-failure runbook
 * (`deploy.github-actions`) and its parts. Fakes of the APIs live in `@byteport/cloud/testing`.
 *
 * @since 0.1.0
 */

/** The package version. */
export const VERSION = "0.1.0"
