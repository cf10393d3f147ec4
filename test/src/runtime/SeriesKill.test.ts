/**
 * kill -9 of a series, fast version of `scripts/drills/kill.ts`: `retort seeds … --resume` and
 * the experiment harness's `--resume`, each killed with SIGKILL while a run trains and continued. The
 * interrupted run continues from its checkpoint (it is not started over) and the series ends
 * with exactly the metrics of an uninterrupted one (cpu backend).
 */
import { describe, expect, it } from "vitest"
import { kill } from "../../../scripts/drills/kill.js"

describe("kill -9 of a series", () => {
  for (const target of ["seeds", "experiment"] as const)
    it(`${target}: killed while a run trains, resumed from its checkpoint, the same metrics as uninterrupted`, async () => {
      const r = await kill({ target, kills: 1, steps: 30, seeds: [1, 2], seed: 3, log: () => {} })
      expect(r.kills).toBe(1)
      expect(r.unresumable).toBe(0)
      expect(r.resumedFromCheckpoint).toBeGreaterThanOrEqual(1)
      expect(r.difference).toBe("")
      expect(r.identical).toBe(true)
    }, 240_000)
})
