"""Webhooks: the registry tells receivers when something changes in its store.

Owns the hook records and their delivery logs in the store (:mod:`.hooks`, :mod:`.deliveries`),
signing and verifying bodies (:mod:`.signing`; ``modelshelf.registry.verify_webhook`` for
receivers), the retry schedule (:mod:`.schedule`), one delivery over HTTP (:mod:`.sender`), the
lease that lets one replica deliver at a time (:mod:`.lease`), the per-hook ordered queues
(:mod:`._lanes`), the dispatcher that follows the store-wide log (:mod:`.dispatcher`) and the
admin routes (:mod:`.routes`).

```
registry/webhooks/<hook id>.json                       the hook {id, url, events, prefix, secret,
                                                       created, who, registry}; create-only
registry/webhooks/<hook id>/cursor/<NNNNNNNN>.json     the hook's cursor into the store-wide log;
                                                       numbered, create-only (compare-and-swap)
registry/webhooks/<hook id>/deliveries/<ID>.json       one record per attempt; the last N kept
registry/webhooks/_lease/<NNNNNNNN>.json               which replica delivers, until when
```

May import: store, backends and the vocabulary (FastAPI only in :mod:`.routes`); never shelf,
serve or cli.
"""
