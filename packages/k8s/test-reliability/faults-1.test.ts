/** Fault schedules on kube-sim, shard 1 of 4 (see faults.ts): a quarter of the run's OOM incidents. */
import { faultShard } from "./faults"

faultShard(1)
