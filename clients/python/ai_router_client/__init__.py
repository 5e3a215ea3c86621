"""Python client for ai-router's gRPC API.

The message and stub modules are generated from ``proto/airouter/v1/router.proto``
by grpcio-tools (``clients/python/generate``); this module adds a thin
``Client`` that opens one channel and names the calls. Everything the proto
offers is reachable through ``Client.stub`` and the ``pb`` module.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator, Optional

import grpc

# The generated modules import each other as ``airouter.v1...``.
_PROTO_DIR = os.path.join(os.path.dirname(__file__), "_proto")
if _PROTO_DIR not in sys.path:
    sys.path.insert(0, _PROTO_DIR)

try:
    from airouter.v1 import router_pb2 as pb  # noqa: E402
    from airouter.v1 import router_pb2_grpc as pb_grpc  # noqa: E402
except ImportError as exc:  # pragma: no cover - a set-up error, said plainly
    raise ImportError(
        "ai_router_client: the generated stubs are missing; run "
        "clients/python/generate with grpcio-tools installed"
    ) from exc

__all__ = ["Client", "pb", "pb_grpc"]


class Client:
    """One channel to a router, e.g. ``Client("127.0.0.1:50051")``.

    ``timeout`` (seconds) becomes the gRPC deadline of every call; the router
    enforces it through queueing, model start and generation.
    """

    def __init__(self, address: str, timeout: Optional[float] = 60.0,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 metadata: Optional[Iterable[tuple]] = None):
        if credentials is None:
            self.channel = grpc.insecure_channel(address)
        else:
            self.channel = grpc.secure_channel(address, credentials)
        self.stub = pb_grpc.RouterStub(self.channel)
        self.timeout = timeout
        self.metadata = list(metadata or [])

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def request(model: str, prompt: str, max_tokens: int = 64,
                **params) -> "pb.GenerateRequest":
        """A request for ``prompt`` (one user message) to ``model``."""
        return pb.GenerateRequest(
            model=model,
            prompt=prompt,
            params=pb.GenerationParams(max_tokens=max_tokens, **params),
        )

    def generate(self, model: str, prompt: str, max_tokens: int = 64,
                 **params) -> "pb.GenerateResponse":
        return self.stub.Generate(self.request(model, prompt, max_tokens, **params),
                                  timeout=self.timeout, metadata=self.metadata)

    def generate_stream(self, model: str, prompt: str, max_tokens: int = 64,
                        **params) -> Iterator["pb.GenerateChunk"]:
        return self.stub.GenerateStream(self.request(model, prompt, max_tokens, **params),
                                        timeout=self.timeout, metadata=self.metadata)

    def batch_generate(self, requests: Iterable["pb.GenerateRequest"],
                       max_concurrency: int = 0) -> Iterator["pb.BatchItemResult"]:
        batch = pb.BatchGenerateRequest(items=list(requests), max_concurrency=max_concurrency)
        return self.stub.BatchGenerate(batch, timeout=self.timeout, metadata=self.metadata)

    def stats(self) -> "pb.StatsResponse":
        return self.stub.Stats(pb.StatsRequest(), timeout=self.timeout, metadata=self.metadata)

    def list_models(self) -> "pb.ListModelsResponse":
        return self.stub.ListModels(pb.ListModelsRequest(), timeout=self.timeout,
                                    metadata=self.metadata)
