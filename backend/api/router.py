"""Every /api/v1 router, registered in one place."""

from fastapi import APIRouter, Depends

from backend.api.deps import authorize
from backend.api.routes import anomalies
from backend.api.routes import at_risk
from backend.api.routes import auth
from backend.api.routes import containers
from backend.api.routes import counts
from backend.api.routes import device_commands
from backend.api.routes import devices
from backend.api.routes import documents
from backend.api.routes import exceptions
from backend.api.routes import inbound
from backend.api.routes import inventory
from backend.api.routes import kpis
from backend.api.routes import locations
from backend.api.routes import orders
from backend.api.routes import org
from backend.api.routes import packing
from backend.api.routes import printing
from backend.api.routes import products
from backend.api.routes import scans
from backend.api.routes import tasks
from backend.api.routes import tours
from backend.api.routes import users
from backend.api.routes import waves
from backend.api.routes import webhooks
from backend.api.routes import workers

# documents first: /locations/labels.pdf must not be read as the location code "labels.pdf"
ROUTERS = [documents, printing, auth, users, org, locations, products, containers, inventory, inbound, tasks, exceptions, scans, orders, waves]
ROUTERS += [devices, device_commands, workers, tours, packing]
ROUTERS += [at_risk, anomalies]
ROUTERS += [kpis]
ROUTERS += [webhooks]

# Every route's roles come from the access matrix (backend/api/access.py), checked before anything else.
api_router = APIRouter(dependencies=[Depends(authorize)])
for module in ROUTERS:
    api_router.include_router(module.router)
api_router.include_router(orders.replenishment_router)
api_router.include_router(counts.router)
