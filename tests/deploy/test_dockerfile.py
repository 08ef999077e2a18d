"""deploy/Dockerfile, linted by hadolint and checked for what the deployment relies on."""

from __future__ import annotations

import re

from tests.deploy.tools import DEPLOY, ROOT, binary, run

DOCKERFILE = DEPLOY / "Dockerfile"


def test_hadolint_finds_nothing_even_at_info_level() -> None:
    run(binary("hadolint"), "--failure-threshold", "info", str(DOCKERFILE))


def test_image_is_multi_stage_slim_non_root_with_a_health_check() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(stages) == 2
    assert all("slim" in s for s in stages)
    (user,) = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user.split(":")[0] not in {"0", "root"}
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    assert "PORT" in text  # servekit listens on $PORT (Cloud Run)
    assert 'ARG EXTRAS=""' in text
    assert "${EXTRAS:+[$EXTRAS]}" in text


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*" or "*" in ignore
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE)
    for line in copied:
        for source in line.split():
            assert f"!{source.rstrip('/')}" in [i.rstrip("/") for i in ignore], source
            assert (ROOT / source).exists(), source
