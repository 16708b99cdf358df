"""The published JSON Schema: generated from the model, up to date, and agreeing with the validator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from chaos.scenario import STEP_MODELS
from chaos.scenario.schema import SCHEMA_PATH, json_schema, main, render

HERE = Path(__file__).parent


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text() == render(), "run: python -m chaos.scenario.schema"
    assert main(["--check"]) == 0


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n")
    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--output", str(stale)]) == 0 and stale.read_text() == render()


def test_every_step_kind_is_published() -> None:
    definitions = json_schema()["$defs"]
    for kind, model in STEP_MODELS.items():
        assert kind in definitions[model.__name__]["properties"]
        assert kind in definitions[model.__name__]["required"]


def test_editors_accept_the_examples_and_reject_the_bad_file() -> None:
    check = validator()
    for path in sorted((HERE.parents[2] / "scenarios").rglob("*.yaml")):
        errors = list(check.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (path, [e.message for e in errors])
    bad = yaml.safe_load((HERE / "data" / "bad-scenario.yaml").read_text())
    assert len(list(check.iter_errors(bad))) >= 5


def test_examples_point_editors_at_the_schema() -> None:
    for path in (HERE.parents[2] / "scenarios").rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        target = first.removeprefix("# yaml-language-server: $schema=")
        assert first != target and (path.parent / target).resolve() == SCHEMA_PATH, path
