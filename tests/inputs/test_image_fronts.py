"""Images through every front: multipart files and base64 JSON, stored by hash, and bad files."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.api.test_auth import bearer, register, token_for
from tests.inputs.conftest import ShadeClient, checker, png

PREDICT = "/models/shade/predict"
FILES = PREDICT + "/file"


def answer_of(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def refusal(response: Any, status: int) -> dict[str, Any]:
    body = answer_of(response, status)
    assert set(body) >= {"error", "message"}, body
    return body


def stored(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "uploads").glob("??/*"))


def test_an_uploaded_file_is_answered_with_label_score_top_k_and_its_stored_hash(
    shade_client: ShadeClient, tmp_path: Path
) -> None:
    client = shade_client()
    image = checker()
    body = answer_of(client.post(FILES, files={"file": ("board.png", image, "image/png")}))
    assert body["model"] == "shade"
    assert len(body["predictions"]) == 1
    row = body["predictions"][0]
    digest = hashlib.sha256(image).hexdigest()
    assert row["file"] == {"sha256": digest, "name": "board.png"}
    assert row["prediction"] in ("light", "dark")
    assert 0.5 <= row["score"] <= 1
    assert next(t["label"] for t in row["top_k"]) == row["prediction"]
    assert row["shape"] == [1, 4, 4]  # grey, resized, channels first
    assert row["warnings"] == []
    assert row["id"]
    # Kept once, by its content's hash, and private to the server's user.
    [path] = stored(tmp_path / "data")
    assert path.name == digest
    assert path.read_bytes() == image
    assert path.stat().st_mode & 0o077 == 0
    again = answer_of(client.post(FILES, files={"file": ("copy.png", image, "image/png")}))
    assert again["predictions"][0]["file"] == {"sha256": digest, "name": "copy.png"}
    assert len(stored(tmp_path / "data")) == 1


def test_several_files_in_one_request_are_a_row_each_in_order(shade_client: ShadeClient) -> None:
    client = shade_client()
    black, white = png(np.zeros((8, 8))), png(np.full((8, 8), 255))
    files = [("file", ("black.png", black)), ("file", ("white.png", white))]
    rows = answer_of(client.post(FILES, files=files))["predictions"]
    assert [r["file"]["name"] for r in rows] == ["black.png", "white.png"]
    assert [r["prediction"] for r in rows] == ["dark", "light"]


def test_json_takes_base64_images_one_or_a_batch(shade_client: ShadeClient) -> None:
    client = shade_client()
    image = checker()
    text = base64.b64encode(image).decode()
    one = answer_of(client.post(PREDICT, json={"image": text, "name": "b.png"}))
    assert one["predictions"][0]["file"]["sha256"] == hashlib.sha256(image).hexdigest()
    url = "data:image/png;base64," + text  # as a browser's FileReader gives it
    many = answer_of(client.post(PREDICT, json={"instances": [{"image": text}, {"image": url}]}))
    assert [r["file"]["name"] for r in many["predictions"]] == [None, None]
    assert many["predictions"][0]["prediction"] == one["predictions"][0]["prediction"]


def test_exif_orientation_is_applied(shade_client: ShadeClient) -> None:
    client = shade_client()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter: the 40x20 file is 20 wide and 40 high
    data = png(np.zeros((20, 40)), format="JPEG", exif=exif.tobytes())
    row = answer_of(client.post(FILES, files={"file": ("turned.jpg", data)}))["predictions"][0]
    assert (row["width"], row["height"]) == (20, 40)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size, starts its pixel data and ends: a bomb's first bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", 1000)
        + b"IDAT"
        + zlib.compress(b"\0" * 1000)[:20]
    )


def _animated_gif() -> bytes:
    frames = [Image.new("L", (8, 8), v) for v in (0, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "said"),
    [
        pytest.param(b"just some text", 415, "not an image in a format", id="not-an-image"),
        pytest.param(
            png(np.zeros((8, 8)), format="GIF"), 415, "gif image", id="format-not-allowed"
        ),
        pytest.param(checker()[:-40], 422, "truncated or corrupt", id="truncated"),
        pytest.param(_png_header_only(2000, 2000), 422, "4,000,000 pixels", id="too-many-pixels"),
        pytest.param(b"", 422, "empty", id="empty"),
    ],
)
def test_a_bad_file_is_a_4xx_saying_what_is_wrong_and_nothing_is_kept(
    shade_client: ShadeClient, tmp_path: Path, data: bytes, status: int, said: str
) -> None:
    client = shade_client({}, image={**_image(), "formats": ["png", "jpeg"]})
    body = refusal(client.post(FILES, files={"file": ("x.png", data)}), status)
    assert said in body["message"], body
    assert "file 0 (x.png)" in body["message"], body
    assert stored(tmp_path / "data") == []
    # The server keeps serving.
    answer_of(client.post(FILES, files={"file": ("ok.png", checker())}))


def _image(**changes: Any) -> dict[str, Any]:
    spec = {
        "formats": ["png", "jpeg"],
        "max_bytes": 200_000,
        "max_pixels": 1_000_000,
        "mode": "L",
        "size": [4, 4],
    }
    return {**spec, **changes}


def test_an_animated_image_is_refused_not_guessed_at(shade_client: ShadeClient) -> None:
    client = shade_client(image=_image(formats=["gif"]))
    body = refusal(client.post(FILES, files={"file": ("a.gif", _animated_gif())}), 422)
    assert "2 frames" in body["message"]


def test_pillows_decompression_bomb_warning_is_an_error(shade_client: ShadeClient) -> None:
    # Above Pillow's own limit (89 million pixels) but within the model's: refused, not warned.
    client = shade_client(image=_image(max_pixels=200_000_000))
    body = refusal(
        client.post(FILES, files={"file": ("b.png", _png_header_only(10_000, 10_000))}), 422
    )
    assert "too many pixels" in body["message"]


def test_a_file_over_the_limit_is_a_413_counted_on_the_bytes(
    shade_client: ShadeClient, tmp_path: Path
) -> None:
    client = shade_client(image=_image(max_bytes=1_000))
    big = png(np.random.default_rng(0).integers(0, 255, (64, 64)))
    assert len(big) > 1_000
    body = refusal(client.post(FILES, files={"file": ("big.png", big)}), 413)
    assert "1,000 bytes" in body["message"]
    text = base64.b64encode(big).decode()
    refusal(client.post(PREDICT, json={"image": text}), 413)
    assert stored(tmp_path / "data") == []
    assert list((tmp_path / "data" / "uploads" / "incoming").iterdir()) == []


@pytest.mark.parametrize(
    ("request_kwargs", "status", "said"),
    [
        pytest.param(
            {"data": {"note": "hi"}, "files": {}}, 415, "multipart", id="form-without-file"
        ),
        pytest.param(
            {"files": {"note": (None, "hi"), "file": ("a.png", checker())}},
            422,
            "'note' is not a file",
            id="field-not-a-file",
        ),
        pytest.param(
            {"files": [("file", (f"{i}.png", checker())) for i in range(5)]},
            422,
            "more than 4 files",
            id="too-many-files",
        ),
        pytest.param(
            {"content": b"{}", "headers": {"content-type": "application/json"}},
            415,
            "multipart",
            id="json-to-upload",
        ),
    ],
)
def test_a_bad_upload_request_is_a_4xx(
    shade_client: ShadeClient, request_kwargs: dict[str, Any], status: int, said: str
) -> None:
    client = shade_client()
    body = refusal(client.post(FILES, **request_kwargs), status)
    assert said in body["message"], body


def test_a_multipart_body_without_any_file_is_a_422(shade_client: ShadeClient) -> None:
    client = shade_client()
    boundary = "b0undary"
    body = f"--{boundary}--\r\n".encode()
    response = client.post(
        FILES, content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert "no file" in refusal(response, 422)["message"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        pytest.param({"image": "not base64!"}, "not valid base64", id="invalid-base64"),
        pytest.param({"image": ""}, "empty", id="empty"),
        pytest.param({"picture": "AAAA"}, "picture", id="unknown-field"),
    ],
)
def test_bad_json_images_are_422s(shade_client: ShadeClient, body: Any, said: str) -> None:
    client = shade_client()
    assert said in refusal(client.post(PREDICT, json=body), 422)["message"]


def test_invalid_base64_is_located_in_the_body(shade_client: ShadeClient) -> None:
    client = shade_client()
    one = refusal(client.post(PREDICT, json={"image": "@@"}), 422)
    assert one["detail"][0]["loc"] == ["body", "image"]
    ok = base64.b64encode(checker()).decode()
    batch = {"instances": [{"image": ok}, {"image": "@@", "name": None}]}
    assert refusal(client.post(PREDICT, json=batch), 422)["detail"][0]["loc"] == [
        "body",
        "instances",
        1,
        "image",
    ]


def test_a_stranger_is_refused_before_anything_is_stored(
    shade_client: ShadeClient, tmp_path: Path
) -> None:
    client = shade_client({"allow_anonymous": False})
    refusal(client.post(FILES, files={"file": ("a.png", checker())}), 401)
    refusal(client.post(PREDICT, json={"image": base64.b64encode(checker()).decode()}), 401)
    assert stored(tmp_path / "data") == []


def test_an_image_unlike_training_is_warned_about_and_refused_under_reject(
    shade_client: ShadeClient,
) -> None:
    flat = png(np.full((16, 16), 128))  # no contrast at all: training images had 0.1 to 0.5
    client = shade_client()
    row = answer_of(client.post(FILES, files={"file": ("flat.png", flat)}))["predictions"][0]
    [warning] = [w for w in row["warnings"] if w["feature"] == "pixel_std"]
    assert "contrast" in warning["message"]
    assert "between 0.1 and 0.5" in warning["message"]
    assert [w["feature"] for w in row["warnings"]].count("confidence") == 1  # 0.5: below 0.55
    strict = shade_client(ood={"policy": "reject"})
    body = refusal(strict.post(FILES, files={"file": ("flat.png", flat)}), 422)
    assert body["error"] == "out_of_distribution"


def test_the_log_keeps_an_image_by_its_hash_and_feedback_works_alike(
    shade_client: ShadeClient,
) -> None:
    client = shade_client()
    register(client, "ada@example.com")
    ada = bearer(token_for(client, "ada@example.com"))
    image = checker()
    answer = client.post(FILES, files={"file": ("b.png", image)}, headers=ada)
    row = answer_of(answer)["predictions"][0]
    logged = answer_of(client.get(f"/predictions/{row['id']}", headers=ada))
    assert logged["inputs"] == {
        "sha256": hashlib.sha256(image).hexdigest(),
        "name": "b.png",
        "format": "png",
        "width": 32,
        "height": 32,
    }
    feedback = {"prediction_id": row["id"], "label": "dark", "score": 0.2, "comment": "too dim"}
    answer_of(client.post("/feedback", json=feedback, headers=ada), 201)


def test_the_docs_show_the_upload_form_with_its_limits(shade_client: ShadeClient) -> None:
    client = shade_client()
    operation = client.get("/openapi.json").json()["paths"][FILES]["post"]
    content = operation["requestBody"]["content"]["multipart/form-data"]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    ref = content["schema"]["$ref"].rsplit("/", 1)[-1]
    field = schema[ref]["properties"]["file"]
    assert "1 to 4 images (png, jpeg)" in field["description"]
    assert "200,000 bytes" in field["description"]
    assert "/models/shade/predict" in client.get("/openapi.json").json()["paths"]
    detail = answer_of(client.get("/models/shade"))
    assert detail["input"] == "image"
    assert detail["image"]["size"] == [4, 4]
    assert base64.b64decode(detail["example"]["image"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_image_model_has_no_query_form(shade_client: ShadeClient) -> None:
    client = shade_client()
    response = client.get(PREDICT, params={"x": 1})
    body = refusal(response, 405)
    assert response.headers["allow"] == "POST"
    assert "takes POST" in body["message"]
    refusal(client.post("/models/shade/predict/file", json={}), 415)
