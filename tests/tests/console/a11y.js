// Our accessibility check, injected into each page by the console tests (no axe-core:
// it is not in the workspace and would be fetched code). Returns a list of problems:
// - a form control without a label (label[for], a wrapping label, aria-label(ledby));
// - an image without alt text, an SVG chart without a name;
// - a button or link without an accessible name;
// - text whose colour against its effective background is under WCAG AA (4.5:1, or
//   3:1 for large text), computed from the page's real computed styles.
const problems = [];
const visible = (el) => {
  const r = el.getBoundingClientRect();
  const st = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && st.visibility !== "hidden" && st.display !== "none";
};
const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
const name = (el) => (el.getAttribute("aria-label") || "").trim() || (el.getAttribute("aria-labelledby") ? "x" : "") || (el.textContent || "").trim() || (el.getAttribute("title") || "").trim() || (el.querySelector("img[alt]:not([alt=''])") ? "img" : "");
for (const el of document.querySelectorAll("input, select, textarea")) {
  if (el.type === "hidden") continue;
  const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el.closest("label") || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
  if (!labelled) problems.push(`unlabelled control ${describe(el)} name=${el.name}`);
}
for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) problems.push(`image without alt ${img.src}`);
for (const svg of document.querySelectorAll("svg.chart")) if (!svg.getAttribute("aria-label")) problems.push("chart without a name");
for (const el of document.querySelectorAll("button, a[href]")) if (visible(el) && !name(el)) problems.push(`unnamed ${describe(el)}`);
function rgba(text) {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return [0, 0, 0, 0];
  const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function luminance([r, g, b]) {
  const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function background(el) {
  // Composite the backgrounds from the root down to the element.
  const chain = [];
  for (let e = el; e; e = e.parentElement) chain.unshift(e);
  let color = [255, 255, 255];
  for (const e of chain) {
    const [r, g, b, a] = rgba(getComputedStyle(e).backgroundColor);
    if (a > 0) color = [r * a + color[0] * (1 - a), g * a + color[1] * (1 - a), b * a + color[2] * (1 - a)];
  }
  return color;
}
for (const el of document.querySelectorAll("body *")) {
  if (["SCRIPT", "STYLE", "svg", "OPTION"].includes(el.tagName) || el.closest("svg") || !visible(el)) continue;
  const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!ownText) continue;
  const st = getComputedStyle(el);
  const fg = rgba(st.color);
  const bg = background(el);
  const mixed = [fg[0] * fg[3] + bg[0] * (1 - fg[3]), fg[1] * fg[3] + bg[1] * (1 - fg[3]), fg[2] * fg[3] + bg[2] * (1 - fg[3])];
  const [l1, l2] = [luminance(mixed), luminance(bg)].sort((a, b) => b - a);
  const ratio = (l1 + 0.05) / (l2 + 0.05);
  const size = parseFloat(st.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${el.textContent.trim().slice(0, 30)}" (${describe(el)})`);
}
// Nothing wider than the window (phone width).
if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push(`page is ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);
return problems;
