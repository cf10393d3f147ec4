/**
 * A small tmpfs for drills that need a file system that fills up or turns read-only. Mounting
 * needs root (CI runs as root) and a kernel that allows it; where it cannot be had, `mount`
 * returns the reason and the drill skips with it.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface Tmpfs {
  readonly dir: string
  /** Remount read-only (or read-write again). */
  readonly remount: (mode: "ro" | "rw") => void
  readonly unmount: () => void
}

/** Mount a tmpfs of `bytes` at a fresh temporary directory, or the reason it could not be. */
export const mount = (bytes: number): Tmpfs | string => {
  const dir = mkdtempSync(join(tmpdir(), "retort-tmpfs-"))
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "pipe" })
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    return `cannot mount a tmpfs here (needs root and a kernel that lets this process mount): ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`
  }
  return {
    dir,
    remount: (mode) => execFileSync("mount", ["-o", `remount,${mode}`, dir], { stdio: "pipe" }),
    unmount: () => {
      try {
        execFileSync("umount", [dir], { stdio: "pipe" })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/** Mounting works here (probed once with a 64 KiB tmpfs). */
export const probe = (): string | undefined => {
  const t = mount(64 * 1024)
  if (typeof t === "string") return t
  t.unmount()
  return undefined
}
