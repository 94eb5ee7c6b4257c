"""The MongoDB driver's client: how ``MongoStore`` makes one, and the probe that asks
whether a server answers. Beside ``mongo.py``, the only module that imports motor or
pymongo."""

from __future__ import annotations

from bson.errors import BSONError
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import PyMongoError

from .documents import Doc

__all__ = ["mongo_answers", "new_client"]


async def mongo_answers(uri: str, *, timeout_s: float = 2.0) -> bool:
    """Whether a MongoDB server answers a ping at ``uri`` within ``timeout_s``."""
    client: AsyncIOMotorClient[Doc] | None = None
    try:
        client = new_client(uri, timeout_s)
        await client["admin"].command("ping")
    except (PyMongoError, BSONError):  # handled: a probe; no answer means no
        return False
    finally:
        if client is not None:
            client.close()
    return True


def new_client(uri: str, timeout_s: float) -> AsyncIOMotorClient[Doc]:
    ms = max(1, int(timeout_s * 1000))
    return AsyncIOMotorClient(uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, tz_aware=True)
