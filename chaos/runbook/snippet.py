"""`python -m chaos.runbook.snippet FILE`: a runbook's python block, run as the guide writes it.

The guide's snippets call the tools as coroutines (`await orchestrator_health_check()`), pass
JSON-ish dicts (`{"graceful": false}`), are indented inside list items, and show values by
printing them. Here every tool of the orchestrator is such a coroutine, bound to the orchestrator
at $ORCH_URL; `true`, `false` and `null` are defined; the common indentation is removed; top-level
`await` works; and a bare expression's value is printed, as in a REPL. A tool answering with a
failure ends the block with exit status 1 (a block that expects it says `# expect: exit 1`).
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from mcp import Client

from chaos.errors import HarnessError
from chaos.target.client import structured

TOOLS_WITHOUT_SERVER = [  # named so that a block run with the server stopped says so, not NameError
    "orchestrator_health_check",
    "orchestrator_restart_server",
    "orchestrator_restart_status",
    "orchestrator_shutdown_prepare",
    "orchestrator_reconnect_test",
]


class ToolFailed(HarnessError):
    """A tool answered with a failure."""


def dedent(code: str) -> str:
    """Remove the indentation the code lines share; comment lines (often at column 0 in the guide) do not count."""
    lines = code.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    cut = min(indents, default=0)
    return "\n".join(line.lstrip() if line.lstrip().startswith("#") else line[cut:] for line in lines) + "\n"


class _ShowBareValues(ast.NodeTransformer):
    def visit_Module(self, module: ast.Module) -> ast.Module:  # noqa: N802 - ast's naming
        module.body = [
            ast.Expr(ast.Call(ast.Name("__show__", ast.Load()), [node.value], [])) if isinstance(node, ast.Expr) else node
            for node in module.body
        ]
        return ast.fix_missing_locations(module)


def _show(value: Any) -> None:
    if value is not None:
        print(json.dumps(value, indent=2, default=str) if isinstance(value, dict | list) else value)


def failure(name: str, response: dict[str, Any]) -> str:
    """The whole answer (cut short), then what it says in one line: its error code, error and solution.
    Last, because a failed block is reported by the end of its output."""
    said = [str(response[key]) for key in ("error_code", "error", "text") if response.get(key)]
    solution = f" (solution: {response['solution']})" if response.get("solution") else ""
    return f"{json.dumps(response, default=str)[:1500]}\n{name} failed: {': '.join(said)}{solution}"


def first(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def tools(client: Client | None, names: list[str]) -> dict[str, Any]:
    def bind(name: str) -> Any:
        async def tool(arguments: dict[str, Any] | None = None, **keywords: Any) -> dict[str, Any]:
            if client is None:
                raise ToolFailed(f"{name}: no orchestrator is running ($ORCH_URL is empty): start it before this block")
            response = structured(await client.call_tool(name, {**(arguments or {}), **keywords}, read_timeout_seconds=330))
            if response.get("success") is False or response.get("is_error"):
                raise ToolFailed(failure(name, response))
            return response

        tool.__name__ = name
        return tool

    return {name: bind(name) for name in names}


async def run(code: str, url: str | None) -> None:
    tree = _ShowBareValues().visit(ast.parse(dedent(code), "<runbook block>"))
    compiled = compile(tree, "<runbook block>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "__runbook__", "__show__": _show, "true": True, "false": False, "null": None}
    if not url:
        namespace.update(tools(None, TOOLS_WITHOUT_SERVER))
        await _evaluate(compiled, namespace)
        return
    async with Client(url, cache=None) as client:
        listed = await client.list_tools()  # the server's own list: cheaper than building the tool models here
        namespace.update(tools(client, [tool.name for tool in listed.tools]))
        await _evaluate(compiled, namespace)


async def _evaluate(compiled: Any, namespace: dict[str, Any]) -> None:
    result = eval(compiled, namespace)  # noqa: S307 - the runbook is trusted input, as a scenario's shell step is
    if asyncio.iscoroutine(result):
        await result


def main(argv: list[str] | None = None) -> int:
    (path,) = argv if argv is not None else sys.argv[1:]
    logging.disable(logging.INFO)  # the HTTP client's line per request would bury the block's own output
    try:
        asyncio.run(run(Path(path).read_text(), os.environ.get("ORCH_URL")))
    except* ToolFailed as failed:  # raised inside the client's task group, so it may come wrapped in a group
        print(first(failed), file=sys.stderr)
        status = 1
    else:
        status = 0
    return status


if __name__ == "__main__":
    sys.exit(main())
