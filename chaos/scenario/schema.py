"""The scenario JSON Schema, generated from the model, for editors (`# yaml-language-server: $schema=`).

`python -m chaos.scenario.schema` rewrites scenarios/schema.json; `--check` only says whether the
committed file is up to date (a test runs the same check).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from chaos.scenario import generated
from chaos.scenario.model import Scenario

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "scenarios" / "schema.json"


def json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Chaos scenario",
        "description": "One story: start, inject, act, expect, heal, recover, verify. "
        "Validate with `python -m chaos validate FILE`.",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    return generated.main("python -m chaos.scenario.schema", __doc__, SCHEMA_PATH, render, argv)


if __name__ == "__main__":
    sys.exit(main())
