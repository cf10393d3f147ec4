/**
 * A reference point for the `rfs` experiment: the few-shot accuracy of raw pixels (784 values,
 * L2-normalised) on exactly the episodes the experiment scores its embeddings on (Fashion-MNIST
 * test split, novel classes 5–9, 600 5-way episodes per shot count, 15 queries per class, the
 * episode seeds the runner derives from seeds 1, 2, 3), with the same two probes.
 *
 * `npx tsx experiments/rfs-pixels.ts` (about a minute on 2 cores; prints one JSON line per seed
 * and shot count).
 */
import { Effect } from "effect"
import { FewShot } from "../dsl/index.js"
import * as FashionMnist from "../src/data/FashionMnist.js"
import * as Episodes from "../src/metrics/Episodes.js"
import { episodeSeed } from "../src/runtime/FewShot.js"

const novel = [5, 6, 7, 8, 9]
const ds = await Effect.runPromise(
  Effect.flatMap(FashionMnist.locate(), ({ found }) =>
    found ? FashionMnist.read(found) : Effect.die("Fashion-MNIST not found"),
  ),
)
const rows: Array<number> = []
for (let i = 0; i < ds.test.n; i++) if (novel.includes(ds.test.y[i]!)) rows.push(i)
const labels = Int32Array.from(rows, (r) => ds.test.y[r]!)
const x = new Float32Array(rows.length * 784)
rows.forEach((r, i) => {
  x.set(ds.test.x.subarray(r * 784, (r + 1) * 784), i * 784)
})
const features = Episodes.normalize(x, 784)
const fs = FewShot.make({ classes: novel, tap: "dense0" })
for (const seed of [1, 2, 3]) {
  for (const shots of [1, 5]) {
    const episodes = Effect.runSync(
      Episodes.sample(labels, {
        classes: novel,
        ways: 5,
        shots,
        queries: 15,
        episodes: 600,
        seed: episodeSeed(fs, seed, shots),
      }),
    )
    const logistic = Episodes.score(features, 784, episodes, "logistic", { l2: 1, iterations: 100 })
    const centroid = Episodes.score(features, 784, episodes, "centroid")
    console.log(
      JSON.stringify({
        seed,
        shots,
        logistic: logistic.mean,
        ci95: logistic.ci95,
        centroid: centroid.mean,
        centroidCi95: centroid.ci95,
      }),
    )
  }
}
