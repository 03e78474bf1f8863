"""Waves and pick batches. ``batching`` and ``clustering`` are pure (no database, no web)."""

from backend.waves.batching import (
    BatchPlan,
    CartSpec,
    Pick,
    PickLine,
    PickOrder,
    PlanSettings,
    Tour,
    TourStop,
    ToteLoad,
    UnplannedOrder,
    pack_order,
    plan_fcfs,
    plan_tours,
    release_key,
)
from backend.waves.clustering import BatchingSettings

__all__ = [
    "BatchPlan",
    "BatchingSettings",
    "CartSpec",
    "Pick",
    "PickLine",
    "PickOrder",
    "PlanSettings",
    "Tour",
    "TourStop",
    "ToteLoad",
    "UnplannedOrder",
    "pack_order",
    "plan_fcfs",
    "plan_tours",
    "release_key",
]
