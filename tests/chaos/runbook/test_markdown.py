"""Reading a runbook: which blocks run, in what language, and what each expects."""

from __future__ import annotations

import pytest

from chaos.runbook.markdown import RunbookError, parse
from chaos.runbook.snippet import dedent

RUNBOOK = """# Recover

```bash
df -h .
```

```json
{"not": "run"}
```

## Step two
```python exit=1 timeout=5
# expect: output contains healthy
# expect: output matches ^ok\\s
   await orchestrator_health_check()
```

```sh skip
rm -rf /
```
"""


def test_blocks_in_order_with_their_expectations() -> None:
    blocks = parse(RUNBOOK, "r.md")
    assert [(b.number, b.line, b.language, b.runs) for b in blocks] == [(1, 3, "bash", True), (2, 7, "json", False), (3, 12, "python", True), (4, 18, "bash", False)]
    python = blocks[2]
    assert (python.expect_exit, python.timeout_s, python.contains, python.matches) == (1, 5.0, ["healthy"], ["^ok\\s"])
    assert python.heading == "Step two" and python.title() == "await orchestrator_health_check()"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("```bash\nls\n", "never closed"),
        ("```bash exit=maybe\nls\n```\n", "exit takes a number"),
        ("```bash retries=3\nls\n```\n", "unknown block option"),
        ("```bash\n# expect: fast\nls\n```\n", "write 'exit N'"),
    ],
)
def test_a_block_that_cannot_be_run_as_written_names_its_line(text: str, says: str) -> None:
    with pytest.raises(RunbookError, match=says) as raised:
        parse(text, "r.md")
    assert "r.md:1" in str(raised.value)


def test_the_guides_indentation_is_removed_but_comments_at_column_zero_do_not_count() -> None:
    code = "# Test specific client reconnection\n\n   session = await f({\n       \"a\": 1\n   })\n"
    assert dedent(code) == "# Test specific client reconnection\n\nsession = await f({\n    \"a\": 1\n})\n"
