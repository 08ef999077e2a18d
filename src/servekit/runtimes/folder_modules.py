"""The Python modules a model folder carries, importable while its artifact is unpickled.

A pipeline that holds a function of its training code pickles a reference to that function's
module. Kept as a file beside the artifact, the module is found there (no ``PYTHONPATH``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servekit.exceptions import ModelLoadError


@contextmanager
def importable(folder: Path) -> Iterator[None]:
    """``folder``'s ``*.py`` files importable by their names for the length of the block."""
    for file in sorted(folder.glob("*.py")):
        loaded = sys.modules.get(file.stem)
        where = getattr(loaded, "__file__", None)
        if loaded is not None and (where is None or Path(where).resolve() != file.resolve()):
            raise ModelLoadError(
                f"{folder} carries {file.name}, but a module {file.stem!r} is already loaded "
                f"from {where or 'elsewhere'}: give the model's module a name of its own"
            )
    with on_path([folder]):
        yield


@contextmanager
def on_path(folders: list[Path]) -> Iterator[None]:
    """``folders`` first on the import path for the length of the block."""
    entries = list(dict.fromkeys(str(f) for f in folders))
    sys.path[:0] = entries
    try:
        yield
    finally:
        for entry in entries:
            sys.path.remove(entry)


def unpickling_help(exc: BaseException, artifact: Path) -> str | None:
    """One line saying what to do when ``exc`` is a pickle's missing training code, else None."""
    text = str(exc)
    if isinstance(exc, AttributeError) and "on <module '__main__'" in text:
        found = re.search(r"attribute '([^']+)'", text)
        name = found.group(1) if found else "a function"
        return (
            f"{artifact} refers to {name!r} of the script that trained it (module __main__), "
            "which no server can import: move it into a module of its own (features.py, say), "
            "import it from there, train again, and package with --code features.py"
        )
    if isinstance(exc, ModuleNotFoundError):
        return (
            f"{artifact} needs the module {exc.name!r}, which is not installed here: put its file "
            f"in the model folder (servekit package --code {exc.name}.py) or install it"
        )
    return None
