/**
 * XML checks for tests (Node has no DOMParser): a strict well-formedness
 * check, a small parser to an element tree, and the text of an SVG's
 * `<text>` elements.
 */
import assert from "node:assert/strict";

const BAD_AMP = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)/;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
/** Characters XML 1.0 does not allow, even as references: C0 controls but tab, LF and CR; lone surrogates; U+FFFE/U+FFFF. */
// deno-lint-ignore no-control-regex
const NOT_XML = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Check that `xml` is well-formed: only characters XML 1.0 allows, one root,
 * tags nested and closed in order, attribute values quoted and unique, `<`
 * never and `&` only as an entity in text or values. Returns the root
 * element's name.
 */
export function assertWellFormed(xml: string): string {
  const bad = NOT_XML.exec(xml);
  assert.equal(bad, null, `a character XML 1.0 does not allow at ${bad?.index}: ${JSON.stringify(bad?.[0])}`);
  for (const ref of xml.matchAll(/&#(x[\da-fA-F]+|\d+);/g)) {
    const code = ref[1][0] === "x" ? parseInt(ref[1].slice(1), 16) : Number(ref[1]);
    assert.ok(code <= 0x10ffff && !NOT_XML.test(String.fromCodePoint(code)), `${ref[0]} at ${ref.index} refers to a character XML 1.0 does not allow`);
  }
  const stack: string[] = [];
  let root: string | undefined;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const content = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.doesNotMatch(content, BAD_AMP, `bare & in text at ${i}`);
    assert.ok(!content.includes("]]>"), `]]> in text at ${i}`);
    if (!stack.length) assert.equal(content.trim(), "", `text outside the root at ${i}`);
    if (lt < 0) break;
    const special = [["<!--", "-->"], ["<?", "?>"], ["<![CDATA[", "]]>"]].find(([open]) => xml.startsWith(open, lt));
    if (special) {
      if (special[0] === "<![CDATA[") assert.ok(stack.length, `CDATA outside the root at ${lt}`);
      const e = xml.indexOf(special[1], lt);
      assert.ok(e >= 0, `unterminated ${special[1]} at ${lt}`);
      i = e + special[1].length;
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

/** An element of {@linkcode parseXml}'s tree. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Its own character data (CDATA included), entities decoded, child elements' text left out. */
  text: string;
}

const decode = (s: string): string =>
  s.replace(/&(#x[\da-fA-F]+|#\d+|\w+);/g, (_, e: string) => e[0] !== "#" ? ENTITIES[e] : String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1))));

/**
 * `xml` as a tree of elements, after {@linkcode assertWellFormed}: attribute
 * values normalized as XML does (a literal tab or newline becomes a space,
 * references stay what they say). Returns the root.
 */
export function parseXml(xml: string): XmlElement {
  assertWellFormed(xml);
  const stack: XmlElement[] = [{ name: "", attrs: {}, children: [], text: "" }];
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([^\s>]+)\s*>|<([^\s/>]+)((?:\s+[^\s=]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/g;
  for (const m of xml.matchAll(token)) {
    const top = stack[stack.length - 1];
    if (m[1] !== undefined) top.text += m[1];
    else if (m[2]) stack.pop();
    else if (m[3]) {
      const attrs: Record<string, string> = {};
      for (const a of m[4].matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]] = decode((a[2] ?? a[3]).replace(/[\t\n\r]/g, " "));
      const el: XmlElement = { name: m[3], attrs, children: [], text: "" };
      top.children.push(el);
      if (!m[5]) stack.push(el);
    } else if (m[6]) top.text += decode(m[6].replace(/\r\n?/g, "\n"));
  }
  return stack[0].children[0];
}

/** Every element named `name` under `el` (itself included), in document order. */
export function xmlElements(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => xmlElements(c, name))];
}

/** What {@linkcode junitCounts} counts. */
export interface JunitCounts {
  suites: number;
  testcases: number;
  failures: number;
  errors: number;
  skipped: number;
}

/**
 * The `<testsuite>`s of a JUnit XML document and its `<testcase>`s with a
 * `<failure>`, an `<error>` or `<skipped>`, counted from the elements; asserts
 * that the document is well-formed and that the `tests`/`failures`/`errors`/
 * `skipped` attributes of `<testsuites>` and each `<testsuite>` agree.
 */
export function junitCounts(xml: string): JunitCounts {
  const root = parseXml(xml);
  assert.equal(root.name, "testsuites");
  const count = (el: XmlElement) => {
    const cases = xmlElements(el, "testcase");
    const having = (tag: string) => cases.filter((c) => c.children.some((x) => x.name === tag)).length;
    const n = { testcases: cases.length, failures: having("failure"), errors: having("error"), skipped: having("skipped") };
    const attrs = { testcases: el.attrs.tests, failures: el.attrs.failures, errors: el.attrs.errors, skipped: el.attrs.skipped };
    assert.deepEqual(attrs, Object.fromEntries(Object.entries(n).map(([k, v]) => [k, String(v)])), `<${el.name} name="${el.attrs.name}"> counts`);
    return n;
  };
  const suites = xmlElements(root, "testsuite");
  suites.forEach(count);
  return { suites: suites.length, ...count(root) };
}
