import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Plot from "../../../src/report/Plot.js"
import { count, parseXml } from "./xml.js"

const noBadNumbers = (svg: string) => {
  expect(svg).not.toMatch(/NaN|Infinity|undefined/)
}

describe("ticks", () => {
  it("are nice and enclose the range", () => {
    expect(Plot.ticks(0.03, 0.96, 5).values).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(Plot.ticks(0, 938, 5).values).toEqual([0, 200, 400, 600, 800, 1000])
    expect(Plot.ticks(5, 5, 5).values.length).toBeGreaterThan(1)
  })

  it("property: first ≤ lo, last ≥ hi, few of them, equally spaced", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        (lo, span) => {
          const { values, step } = Plot.ticks(lo, lo + span, 5)
          expect(values[0]!).toBeLessThanOrEqual(lo + step * 1e-6)
          expect(values[values.length - 1]!).toBeGreaterThanOrEqual(lo + span - step * 1e-6)
          expect(values.length).toBeLessThanOrEqual(13)
          for (let k = 1; k < values.length; k++) expect(values[k]! - values[k - 1]!).toBeCloseTo(step, 6)
        },
      ),
      { seed: 7, numRuns: 200 },
    )
  })
})

describe("linePlot", () => {
  const series = [
    {
      name: "loss",
      points: [
        [0, 2.3],
        [1, 1.2],
        [2, 0.7],
      ] as const,
    },
    {
      name: "ce <&>",
      points: [
        [0, 2.0],
        [1, Number.NaN],
        [2, 0.5],
        [3, 0.4],
      ] as const,
    },
    { name: "kd", points: [[0, 1]] as const },
  ]

  it("is well-formed XML with one group per series and a line where ≥ 2 finite points", () => {
    const svg = Plot.linePlot({ title: "a & b", xLabel: "step", yLabel: "loss", series })
    parseXml(svg)
    expect(count(svg, "g", "series")).toBe(3)
    expect(count(svg, "path", "line")).toBe(2)
    expect(svg).toContain("ce &lt;&amp;&gt;")
    expect(svg).toContain("a &amp; b")
    noBadNumbers(svg)
  })

  it("breaks the line at a non-finite point (two sub-paths)", () => {
    const svg = Plot.linePlot({
      series: [
        {
          name: "s",
          points: [
            [0, 1],
            [1, 2],
            [2, Number.NaN],
            [3, 1],
            [4, 0],
          ],
        },
      ],
    })
    const path = parseXml(svg).find((e) => e.attrs.class === "line")!
    expect(path.attrs.d!.match(/M/g)!.length).toBe(2)
  })

  it("handles empty and all-NaN input", () => {
    for (const s of [
      [],
      [{ name: "x", points: [] }],
      [
        {
          name: "x",
          points: [
            [Number.NaN, 1],
            [2, Number.POSITIVE_INFINITY],
          ] as const,
        },
      ],
    ]) {
      const svg = Plot.linePlot({ series: s })
      parseXml(svg)
      expect(count(svg, "text", "no-data")).toBe(1)
      expect(count(svg, "path", "line")).toBe(0)
      noBadNumbers(svg)
    }
  })

  it("draws markers and clamps to a fixed y range", () => {
    const svg = Plot.linePlot({
      series: [
        {
          name: "s",
          points: [
            [0, -5],
            [10, 5],
          ],
        },
      ],
      markers: [{ x: 5, label: "student" }],
      yRange: [0, 1],
    })
    parseXml(svg)
    expect(count(svg, "g", "marker")).toBe(1)
    noBadNumbers(svg)
  })

  it("property: any series of numbers renders well-formed, finite SVG", () => {
    const num = fc.oneof(
      fc.double({ min: -1e9, max: 1e9 }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
    )
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.string(), points: fc.array(fc.tuple(num, num), { maxLength: 30 }) }), {
          maxLength: 4,
        }),
        (s) => {
          const svg = Plot.linePlot({ title: "t", series: s })
          parseXml(svg)
          expect(count(svg, "g", "series")).toBe(s.length)
          noBadNumbers(svg.replace(/data-name="[^"]*"|<text[^>]*>[^<]*<\/text>/g, ""))
        },
      ),
      { seed: 11, numRuns: 100 },
    )
  })
})

describe("heatmap and contour", () => {
  const bowl = Array.from({ length: 11 }, (_, i) =>
    Array.from({ length: 13 }, (_, j) => (i - 5) ** 2 + (j - 6) ** 2),
  )

  it("draws one cell per grid value and a path per contour level", () => {
    const svg = Plot.heatmap({ title: "bowl", grid: bowl, x: [-1, 1], y: [-1, 1], contours: [4, 9, 16] })
    parseXml(svg)
    expect(count(svg, "g", "cells")).toBe(1)
    // 11 × 13 cells plus the 48 colour-bar swatches
    expect(parseXml(svg).filter((e) => e.name === "rect").length).toBe(1 + 11 * 13 + 48)
    expect(count(svg, "path", "contour")).toBe(3)
    noBadNumbers(svg)
  })

  it("contour defaults to 10 levels and fill: false paints no cells", () => {
    const svg = Plot.contour({ grid: bowl, x: [0, 1], y: [0, 1], fill: false })
    expect(count(svg, "path", "contour")).toBe(10)
    expect(count(svg, "g", "cells")).toBe(0)
  })

  it("handles NaN cells, log scale, constant and empty grids", () => {
    const withNaN = bowl.map((r, i) => r.map((v, j) => (i === 3 && j === 3 ? Number.NaN : v)))
    for (const o of [
      { grid: withNaN, x: [0, 1], y: [0, 1], scale: "log", contours: 5 },
      {
        grid: [
          [1, 1],
          [1, 1],
        ],
        x: [0, 1],
        y: [0, 1],
        contours: 3,
      },
      { grid: [], x: [0, 1], y: [0, 1], contours: 3 },
      { grid: [[Number.NaN]], x: [0, 0], y: [0, 0] },
    ] as const) {
      const svg = Plot.heatmap(o)
      parseXml(svg)
      noBadNumbers(svg)
    }
    expect(Plot.heatmap({ grid: [], x: [0, 1], y: [0, 1] })).toContain("no data")
  })

  it("isoline interpolates edge crossings", () => {
    expect(
      Plot.isoline(
        [
          [0, 0],
          [1, 1],
        ],
        0.5,
      ),
    ).toEqual([
      [
        [0, 0.5],
        [1, 0.5],
      ],
    ])
    expect(
      Plot.isoline(
        [
          [0, 1],
          [0, 1],
        ],
        0.25,
      ),
    ).toEqual([
      [
        [0.25, 0],
        [0.25, 1],
      ],
    ])
    // a closed ring around a peak: 4 cells, 4 segments
    expect(
      Plot.isoline(
        [
          [0, 0, 0],
          [0, 1, 0],
          [0, 0, 0],
        ],
        0.5,
      ).length,
    ).toBe(4)
    expect(
      Plot.isoline(
        [
          [0, Number.NaN],
          [1, 1],
        ],
        0.5,
      ),
    ).toEqual([])
  })

  it("colour scales interpolate between stops", () => {
    expect(Plot.color("viridis", 0)).toBe("#440154")
    expect(Plot.color("viridis", 1)).toBe("#fde725")
    expect(Plot.color("magma", 2)).toBe("#fcfdbf")
    expect(Plot.color("coolwarm", Number.NaN)).toBe("#cccccc")
  })
})

describe("barPlot", () => {
  it("draws bars and error bars per series and category", () => {
    const svg = Plot.barPlot({
      title: "accuracy",
      yLabel: "accuracy",
      categories: ["teacher", "KD", "BAN"],
      series: [
        { name: "MNIST", values: [Plot.meanStd([0.99, 0.992]), 0.985, { mean: 0.988, std: 0.001 }] },
        { name: "Fashion", values: [0.91, Number.NaN] },
      ],
    })
    parseXml(svg)
    expect(count(svg, "g", "series")).toBe(2)
    expect(count(svg, "rect", "bar")).toBe(4) // NaN and missing values draw no bar
    expect(count(svg, "path", "error")).toBe(2)
    expect(count(svg, "text", "category")).toBe(3)
    expect(count(svg, "g", "legend")).toBe(1)
    noBadNumbers(svg)
  })

  it("handles no data and negative values", () => {
    parseXml(Plot.barPlot({ categories: [], series: [] }))
    const svg = Plot.barPlot({ categories: ["a", "b"], series: [{ name: "s", values: [-1, 2] }] })
    parseXml(svg)
    expect(count(svg, "rect", "bar")).toBe(2)
    expect(count(svg, "g", "legend")).toBe(0)
  })

  it("meanStd uses the sample standard deviation and skips non-finite values", () => {
    const { mean, std } = Plot.meanStd([0.97, 0.98, 0.99, Number.NaN])
    expect(mean).toBeCloseTo(0.98, 12)
    expect(std).toBeCloseTo(0.01, 12)
    expect(Plot.meanStd([1])).toEqual({ mean: 1, std: 0 })
    expect(Plot.meanStd([]).mean).toBeNaN()
  })
})

describe("stack", () => {
  it("nests documents vertically", () => {
    const a = Plot.linePlot({ series: [], height: 100 })
    const b = Plot.barPlot({ categories: ["x"], series: [{ name: "s", values: [1] }], height: 150 })
    const svg = Plot.stack([a, b])
    const els = parseXml(svg)
    expect(els[0]!.attrs.height).toBe("250")
    const nested = els.filter((e) => e.name === "svg").slice(1)
    expect(nested.map((e) => e.attrs.y)).toEqual(["0", "100"])
  })
})

describe("scatterPlot", () => {
  const circles = (svg: string) =>
    [...svg.matchAll(/<circle class="(point|mean)" cx="([^"]+)" cy="([^"]+)"/g)].map((m) => ({
      kind: m[1],
      cx: Number(m[2]),
      cy: Number(m[3]),
    }))

  it("draws a dot per finite point, a mean per group, the note and the legend", () => {
    const svg = Plot.scatterPlot({
      title: "sharpness & accuracy",
      xLabel: "sharpness",
      yLabel: "accuracy",
      note: "Spearman ρ = −0.7, p = 0.02",
      groups: [
        {
          name: "cnn",
          points: [
            [1, 0.8],
            [2, 0.7],
            [Number.NaN, 0.5],
          ],
        },
        { name: "mlp", points: [[3, 0.6]] },
      ],
    })
    parseXml(svg)
    noBadNumbers(svg)
    expect(count(svg, "g", "group")).toBe(2)
    expect(count(svg, "circle", "point")).toBe(3)
    expect(count(svg, "circle", "mean")).toBe(1) // one point: no separate mean
    expect(count(svg, "text", "note")).toBe(1)
    expect(svg).toContain("sharpness &amp; accuracy")
    const c = circles(svg)
    const pts = c.filter((p) => p.kind === "point")
    // larger x is further right, larger y is higher up (smaller cy)
    expect(pts[0]!.cx).toBeLessThan(pts[1]!.cx)
    expect(pts[1]!.cx).toBeLessThan(pts[2]!.cx)
    expect(pts[0]!.cy).toBeLessThan(pts[1]!.cy)
    const mean = c.find((p) => p.kind === "mean")!
    expect(mean.cx).toBeCloseTo((pts[0]!.cx + pts[1]!.cx) / 2, 1)
    expect(mean.cy).toBeCloseTo((pts[0]!.cy + pts[1]!.cy) / 2, 1)
  })

  it("on a log x axis spaces decades evenly, labels ticks with x, and leaves out x ≤ 0", () => {
    const svg = Plot.scatterPlot({
      logX: true,
      groups: [
        {
          name: "g",
          points: [
            [0.01, 1],
            [0.1, 2],
            [1, 3],
            [0, 4],
            [-1, 5],
          ],
          mean: false,
        },
      ],
    })
    parseXml(svg)
    noBadNumbers(svg)
    const pts = circles(svg)
    expect(pts.length).toBe(3)
    expect(pts[1]!.cx - pts[0]!.cx).toBeCloseTo(pts[2]!.cx - pts[1]!.cx, 1)
    expect(svg).toMatch(/>0\.01</)
    expect(svg).toMatch(/>1</)
  })

  it("says no data when nothing is finite", () => {
    const svg = Plot.scatterPlot({ groups: [{ name: "g", points: [[Number.NaN, 1]] }] })
    parseXml(svg)
    expect(svg).toContain("no data")
  })
})
