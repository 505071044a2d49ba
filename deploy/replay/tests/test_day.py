"""The data-derived parts of the replay, on the real files (no services needed)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from counterflow_replay import berka, callcentre
from counterflow_replay.driver import device_notes, percentile
from counterflow_replay import patience
from counterflow_replay.metrics import headline
from counterflow_replay.staffing import UTILISATION_TARGET, erlang_c, parse_staffing, staff_branch
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



def test_staffing_is_sized_on_the_mean_load_at_the_target_and_the_peak_congests():
    # 360 visits of 211 s over a 9-hour day: 2.34 Erlangs -> ceil(2.34 / 0.75) = 4 tellers
    s = staff_branch("D1", 360, 360 * 211.0, 9 * 3600, 0.0359, 900)
    assert s.tellers == 4 and s.mean_utilisation <= UTILISATION_TARGET
    assert s.mean_wait_s is not None and s.mean_wait_s > 0
    assert staff_branch("D1", 360, 360 * 211.0, 9 * 3600, 0.0359, 900, factor=1.5).tellers == 5  # ceil(1.5 * 2.34 / 0.75)
    assert staff_branch("D1", 360, 360 * 211.0, 9 * 3600, 0.0359, 900, tellers=2).peak_mean_wait_s is None  # 2 tellers < the peak load
    assert parse_staffing("1.2,D1=5") == (1.2, {"D1": 5}) and parse_staffing(None) == (1.0, {})
    with pytest.raises(ValueError, match="D1=0"):
        parse_staffing("D1=0")
    with pytest.raises(ValueError, match="many"):
        parse_staffing("many")


def test_walk_in_patience_goes_through_the_survey_points():
    f = patience.fit()
    for minutes, share in patience.SURVEY_POINTS:
        assert abs(f.cdf(minutes * 60) - share) < 0.04
    assert 8 * 60 < f.mean_s < 12 * 60 and f.shape > 1


def test_protections_and_non_divertible_business_come_from_the_book(book):
    assert berka.birth_date("706213") == date(1970, 12, 13)  # a woman: month + 50
    assert berka.age_on(date(1928, 12, 2), date(1993, 12, 1)) == 64
    elderly = berka.elderly_customers(book, date(1993, 12, 1))
    assert 0 < len(elderly) < len(book.clients) / 4
    nd = berka.non_divertible_visits(book, first=date(1993, 12, 1), last=date(1993, 12, 31))
    assert set(nd["service_type"]) == {"account_opening", "loan_consultation"} and len(nd) == 91 + 8
    assert (nd["trans_id"] < 0).all() and nd["trans_id"].is_unique
    assert berka.district_names(book)["D1"] == "Hl.m. Praha"
    assert berka.last_complete_month(book) == (date(1993, 12, 1), date(1993, 12, 31))


def test_a_day_of_another_month_with_protected_and_non_divertible_visits(book, fit):
    day = build_day(book, fit, window=(date(1993, 11, 1), date(1993, 11, 30)), branches=3, seed=7)
    assert day.data["window"] == ["1993-11-01", "1993-11-30"] and day.data["days"] == 30
    assert any(not v.divertible for v in day.visits) and any("elderly" in v.needs for v in day.visits)
    assert day.names["D1"] == "Hl.m. Praha"
    with pytest.raises(ValueError, match="not inside"):
        build_day(book, fit, window=(date(1994, 3, 1), date(1994, 3, 31)), branches=3)
    more = build_day(book, fit, branches=3, seed=7, load=1.5)
    base = build_day(book, fit, branches=3, seed=7)
    assert abs(len(more.visits) - 1.5 * len(base.visits)) <= 3
    assert {b: s.tellers for b, s in more.staffing.items()} == {b: s.tellers for b, s in base.staffing.items()}
    assert len({v.visit_id for v in more.visits}) == len(more.visits)


def test_headline_ratios():
    sc = {
        "no_diversion": {"counter_wait_mean_s": 600.0, "abandoned": 40, "offered": 0, "teller_hours": 30.0},
        "rules": {"counter_wait_mean_s": 300.0, "abandoned": 10, "offered": 50, "teller_hours": 25.0},
        "offer_all": {"counter_wait_mean_s": 240.0, "abandoned": 8, "offered": 200, "teller_hours": 23.0},
    }
    h = headline(sc, {})
    assert h["wait_cut_share"] == 0.5 and h["cut_share_vs_offer_all"] == round(0.5 / 0.6, 4)
    assert h["offers_share_vs_offer_all"] == 0.25 and (h["walkouts_no_diversion"], h["walkouts_rules"]) == (40, 10)
    assert h["teller_hours_freed"] == 5.0


def test_the_day_is_reproducible_and_sized(book, fit):
    a = build_day(book, fit, branches=3, seed=7)
    b = build_day(book, fit, branches=3, seed=7)
    assert [v.visit_id for v in a.visits] == [v.visit_id for v in b.visits]
    assert [v.arrival_s for v in a.visits] == [v.arrival_s for v in b.visits]
    assert a.branches[0] == "D1" and a.data["days"] == 31
    assert [v.patience_s for v in a.visits] == [v.patience_s for v in b.visits]
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
