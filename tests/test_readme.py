"""The README's code runs: the "Descramble your own network" example, executed as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README section whose heading is `section`."""
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_descramble_your_own_network_runs(capsys):
    blocks = python_blocks("Descramble your own network")
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    assert namespace["first"].descrambled.shape == (32, 64) and namespace["second"].descrambled.shape == (16, 32)
    assert abs(namespace["first"].result.ratio - 1) < 1e-9
    assert namespace["report"].max_rel > 1e-3
    assert "(32, 64) (16, 32)" in capsys.readouterr().out
