"""Calls every RPC of a router once and prints one JSON line per call, so a
test (tests/it/clients.rs) can check what a Python program really gets.

usage: python smoke.py ADDRESS MODEL
"""

import json
import sys

import grpc

from ai_router_client import Client, pb


def main() -> None:
    address, model = sys.argv[1], sys.argv[2]
    with Client(address, timeout=30) as client:
        reply = client.generate(model, "hello from python", max_tokens=5)
        print(json.dumps({"call": "generate", "text": reply.text, "model": reply.model,
                          "completion_tokens": reply.usage.completion_tokens,
                          "trace_id": reply.trace_id}))

        deltas, done = [], None
        for chunk in client.generate_stream(model, "stream to python", max_tokens=4):
            if chunk.delta:
                deltas.append(chunk.delta)
            if chunk.HasField("done"):
                done = chunk.done
        print(json.dumps({"call": "generate_stream", "deltas": deltas,
                          "finish": pb.FinishReason.Name(done.finish_reason) if done else None}))

        items = [Client.request(model, f"item {i}", 3) for i in range(3)]
        items.append(Client.request("no-such-model", "missing", 3))
        results = sorted(
            ({"index": r.index, "ok": r.HasField("response"),
              "code": r.error.code if r.HasField("error") else 0}
             for r in client.batch_generate(items)),
            key=lambda r: r["index"])
        print(json.dumps({"call": "batch_generate", "results": results}))

        try:
            client.generate(model, "", max_tokens=0)
            print(json.dumps({"call": "invalid", "code": "OK"}))
        except grpc.RpcError as err:
            print(json.dumps({"call": "invalid", "code": err.code().name,
                              "details": err.details()}))

        stats = client.stats()
        models = client.list_models()
        print(json.dumps({"call": "stats", "total_requests": stats.total_requests,
                          "models": [m.id for m in models.models]}))


if __name__ == "__main__":
    main()
