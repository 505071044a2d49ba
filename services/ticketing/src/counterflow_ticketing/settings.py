"""Settings of the ticketing service (environment prefix ``CF_TICKETING_``)."""

from pydantic_settings import SettingsConfigDict

from counterflow_shared.settings import ServiceSettings


class TicketingSettings(ServiceSettings):
    """ticketing settings; every field of :class:`ServiceSettings` plus the service's own.

    Attributes:
        redis_prefix: prefix of every Redis key of this service (read models, calling
            display streams, rate limits); tests use their own.
        default_max_wait_s: ageing bound of a new branch: no ticket waits longer than this
            because others had priority (seconds; a branch may override it).
        priority_step_s: head start bought by one priority point (seconds).
        ageing_guard_s: a ticket becomes urgent this long before ``max_wait_s`` (seconds).
        default_no_show_after_calls: unanswered calls before a no-show is allowed.
        kiosk_requests_per_minute: per-kiosk rate limit on service requests.
        load_snapshot_interval_s: a load snapshot per branch at least this often (seconds).
        load_check_interval_s: how often the snapshot loop looks for material changes (seconds).
        load_material_change_s: estimate change that counts as material (seconds).
        sla_target_s / sla_window_s: SLA definition for snapshots and rules (seconds).
        display_stream_length: calls kept per branch for calling-display resumption.
        offer_ttl_s: an accepted diversion not completed within this expires (seconds).
        diversion_grace_s / diversion_sweep_s: an accepted diversion still open this long
            after its expiry is expired by ticketing (the backstop, issue 17), checked
            every ``diversion_sweep_s`` seconds. 900 s: far beyond the followers' own
            sweeps (selfservice and the gateway expire within seconds), so the backstop
            acts only when a follower lost the diversion or was down.
        day_close_check_s: the end-of-day close loop wakes at the next local midnight of a
            branch with live tickets, and at least this often (seconds).
        max_in_flight: requests one API process handles at once; one more is answered 503
            ``overloaded`` with ``Retry-After`` at once (ADR 0152). 16, not the shared 64:
            a kiosk request holds a pooled connection for each of its two statements, so
            more than about the pool (``db_pool_size + db_max_overflow`` = 10) in flight only
            queues for a connection, up to the 1 s pool timeout whose 503 is slow; and every
            admitted request adds its CPU steps (about 5 ms per request on the benchmark
            machine) to the event loop that must first read a request before it can refuse
            it. Measured: ``bench/results/ticketing.json`` (``overload_2x``).
    """

    model_config = SettingsConfigDict(env_prefix="CF_TICKETING_", extra="ignore")

    service_name: str = "ticketing"
    database_name: str = "counterflow_ticketing"
    http_port: int = 8101
    redis_prefix: str = "cf:ticketing:"
    default_max_wait_s: float = 1200.0
    priority_step_s: float = 180.0
    ageing_guard_s: float = 300.0
    default_no_show_after_calls: int = 3
    kiosk_requests_per_minute: int = 120
    load_snapshot_interval_s: float = 60.0
    load_check_interval_s: float = 5.0
    load_material_change_s: float = 60.0
    sla_target_s: float = 600.0
    #: the lobby console's live stream re-reads the branch state this often (seconds)
    lobby_refresh_s: float = 1.0
    #: where staff find the selfservice fleet page (a link on the home page)
    selfservice_page_url: str = "http://127.0.0.1:8102"
    sla_window_s: float = 3600.0
    display_stream_length: int = 1000
    offer_ttl_s: float = 1800.0
    diversion_grace_s: float = 900.0
    diversion_sweep_s: float = 60.0
    day_close_check_s: float = 60.0
    max_in_flight: int = 16


def get_settings() -> TicketingSettings:
    """Read the settings from the environment."""
    return TicketingSettings()
