"""Router CPU per unary Generate at a fixed call rate, read from /proc.

Sends `Generate` calls through grpcio at RATE calls per second (open loop,
the calls in flight as futures) for SECONDS, then prints one JSON line: the
rate reached, the router process's CPU time per call (user + system, all its
threads, the ledger writer's included) and its context switches per call.
The caller runs in its own process, so none of its CPU is counted.

usage: cpu_per_call.py ADDRESS MODEL RATE SECONDS ROUTER_PID [API_KEY]
"""

import glob
import json
import os
import sys
import time

import grpc

from ai_router_client import Client
from ai_router_client._proto.airouter.v1 import router_pb2_grpc


def cpu_ticks(pid: str) -> int:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def context_switches(pid: str) -> int:
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(status):
                if "ctxt_switches" in line:
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended while we read
    return total


def main() -> None:
    address, model, rate, seconds, pid = sys.argv[1:6]
    key = sys.argv[6] if len(sys.argv) > 6 else None
    rate, seconds = float(rate), float(seconds)
    metadata = [("authorization", f"Bearer {key}")] if key else None
    stub = router_pb2_grpc.RouterStub(grpc.insecure_channel(address))
    request = Client.request(model, "Say something short.", 8)
    stub.Generate(request, metadata=metadata)  # connection up, route warm

    calls = int(rate * seconds)
    futures = []
    ticks0, switches0 = cpu_ticks(pid), context_switches(pid)
    start = time.perf_counter()
    for i in range(calls):
        wait = start + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        futures.append(stub.Generate.future(request, metadata=metadata))
    for f in futures:
        f.result()
    elapsed = time.perf_counter() - start
    ticks, switches = cpu_ticks(pid) - ticks0, context_switches(pid) - switches0
    print(json.dumps({
        "rate": round(calls / elapsed, 1),
        "cpu_us_per_call": round(ticks / os.sysconf("SC_CLK_TCK") / calls * 1e6, 1),
        "switches_per_call": round(switches / calls, 2),
    }))


if __name__ == "__main__":
    main()
