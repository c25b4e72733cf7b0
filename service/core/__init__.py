"""Cross-cutting pieces: settings, database, errors, logging, metrics, queue."""
