"""A scenario document as catalogue YAML: the schema line first, keys in the order written, and
short mappings of plain values on one line (`start: {clients: 3, tasks: 2}`) as the catalogue
writes them, steps themselves in block style."""

from __future__ import annotations

from typing import Any

import yaml

from chaos.scenario.model import STEP_MODELS

SCHEMA_LINE = "# yaml-language-server: $schema=../schema.json\n"
FLOW_MAX_CHARS = 90


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]  # libyaml's emitter when present
    pass


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _mapping(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = (
        bool(data)
        and not any(key in STEP_MODELS for key in data)
        and all(_plain(v) or (isinstance(v, list) and all(map(_plain, v))) for v in data.values())
        and len(repr(data)) <= FLOW_MAX_CHARS
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _sequence(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=all(map(_plain, data)))


_Dumper.add_representer(dict, _mapping)
_Dumper.add_representer(list, _sequence)


def scenario_yaml(document: dict[str, Any]) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return SCHEMA_LINE + body
