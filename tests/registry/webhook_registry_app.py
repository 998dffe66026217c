"""A registry app with given webhook settings, in a process of its own: the webhook tests kill
it (a crash) and start another over the same store. Prints its port once it listens.

Usage: webhook_registry_app.py STORE_URL SETTINGS_JSON OPTIONS_JSON
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import uvicorn
from tests.registry.webhook_helpers import settings_from_json

from modelshelf.backends.registry import open_backend
from modelshelf.registry.app import create_app
from modelshelf.store.bucket import Store


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    store = Store(open_backend(sys.argv[1], **json.loads(sys.argv[3])))
    app = create_app(store)
    app.state.webhook_settings = settings_from_json(sys.argv[2])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)

    async def run() -> None:
        await asyncio.gather(server.serve(), announce())

    asyncio.run(run())


if __name__ == "__main__":
    main()
