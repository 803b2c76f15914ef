"""The README's table list is the registry (`crm-elt tables`): every table, endpoint, key and mode."""
from __future__ import annotations

from pathlib import Path

from pipelines.catalog import catalog_rows

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_lists_every_registry_table():
    for dataset, table, endpoint, key, mode, deletes in catalog_rows()[1:]:
        assert f"| {dataset} | {table} | `{endpoint}` | `{key}` | {mode} | {deletes} |" in README, f"{dataset}.{table}"


def test_readme_has_the_two_commands():
    assert 'pip install -e ".[dev]" && crm-elt demo' in README
    assert "\npytest\n" in README
