"""pytest integration: the scenario plugin (plugin, loaded with `-p chaos.pytest.plugin`) and the `fault` fixture (fixtures)."""
