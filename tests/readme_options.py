"""README's option tables, generated from `podium.options`: between `<!-- options: COMMAND... -->`
and `<!-- /options -->`. `python -m tests.readme_options` rewrites them in place; the tests
compare (tests/unit/test_options.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Final

from podium.options import markdown_table

README: Final = Path(__file__).resolve().parents[1] / "README.md"
_TABLE: Final = re.compile(r"(<!-- options: ([a-z ]+) -->\n)(.*?)(<!-- /options -->)", re.S)


def with_generated_tables(text: str) -> str:
    return _TABLE.sub(lambda m: m[1] + markdown_table(tuple(m[2].split())) + "\n" + m[4], text)


def main() -> None:
    README.write_text(with_generated_tables(README.read_text()))
    print(f"rewrote the option tables of {README}", file=sys.stderr)


if __name__ == "__main__":
    main()
