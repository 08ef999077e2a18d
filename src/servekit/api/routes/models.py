"""What models are served, and each one's metadata and input schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from servekit.api.deps import ServedDep
from servekit.api.schemas import ErrorPublic, ModelSummary
from servekit.serving.registry import ServedModels
from servekit.serving.service import ModelService

router = APIRouter(tags=["models"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such model"}
}


def summaries(served: ServedModels) -> list[ModelSummary]:
    """One summary per model name."""
    out = []
    for name, versions in served.services.items():
        latest = served.get(name).manifest
        out.append(
            ModelSummary(
                name=name,
                latest=latest.version,
                versions=list(versions),
                task=latest.task.value,
                runtime=latest.runtime,
                description=latest.description,
            )
        )
    return out


def detail(service: ModelService, served: ServedModels) -> dict[str, Any]:
    """Everything a client needs to call one model version."""
    m = service.manifest
    name = m.name
    return {
        "name": name,
        "version": m.version,
        "versions": list(served.services[name]),
        "task": m.task.value,
        "runtime": m.runtime,
        "description": m.description,
        "loaded": service.loaded,
        **service.codec.describe(),
        "outputs": m.outputs.model_dump(exclude_none=True),
        "example": service.codec.example(),
        "batching": m.batching.model_dump(exclude_none=True),
        "out_of_distribution": m.ood.model_dump(),
        "training_rows": m.training_stats.rows if m.training_stats else None,
        "endpoints": {
            "predict": f"/models/{name}/predict",
            "pinned": f"/models/{name}/versions/{m.version}/predict",
        },
    }


@router.get("/models", response_model=list[ModelSummary])
async def list_models(served: ServedDep) -> list[ModelSummary]:
    """Every served model with its versions."""
    return summaries(served)


@router.get("/models/{name}", responses=NOT_FOUND)
async def get_model(name: str, served: ServedDep) -> dict[str, Any]:
    """The latest version's metadata and input schema."""
    return detail(served.get(name), served)


@router.get("/models/{name}/versions/{version}", responses=NOT_FOUND)
async def get_model_version(name: str, version: str, served: ServedDep) -> dict[str, Any]:
    """One version's metadata and input schema."""
    return detail(served.get(name, version), served)
