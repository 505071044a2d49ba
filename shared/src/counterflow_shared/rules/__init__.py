"""The channel-rules engine: rule sets as data, evaluated at the moment a customer asks
for a counter, in ticketing and the mobile gateway alike.

The interface callers use is :class:`DecisionInput` -> :func:`decide` -> :class:`Decision`;
rule sets are loaded with :func:`load_rule_set` (errors name the rule and the field) and
kept current in every instance with :class:`ActiveRuleSet` (a read model fed by
``channel.rules.v1``).
"""

from counterflow_shared.rules.engine import RuleSet, evaluate
from counterflow_shared.rules.loader import RuleError, RuleSetInvalid, load_document, load_rule_set, validate_document
from counterflow_shared.rules.model import Decision, DecisionInput, DeviceView, decide, input_from_record, input_to_record

__all__ = [
    "Decision",
    "DecisionInput",
    "DeviceView",
    "RuleError",
    "RuleSet",
    "RuleSetInvalid",
    "decide",
    "evaluate",
    "input_from_record",
    "input_to_record",
    "load_document",
    "load_rule_set",
    "validate_document",
]
