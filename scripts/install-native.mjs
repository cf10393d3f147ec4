// `npm install`'s install step: builds the native kernels (scripts/build-native.sh) and never
// fails the install. Where they cannot be built (no compiler, not linux/macOS, RETORT_NATIVE=0)
// it prints one line saying so, and Retort runs on its pure wasm kernels; `retort doctor` and
// every run's header then say why. RETORT_SKIP_NATIVE_BUILD=1 skips the build.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const say = (line) => console.log(`retort: ${line}`)
const skip = process.env.RETORT_SKIP_NATIVE_BUILD === "1" || process.env.RETORT_NATIVE === "0"
if (skip) {
  say(
    "native kernels not built (RETORT_SKIP_NATIVE_BUILD/RETORT_NATIVE set); the pure wasm kernels will be used",
  )
} else if (process.platform === "win32") {
  say("native kernels are built on Linux and macOS only; the pure wasm kernels will be used")
} else if (!existsSync(path.join(root, "native", "binding.gyp"))) {
  say("native sources missing; the pure wasm kernels will be used")
} else {
  const started = Date.now()
  const r = spawnSync("bash", [path.join(root, "scripts", "build-native.sh")], {
    cwd: root,
    encoding: "utf8",
  })
  if (r.status === 0) {
    say(`native kernels built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  } else {
    const why = `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`
      .split("\n")
      .filter((l) => /build-native:|error/i.test(l))
      .slice(0, 2)
      .join("; ")
    say(
      `native kernels could not be built (${why || `exit ${r.status}`}); the pure wasm kernels will be used (slower). ` +
        "Retry with `npm run build:native`.",
    )
  }
}
