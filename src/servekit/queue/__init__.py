"""Distributed mode: a Redis Streams job queue between API processes and ``servekit worker``."""
