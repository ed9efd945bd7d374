"""Recall, false positives and leaks on the realistic corpus, against detect-secrets on
the same files in the same run (``python -m tests.pipeline_secrets.tools.scan_benchmark``
prints the table that RELIABILITY.md quotes)."""

from __future__ import annotations

import pytest

from tests.pipeline_secrets.tools import scan_benchmark as bench


def test_corpus_recall_false_positives_and_no_leaks(capsys: pytest.CaptureFixture[str]) -> None:
    ours, result = bench.run_ours()
    assert ours.planted >= 40
    assert ours.recall >= 0.95, ours.missed
    assert bench.leaked_pieces(result) == {}
    theirs = bench.run_detect_secrets()
    if theirs is None:
        pytest.skip("detect-secrets is not installed (pip install detect-secrets)")
    with capsys.disabled():
        print("\n" + bench.report(ours, theirs, {}))
    assert theirs.planted == ours.planted
    assert ours.recall >= theirs.recall
    assert ours.false_positives <= theirs.false_positives, ours.false_positive_lines


def test_clean_look_alikes_have_no_findings() -> None:
    result = bench.scan([bench.CORPUS / "clean"])
    assert result.files_scanned >= 10
    assert [f.format() for f in result.findings] == []
