"""Progress without a terminal: plain lines at each phase and each further tenth."""

from __future__ import annotations

from counterflow_replay.cli import LineProgress


def test_lines_at_phase_start_and_each_tenth() -> None:
    lines: list[str] = []
    now = iter(float(t) for t in range(100))
    p = LineProgress(lines.append, clock=lambda: next(now))
    p.phase("scenario rules", 20)
    for _ in range(20):
        p.step()
    p.phase("writing reports", 3)
    p.done_of(3, 3)
    texts = [line.split("] ", 1)[1] for line in lines]
    assert texts[0] == "scenario rules: 0/20"
    assert texts[1:11] == [f"scenario rules: {2 * k}/20" for k in range(1, 11)]
    assert texts[11:] == ["writing reports: 0/3", "writing reports: 3/3"]


def test_a_jump_past_several_tenths_prints_one_line() -> None:
    lines: list[str] = []
    p = LineProgress(lines.append)
    p.phase("import", 1000)
    p.done_of(950, 1000)
    p.done_of(960, 1000)
    assert [line.split("] ", 1)[1] for line in lines] == ["import: 0/1000", "import: 950/1000"]
