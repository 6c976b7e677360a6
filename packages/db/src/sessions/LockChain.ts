/**
 * Lock chains: "cancel the blocker, not the queue". A long report holds a lock, an `ALTER TABLE`
 * waits for it, and every read of the table queues behind the `ALTER`: most sessions over the
 * budget only wait. This module resolves the chains from each session's blockers
 * (PostgreSQL `pg_blocking_pids(pid)`; MySQL / MariaDB `information_schema.INNODB_LOCK_WAITS`)
 * and decides which sessions the long_running_query plan acts on.
 *
 * **Own running time.** A session that waits on a lock (it has blockers, or `wait_event_type` is
 * `Lock`) is charged only for the time it did not spend in its current lock wait:
 * `own = query_age_ms − lock_wait_ms` (`lock_wait_ms` from `pg_locks.waitstart`, PostgreSQL 14+,
 * or `INNODB_TRX.trx_wait_started`). Earlier lock waits of the same statement are not known and
 * count as its own time. A waiter whose current wait start is unknown has an unknown own time and
 * is never acted on for it. A session that waits on nothing is charged its whole statement time.
 *
 * **Decisions** (`budgetMs` = the query budget, `idleInTxMs` = the idle-in-transaction threshold):
 *
 * | session | decision |
 * |---|---|
 * | root blocker (waits on nothing, blocks ≥ 1), active, statement over budget | cancel (`root_blocker`) |
 * | root blocker idle in transaction (aborted too) for longer than `idleInTxMs` | terminate (`idle_root_blocker`): a cancel does not end a transaction, and an aborted one keeps its locks |
 * | in no chain, active, statement over budget | cancel (`over_budget`, as before) |
 * | waiter whose own time is over budget | cancel (`own_budget`) |
 * | waiter over budget only by its total time | left alone, reported with the roots it waits on |
 * | root under budget, or not active and not idle-in-transaction long enough | not acted on; its waiters are left alone; reported in `unresolved` |
 * | root outside the sessions read (a non-client backend, another server's view) | reported in `unresolved` |
 * | sessions in a wait cycle | no root: the server's deadlock detector breaks it (PostgreSQL after `deadlock_timeout`, InnoDB at once); reported in `cycles`; members are still acted on for their own time |
 *
 * Acted-on sessions come root blockers first (most waiters first), then own-budget waiters, then
 * the rest, longest first: under the kill cap the blockers that free the most sessions go first.
 *
 * @since 0.1.0
 */
import type { PgSession } from "../probes/PgActivity"

/** The budgets chains are resolved against. */
export interface Options {
  /** The statement budget (the classifier's `queryBudgetMs`, default 120 s). */
  readonly budgetMs: number
  /** How long a blocking root may sit idle in a transaction (the classifier's `idleInTxMs`, default 30 s). */
  readonly idleInTxMs: number
}

/** Why a session is acted on. */
export type Reason = "root_blocker" | "idle_root_blocker" | "over_budget" | "own_budget"

/** A session the plan acts on: cancel its statement, or terminate it (an idle-in-transaction root). */
export interface Decision {
  readonly session: PgSession
  readonly action: "cancel" | "terminate"
  readonly reason: Reason
  /** Sessions waiting on it, directly or through others. */
  readonly waiters: number
  /** Its own running time (see module docs), null when unknown or not running. */
  readonly ownMs: number | null
}

/** A chain: one root and every session waiting on it, directly or through other waiters. */
export interface Chain {
  /** The root blocker's pid. */
  readonly root: number
  /** The root's session, null when it is outside the sessions read. */
  readonly rootSession: PgSession | null
  /** The waiters' pids, nearest first (by depth, then pid). */
  readonly waiters: ReadonlyArray<number>
  /** The longest path from a waiter to the root (1: waiters wait on the root directly). */
  readonly depth: number
}

/** A waiter over budget by its total time only, left alone. */
export interface LeftAlone {
  readonly session: PgSession
  /** The roots it waits on (pids; a cycle's members when it waits on a cycle). */
  readonly waitsOn: ReadonlyArray<number>
  readonly ownMs: number | null
  readonly why: string
}

/** A root blocker nobody acts on, and why. */
export interface Unresolved {
  readonly root: number
  readonly waiters: number
  readonly why: string
}

/** The resolution of every chain among a set of sessions. */
export interface Resolution {
  readonly chains: ReadonlyArray<Chain>
  /** Wait cycles (deadlocks in the making), each as its members' pids, sorted. */
  readonly cycles: ReadonlyArray<ReadonlyArray<number>>
  /** The sessions to act on, in the order to act. */
  readonly act: ReadonlyArray<Decision>
  /** Waiters over budget by their total time only. */
  readonly leftAlone: ReadonlyArray<LeftAlone>
  /** Roots with waiters that nobody acts on. */
  readonly unresolved: ReadonlyArray<Unresolved>
}

const IDLE_IN_TX = new Set(["idle in transaction", "idle in transaction (aborted)"])

/** Pure: does this session wait on a lock (it has blockers, or an active session's wait event is `Lock`)? */
export const isWaiting = (s: PgSession): boolean =>
  s.blocking_pids.length > 0 || (s.state === "active" && s.wait_event_type === "Lock")

/** Pure: a session's own running time (see module docs): null when it runs no statement or its lock wait start is unknown. */
export const ownMs = (s: PgSession): number | null => {
  if (s.state !== "active" || s.query_age_ms === null) return null
  if (!isWaiting(s)) return s.query_age_ms
  const wait = s.lock_wait_ms
  if (wait === undefined || wait === null) return null
  return Math.max(0, s.query_age_ms - wait)
}

const secs = (ms: number | null) => (ms === null ? "unknown" : `${Math.round(ms / 1000)} s`)

/** Pure: resolves the lock chains among `sessions` (see module docs). */
export const resolve = (sessions: ReadonlyArray<PgSession>, options: Options): Resolution => {
  const byPid = new Map(sessions.map((s) => [s.pid, s]))
  const blockersOf = (pid: number): ReadonlyArray<number> => [...new Set(byPid.get(pid)?.blocking_pids ?? [])]

  // Tarjan: strongly connected components over "waits on" edges between sessions read.
  const index = new Map<number, number>()
  const low = new Map<number, number>()
  const stack: Array<number> = []
  const onStack = new Set<number>()
  const cycleOf = new Map<number, number>()
  const cycles: Array<Array<number>> = []
  let counter = 0
  const strong = (v: number): void => {
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    for (const w of blockersOf(v)) {
      if (!byPid.has(w)) continue
      if (!index.has(w)) {
        strong(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const members: Array<number> = []
      for (;;) {
        const w = stack.pop()!
        onStack.delete(w)
        members.push(w)
        if (w === v) break
      }
      if (members.length > 1 || blockersOf(v).includes(v)) {
        const id = cycles.length
        cycles.push(members.sort((a, b) => a - b))
        for (const m of members) cycleOf.set(m, id)
      }
    }
  }
  for (const s of sessions) if (!index.has(s.pid)) strong(s.pid)

  // Roots of each session: "p:<pid>" a root read, "x:<pid>" a blocker outside the view, "c:<id>" a cycle.
  const roots = new Map<number, ReadonlySet<string>>()
  const depth = new Map<number, number>()
  const rootsOf = (pid: number): ReadonlySet<string> => {
    if (!byPid.has(pid)) return new Set([`x:${pid}`])
    const known = roots.get(pid)
    if (known !== undefined) return known
    const cycle = cycleOf.get(pid)
    let out: Set<string>
    let d = 0
    if (cycle !== undefined) out = new Set([`c:${cycle}`])
    else if (blockersOf(pid).length === 0) out = new Set([`p:${pid}`])
    else {
      out = new Set()
      for (const b of blockersOf(pid)) {
        for (const r of rootsOf(b)) out.add(r)
        d = Math.max(d, 1 + (byPid.has(b) && cycleOf.get(b) === undefined ? depth.get(b) ?? 0 : 0))
      }
    }
    roots.set(pid, out)
    depth.set(pid, d)
    return out
  }
  for (const s of sessions) rootsOf(s.pid)

  const waitersOf = new Map<string, Array<number>>()
  for (const s of sessions) {
    for (const r of roots.get(s.pid) ?? []) {
      if (r === `p:${s.pid}`) continue
      const list = waitersOf.get(r) ?? []
      list.push(s.pid)
      waitersOf.set(r, list)
    }
  }
  const waitersOfPid = (pid: number) => waitersOf.get(`p:${pid}`)?.length ?? 0
  const chains: Array<Chain> = []
  for (const [key, pids] of waitersOf) {
    if (key.startsWith("c:")) continue
    const root = Number(key.slice(2))
    const ordered = [...pids].sort((a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || a - b)
    chains.push({ root, rootSession: byPid.get(root) ?? null, waiters: ordered, depth: Math.max(...ordered.map((p) => depth.get(p) ?? 1)) })
  }
  chains.sort((a, b) => b.waiters.length - a.waiters.length || a.root - b.root)

  const act: Array<Decision> = []
  const leftAlone: Array<LeftAlone> = []
  const unresolved: Array<Unresolved> = []
  const waitsOnOf = (pid: number): ReadonlyArray<number> =>
    [...(roots.get(pid) ?? [])].flatMap((r) => (r.startsWith("c:") ? cycles[Number(r.slice(2))] ?? [] : [Number(r.slice(2))])).sort((a, b) => a - b)
  for (const s of sessions) {
    const own = ownMs(s)
    const waiters = waitersOfPid(s.pid)
    if (!isWaiting(s) && cycleOf.get(s.pid) === undefined) {
      if (s.state === "active" && (s.query_age_ms ?? 0) > options.budgetMs) {
        act.push({ session: s, action: "cancel", reason: waiters > 0 ? "root_blocker" : "over_budget", waiters, ownMs: own })
      } else if (waiters > 0 && IDLE_IN_TX.has(s.state ?? "") && (s.state_age_ms ?? 0) > options.idleInTxMs) {
        act.push({ session: s, action: "terminate", reason: "idle_root_blocker", waiters, ownMs: own })
      } else if (waiters > 0) {
        unresolved.push({
          root: s.pid,
          waiters,
          why: s.state === "active"
            ? `root blocker ${s.pid} running for ${secs(s.query_age_ms)}, under the ${secs(options.budgetMs)} budget`
            : IDLE_IN_TX.has(s.state ?? "")
            ? `root blocker ${s.pid} ${s.state} for ${secs(s.state_age_ms)}, under the ${secs(options.idleInTxMs)} threshold`
            : `root blocker ${s.pid} is ${s.state ?? "in an unknown state"}`
        })
      }
      continue
    }
    if (own !== null && own > options.budgetMs) {
      act.push({ session: s, action: "cancel", reason: "own_budget", waiters, ownMs: own })
    } else if (s.state === "active" && (s.query_age_ms ?? 0) > options.budgetMs) {
      const on = waitsOnOf(s.pid)
      leftAlone.push({
        session: s,
        waitsOn: on,
        ownMs: own,
        why: `waits on ${on.length === 0 ? "an unknown blocker" : on.join(", ")}; own time ${secs(own)} of ${secs(s.query_age_ms)}`
      })
    }
  }
  for (const [key, pids] of waitersOf) {
    if (key.startsWith("x:")) {
      unresolved.push({ root: Number(key.slice(2)), waiters: pids.length, why: `root blocker ${key.slice(2)} is not among the client sessions read` })
    }
  }
  const rank: Record<Reason, number> = { root_blocker: 0, idle_root_blocker: 0, own_budget: 1, over_budget: 2 }
  act.sort((a, b) =>
    rank[a.reason] - rank[b.reason] || b.waiters - a.waiters ||
    (b.ownMs ?? b.session.state_age_ms ?? 0) - (a.ownMs ?? a.session.state_age_ms ?? 0) || a.session.pid - b.session.pid
  )
  unresolved.sort((a, b) => b.waiters - a.waiters || a.root - b.root)
  return { chains, cycles, act, leftAlone, unresolved }
}

/** Pure: one line per chain, for reports (`root 101 ← 3 waiter(s): 102, 103, 104`). */
export const describe = (r: Resolution): ReadonlyArray<string> => [
  ...r.chains.map((c) => `root ${c.root}${c.rootSession === null ? " (not read)" : ""} ← ${c.waiters.length} waiter(s): ${c.waiters.join(", ")}`),
  ...r.cycles.map((c) => `wait cycle ${c.join(" ↔ ")} (left to the server's deadlock detector)`)
]
