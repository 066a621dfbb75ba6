#!/usr/bin/python3
"""Measures a running `iris serve` and prints one JSON object: KServe infer latency (JSON and
binary tensors, one client), infer throughput with concurrent clients, and how long the health
and stream endpoints take while 100 slow clients dribble bodies and 20 MJPEG viewers watch.

usage: serve.py PORT MODEL STREAM [--requests N] [--clients N]

MODEL is a model of the served config, STREAM one of its streams (for the MJPEG viewers). The
input is the model's shape from its metadata, batch 1, filled with 0.5. Standard library only.
"""

import argparse
import http.client
import json
import socket
import statistics
import struct
import threading
import time


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def quantiles(seconds):
    s = sorted(seconds)
    return {"p50_ms": round(1000 * s[len(s) // 2], 3),
            "p99_ms": round(1000 * s[min(len(s) - 1, int(len(s) * 0.99))], 3),
            "mean_ms": round(1000 * statistics.fmean(s), 3)}


def timed(fn, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        status = fn()
        out.append(time.perf_counter() - t0)
        assert status == 200, status
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("model")
    p.add_argument("stream")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--clients", type=int, default=8)
    a = p.parse_args()

    status, meta = request(a.port, "GET", f"/v2/models/{a.model}")
    assert status == 200, meta
    tensor = json.loads(meta)["inputs"][0]
    shape = [1] + tensor["shape"][1:]
    count = 1
    for d in shape:
        count *= d
    path = f"/v2/models/{a.model}/infer"
    json_body = json.dumps({"inputs": [{"name": tensor["name"], "shape": shape,
                                        "datatype": "FP32", "data": [0.5] * count}]})
    head = json.dumps({"inputs": [{"name": tensor["name"], "shape": shape, "datatype": "FP32",
                                   "parameters": {"binary_data_size": 4 * count}}],
                       "parameters": {"binary_data_output": True}}).encode()
    binary_body = head + struct.pack(f"<{count}f", *([0.5] * count))
    binary_headers = {"Inference-Header-Content-Length": str(len(head))}

    result = {"model": a.model, "input_shape": shape}
    result["infer_json"] = quantiles(
        timed(lambda: request(a.port, "POST", path, json_body)[0], a.requests))
    result["infer_binary"] = quantiles(
        timed(lambda: request(a.port, "POST", path, binary_body, binary_headers)[0], a.requests))

    per_client = a.requests // a.clients
    done = []
    def client():
        done.extend(timed(lambda: request(a.port, "POST", path, binary_body,
                                          binary_headers)[0], per_client))
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    result["infer_binary_concurrent"] = dict(quantiles(done), clients=a.clients,
                                             requests_per_s=round(len(done) / elapsed, 1))

    # Hostile load: connections held open by slow uploads and endless viewers.
    stop = threading.Event()
    socks = []
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(b"POST /api/streams HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
        socks.append(s)
    viewers = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(f"GET /api/streams/{a.stream}/live.mjpg HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        viewers.append(s)
    def dribble():
        while not stop.is_set():
            for s in socks:
                s.sendall(b" ")
            time.sleep(0.1)
    def watch(s):
        s.settimeout(1)
        while not stop.is_set():
            try:
                if not s.recv(65536):
                    return
            except OSError:
                pass
    workers = [threading.Thread(target=dribble)] + [threading.Thread(target=watch, args=(s,))
                                                    for s in viewers]
    for w in workers:
        w.start()
    time.sleep(1)
    result["under_load"] = {
        "slow_clients": len(socks), "mjpeg_viewers": len(viewers),
        "health_ready": quantiles(timed(
            lambda: request(a.port, "GET", "/v2/health/ready")[0], 50)),
        "api_streams": quantiles(timed(lambda: request(a.port, "GET", "/api/streams")[0], 50)),
        "infer_binary": quantiles(timed(
            lambda: request(a.port, "POST", path, binary_body, binary_headers)[0], 50)),
    }
    stop.set()
    for w in workers:
        w.join()
    for s in socks + viewers:
        s.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
