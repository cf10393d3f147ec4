/**
 * Captures what a test's code prints: `process.stdout`/`stderr` writes and `console.log`/`error`
 * go into `io.out` / `io.err` (reset before each test, restored after it) instead of the terminal.
 */
import { afterEach, beforeEach, vi } from "vitest"

export const captureOutput = (): { out: string; err: string } => {
  const io = { out: "", err: "" }
  beforeEach(() => {
    io.out = ""
    io.err = ""
    vi.spyOn(process.stdout, "write").mockImplementation((s) => {
      io.out += String(s)
      return true
    })
    vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      io.err += String(s)
      return true
    })
    vi.spyOn(console, "log").mockImplementation((...a) => {
      io.out += `${a.join(" ")}\n`
    })
    vi.spyOn(console, "error").mockImplementation((...a) => {
      io.err += `${a.join(" ")}\n`
    })
  })
  afterEach(() => vi.restoreAllMocks())
  return io
}
