"""Drift detection: compare recent requests and labelled batches with the champion's training
data, and start a forced retraining when they drift.

`run_drift_check` is the entry point; the drift function's handler only parses its event and
calls it. Evidently is imported only when a data drift check runs.
"""

from mhpe.drift.check import DriftResources, run_drift_check
from mhpe.drift.settings import DriftSettings, load_drift_settings

__all__ = ["DriftResources", "DriftSettings", "load_drift_settings", "run_drift_check"]
