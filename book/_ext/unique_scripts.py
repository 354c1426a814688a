"""Sphinx extension: each page loads every script once.

sphinx-thebe 0.3.1 and sphinx-togglebutton add inline scripts (`const THEBE_JS_URL = ...`) that end up
twice in the head of every notebook page of a Jupyter Book 1 build, so the browser reported
"Identifier 'THEBE_JS_URL' has already been declared" (found by the reader's check,
`python -m descrambler check-html`). After the HTML is written, this keeps the first of identical
`<script>` lines in each page's head and drops the repeats.
"""

from pathlib import Path


def unique_head_scripts(text: str) -> str:
    """`text` (an HTML page) without repeated identical one-line `<script>` elements in its head."""
    head_end = text.find("</head>")
    if head_end < 0:
        return text
    seen, kept = set(), []
    for line in text[:head_end].splitlines(keepends=True):
        key = line.strip()
        if key.startswith("<script") and key.endswith("</script>"):
            if key in seen:
                continue
            seen.add(key)
        kept.append(line)
    return "".join(kept) + text[head_end:]


def _build_finished(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = unique_head_scripts(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
