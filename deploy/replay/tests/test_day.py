"""The data-derived parts of the replay, on the real files (no services needed)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from counterflow_replay import berka, callcentre
from counterflow_replay.driver import device_notes, percentile
from counterflow_replay.staffing import erlang_c, staff_branch
from counterflow_replay.environment import service_env
from counterflow_replay.replay import opening_instant, replay_date
from counterflow_replay.setup import TIME_ZONE
from counterflow_replay.traffic import build_day

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture(scope="module")
def book() -> berka.Book:
    return berka.load_book(DATA / "berka")


@pytest.fixture(scope="module")
def fit() -> callcentre.CallCentreFit:
    return callcentre.fit(DATA / "anonymous_bank")


def test_codes_that_needed_a_counter():
    assert berka.classify("VKLAD", "") == "cash_deposit"
    assert berka.classify("VYBER", "") == "cash_withdrawal"
    assert berka.classify("VYBER", "SIPO") == "bill_payment"
    assert berka.classify("VYBER", "SLUZBY") is None  # statement fee booked by the bank
    assert berka.classify("PREVOD NA UCET", "") is None
    assert berka.classify("", "UROK") is None


def test_remittances_of_1993_are_all_standing_orders(book):
    assert berka.standing_order_share(book) == 1.0


def test_counter_visits_carry_platform_ids_and_decimal_amounts(book):
    v = berka.counter_visits(book, first=date(1993, 12, 1), last=date(1993, 12, 31))
    assert len(v) == 2779
    assert v["branch_id"].str.match(r"^D\d+$").all() and v["customer_id"].str.match(r"^C\d+$").all()
    assert all(Decimal(a) > 0 for a in v["amount"])
    assert set(v["service_type"]) == {"cash_withdrawal", "cash_deposit", "bill_payment"}


def test_call_centre_fit(fit):
    ps = fit.service["PS"]
    assert 150 < ps.mean_s < 260 and ps.ks < 0.1
    assert abs(fit.slot_probability.sum() - 1) < 1e-9 and len(fit.slot_probability) == 36
    assert abs(fit.agent_speed.mean() - 1) < 1e-9 and fit.agent_speed.min() < 0.9 < 1.1 < fit.agent_speed.max()
    assert 60 < fit.patience_mean_s < 1800 and fit.calls_dropped == 23


def test_erlang_c_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.0) == 1.0
    s = staff_branch("D1", 348, 0.0361, 900, 211.0)
    assert s.tellers == int(s.peak_load) + 1 and s.peak_utilisation < 1


def test_the_day_is_reproducible_and_sized(book, fit):
    a = build_day(book, fit, branches=3, seed=7)
    b = build_day(book, fit, branches=3, seed=7)
    assert [v.visit_id for v in a.visits] == [v.visit_id for v in b.visits]
    assert [v.arrival_s for v in a.visits] == [v.arrival_s for v in b.visits]
    assert a.branches[0] == "D1" and a.data["days"] == 31
    assert all(0 <= v.arrival_s < a.day_s for v in a.visits)
    short = build_day(book, fit, branches=["D72", "D68"], hours=1.0, seed=7)
    assert short.branches == ["D72", "D68"] and all(v.arrival_s < 3600 for v in short.visits)


def test_services_run_on_the_deployments_simulated_clock_and_nothing_is_scaled():
    env = service_env("t1.")
    assert env["CF_CLOCK"] == "redis" and env["CF_CLOCK_KEY"] == "t1.counterflow:clock"
    assert service_env("")["CF_CLOCK_KEY"] == "counterflow:clock"
    # no service duration is divided any more: only wall-time polling and the replay's
    # device model are set
    assert not any(k in env for k in ("CF_TICKETING_SLA_TARGET_S", "CF_TICKETING_OFFER_TTL_S", "CF_SELFSERVICE_MEAN_TRANSACTION_S", "CF_MOBILE_DRAFT_TTL_S"))


def test_the_day_is_replayed_on_a_real_weekday_of_the_window_in_prague_time():
    d = replay_date((date(1993, 12, 1), date(1993, 12, 31)))
    assert d == date(1993, 12, 1) and d.weekday() == 2
    assert replay_date((date(1993, 5, 1), date(1993, 5, 31))) == date(1993, 5, 3)  # Saturday 1st -> Monday 3rd
    opening = opening_instant(d, time(8, 0), TIME_ZONE)
    assert opening.isoformat() == "1993-12-01T08:00:00+01:00"


def test_device_notes_and_percentile():
    assert device_notes(Decimal("13436.50")) == (Decimal("13400"), [("u5000", 2), ("u2000", 1), ("u1000", 1), ("u200", 2)])
    assert device_notes(Decimal("99"))[0] == 0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5 and percentile([], 0.9) is None
