"""Locust users for servekit: ``locust -f loadtest/locustfile.py --host http://127.0.0.1:8000``.

The users live in the package (``servekit.loadtest.locustfile``), so that ``servekit loadtest``
has them wherever servekit is installed; Locust finds every user class imported here. Run a few
by name: ``locust -f loadtest/locustfile.py IrisPredict DigitsUpload``.
"""

from servekit.loadtest.locustfile import (
    DigitsUpload,
    Forecast,
    Index,
    IrisBatch,
    IrisPredict,
    NerText,
)

__all__ = ["DigitsUpload", "Forecast", "Index", "IrisBatch", "IrisPredict", "NerText"]
