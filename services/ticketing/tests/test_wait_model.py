"""The wait model (domain/wait_model.py) on small data: the prior, online learning of
quantiles and of the SLA probability, the stored forms, and learning through the API
when tickets are called."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from counterflow_ticketing.domain.wait_model import QueueView, WaitModel, prior

from .conftest import Service, make_branch, take_ticket, utc


def _busy(ahead: int = 2, **kw: object) -> QueueView:
    return QueueView(ahead=ahead, free=0, rates_per_s=[1 / 100, 1 / 100], mean_service_s=100.0, **kw)  # type: ignore[arg-type]


def test_prior_is_the_queue_length_predictor_with_overtaking() -> None:
    mean, shape = prior(_busy(ahead=3))
    assert mean == pytest.approx(4 / 0.02) and shape == pytest.approx(4.0)
    slower, _ = prior(_busy(ahead=3, overtake_rate_per_s=0.01))  # half the capacity goes to overtakers
    assert slower == pytest.approx(2 * mean)
    top, _ = prior(_busy(ahead=3, overtake_rate_per_s=0.01, top_priority=True))
    assert top == pytest.approx(mean)
    assert prior(QueueView(ahead=1, free=2, rates_per_s=[0.01]))[0] == 0.0
    assert math.isnan(prior(QueueView(ahead=0, free=0, rates_per_s=[]))[0])
    # a fitted, more variable service time widens the interval around the same mean
    narrow = WaitModel().forecast(_busy(cv2=0.5), sla_s=600)
    wide = WaitModel().forecast(_busy(cv2=2.0), sla_s=600)
    assert narrow and wide and narrow.prior_mean_s == wide.prior_mean_s
    assert wide.p90_s - wide.p10_s > narrow.p90_s - narrow.p10_s


def test_learning_moves_the_quantiles_to_the_waits_that_happen() -> None:
    # the prior says 150 s, but customers here wait 2-3x longer (tellers away, overtakers):
    # waits drawn uniformly from 300..600 s; the learned interval should cover about 80 %
    rng = random.Random(7)
    model = WaitModel()
    view = _busy(ahead=2, head_of_line_s=400.0, last_entered_s=450.0)
    before = model.forecast(view, sla_s=350)
    for _ in range(3000):
        model.learn(view, rng.uniform(300, 600), sla_s=350)
    after = model.forecast(view, sla_s=350)
    assert before and after
    assert before.p50_s < 200
    assert after.p10_s == pytest.approx(330, abs=30)
    assert after.p50_s == pytest.approx(450, abs=30)
    assert after.p90_s == pytest.approx(570, abs=30)
    assert after.p_within_sla == pytest.approx(50 / 300, abs=0.07)
    assert model.learned == 3000


def test_strata_learn_apart_and_the_model_round_trips_through_json() -> None:
    model = WaitModel()
    free = QueueView(ahead=0, free=1, rates_per_s=[0.01], mean_service_s=100.0)
    for _ in range(500):
        model.learn(free, 30.0, sla_s=600)
    assert model.forecast(free, sla_s=600).p50_s > 10  # "a counter is free" does not always mean 0 here
    assert model.forecast(_busy(), sla_s=600).p50_s == pytest.approx(WaitModel().forecast(_busy(), sla_s=600).p50_s)
    again = WaitModel.from_json(model.to_json())
    assert again.forecast(free, sla_s=600) == model.forecast(free, sla_s=600)
    assert QueueView.from_json(_busy(head_of_line_s=5.0).to_json()) == _busy(head_of_line_s=5.0)
    assert WaitModel.from_json({"weights": {"busy": {"q50": [1.0, 2.0]}}}).weights == {"busy": {}}  # older shape dropped


async def test_called_tickets_teach_the_branch_model(service: Service, clock) -> None:
    """Through the API: the teller is slow to start (each customer is served in 10 s but
    called 300 s after taking the ticket); the queue-length prior alone would promise a
    few seconds, the branch's learned model learns the 300 s from the called tickets."""
    branch = await make_branch(service, counters=[["cash"]])
    (counter,) = branch.counters
    h = service.staff("teller", [branch.branch_id], subject=f"teller-{counter}")
    t = utc(2024, 6, 3, 9, 0)
    clock(t)
    busy = await take_ticket(service, branch)
    assert (await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)).status_code == 200
    for _ in range(40):
        clock(t)
        ticket = await take_ticket(service, branch)  # the counter is busy: it waits
        t += timedelta(seconds=290)
        clock(t)
        await service.client.post(f"/v1/counters/{counter}/tickets/{busy['ticket_id']}/start", headers=h)
        t += timedelta(seconds=10)
        clock(t)
        await service.client.post(f"/v1/counters/{counter}/tickets/{busy['ticket_id']}/finish", json={}, headers=h)
        called = await service.client.post(f"/v1/counters/{counter}/call-next", headers=h)
        assert called.status_code == 200 and called.json()["ticket"]["ticket_id"] == ticket["ticket_id"]
        busy = ticket
    clock(t)
    later = await take_ticket(service, branch)
    # the prior alone: one completion at the learned 10 s pace, median about 7 s
    assert later["estimated_wait_s"] > 100
    assert later["estimated_wait_p10_s"] <= later["estimated_wait_s"] <= later["estimated_wait_p90_s"]
