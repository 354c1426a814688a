"""Tests of descrambler.bookkit.htmlcheck: the reader's check finds what a reader would, on pages with known faults."""

import numpy as np
import pytest
from matplotlib.image import imsave

from descrambler.bookkit.htmlcheck import blank_image, check_book, find_chromium

GOOD = """<html><body><h1 id="top">Title</h1><a href="#top">up</a> <a href="other.html#part">other</a>
<a href="https://example.org/x">external</a> <a href="sub/">folder</a>
<figure><img src="_images/plot.png"></figure></body></html>"""


def _book(tmp_path, index=GOOD):
    html = tmp_path / "html"
    (html / "_images").mkdir(parents=True)
    (html / "sub").mkdir()
    (html / "index.html").write_text(index)
    (html / "other.html").write_text('<html><body><p id="part">text</p></body></html>')
    (html / "sub" / "index.html").write_text("<html><body>sub</body></html>")
    imsave(html / "_images" / "plot.png", np.random.default_rng(0).random((20, 30)))
    imsave(html / "_images" / "blank.png", np.ones((20, 30)))
    (html / "_images" / "empty.png").write_bytes(b"")
    return html


def test_a_sound_book_has_no_problems(tmp_path):
    reports = check_book(_book(tmp_path), chromium=None)
    assert sorted(r.page for r in reports) == ["index.html", "other.html", "sub/index.html"]
    assert all(r.problems == [] for r in reports)


@pytest.mark.parametrize("snippet, problem", [
    ('<a href="missing.html">x</a>', "broken link 'missing.html': missing.html does not exist"),
    ('<a href="other.html#nowhere">x</a>', "broken link 'other.html#nowhere': no element with id 'nowhere'"),
    ('<a href="#nowhere">x</a>', "broken link '#nowhere': no element with id 'nowhere' in index.html"),
    ('<img src="_images/gone.png">', "missing image '_images/gone.png'"),
    ('<img src="_images/empty.png">', "empty image file '_images/empty.png'"),
    ('<figure><img src="_images/blank.png"></figure>', "empty figure '_images/blank.png'"),
    ('<figure><p>no image</p></figure>', "1 figure(s) without an image"),
    ('<script src="_static/absent.js"></script>', "broken link '_static/absent.js'"),
])
def test_each_fault_is_found(tmp_path, snippet, problem):
    html = _book(tmp_path, GOOD.replace("</body>", snippet + "</body>"))
    reports = {r.page: r.problems for r in check_book(html, chromium=None)}
    assert any(p.startswith(problem) for p in reports["index.html"]), reports["index.html"]


def test_blank_image_known_answers(tmp_path):
    html = _book(tmp_path)
    assert blank_image(html / "_images" / "blank.png") and not blank_image(html / "_images" / "plot.png")


def test_the_book_extension_drops_repeated_head_scripts():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "book" / "_ext" / "unique_scripts.py"
    spec = importlib.util.spec_from_file_location("unique_scripts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = ("<html><head>\n<script>const A = 1;</script>\n<script src='x.js'></script>\n<script>const A = 1;</script>\n"
            "</head><body>\n<script>const A = 1;</script>\n</body></html>")
    fixed = module.unique_head_scripts(page)
    assert fixed.count("const A = 1;") == 2 and fixed.count("x.js") == 1  # once in the head, the body untouched
    assert module.unique_head_scripts("<p>no head</p>") == "<p>no head</p>"


def test_no_book_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="^html: .* holds no index.html; build the book first"):
        check_book(tmp_path)


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (Debian: apt install chromium)")
def test_chromium_finds_a_script_error_and_takes_screenshots(tmp_path):
    html = _book(tmp_path, GOOD.replace("</body>", "<script>throw new Error('boom in the page')</script></body>"))
    reports = {r.page: r for r in check_book(html, screenshots=tmp_path / "shots")}
    assert any("JavaScript console error" in p and "boom in the page" in p for p in reports["index.html"].problems)
    assert reports["other.html"].problems == []
    shot = reports["other.html"].screenshot
    assert shot == tmp_path / "shots" / "other.png" and shot.read_bytes()[:4] == b"\x89PNG"
