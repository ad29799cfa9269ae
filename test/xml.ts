/**
 * XML checks for tests (Node has no DOMParser): a strict well-formedness
 * check and the text of an SVG's `<text>` elements.
 */
import assert from "node:assert/strict";

const BAD_AMP = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)/;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Check that `xml` is well-formed: one root, tags nested and closed in order,
 * attribute values quoted and unique, `<` never and `&` only as an entity in
 * text or values. Returns the root element's name.
 */
export function assertWellFormed(xml: string): string {
  const stack: string[] = [];
  let root: string | undefined;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const content = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.doesNotMatch(content, BAD_AMP, `bare & in text at ${i}`);
    if (!stack.length) assert.equal(content.trim(), "", `text outside the root at ${i}`);
    if (lt < 0) break;
    if (xml.startsWith("<!--", lt) || xml.startsWith("<?", lt)) {
      const close = xml.startsWith("<!--", lt) ? "-->" : "?>";
      const e = xml.indexOf(close, lt);
      assert.ok(e >= 0, `unterminated ${close} at ${lt}`);
      i = e + close.length;
      continue;
    }
    let gt = lt + 1;
    for (let quote = ""; gt < xml.length && (quote || xml[gt] !== ">"); gt++) {
      if (quote ? xml[gt] === quote : xml[gt] === '"' || xml[gt] === "'") quote = quote ? "" : xml[gt];
      else if (!quote) assert.notEqual(xml[gt], "<", `< inside a tag at ${gt}`);
    }
    assert.ok(gt < xml.length, `unterminated tag at ${lt}`);
    const tag = xml.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      assert.equal(stack.pop(), name, `</${name}> at ${lt} closes the wrong element`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*$/.exec(selfClosing ? tag.slice(0, -1) : tag);
    assert.ok(m, `malformed tag <${tag}>`);
    const attrs = [...m[2].matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*("[^"]*"|'[^']*')/g)];
    assert.equal(new Set(attrs.map((a) => a[1])).size, attrs.length, `duplicate attribute in <${tag}>`);
    for (const a of attrs) assert.doesNotMatch(a[2], BAD_AMP, `bare & in <${tag}>`);
    if (!stack.length) {
      assert.equal(root, undefined, `a second root <${m[1]}>`);
      root = m[1];
    }
    if (!selfClosing) stack.push(m[1]);
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.ok(root, "no root element");
  return root;
}

/** The text of every `<text>` element in `svg`, unescaped. */
export function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&(\w+);/g, (_, e: string) => ENTITIES[e]));
}

/** The inside of `<g id="ID">…</g>` in `svg` (groups there do not nest); throws if it is missing. */
export function svgGroup(svg: string, id: string): string {
  const m = new RegExp(`<g id="${id}">([\\s\\S]*?)</g>`).exec(svg);
  assert.ok(m, `no <g id="${id}"> in the SVG`);
  return m[1];
}
