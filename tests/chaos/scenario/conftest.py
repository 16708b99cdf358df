"""The scenario engine's tests: data/ holds deliberately broken scenario files, never collected as tests."""

collect_ignore = ["data"]
