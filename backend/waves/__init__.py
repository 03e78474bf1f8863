"""Waves and pick batches. ``batching``, ``clustering`` and ``improvement`` are pure (no database, no web)."""

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
from backend.waves.improvement import improve_batches_by_route

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
    "improve_batches_by_route",
    "pack_order",
    "plan_fcfs",
    "plan_tours",
    "release_key",
]
