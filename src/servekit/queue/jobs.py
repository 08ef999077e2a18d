"""What travels through Redis: key names, jobs and results, and how they are encoded."""

from __future__ import annotations

import json
from dataclasses import dataclass

from servekit.inputs.base import InputCodec
from servekit.runtimes.base import Row, RowOutput

GROUP = "workers"
"""The consumer group every worker of a model's stream joins."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The Redis keys of one deployment (all start with its prefix)."""

    prefix: str

    def jobs(self, name: str, version: str) -> str:
        """The stream of one model version's jobs."""
        return f"{self.prefix}:jobs:{name}:{version}"

    def dead(self, name: str, version: str) -> str:
        """Where jobs that failed every delivery go, with their last error."""
        return f"{self.prefix}:dead:{name}:{version}"

    def replies(self, instance: str) -> str:
        """One API process's reply list: workers push results, one reader pops them."""
        return f"{self.prefix}:replies:{instance}"

    def workers(self) -> str:
        """Every worker's last heartbeat: a sorted set of worker names scored by time."""
        return f"{self.prefix}:workers"

    def monitor(self, worker: str) -> str:
        """One worker's part of the monitor's snapshot (JSON; it expires unless renewed)."""
        return f"{self.prefix}:monitor:{worker}"

    def model_workers(self, name: str, version: str) -> str:
        """The last heartbeat of each worker serving one model version (names scored by time)."""
        return f"{self.prefix}:workers:{name}:{version}"


@dataclass(frozen=True, slots=True)
class Job:
    """Rows of one request (at most one batch of them) on their way to a worker."""

    id: str
    deadline: float
    """Wall-clock seconds (``time.time()``): API and workers may run on different machines."""
    reply_to: str
    rows: list[Row]

    def fields(self, codec: InputCodec) -> dict[str, str]:
        """The stream entry's fields; the rows as the model's input codec writes them."""
        return {
            "id": self.id,
            "deadline": repr(self.deadline),
            "reply_to": self.reply_to,
            "rows": codec.to_wire(self.rows),
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes], codec: InputCodec) -> Job:
        """Read a stream entry; the rows come back as the API validated them (datetimes, arrays)."""
        return cls(
            id=fields[b"id"].decode(),
            deadline=float(fields[b"deadline"]),
            reply_to=fields[b"reply_to"].decode(),
            rows=codec.from_wire(fields[b"rows"]),
        )


def result_message(job_id: str, outputs: list[RowOutput]) -> str:
    """A worker's answer to a job that succeeded."""
    return json.dumps(
        {"id": job_id, "outputs": [[o.prediction, o.probabilities, o.extra] for o in outputs]},
        separators=(",", ":"),
    )


def error_message(job_id: str, error: str) -> str:
    """A worker's answer to a job that failed for good."""
    return json.dumps({"id": job_id, "error": error}, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Reply:
    """A result as the API reads it: outputs, or the error that ended the job."""

    job_id: str
    outputs: list[RowOutput] | None
    error: str | None

    @classmethod
    def parse(cls, data: bytes) -> Reply:
        """Read a reply list entry."""
        message = json.loads(data)
        outputs = message.get("outputs")
        return cls(
            job_id=message["id"],
            outputs=None if outputs is None else [RowOutput(p, pr, e) for p, pr, e in outputs],
            error=message.get("error"),
        )
