/**
 * A minimal XML well-formedness check for the SVG tests: balanced tags, quoted attributes, no
 * stray `<` or `&` in text. Returns the element names in document order.
 */
export const parseXml = (xml: string): Array<{ name: string; attrs: Record<string, string> }> => {
  const elements: Array<{ name: string; attrs: Record<string, string> }> = []
  const stack: Array<string> = []
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy
  let pos = 0
  while (pos < xml.length) {
    token.lastIndex = pos
    const m = token.exec(xml)
    if (!m) throw new Error(`malformed XML at ${pos}: ${xml.slice(pos, pos + 60)}`)
    pos = token.lastIndex
    const [, close, name, attrText, selfClose, text] = m
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|#\d+);)/.test(text)) throw new Error(`bad entity in text: ${text}`)
      continue
    }
    if (close) {
      const open = stack.pop()
      if (open !== name) throw new Error(`</${name}> closes <${open}>`)
      continue
    }
    const attrs: Record<string, string> = {}
    for (const a of (attrText ?? "").matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`)
      attrs[a[1]!] = a[2]!
    }
    elements.push({ name: name!, attrs })
    if (!selfClose) stack.push(name!)
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join("> <")}>`)
  if (elements[0]?.name !== "svg") throw new Error("root is not <svg>")
  return elements
}

export const count = (xml: string, name: string, cls?: string): number =>
  parseXml(xml).filter((e) => e.name === name && (cls === undefined || e.attrs.class === cls)).length
