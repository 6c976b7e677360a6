/**
 * `@byteport/db/testing` — recorded database incidents as psql exports them (`SELECT * FROM
 * pg_stat_activity`, `pg_settings`, `pg_roles`, `pg_blocking_pids`, pgbouncer `SHOW POOLS` /
 * `SHOW CONFIG`; JSON from `json_agg` or CSV from `psql --csv`), decoded into the facts the
 * `db.pool.six-class` diagnoser produces, with a typed `DecodeError` naming file, row and column.
 *
 * @since 0.1.0
 */
/** Export files parsed (JSON and CSV as psql writes them), the `DecodeError`, timestamptz parsing. */
export * as Table from "./Table"
/** The decoding error of every recording decoder. */
export { DecodeError } from "./Table"
/** Recordings → sessions, pools and the diagnoser's facts. */
export * as PgRecording from "./PgRecording"
/** Recorded replication polls (primary / receive / replay LSNs) replayed through db.replica.lag's tracker and detector. */
export * as ReplicaRecording from "./ReplicaRecording"
/** A loopback MongoDB wire-protocol FAKE (not MongoDB): handshake, serverStatus, currentOp, killOp / killSessions, transactions; refuses past its maximum. */
export * as MongoFake from "./mongoFake"
/** Recorded MySQL / MariaDB incidents (`mariadb --batch` exports of PROCESSLIST, INNODB_TRX, INNODB_LOCK_WAITS, USER_PRIVILEGES, status, variables) → the six-class, saturation and multi-engine facts. */
export * as MySqlRecording from "./MySqlRecording"
/** Recorded MongoDB `currentOp` / `serverStatus` output (mongosh `EJSON.stringify`) → the operations and the multi-engine facts. */
export * as MongoRecording from "./MongoRecording"
