"""The channel-rules engine (issue 7 fills it in): rule sets as data, evaluated at the
moment a customer asks for a counter, in ticketing and the mobile gateway alike.

The interface callers use is :class:`DecisionInput` -> :func:`decide` -> :class:`Decision`.
"""

from counterflow_shared.rules.model import DecisionInput, Decision, DeviceView, decide

__all__ = ["Decision", "DecisionInput", "DeviceView", "decide"]
