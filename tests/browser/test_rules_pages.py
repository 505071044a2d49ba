"""The channel rules pages in the browser: maker-checker reflected and enforced, schema
errors shown by field. (This module runs after test_pages.py; it approves without
activating, so no rule set changes the other tests' decisions.)"""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import Platform, sign_in

DEFAULT_YAML = (Path(__file__).resolve().parents[2] / "deploy" / "config" / "rulesets" / "default.yaml").read_text()


def test_a_maker_cannot_approve_their_own_rule_set_from_the_page(platform: Platform, browser) -> None:
    alice = sign_in(browser, platform, platform.ticketing.url, role="approver", branches="*", subject="alice")
    alice.goto(f"{platform.ticketing.url}/rules")
    alice.fill("#yaml", DEFAULT_YAML)
    alice.fill("input[name=comment]", "quarterly review")
    alice.click("#propose button[type=submit]")
    alice.wait_for_url(re.compile(r".*/rules/\d+$"))
    version = alice.url.rsplit("/", 1)[1]
    assert alice.is_disabled("#approve") and alice.is_disabled("#reject")
    assert "someone else must approve" in alice.inner_text("#why-not")
    # the API refuses too, whatever the page shows
    refused = alice.evaluate(f"() => CF.api('POST', '/v1/rules/sets/{version}/approve', {{activate: false}}).then(() => 200, p => p.status + ' ' + p.type)")
    assert refused.startswith("403") and refused.endswith("maker-checker")
    bob = sign_in(browser, platform, platform.ticketing.url, role="approver", branches="*", subject="bob")
    bob.goto(f"{platform.ticketing.url}/rules/{version}")
    assert not bob.is_disabled("#approve")
    bob.uncheck("input[name=activate]")
    bob.fill("#decide input[name=comment]", "four eyes")
    bob.click("#approve")
    bob.wait_for_selector("#status.approved")
    bob.select_option("#diff select[name=against]", "")
    bob.click("#diff button[type=submit]")
    bob.wait_for_selector("#diff-result table")
    alice.context.close()
    bob.context.close()


def test_a_schema_error_in_an_uploaded_rule_set_is_shown_next_to_the_field(platform: Platform, browser) -> None:
    ops = sign_in(browser, platform, platform.ticketing.url, role="operations", branches="*", subject="olga")
    ops.goto(f"{platform.ticketing.url}/rules")
    broken = DEFAULT_YAML.replace("min_counter_wait_s: 300", "min_counter_wait_s: soon", 1)
    assert broken != DEFAULT_YAML
    ops.fill("#yaml", broken)
    ops.click("#propose button[type=submit]")
    error = ops.wait_for_selector("#yaml + .field-error")  # right after the field it is about
    assert "body.document.settings.min_counter_wait_s" in error.inner_text()
    assert ops.get_attribute("#yaml", "aria-invalid") == "true"
    assert ops.url.endswith("/rules")  # nothing was stored
    ops.context.close()
