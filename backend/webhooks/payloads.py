"""What each event says (docs/webhooks.md shows every type): references an ERP knows, lines, quantities in units."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from backend.models import Container, Order, OrderLine, Product, Quant, WarehouseException
from backend.webhooks import outbox


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def order_ref(order: Order, status: str | None = None) -> dict[str, Any]:
    return {"id": order.id, "reference": order.reference, "customer": order.customer, "carrier": order.carrier,
            "service": order.service, "status": status or order.status}


def order_lines(session: Session, order_id: int) -> list[dict[str, Any]]:
    """Every line: ordered, allocated and picked units (`sku` and the unit the sender ordered in)."""
    rows = session.exec(
        select(OrderLine.line_no, Product.sku, OrderLine.quantity, OrderLine.quantity_allocated,
               OrderLine.quantity_picked)
        .join(Product, Product.id == OrderLine.product_id).where(OrderLine.order_id == order_id)
        .order_by(OrderLine.line_no)
    ).all()
    return [{"line_no": n, "sku": sku, "quantity": q, "allocated": a, "picked": p} for n, sku, q, a, p in rows]


def cartons(session: Session, order_id: int) -> list[dict[str, Any]]:
    """The order's cartons (closed or shipped) with their SSCC and what each holds now."""
    rows = session.exec(select(Container).where(Container.order_id == order_id)
                        .order_by(Container.carton_no, Container.id)).all()
    contents: dict[int, list[dict[str, Any]]] = {c.id: [] for c in rows}
    if rows:
        for container_id, sku, lot, expiry, on_hand in session.exec(
                select(Quant.container_id, Product.sku, Quant.lot, Quant.expiry, Quant.on_hand)
                .join(Product, Product.id == Quant.product_id)
                .where(Quant.container_id.in_(list(contents)), Quant.on_hand > 0)
                .order_by(Quant.container_id, Product.sku, Quant.lot)).all():
            contents[container_id].append({"sku": sku, "lot": lot, "expiry": _iso(expiry), "quantity": on_hand})
    return [{"sscc": c.sscc, "carton_no": c.carton_no, "carton_type": c.carton_type, "weight_kg": c.weight_kg,
             "items": contents[c.id]} for c in rows]


def order_event(session: Session, order: Order, type_: str, *, status: str | None = None,
                with_cartons: bool = False, **extra: Any) -> None:
    """Record an order event: the order, its lines, (its cartons), and `extra` fields."""
    session.flush()  # (the sessions do not autoflush: the lines and cartons are read back)
    payload = {"order": order_ref(order, status), "lines": order_lines(session, order.id), **extra}
    if with_cartons:
        payload["cartons"] = cartons(session, order.id)
    outbox.record(session, order.site_id, type_, payload)


def exception_ref(exc: WarehouseException) -> dict[str, Any]:
    return {"id": exc.id, "kind": exc.kind, "state": exc.state, "message": exc.message, "task_id": exc.task_id,
            "details": exc.details or {}, "raised_by": exc.raised_by, "created_at": _iso(exc.created_at)}


def exception_raised(session: Session, exc: WarehouseException) -> None:
    """`exception.raised` for a new exception (flushed here if it has no id yet)."""
    if exc.id is None:
        session.add(exc)
        session.flush()
    outbox.record(session, exc.site_id, "exception.raised", {"exception": exception_ref(exc)})


def exception_resolved(session: Session, exc: WarehouseException) -> None:
    outbox.record(session, exc.site_id, "exception.resolved", {
        "exception": {**exception_ref(exc), "resolved_by": exc.resolved_by, "resolved_at": _iso(exc.resolved_at),
                      "resolution_note": exc.resolution_note}})


def iso(value: date | datetime | None) -> str | None:
    return _iso(value)
