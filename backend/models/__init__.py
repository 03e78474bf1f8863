"""All tables. Importing this package registers them on SQLModel.metadata."""

from .auth import LoginThrottle, RefreshToken, User, UserSite
from .base import utcnow
from .devices import DEVICE_KINDS, Device, DeviceCommand, DeviceEvent, WorkerProfile
from .inbound import InboundLine, InboundShipment, Receipt
from .insights import OrderRiskPrediction
from .inventory import AuditEntry, Move, Quant
from .kpi_rollups import KpiPickHour, KpiRollup, KpiShippedOrder
from .master import (
    CONTAINER_KINDS,
    PACK_LEVELS,
    Company,
    Container,
    Location,
    Product,
    ProductGtin,
    Site,
    Counter,
    Zone,
)
from .printing import LABEL_TYPES, PRINT_JOB_STATES, Printer, PrintJob, PrintRoute
from .outbound import ORDER_STATUSES, Order, OrderLine, Reservation, Tour, TourTote, Wave
from .webhooks import DELIVERY_STATES, IntegrationEvent, WebhookDelivery, WebhookSubscription
from .work import TASK_KINDS, TASK_STATES, PutawayRule, Task, WarehouseException

__all__ = [
    "LABEL_TYPES", "PRINT_JOB_STATES", "Printer", "PrintJob", "PrintRoute",
    "DEVICE_KINDS", "Device", "DeviceCommand", "DeviceEvent", "WorkerProfile",
    "LoginThrottle", "RefreshToken", "User", "UserSite", "utcnow", "InboundLine", "InboundShipment", "Receipt",
    "OrderRiskPrediction",
    "KpiPickHour", "KpiRollup", "KpiShippedOrder",
    "AuditEntry", "Move", "Quant", "CONTAINER_KINDS", "PACK_LEVELS",
    "Company", "Container", "Location", "Product", "ProductGtin", "Site", "Counter", "Zone",
    "DELIVERY_STATES", "IntegrationEvent", "WebhookDelivery", "WebhookSubscription",
    "ORDER_STATUSES", "Order", "OrderLine", "Reservation", "Tour", "TourTote", "Wave", "TASK_KINDS", "TASK_STATES", "PutawayRule", "Task", "WarehouseException",
]
