"""Made-up but plausible task content (faker), seeded so a scenario plans the same tasks every run.

Each planned task's title carries a unique marker, so the end-of-run check can count how many
times one request was applied.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any

from faker import Faker

from orchestrator.roles import ROLES


def seed_for(name: str, seed: int | None) -> int:
    return seed if seed is not None else zlib.crc32(name.encode())


class Content:
    def __init__(self, seed: int):
        self.seed = seed
        self.counter = 0

    @functools.cached_property
    def faker(self) -> Faker:
        """Made on first use: building one costs more than a whole simulated restart's I/O, and many
        runs plan no task."""
        faker = Faker()
        faker.seed_instance(self.seed)
        return faker

    def plan(self, subtasks: int, job: dict[str, Any] | None = None, marker: str = "task") -> dict[str, Any]:
        """Arguments for orchestrator_plan_task; `job` is attached to the first subtask."""
        self.counter += 1
        roles = sorted(ROLES)
        items = []
        for index in range(subtasks):
            item: dict[str, Any] = {
                "title": self.faker.sentence(nb_words=5).rstrip("."),
                "description": self.faker.paragraph(nb_sentences=2),
                "specialist_role": self.faker.random_element(roles),
            }
            if job is not None and index == 0:
                item["job"] = job
            items.append(item)
        return {
            "title": f"[{marker}-{self.counter}] {self.faker.catch_phrase()}",
            "description": self.faker.paragraph(nb_sentences=3),
            "subtasks": items,
        }
