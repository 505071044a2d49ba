"""Tiers, scorecard and propensity rules (pure functions, no infrastructure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from counterflow_scoring.domain import calibration, contribution, propensity
from counterflow_scoring.domain.tiers import assign_tiers, place, validate_shares
from counterflow_scoring.settings import DEFAULT_BERKA_DIR, DEFAULT_TIER_SHARES, ScoringSettings


def test_tier_sizes_follow_the_shares_exactly_even_with_ties() -> None:
    scores = pd.Series(np.r_[np.zeros(500), np.arange(500)], index=[f"C{i}" for i in range(1000)])
    tiers = assign_tiers(scores, DEFAULT_TIER_SHARES)["tier"].value_counts().to_dict()
    assert tiers == {"private": 20, "vip": 50, "premium": 150, "mass": 480, "basic": 300}


@pytest.mark.parametrize("n", [1, 7, 50, 333, 1001])
def test_placing_one_customer_gives_the_rescores_tier_and_percentile(n: int) -> None:
    """:func:`place` (a customer first seen in events, ranked by the customers scoring
    above it) agrees with the whole-book cut for every rank, at several book sizes."""
    scores = pd.Series(np.random.default_rng(n).permutation(n).astype(float), index=[f"C{i}" for i in range(n)])
    ranked = assign_tiers(scores, DEFAULT_TIER_SHARES)
    for cid, score in scores.items():
        above = int((scores > score).sum())
        assert place(above, n, DEFAULT_TIER_SHARES) == (ranked.loc[cid, "percentile"], ranked.loc[cid, "tier"])
    with pytest.raises(ValueError):
        place(n, n, DEFAULT_TIER_SHARES)


def test_best_scores_get_the_highest_tier() -> None:
    scores = pd.Series([5.0, 100.0, -3.0, 7.0], index=["a", "b", "c", "d"])
    out = assign_tiers(scores, {"private": 0.25, "vip": 0.25})
    assert out.loc["b", "tier"] == "private" and out.loc["d", "tier"] == "vip"
    assert out.loc["b", "percentile"] == 100.0 and out.loc["c", "percentile"] == 25.0


@pytest.mark.parametrize("shares", [{"gold": 0.1}, {"vip": 0.0}, {"private": 0.5, "vip": 0.5}])
def test_bad_tier_shares_are_refused(shares: dict) -> None:
    with pytest.raises(ValueError):
        validate_shares(shares)
    with pytest.raises(ValueError):
        ScoringSettings(tier_shares=shares)


def test_explanation_points_add_up_to_the_score() -> None:
    features = pd.DataFrame(
        {f.name: np.linspace(0, 1, 10) ** (i + 1) for i, f in enumerate(contribution.FACTORS)},
        index=[f"C{i}" for i in range(10)],
    )
    features.loc["C3", "balance"] = np.nan
    score, points = contribution.score_book(features)
    for cid in features.index:
        items = contribution.explanation(contribution.factor_points(points.loc[cid], features.loc[cid]))
        assert sum(i["points"] for i in items) == pytest.approx(score[cid], abs=1e-2)
    unknown = next(i for i in contribution.explanation(contribution.factor_points(points.loc["C3"], features.loc["C3"])) if i["factor"] == "balance")
    assert unknown["value"] is None and unknown["points"] == 0.0


def test_loan_in_arrears_lowers_the_score() -> None:
    base = {f.name: 1.0 for f in contribution.FACTORS}
    rows = [dict(base, loan_in_arrears=0.0, balance=float(i % 5)) for i in range(20)]
    rows[0]["loan_in_arrears"] = 1.0
    rows[1] = dict(rows[0], loan_in_arrears=0.0)
    score, _ = contribution.score_book(pd.DataFrame(rows))
    assert score[0] < score[1]


def _profile(**overrides: float) -> pd.DataFrame:
    row = {"age_years": 40.0, "has_card": 0.0, "has_loan": 0.0, "self_service_uses": 0.0, "counter_uses": 0.0, "mobile_uses": 0.0, "percentile": 50.0}
    row.update(overrides)
    return pd.DataFrame([row])


def test_cold_start_directions() -> None:
    ss = propensity.cold_start_model("self_service")
    mobile = propensity.cold_start_model("mobile")
    assert ss.predict(propensity.feature_matrix(_profile(has_card=1)))[0] > ss.predict(propensity.feature_matrix(_profile()))[0]
    assert mobile.predict(propensity.feature_matrix(_profile(age_years=25)))[0] > mobile.predict(propensity.feature_matrix(_profile(age_years=75)))[0]
    assert mobile.predict(propensity.feature_matrix(_profile(mobile_uses=10)))[0] > mobile.predict(propensity.feature_matrix(_profile()))[0]


def test_mobile_age_slope_is_the_uci_bank_marketing_fit() -> None:
    """The cold start's mobile age coefficient is refitted from Moro et al. (2014)."""
    data = pd.read_csv(DEFAULT_BERKA_DIR.parent / "uci_bank_marketing" / "bank-full.csv", sep=";")
    data = data[data["contact"] != "unknown"]
    fit = LogisticRegression().fit(((data["age"] - 40) / 10).to_numpy().reshape(-1, 1), (data["contact"] == "cellular").astype(int))
    assert propensity.COLD_START["mobile"]["age_decades"] == pytest.approx(fit.coef_[0][0], abs=0.01)


def test_personal_history_moves_propensity_the_right_way() -> None:
    p0 = np.array([0.4])
    assert propensity.personalise(p0, [3], [3], 4.0)[0] > 0.4
    assert propensity.personalise(p0, [0], [3], 4.0)[0] < 0.4
    assert propensity.personalise(p0, [0], [0], 4.0)[0] == pytest.approx(0.4)


def test_material_change_threshold() -> None:
    before = {"self_service": 0.40, "mobile": 0.30, "appointment": 0.20}
    assert not propensity.material_change(before, {**before, "mobile": 0.349}, 0.05)
    assert propensity.material_change(before, {**before, "mobile": 0.35}, 0.05)
    assert propensity.material_change(None, before, 0.05)


def test_learned_model_needs_enough_outcomes_of_both_kinds() -> None:
    x = np.zeros((50, len(propensity.FEATURES)))
    assert propensity.fit_channel_model("mobile", x, np.ones(50), min_outcomes=10, version="v").version == propensity.COLD_START_VERSION
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, len(propensity.FEATURES)))
    y = (rng.random(400) < 1 / (1 + np.exp(-2 * x[:, 0]))).astype(int)
    model = propensity.fit_channel_model("mobile", x, y, min_outcomes=10, version="v")
    assert model.version == "v" and model.coef[0] > 1.0


def _offers(rng: np.random.Generator, customers: int, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic book and its answers to offers: profile columns of
    :func:`propensity.feature_matrix`, a true logistic acceptance over them (plus
    ``shift`` log-odds), one offer per customer. Returns ``(x, y, true p)``."""
    profiles = {
        "age_years": rng.uniform(18, 85, customers),
        "has_card": rng.integers(0, 2, customers),
        "has_loan": rng.integers(0, 2, customers),
        "self_service_uses": rng.poisson(3, customers),
        "counter_uses": rng.poisson(4, customers),
        "mobile_uses": rng.poisson(1, customers),
        "percentile": rng.uniform(0, 100, customers),
    }
    x = propensity.feature_matrix(profiles)
    logit = -0.3 + x @ np.array([-0.5, 1.0, 0.2, 2.5, 0.8, -0.6]) + shift
    p = 1.0 / (1.0 + np.exp(-logit))
    return x, (rng.random(customers) < p).astype(int), p


def test_learned_propensity_is_calibrated_on_held_out_customers() -> None:
    """The population model fitted on 70 % of the customers' accept/decline answers is
    calibrated on the other 30 %: Brier below the base rate's, every bin of the
    reliability curve within three binomial standard errors of the diagonal, ECE below
    0.02; the cold start, fitted on nothing, is not (the check can fail)."""
    rng = np.random.default_rng(17)
    x, y, _ = _offers(rng, 20_000, shift=0.0)
    held = rng.random(len(y)) < 0.3  # held-out customers (one offer each)
    model = propensity.fit_channel_model("self_service", x[~held], y[~held], min_outcomes=200, version="test")
    assert model.version == "test"  # a fitted model, not the cold start
    p = model.predict(x[held])
    base = np.full(held.sum(), y[~held].mean())
    assert calibration.brier(p, y[held]) < calibration.brier(base, y[held]) - 0.02
    curve = calibration.reliability_curve(p, y[held])
    assert sum(b.count for b in curve) == held.sum()
    gaps = [(b.low, abs(b.observed_rate - b.mean_predicted), 3 * np.sqrt(b.mean_predicted * (1 - b.mean_predicted) / b.count)) for b in curve]
    assert all(gap <= bound for _, gap, bound in gaps), gaps
    assert calibration.expected_calibration_error(curve) < 0.02
    cold = propensity.cold_start_model("self_service").predict(x[held])
    assert calibration.expected_calibration_error(calibration.reliability_curve(cold, y[held])) > 0.05


def test_reliability_curve_bins_and_brier_by_hand() -> None:
    curve = calibration.reliability_curve([0.05, 0.15, 0.95, 1.0], [0, 1, 1, 1], bins=10)
    assert [(b.low, b.count, b.mean_predicted, b.observed_rate) for b in curve] == [(0.0, 1, 0.05, 0.0), (0.1, 1, 0.15, 1.0), (0.9, 2, 0.975, 1.0)]
    assert calibration.brier([0.5, 1.0], [1, 1]) == 0.125
    assert calibration.expected_calibration_error(curve) == pytest.approx((0.05 + 0.85 + 2 * 0.025) / 4)
    with pytest.raises(ValueError):
        calibration.brier([], [])
