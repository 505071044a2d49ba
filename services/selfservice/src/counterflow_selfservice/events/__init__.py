"""Events the selfservice service publishes (``selfservice.device.state``,
``selfservice.transaction.done``, ``channel.diversion.completed`` / ``expired``, all
built in the domain and written through the outbox) and the handlers of those it
consumes."""
