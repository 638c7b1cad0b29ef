// A small accessibility check of our own, run in the page: what it returns are problems (empty = none).
() => {
  const problems = [];
  const text = (el) => (el ? (el.textContent || "").replace(/\s+/g, " ").trim() : "");
  const byIds = (ids) => ids.split(/\s+/).map((id) => text(document.getElementById(id))).join(" ").trim();
  const show = (el) => el.outerHTML.slice(0, 140);
  const accessibleName = (el) => {
    if (el.getAttribute("aria-labelledby")) return byIds(el.getAttribute("aria-labelledby"));
    if ((el.getAttribute("aria-label") || "").trim()) return el.getAttribute("aria-label").trim();
    const own = text(el);
    if (own) return own;
    const img = el.querySelector("img[alt]");
    if (img && img.getAttribute("alt").trim()) return img.getAttribute("alt").trim();
    return (el.getAttribute("title") || "").trim();
  };
  if (!document.documentElement.getAttribute("lang")) problems.push("<html> has no lang");
  if (!document.querySelector("main")) problems.push("no <main> landmark");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const label = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el.closest("label");
    const named = (label && text(label)) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push("field without a label: " + show(el));
    const described = el.getAttribute("aria-describedby");
    if (described && described.split(/\s+/).some((id) => !document.getElementById(id)))
      problems.push("aria-describedby points nowhere: " + show(el));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("image without alt: " + show(img));
  }
  for (const el of document.querySelectorAll("button, a[href], [role=button]")) {
    if (!accessibleName(el)) problems.push("control without an accessible name: " + show(el));
  }
  const ids = {};
  for (const el of document.querySelectorAll("[id]")) {
    if (ids[el.id]) problems.push("duplicate id: " + el.id);
    ids[el.id] = true;
  }
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")];
  if (headings.filter((h) => h.tagName === "H1").length !== 1) problems.push("there must be exactly one <h1>");
  let level = 0;
  for (const h of headings) {
    const next = Number(h.tagName[1]);
    if (next > level + 1) problems.push(`heading level skipped: h${level} then ${show(h)}`);
    level = next;
  }
  return problems;
}
