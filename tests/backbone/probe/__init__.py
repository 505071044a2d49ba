"""A minimal Counterflow service used to prove the event backbone across processes.

It is built from the same service defaults as the four real services
(:func:`counterflow_shared.runtime.create_service_app`), with one table of its own:
``POST /v1/notes`` writes a note and a ``customer.score.updated`` event in one
transaction; as a consumer (group ``probe``) it records every event it handles in
``received`` and counts effects in ``effects`` so a test can see a second effect.
"""
