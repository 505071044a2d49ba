"""The engine: precedence, defaults, overrides, load-aware conditions, and the
protections that no rule overrides."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from counterflow_shared.rules import decide, load_rule_set
from counterflow_shared.rules.protections import IN_SERVICE

from .conftest import NOW, atm, device_rule_set, request


def test_no_rule_set_gives_a_plain_ticket_with_version_0() -> None:
    d = decide(None, request())
    assert (d.kind, d.rule_id, d.rule_set_version) == ("ticket", "default", 0)


def test_decision_carries_rule_id_version_and_inputs() -> None:
    rs = load_rule_set(device_rule_set(), version=7)
    d = decide(rs, request())
    assert (d.kind, d.rule_id, d.rule_set_version, d.device_id) == ("offer", "to-device", 7, "atm-1")
    assert d.inputs["amount"] == "2000" and d.inputs["counter_wait_s"] == 900.0 and d.inputs["devices"][0]["device_id"] == "atm-1"
    assert d.expected_accept == 0.6 and d.offer_ttl_s == 1800
    t = decide(rs, request(service_type="complaint"))
    assert (t.kind, t.rule_id, t.rule_set_version) == ("ticket", "default", 7)


def test_best_device_is_in_service_with_cash_and_shortest_queue() -> None:
    devices = (
        atm("a-offline", status="offline", queue=0),
        atm("b-dry", cash="1000", queue=0),
        atm("c-forecast-dry", cash_out_in_s=600, queue=0),
        atm("d-long", queue=4),
        atm("e-short", queue=1),
    )
    d = decide(load_rule_set(device_rule_set(), version=1), request(devices=devices))
    assert d.device_id == "e-short"


def test_never_to_an_offline_or_cash_short_device() -> None:
    rs = load_rule_set(device_rule_set(), version=1)
    for device in (atm(status="offline"), atm(status="out_of_service"), atm(cash="1999.99"), atm(cash_out_in_s=60), atm(branch="other")):
        d = decide(rs, request(devices=(device,)))
        assert d.kind == "ticket" and d.vetoes == ("to-device:no_eligible_device",), device


def test_customer_needing_a_person_is_never_diverted_even_by_an_explicit_rule() -> None:
    doc = device_rule_set()
    doc["rules"] = [
        {"id": "push-everyone", "priority": 999, "when": {"needs_any": ["asks_for_person"]}, "then": {"type": "offer_device"}},
        {"id": "app", "then": {"type": "offer_mobile"}},
    ]
    rs = load_rule_set(doc, version=1)
    d = decide(rs, request(needs=frozenset({"asks_for_person"})))
    assert d.kind == "ticket" and d.vetoes == ("push-everyone:needs_person", "app:needs_person")


def test_counter_wait_floor_and_time_saving() -> None:
    rs = load_rule_set(device_rule_set(min_counter_wait_s=600), version=1)
    assert decide(rs, request(counter_wait_s=599)).vetoes == ("to-device:counter_wait_below_floor",)
    assert decide(rs, request(counter_wait_s=None)).vetoes == ("to-device:counter_wait_unknown",)
    # a device whose own queue is as slow as the counter saves nothing
    assert decide(rs, request(counter_wait_s=900, devices=(atm(wait_s=850),))).kind == "ticket"
    assert decide(rs, request(counter_wait_s=900)).kind == "offer"


def test_accessibility_needs_an_accessible_device() -> None:
    rs = load_rule_set(device_rule_set(), version=1)
    d = decide(rs, request(needs=frozenset({"accessibility"}), devices=(atm("x", accessible=False), atm("y", queue=2))))
    assert d.device_id == "y"


def test_precedence_then_fallthrough_after_veto() -> None:
    doc = {
        "schema_version": 1,
        "name": "p",
        "rules": [
            {"id": "low", "priority": 1, "then": {"type": "ticket", "fee_notice": "fee"}},
            {"id": "app", "priority": 5, "when": {"propensity": {"mobile": {"min": 0.4}}}, "then": {"type": "offer_mobile"}},
            {"id": "device", "priority": 10, "when": {"device_available": True}, "then": {"type": "offer_device"}},
        ],
    }
    rs = load_rule_set(doc, version=2)
    assert decide(rs, request()).rule_id == "device"
    # no device: the vetoless next rule (app) wins; anonymous: app vetoed, the ticket rule decides
    assert decide(rs, request(devices=())).rule_id == "app"
    anon = decide(rs, request(devices=(), customer_id=None, propensity={"mobile": 0.9}))
    assert (anon.rule_id, anon.fee_notice, anon.vetoes) == ("low", "fee", ("app:anonymous_customer",))


def test_branch_override_disables_replaces_and_changes_settings(default_yaml: str) -> None:
    doc = device_rule_set()
    doc["rules"].append({"id": "vip", "priority": 50, "when": {"tiers": ["vip"]}, "then": {"type": "ticket", "route_to": "vip_room", "priority_boost": 2}})
    doc["overrides"] = [
        {"branches": ["b2"], "disable": ["to-device"], "default": {"type": "ticket", "fee_notice": "b2 fee"}},
        {"branches": ["b3"], "settings": {"min_counter_wait_s": 1000}, "rules": [{"id": "vip", "then": {"type": "ticket", "route_to": "relationship_manager"}}]},
    ]
    rs = load_rule_set(doc, version=1)
    assert decide(rs, request()).kind == "offer"
    b2 = decide(rs, request(branch_id="b2", devices=(atm(branch="b2"),)))
    assert (b2.kind, b2.rule_id, b2.fee_notice) == ("ticket", "default", "b2 fee")
    b3 = decide(rs, request(branch_id="b3", devices=(atm(branch="b3"),)))
    assert b3.vetoes == ("to-device:counter_wait_below_floor",)
    assert decide(rs, request(branch_id="b3", tier="vip")).route_to == "relationship_manager"
    assert decide(rs, request(tier="vip")).route_to == "vip_room"


def test_load_aware_rule_reacts_to_sla_share(default_yaml: str) -> None:
    rs = load_rule_set(default_yaml, version=1)
    big = dict(amount=Decimal("30000"), counter_wait_s=400.0)  # above 20,000 and below 420 s: only the SLA rule can divert
    assert decide(rs, request(sla_share=0.95, **big)).kind == "ticket"
    behind = decide(rs, request(sla_share=0.6, **big))
    assert (behind.kind, behind.rule_id) == ("offer", "cash-withdrawal-device-behind-sla")
    # short queue: nothing, whatever the SLA
    assert decide(rs, request(sla_share=0.1, counter_wait_s=120.0)).kind == "ticket"


def test_time_of_day_and_day_type_from_branch_zone(default_yaml: str) -> None:
    rs = load_rule_set(default_yaml, version=1)
    evening = NOW.replace(hour=17, minute=30)  # 18:30 in Prague (CET, UTC+1)
    d = decide(rs, request(now=evening, counter_wait_s=100.0))
    assert d.rule_id == "evening-fee-notice" and d.fee_notice
    assert decide(rs, request(now=evening + timedelta(days=3), counter_wait_s=100.0)).rule_id == "default"  # Saturday
    assert decide(rs, request(branch_id="flagship", now=evening, counter_wait_s=100.0, devices=())).rule_id == "default"


def test_default_rule_set_routes_vip_and_keeps_elderly(default_yaml: str) -> None:
    rs = load_rule_set(default_yaml, version=1)
    assert decide(rs, request(tier="vip")).route_to == "vip_room"
    assert decide(rs, request(tier="private")).route_to == "relationship_manager"
    assert decide(rs, request(needs=frozenset({"elderly"}))).rule_id == "person-requested"
    assert decide(rs, request(service_type="transfer", devices=())).channel == "mobile"


_device = st.builds(
    atm,
    device_id=st.sampled_from(["d1", "d2", "d3", "d4"]),
    status=st.sampled_from(["online", "busy", "offline", "hardware_error", "out_of_service", "maintenance"]),
    cash=st.sampled_from(["0", "500", "1999", "2000", "100000"]),
    queue=st.integers(0, 5),
    wait_s=st.floats(0, 1200),
    cash_out_in_s=st.one_of(st.none(), st.floats(0, 7200)),
    kind=st.sampled_from(["atm", "cash_recycler", "kiosk"]),
    branch=st.sampled_from(["b1", "b2"]),
    accessible=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    devices=st.lists(_device, max_size=4, unique_by=lambda d: d.device_id).map(tuple),
    amount=st.sampled_from(["100", "2000", "20000", "60000"]),
    wait=st.one_of(st.none(), st.floats(0, 3600)),
    needs=st.sets(st.sampled_from(["accessibility", "elderly", "asks_for_person"])).map(frozenset),
    queue_max=st.one_of(st.none(), st.integers(0, 5)),
)
def test_property_offers_respect_every_protection(devices, amount, wait, needs, queue_max) -> None:
    """Whatever the devices and the request, an aggressive rule set never offers a device
    that is out of service, short of cash, forecast dry, of another branch or slower than
    the counter, and never diverts a customer who asked for a person."""
    when = {"device_queue_max": queue_max} if queue_max is not None else {}
    doc = device_rule_set(min_counter_wait_s=0)
    doc["rules"] = [{"id": "dev", "when": when, "then": {"type": "offer_device"}}, {"id": "app", "then": {"type": "offer_mobile"}}]
    rs = load_rule_set(doc, version=1)
    r = request(devices=devices, amount=Decimal(amount), counter_wait_s=wait, needs=needs)
    d = decide(rs, r)
    if "asks_for_person" in needs or wait is None:
        assert d.kind == "ticket"
    if d.kind == "offer" and d.device_id is not None:
        dev = next(x for x in devices if x.device_id == d.device_id and x.branch_id == "b1" and x.status in IN_SERVICE)
        assert dev.cash_available["CZK"] >= Decimal(amount)
        assert dev.forecast_cash_out_at is None or dev.forecast_cash_out_at > NOW + timedelta(seconds=1800)
        assert dev.expected_wait_s + 60 <= wait
        assert "accessibility" not in needs or dev.accessible
        assert queue_max is None or dev.queue_length <= queue_max


def test_a_stamped_document_decides_with_its_own_version() -> None:
    """Read models that keep only the activated document get the right version."""
    doc = {**device_rule_set(), "version": 12}
    d = decide(doc, request())
    assert (d.rule_set_version, d.rule_id) == (12, "to-device")
    assert decide(doc, request()).rule_set_version == 12  # compiled once, cached


def test_rules_see_the_wait_p90_and_the_probability_of_being_called_within_the_sla() -> None:
    doc = device_rule_set()
    doc["rules"] = [
        {"id": "p90-long", "when": {"counter_wait_p90_s": {"min": 1200}}, "then": {"type": "offer_device"}},
        {"id": "unlikely-in-sla", "when": {"p_called_within_sla": {"max": 0.5}}, "then": {"type": "offer_device"}},
    ]
    rs = load_rule_set(doc, version=1)
    assert decide(rs, request(counter_wait_p90_s=1500.0, p_called_within_sla=0.9)).rule_id == "p90-long"
    assert decide(rs, request(counter_wait_p90_s=800.0, p_called_within_sla=0.3)).rule_id == "unlikely-in-sla"
    assert decide(rs, request(counter_wait_p90_s=800.0, p_called_within_sla=0.9)).kind == "ticket"
    # unknown inputs fail the conditions; the decision record keeps both inputs
    assert decide(rs, request()).kind == "ticket"
    d = decide(rs, request(counter_wait_p90_s=1500.0, p_called_within_sla=0.2))
    assert d.inputs["counter_wait_p90_s"] == 1500.0 and d.inputs["p_called_within_sla"] == 0.2
