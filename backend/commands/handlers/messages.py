"""message_ack: the worker has read a supervisor's message."""

from __future__ import annotations

from pydantic import Field

from backend import audit
from backend.bounds import Text
from backend.commands.context import CommandContext
from backend.commands.registry import CommandPayload, CommandSet

commands = CommandSet()


class MessageAck(CommandPayload):
    message_id: Text = Field(min_length=1, max_length=64)


@commands.command("message_ack", payload=MessageAck)
def message_ack(ctx: CommandContext, payload: MessageAck) -> dict:
    site_id = ctx.actor.site_id
    audit.record(ctx.session, user_id=ctx.user_id, site_id=site_id, action="message.read", entity="device_message",
                 entity_id=payload.message_id, after={"device_id": ctx.actor.device_id})
    return {"message_id": payload.message_id, "read": True}
