"""Every /api/v1 router, registered in one place."""

from fastapi import APIRouter

from backend.api.routes import auth, containers, exceptions, inbound, inventory, locations, org, products, scans, tasks, users

api_router = APIRouter()
for module in (auth, users, org, locations, products, containers, inventory, inbound, tasks, exceptions, scans):
    api_router.include_router(module.router)
