"""Tables of the scoring service. The backbone tables (outbox, processed events,
idempotency keys) are added to the same metadata so migrations cover them."""

from counterflow_shared.persistence.db import make_base
from counterflow_shared.persistence.tables import add_backbone_tables

Base = make_base()
metadata = Base.metadata
backbone = add_backbone_tables(metadata)
