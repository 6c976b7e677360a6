/**
 * @byteport/db — PostgreSQL, MySQL/MariaDB and pgbouncer for BytePort: services over `pg`,
 * `mysql2` and pgbouncer's admin console, utilization readings, session probes, guarded
 * (conditional) session kills and the pgbouncer pool-size editor.
 *
 * @since 0.1.0
 */

/** Typed errors (DbConnectionError, DbQueryError, DbTimeout, ...) and secret scrubbing. */
export * as DbError from "./DbError"
/** Connection strings parsed into parts, password kept Redacted. */
export * as Dsn from "./Dsn"
/** The PostgreSQL service (`@byteport/db/Postgres`). */
export * as Postgres from "./Postgres"
/** The MySQL / MariaDB service (`@byteport/db/MySql`). */
export * as MySql from "./MySql"
/** The pgbouncer admin console service (`@byteport/db/PgBouncer`). */
export * as PgBouncer from "./PgBouncer"
/** Connection utilization per engine. */
export * as Utilization from "./Utilization"
/** pg_stat_activity probes: sessions, breakdown, wait events, long-running queries. */
export * as PgActivity from "./probes/PgActivity"
/** pgbouncer SHOW POOLS / STATS / DATABASES / CONFIG, decoded. */
export * as PgBouncerStats from "./probes/PgBouncerStats"
/** MySQL PROCESSLIST + INNODB_TRX and privilege probes. */
export * as MySqlActivity from "./probes/MySqlActivity"
/** Application pool settings (Hikari, SQLAlchemy, pgx) from an env record. */
export * as PoolSettings from "./probes/PoolSettings"
/** Conditional pg_terminate_backend / pg_cancel_backend. */
export * as PgKill from "./sessions/PgKill"
/** Guarded KILL CONNECTION / KILL QUERY. */
export * as MySqlKill from "./sessions/MySqlKill"
/** Lock chains: root blockers, waiters and their own running time (cancel the blocker, not the queue). */
export * as LockChain from "./sessions/LockChain"
/** pgbouncer.ini pool sizes: read, back up, raise, RELOAD, verify; capacity check. */
export * as PgBouncerIni from "./pgbouncer/PgBouncerIni"
/** db.pool.exhaustion detectors (poll utilization on a Schedule). */
export * as PoolExhaustion from "./detectors/PoolExhaustion"
/** Per-database connection history (detector polls in the GuardrailStore, postgres_exporter series) and the leak trend. */
export * as ConnectionHistory from "./history/ConnectionHistory"
/** Deploy markers: configuration, static, webhook-fed and function-backed (e.g. Kubernetes rollouts) sources. */
export * as DeployMarkers from "./history/DeployMarkers"
/** The diagnoser of db.pool.six-class (core Diagnoser probes). */
export * as PoolDiagnoser from "./diagnosers/PoolDiagnoser"
/** The classifier of db.pool.six-class. */
export * as PoolSixClass from "./classifiers/PoolSixClass"
/** The MySQL / MariaDB diagnoser of db.pool.six-class (same facts, same classifier). */
export * as MySqlPoolDiagnoser from "./diagnosers/MySqlPoolDiagnoser"
/** Verifiers: utilization below 70% (and no pgbouncer client waiting). */
export * as UtilizationBelow from "./verifiers/UtilizationBelow"
/** A PostgreSQL GuardrailStore (windows, compare-and-swap, leases, journal) shared by agent replicas. */
export * as PgStore from "./stores/PgStore"
/** Query fingerprints: SQL normalised (literals, parameters, lists, comments) for grouping. */
export * as Fingerprint from "./postmortem/Fingerprint"
/** The db.pool.six-class postmortem: statements grouped by fingerprint and the permanent fix per class. */
export * as Postmortem from "./postmortem/Postmortem"
/** Action-kind guardrails of the session kills: kills_per_minute_cap, never protected, never superuser. */
export * as SessionGuardrails from "./actions/SessionGuardrails"
/** Action `pg.terminateBackend` (conditional pg_terminate_backend). */
export * as PgTerminateBackend from "./actions/PgTerminateBackend"
/** Action `pg.cancelBackend` (conditional pg_cancel_backend; fails when the statement keeps running). */
export * as PgCancelBackend from "./actions/PgCancelBackend"
/** Action `mysql.killConnection` (guarded KILL CONNECTION). */
export * as MySqlKillConnection from "./actions/MySqlKillConnection"
/** Action `mysql.killQuery` (guarded KILL QUERY). */
export * as MySqlKillQuery from "./actions/MySqlKillQuery"
/** Action `pgbouncer.raisePoolSize` (raise default_pool_size, RELOAD; capacity ceiling). */
export * as PgBouncerRaisePoolSize from "./actions/PgBouncerRaisePoolSize"
/** The remediator of db.pool.six-class (a Plan per class). */
export * as PoolRemediator from "./remediators/PoolRemediator"
/** The db.pool.six-class runbook (PostgreSQL + pgbouncer, MySQL / MariaDB) and its handlers. */
export * as PoolSixClassRunbook from "./runbooks/db.pool.six-class"
/** db.connections.saturation detector (client backends / max_connections > 80 %). */
export * as ConnectionSaturationDetector from "./detectors/ConnectionSaturation"
/** The diagnoser of db.connections.saturation (reading, sessions, wait events, row-lock holders). */
export * as SaturationDiagnoser from "./diagnosers/SaturationDiagnoser"
/** The classifier of db.connections.saturation (connection_leak vs load_driven_saturation). */
export * as ConnectionSaturation from "./classifiers/ConnectionSaturation"
/** The remediator of db.connections.saturation. */
export * as SaturationRemediator from "./remediators/SaturationRemediator"
/** Verifier: client backends below 70 % of max_connections. */
export * as ConnectionsBelow from "./verifiers/ConnectionsBelow"
/** The db.connections.saturation runbook (PostgreSQL) and its handlers. */
export * as ConnectionsSaturationRunbook from "./runbooks/db.connections.saturation"
/** Which PostgreSQL connection acts on which database target (the kill handlers route by the action's target). */
export * as PgTargets from "./sessions/PgTargets"
/** Streaming-replication probes: the replica's connection, LSNs on both servers, the lag tracker, replay blockers. */
export * as ReplicaLag from "./probes/ReplicaLag"
/** db.replica.lag detector (lag > 30 s held > 60 s). */
export * as ReplicaLagDetector from "./detectors/ReplicaLag"
/** The diagnoser of db.replica.lag. */
export * as ReplicaLagDiagnoser from "./diagnosers/ReplicaLagDiagnoser"
/** The classifier of db.replica.lag (network latency, disk I/O saturation, long-running queries on the primary). */
export * as ReplicaLagClassifier from "./classifiers/ReplicaLag"
/** The remediator of db.replica.lag. */
export * as ReplicaLagRemediator from "./remediators/ReplicaLagRemediator"
/** Verifier: replica lag below 30 s, held for 60 s. */
export * as ReplicaLagBelow from "./verifiers/ReplicaLagBelow"
/** The db.replica.lag runbook and its handlers. */
export * as ReplicaLagRunbook from "./runbooks/db.replica.lag"
/** The MongoDB service over the official `mongodb` driver (`BYTEPORT_MONGODB_URL`, redacted). */
export * as Mongo from "./mongo/Mongo"
/** MongoDB probes: serverStatus (connections) and currentOp (`$all`, `idleSessions`), utilization. */
export * as MongoActivity from "./mongo/MongoActivity"
/** db.pool.exhaustion detector for MongoDB. */
export * as MongoPoolExhaustion from "./mongo/MongoPoolExhaustion"
/** MongoDB kills as action kinds: `mongo.killOp`, `mongo.killSessions` (session guardrails, kill cap). */
export * as MongoKill from "./mongo/MongoKill"
/** The facts of db.pool.multi-engine (engine-neutral sessions, the trend of polls, the pool ceiling) and its diagnosers. */
export * as MultiEngineFacts from "./runbooks/multi-engine/Facts"
/** The classifier of db.pool.multi-engine (five classes, seed's order). */
export * as MultiEngineClassifier from "./runbooks/multi-engine/Classifier"
/** The remediator of db.pool.multi-engine (a Plan per class and engine). */
export * as MultiEngineRemediator from "./runbooks/multi-engine/Remediator"
/** Action `mysql.setMaxConnections` (SET GLOBAL, never lower; observe reads it back). */
export * as MySqlSetMaxConnections from "./runbooks/multi-engine/MySqlSetMaxConnections"
/** The db.pool.multi-engine runbook (PostgreSQL ± pgbouncer, MySQL / MariaDB, MongoDB) and its handlers. */
export * as PoolMultiEngineRunbook from "./runbooks/db.pool.multi-engine"
/** Where `byteport.io/auto_remediate: "db_terminate"` allows a termination: the database object (live or configured), the client's workload (address → Pod → owner, else application_name; never a pooler's address). */
export * as TerminateScope from "./sessions/TerminateScope"
