"""Tests of chaos.target."""
