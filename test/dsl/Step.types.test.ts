import { describe, expectTypeOf, it } from "vitest"
import { Augment, Loss, Optimizer, Phase, Step } from "../../dsl/index.js"

const adam = Optimizer.adam({ lr: 1e-3 })

describe("Step (type level)", () => {
  it("tracks written names through a pipe", () => {
    const step = Step.start.pipe(
      Step.forward("teacher", { as: "t", mode: "frozen", taps: ["flat"] }),
      Step.forward("student", { as: "s", heads: ["dist"] }),
    )
    expectTypeOf(step).toEqualTypeOf<Step.Step<never, "x" | "y" | "t" | "t.flat" | "s" | "s.dist">>()
    const withLoss = step.pipe(Step.loss({ kd: Loss.kl({ teacher: "t", student: "s.dist" }) }))
    expectTypeOf(withLoss).toEqualTypeOf<
      Step.Step<never, "x" | "y" | "t" | "t.flat" | "s" | "s.dist" | "loss" | "loss.kd">
    >()
  })

  it("k samples write every name", () => {
    const step = Step.start.pipe(Step.forward("net", { as: ["a", "b"] }))
    expectTypeOf(step).toEqualTypeOf<Step.Step<never, "x" | "y" | "a" | "b">>()
  })

  it("composition unions writes and keeps unmet needs", () => {
    const head = Step.start.pipe(Step.forward("student", { as: "s" }))
    const tail = Step.needs("s", "t").pipe(Step.loss({ kd: Loss.kl({ teacher: "t", student: "s" }) }))
    const whole = Step.andThen(head, tail)
    expectTypeOf(whole).toEqualTypeOf<Step.Step<"t", "x" | "y" | "s" | "t" | "loss" | "loss.kd">>()
  })

  it("rejects invalid compositions", () => {
    const base = Step.start.pipe(Step.forward("student", { as: "s" }))

    // 1. a KL that reads a teacher output nobody wrote
    // @ts-expect-error "t2" is unwritten
    base.pipe(Step.loss({ kd: Loss.kl({ teacher: "t2", student: "s" }) }))

    // 2. a detached operand is still a read
    // @ts-expect-error "u" is unwritten
    base.pipe(Step.loss({ ce: Loss.bce({ logits: "s", teacher: Loss.detach("u") }) }))

    // 3. optimising a loss that was never computed
    // @ts-expect-error "loss" is unwritten
    base.pipe(Step.optimize("student", adam))

    // 4. a forward whose input is an unwritten name
    // @ts-expect-error "features" is unwritten
    base.pipe(Step.forward("head", { as: "h", input: "features" }))

    // 5. a tap that was not requested is not on the blackboard
    // @ts-expect-error "s.hidden0" is unwritten: the forward requested no taps
    base.pipe(Step.loss({ hint: Loss.hint({ student: "s.hidden0", teacher: "s" }) }))

    // 6. optimising a loss under a different name
    const l = base.pipe(Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }, { as: "main" }))
    // @ts-expect-error the loss is called "main", not "loss"
    l.pipe(Step.optimize("student", adam))

    // 7. cross-entropy against labels that are not on the blackboard
    // @ts-expect-error "soft" is unwritten
    base.pipe(Step.loss({ ce: Loss.crossEntropy({ logits: "s", labels: "soft" }) }))

    // 8. an augmentation inside a fragment that does not have the batch
    // @ts-expect-error the fragment has no "x", "y"
    Step.needs("s").pipe(Step.augment(Augment.flipX()))

    // 9. a phase whose step needs a name from outside
    const open = Step.needs("t", "x", "y").pipe(
      Step.forward("student", { as: "s" }),
      Step.loss({ kd: Loss.kl({ teacher: "t", student: "s" }) }),
      Step.optimize("student", adam),
    )
    // @ts-expect-error the phase cannot provide "t"
    Phase.make({ name: "p", step: open })

    // 10. loss weights for a term that does not exist
    // @ts-expect-error "kd" is not a term
    base.pipe(Step.loss({ ce: Loss.crossEntropy({ logits: "s" }) }, { weights: { kd: 1 } }))
  })
})
