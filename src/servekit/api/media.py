"""The media type of a request body: a route reads only its own, anything else is a 415."""

from __future__ import annotations

from email.message import Message

from fastapi import Request
from fastapi import params as fastapi_params

from servekit.exceptions import UnsupportedMediaType

FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    return message.get_content_type()


def is_json(content_type: str | None) -> bool:
    """True for ``application/json`` and ``application/<anything>+json``, with any parameters."""
    if content_type == "application/json":
        return True  # what nearly every client sends: no parsing on the prediction path
    media = _media_type(content_type)
    return media is not None and (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    )


def _sent(content_type: str | None) -> str:
    return f"Content-Type {content_type!r}" if content_type else "no Content-Type"


def require_json(content_type: str | None) -> None:
    """Refuse a body that does not say it is JSON (an absent Content-Type too: it would be a guess)."""
    if not is_json(content_type):
        raise UnsupportedMediaType(
            f"send the body as JSON with Content-Type: application/json (got {_sent(content_type)})"
        )


def _has_body(request: Request) -> bool:
    headers = request.headers
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers


async def checked_media_type(request: Request) -> None:
    """A dependency of every API route: a body in another form than the route's is refused first.

    NOTE: FastAPI solves dependencies before it validates the body, so nothing of a refused body
    is parsed.
    """
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    if body_field is None or request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.headers.get("content-type")
    if content_type is None and not _has_body(request):
        return  # nothing sent: the route says what is missing
    if not isinstance(body_field.field_info, fastapi_params.Form):
        require_json(content_type)
    elif _media_type(content_type) not in FORMS:
        raise UnsupportedMediaType(
            f"send the body as a form (application/x-www-form-urlencoded), got {_sent(content_type)}"
        )
