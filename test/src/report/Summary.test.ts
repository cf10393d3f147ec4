import { describe, expect, it } from "vitest"
import * as Event from "../../../src/report/Event.js"
import * as Format from "../../../src/report/Format.js"
import * as Summary from "../../../src/report/Summary.js"

describe("Summary.table", () => {
  it("aligns phases left and metrics right, '-' for missing, columns in first-seen order", () => {
    const table = Summary.table([
      { phase: "teacher", metrics: { "test.accuracy": 0.98123, seconds: 61.2 } },
      { phase: "student (gen 2)", metrics: { "test.accuracy": 0.9701, "test.ece": 0.0123, seconds: 1234 } },
      { phase: "swa", metrics: { "test.nll": Number.NaN } },
    ])
    expect(table).toBe(
      [
        "phase            test.accuracy  seconds  test.ece  test.nll",
        "---------------  -------------  -------  --------  --------",
        "teacher                 0.9812     61.2         -         -",
        "student (gen 2)         0.9701     1234    0.0123         -",
        "swa                          -        -         -       NaN",
      ].join("\n"),
    )
  })

  it("a table wider than the width is printed with one row per metric and one column per phase", () => {
    const rows = [
      { phase: "teacher", metrics: { "test/teacher/accuracy": 0.9, seconds: 10 } },
      {
        phase: "student",
        metrics: { "test/student/accuracy": 0.85, "test/student@0.9/meanExit": 1.5, seconds: 5 },
      },
    ]
    expect(Summary.table(rows, { width: 40 })).toBe(
      [
        "metric                     teacher  student",
        "-------------------------  -------  -------",
        "test/teacher/accuracy          0.9        -",
        "seconds                         10        5",
        "test/student/accuracy            -     0.85",
        "test/student@0.9/meanExit        -      1.5",
      ].join("\n"),
    )
    // narrow enough: the usual orientation
    expect(Summary.table(rows).split("\n")[0]).toMatch(/^phase\s+test\/teacher\/accuracy/)
  })

  it("is empty for no rows and has only the phase column for rows without metrics", () => {
    expect(Summary.table([])).toBe("")
    expect(Summary.table([{ phase: "a", metrics: {} }])).toBe("phase\n-----\na")
  })

  it("fromEvents prefers RunFinished and falls back to PhaseFinished rows", () => {
    const pf = Event.phaseFinished({ phase: "a", seconds: 3, metrics: { acc: 0.5 } })
    expect(Summary.fromEvents([pf])).toEqual([{ phase: "a", metrics: { acc: 0.5, seconds: 3 } }])
    const rf = Event.runFinished({ seconds: 5, summary: [{ phase: "a", metrics: { acc: 0.6 } }] })
    expect(Summary.fromEvents([pf, rf])).toEqual(rf.summary)
  })
})

describe("Format", () => {
  it("number", () => {
    expect([0.97123, 0.97, 0.05, 1234, 1234.5, 1e-4, 1.5e-4, 123456.7, -2.5, 0].map(Format.number)).toEqual([
      "0.9712",
      "0.97",
      "0.05",
      "1234",
      "1235",
      "1e-4",
      "1.5e-4",
      "1.23e5",
      "-2.5",
      "0",
    ])
    expect([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(Format.number)).toEqual([
      "NaN",
      "inf",
      "-inf",
    ])
  })

  it("duration and rate", () => {
    expect([0.42, 12.4, 125, 3725, Number.NaN, -1].map(Format.duration)).toEqual([
      "0.4s",
      "12s",
      "2m05s",
      "1h02m",
      "?",
      "?",
    ])
    expect([950, 5320, 1_200_000, 42.42, Number.NaN].map(Format.rate)).toEqual([
      "950",
      "5.32k",
      "1.20M",
      "42.4",
      "?",
    ])
  })
})
