"""Database machinery every service uses: engine, sessions, naming convention, outbox
and processed-event tables."""
