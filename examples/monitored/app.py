"""A small FastAPI app that is not servekit, with servekit's monitoring: ``uvicorn app:app``."""

from fastapi import FastAPI, HTTPException

from servekit.monitoring import instrument

app = instrument(FastAPI(title="items"))
ITEMS = {1: "coffee", 2: "tea"}


@app.get("/items/{item_id}")
def read_item(item_id: int) -> dict[str, object]:
    if item_id not in ITEMS:
        raise HTTPException(404, "no such item")
    return {"id": item_id, "name": ITEMS[item_id]}
