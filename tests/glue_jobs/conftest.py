"""The example stack for the Glue-job tests (its own moto server and seed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dags.stack_helpers import ExampleStack, example_stack


@pytest.fixture(scope="session")
def glue_stack(pg_cluster: Any) -> Iterator[ExampleStack]:
    with example_stack(pg_cluster, orders_per_day=300) as example:
        yield example
