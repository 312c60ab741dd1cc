"""The shipped task sets: reproducible from their generator, big enough, with every field."""

from __future__ import annotations

from importlib import resources

import pytest

from wattlm.tasks import _make_sets
from wattlm.tasks.inputs import shipped_items
from wattlm.tasks.registry import all_tasks


def test_shipped_files_are_exactly_what_the_generator_writes() -> None:
    data = resources.files("wattlm.tasks").joinpath("data")
    for name, text in _make_sets.build_all().items():
        assert data.joinpath(name).read_text(encoding="utf-8") == text, name


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.name)
def test_each_set_has_a_few_hundred_complete_items(task) -> None:  # type: ignore[no-untyped-def]
    items = shipped_items(task)
    assert len(items) >= 130
    assert len({tuple(sorted(i.items())) for i in items}) >= 0.9 * len(items)  # few duplicates
    for item in items:
        assert all(str(item[f]).strip() for f in task.fields)


def test_qa_answers_sit_where_answer_start_says() -> None:
    from wattlm.tasks.registry import get_task

    for item in shipped_items(get_task("qa")):
        start = int(item["answer_start"])
        assert item["context"][start:start + len(item["answer"])] == item["answer"]


def test_sources_md_describes_every_shipped_file() -> None:
    data = resources.files("wattlm.tasks").joinpath("data")
    sources = data.joinpath("SOURCES.md").read_text(encoding="utf-8")
    for name in [*_make_sets.build_all(), "rating_reference.csv"]:
        assert f"`{name}`" in sources
