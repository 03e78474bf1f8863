"""Business events for the ERP: the outbox (`outbox`), what each says (`payloads`), signed webhook delivery
(`delivery`, `signing`) and the pull feed (backend.api.routes.webhooks). See docs/webhooks.md."""
