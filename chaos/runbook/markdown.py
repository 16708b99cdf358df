"""A runbook's fenced code blocks, in order, with what each one expects.

A block runs if its info string starts with `bash`, `sh`, `shell`, `console` or `python`; other
blocks (json, yaml, text, none) are documentation and are listed as not run. A block says what it
expects after the language in its info string, or in `# expect:` comment lines in its code:

    ```bash exit=1 timeout=30          `exit=N` (default 0), `exit=any`, `timeout=SECONDS` (default 60),
    ```python skip                     `skip`: shown in the report, never run
    # expect: exit 1                   the same as exit=1
    # expect: output contains healthy  stdout or stderr contains the text
    # expect: output matches ^ok\\s    stdout or stderr matches the regular expression (Python re, multiline)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chaos.errors import HarnessError

RUNNABLE = {"bash": "bash", "sh": "bash", "shell": "bash", "console": "bash", "python": "python", "py": "python"}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
EXPECT = re.compile(r"^\s*#\s*expect:\s*(?P<what>.+?)\s*$")
DEFAULT_TIMEOUT_S = 60.0


class RunbookError(HarnessError, ValueError):
    """The runbook cannot be run as written; the message names the line."""


@dataclass
class Block:
    number: int  # 1-based among all fenced blocks
    line: int  # of the opening fence
    language: str  # bash | python | the info string's first word for a block that does not run
    code: str
    heading: str
    expect_exit: int | None = 0
    contains: list[str] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)
    timeout_s: float = DEFAULT_TIMEOUT_S
    skip: bool = False

    @property
    def runs(self) -> bool:
        return self.language in ("bash", "python") and not self.skip

    def title(self) -> str:
        first = next((line.strip() for line in self.code.splitlines() if line.strip() and not line.strip().startswith("#")), "")
        return first[:80]


def parse(text: str, name: str = "runbook") -> list[Block]:
    blocks: list[Block] = []
    heading = ""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            if lines[index].startswith("#"):
                heading = lines[index].lstrip("#").strip()
            index += 1
            continue
        start, fence, words = index, opening["fence"], opening["info"].split()
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            index += 1
        if index == len(lines):
            raise RunbookError(f"{name}:{start + 1}: this code block is never closed (no {fence} line after it)")
        body = lines[start + 1 : index]
        language = words[0].lower() if words else ""
        block = Block(len(blocks) + 1, start + 1, RUNNABLE.get(language, language or "text"), "\n".join(body) + "\n", heading)
        for word in words[1:]:
            _option(block, word, f"{name}:{block.line}")
        for code_line in body:
            expectation = EXPECT.match(code_line)
            if expectation:
                _expectation(block, expectation["what"], f"{name}:{block.line}")
        blocks.append(block)
        index += 1
    return blocks


def _option(block: Block, word: str, where: str) -> None:
    key, _, value = word.partition("=")
    try:
        if key == "skip" and not value:
            block.skip = True
        elif key == "exit":
            block.expect_exit = None if value == "any" else int(value)
        elif key == "timeout":
            block.timeout_s = float(value)
            if not 0 < block.timeout_s <= 3600:
                raise ValueError
        else:
            raise LookupError(word)
    except LookupError:
        raise RunbookError(f"{where}: unknown block option {word!r}; write exit=N, exit=any, timeout=SECONDS or skip") from None
    except ValueError:
        raise RunbookError(f"{where}: {word!r}: exit takes a number or any, timeout seconds (0..3600)") from None


def _expectation(block: Block, what: str, where: str) -> None:
    words = what.split(maxsplit=2)
    if words[:1] == ["exit"] and len(words) == 2:
        _option(block, f"exit={words[1]}", where)
    elif words[:2] == ["output", "contains"] and len(words) == 3:
        block.contains.append(words[2])
    elif words[:2] == ["output", "matches"] and len(words) == 3:
        try:
            re.compile(words[2])
        except re.error as exc:
            raise RunbookError(f"{where}: # expect: output matches {words[2]!r} does not compile: {exc}") from None
        block.matches.append(words[2])
    else:
        raise RunbookError(f"{where}: '# expect: {what}': write 'exit N', 'exit any', 'output contains TEXT' or 'output matches REGEX'")
