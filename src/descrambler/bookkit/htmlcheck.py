"""A reader's check of the built book: every page as a browser shows it.

`check_book(html)` crawls the HTML folder that Jupyter Book wrote and reports, per page, every broken
internal link (a missing file, or a `#fragment` with no element of that id), every missing or empty
image (a zero-byte file, or a figure whose pixels are all one colour), and, when Chromium is
installed, every JavaScript console error while the page loads in headless Chromium, which also
saves a screenshot of each page. Resources on other hosts (MathJax's CDN, for instance) are not
checked: the book is meant to be read online, where they load, and the check must pass offline.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np

#: Pages that Sphinx generates for its own machinery; they are crawled for links but not screenshotted.
GENERATED = ("search.html", "genindex.html")
#: Chromium executables looked for, in order.
CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] \"(?P<message>.*)\", source: (?P<source>\S*)")
#: Console messages that are errors: uncaught exceptions and failed loads (Chromium logs every console
#: message at one level, so a script's own console.error cannot be told from console.log).
_ERROR = re.compile(r"^(Uncaught|Failed to load resource|\w*Error\b)")


@dataclasses.dataclass
class PageReport:
    """What the check found on one page: `problems` (each a sentence) and the screenshot, if taken."""

    page: str
    problems: list[str]
    screenshot: Path | None = None


class _Page(HTMLParser):
    """Collects the ids, links, images and figures of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.figures = 0
        self.figures_with_image = 0
        self._in_figure = 0
        self._figure_has_image = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attributes[key])
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        elif tag in ("link", "script") and attributes.get("href" if tag == "link" else "src"):
            self.links.append(attributes["href" if tag == "link" else "src"])
        elif tag == "img" and attributes.get("src") is not None:
            self.images.append(attributes["src"])
            self._figure_has_image = self._figure_has_image or self._in_figure > 0
        if tag == "figure" or (tag == "div" and "figure" in (attributes.get("class") or "").split()):
            self._in_figure += 1
            if self._in_figure == 1:
                self.figures += 1
                self._figure_has_image = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self._in_figure:
            self._in_figure -= 1
            if self._in_figure == 0 and self._figure_has_image:
                self.figures_with_image += 1


def parse(path: Path) -> _Page:
    """The ids, links, images and figures of the HTML page `path`."""
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith(("mailto:", "javascript:", "data:"))


def link_problems(page: Path, parsed: _Page, html: Path, ids_of) -> list[str]:
    """Broken internal links of `page`: missing targets, or fragments with no such id in the target."""
    problems = []
    for url in dict.fromkeys(parsed.links):
        if not _local(url):
            continue
        parts = urlsplit(url)
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if parts.path and target.is_dir():
            target = target / "index.html"
        if not target.exists():
            shown = target.relative_to(html.resolve()) if target.is_relative_to(html.resolve()) else target
            problems.append(f"broken link {url!r}: {shown} does not exist")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids_of(target):
            problems.append(f"broken link {url!r}: no element with id {parts.fragment!r} in {target.name}")
    return problems


def blank_image(path: Path) -> bool:
    """True when the raster image `path` has every pixel of one colour (an empty figure)."""
    from matplotlib.image import imread

    try:
        pixels = np.asarray(imread(path))
    except (OSError, ValueError, SyntaxError):
        return False  # not a format matplotlib reads (svg, gif): not judged
    return pixels.size > 0 and bool(np.all(pixels == pixels.reshape(-1, *pixels.shape[2:])[0]))


def image_problems(page: Path, parsed: _Page) -> list[str]:
    """Missing, zero-byte or one-colour images of `page`, and figures that hold no image."""
    problems = []
    for src in dict.fromkeys(parsed.images):
        if src.startswith("data:"):
            continue
        if not _local(src):
            continue
        target = (page.parent / unquote(urlsplit(src).path)).resolve()
        if not target.is_file():
            problems.append(f"missing image {src!r}")
        elif target.stat().st_size == 0:
            problems.append(f"empty image file {src!r}")
        elif target.suffix.lower() in (".png", ".jpg", ".jpeg") and blank_image(target):
            problems.append(f"empty figure {src!r}: every pixel has the same colour")
    if parsed.figures > parsed.figures_with_image:
        problems.append(f"{parsed.figures - parsed.figures_with_image} figure(s) without an image")
    return problems


def find_chromium() -> str | None:
    """The path of a Chromium executable on PATH, or None."""
    return next((found for name in CHROMIUM if (found := shutil.which(name))), None)


def chromium_console_errors(page: Path, screenshot: Path, chromium: str, timeout: float = 60.0) -> list[str]:
    """Load `page` in headless Chromium, save a screenshot, return the console errors of local scripts
    (uncaught exceptions, failed loads). Messages from other hosts (unreachable offline) are left out,
    as is Chromium's own log noise."""
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--window-size=1280,1600", "--enable-logging=stderr", "--log-level=0",
               "--virtual-time-budget=5000", f"--screenshot={screenshot}", page.resolve().as_uri()]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [f"Chromium did not finish loading the page within {timeout:.0f} s"]
    errors = []
    for line in result.stderr.splitlines():
        match = _CONSOLE.search(line)
        if not match:
            continue
        error = _ERROR.match(match["message"]) is not None
        local = not match["source"] or match["source"].startswith("file:")
        if error and local:
            errors.append(f"JavaScript console error: {match['message']} ({match['source']})")
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        errors.append(f"Chromium wrote no screenshot (exit status {result.returncode}): {result.stderr[-300:]}")
    return errors


def check_book(html: str | Path, screenshots: str | Path | None = None, chromium: str | None = "auto",
               progress=None) -> list[PageReport]:
    """Check every page of the built book in `html` (see the module docstring); screenshots go to
    `screenshots` (default: `html/../screenshots`). `chromium`: "auto" (find it on PATH), a path, or
    None to skip the browser (links and images are still checked)."""
    html = Path(html)
    if not (html / "index.html").is_file():
        raise ValueError(f"html: {html} holds no index.html; build the book first (make book)")
    screenshots = Path(screenshots) if screenshots is not None else html.parent / "screenshots"
    browser = find_chromium() if chromium == "auto" else chromium
    cache: dict[Path, set[str]] = {}

    def ids_of(target: Path) -> set[str]:
        if target not in cache:
            cache[target] = parse(target).ids
        return cache[target]

    reports = []
    for page in sorted(html.rglob("*.html")):
        relative = page.relative_to(html)
        if relative.parts[0].startswith("_"):  # _static, _sources: Sphinx's files, not pages
            continue
        parsed = parse(page)
        cache[page.resolve()] = parsed.ids
        problems = link_problems(page, parsed, html, ids_of) + image_problems(page, parsed)
        shot = None
        if browser and relative.name not in GENERATED:
            shot = screenshots / (relative.with_suffix("").as_posix().replace("/", "__") + ".png")
            problems += chromium_console_errors(page, shot, browser)
        reports.append(PageReport(str(relative), problems, shot))
        if progress:
            progress(reports[-1])
    return reports
