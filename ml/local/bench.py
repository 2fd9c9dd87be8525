"""Benchmark of the local ML mode (make bench-ml): a table and one JSON line with every figure and its target.

- handler in process (input_fn + predict_fn + output_fn), one passenger: p50/p99
- HTTP on loopback, one passenger per request, one keep-alive client: p50/p99
- HTTP throughput with concurrent client processes, bounded in requests and seconds
- a batch of 1,000 passengers: in process and over HTTP
- the local flow end to end (cold and warm MLflow store) and `make run` end to end (warm)
The server runs in its own process (python -m ml.local.server), as under `make serve`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ml import contracts, dataset, inference, schema, smoke
from ml.local import registry

TARGETS = {
    "handler_p50_ms": 1.0,
    "http_p50_ms": 3.0,
    "http_p99_ms": 10.0,
    "http_throughput_rps": 500.0,  # at least
    "batch_1000_ms": 25.0,
    "local_flow_warm_s": 20.0,
    "make_run_warm_s": 20.0,  # the whole make run: the local flow plus synth of every stack
}
JSON_HEADERS = {"Content-Type": contracts.JSON_CONTENT_TYPE}


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed_ms(action: Callable[[], Any], repetitions: int, warmup: int = 50) -> list[float]:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter_ns()
        action()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def naive_pandas_handler(train_dir: Path, one: bytes) -> Callable[[], Any]:
    """The discarded design, for comparison: a DataFrame per request through a fitted ColumnTransformer pipeline."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    records, _ = dataset.read_records(train_dir)
    frame = pd.DataFrame(records)
    numeric, categorical = ["Age", "SibSp", "Parch", "Fare"], ["Pclass", "Sex", "Embarked"]
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("numbers", SimpleImputer(strategy="median"), numeric),
                ("categories", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), categorical),
            ]
        ),
        GradientBoostingClassifier(n_estimators=200, max_depth=2, learning_rate=0.05, random_state=42),
    ).fit(frame[numeric + categorical], frame[schema.LABEL])

    def handle() -> str:
        instances = json.loads(one)["instances"]
        probabilities = pipeline.predict_proba(pd.DataFrame(instances)[numeric + categorical])[:, 1]
        return json.dumps(
            {"predictions": [{"survived": int(p >= 0.5), "probability": float(p)} for p in probabilities]}
        )

    return handle


def passengers(count: int) -> list[dict[str, Any]]:
    records, _ = dataset.read_records(registry.REPO_ROOT / "data" / "titanic.csv")
    rows = [{k: v for k, v in r.items() if k != schema.LABEL} for r in records]
    return [rows[i % len(rows)] for i in range(count)]


def body_of(instances: list[dict[str, Any]]) -> bytes:
    return json.dumps({"instances": instances}).encode("utf-8")


def post(connection: http.client.HTTPConnection, body: bytes) -> None:
    connection.request("POST", "/invocations", body, JSON_HEADERS)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}")


def start_server(model_dir: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ml.local.server", "--model-dir", str(model_dir), "--port", "0"],
        cwd=registry.REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if "http://127.0.0.1:" not in line:
        process.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    port = int(line.split("http://127.0.0.1:", 1)[1].split()[0])
    return process, port


def _client(args: tuple[int, bytes, float, int]) -> int:
    """One load-generating process: keep-alive requests until the deadline or the request cap."""
    port, body, deadline, cap = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = 0
    while done < cap and time.perf_counter() < deadline:
        post(connection, body)
        done += 1
    connection.close()
    return done


def throughput(port: int, body: bytes, clients: int, seconds: float, cap: int) -> tuple[float, int]:
    context = multiprocessing.get_context("fork")
    with context.Pool(clients) as pool:
        start = time.perf_counter()
        counts = pool.map(_client, [(port, body, start + seconds, cap)] * clients)
        elapsed = time.perf_counter() - start
    return sum(counts) / elapsed, sum(counts)


def timed_command(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=registry.REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes for throughput")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput duration bound")
    parser.add_argument("--max-requests", type=int, default=20_000, help="throughput request bound per client")
    parser.add_argument("--skip-make-run", action="store_true", help="do not time `make run`")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"cpu_count": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}

    with tempfile.TemporaryDirectory(prefix="bench-ml-") as temporary:
        work = Path(temporary)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
        flow = [sys.executable, "-m", "ml.local.flow", "--work-dir", str(work / "run")]
        print("timing the local flow (cold MLflow store, then warm) ...", flush=True)
        results["local_flow_cold_s"] = round(timed_command(flow, env), 2)
        results["local_flow_warm_s"] = round(timed_command(flow, env), 2)
        model_dir = work / "run" / "model"

        print("handler in process ...", flush=True)
        model = inference.model_fn(str(model_dir))
        one = body_of(passengers(1))
        batch = body_of(passengers(1000))

        def handle(body: bytes) -> Callable[[], Any]:
            return lambda: inference.output_fn(
                inference.predict_fn(inference.input_fn(body, contracts.JSON_CONTENT_TYPE), model),
                contracts.JSON_CONTENT_TYPE,
            )

        samples = timed_ms(handle(one), 3000)
        results["handler_p50_ms"] = round(percentile(samples, 0.5), 3)
        results["handler_p99_ms"] = round(percentile(samples, 0.99), 3)
        samples = timed_ms(naive_pandas_handler(work / "run" / "splits" / "train", one), 500)
        results["naive_pandas_handler_p50_ms"] = round(percentile(samples, 0.5), 3)
        samples = timed_ms(handle(batch), 50, warmup=5)
        results["batch_1000_handler_p50_ms"] = round(percentile(samples, 0.5), 2)

        print("HTTP on loopback (server in its own process) ...", flush=True)
        process, port = start_server(model_dir)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            samples = timed_ms(lambda: post(connection, one), 2000, warmup=100)
            results["http_p50_ms"] = round(percentile(samples, 0.5), 3)
            results["http_p99_ms"] = round(percentile(samples, 0.99), 3)
            samples = timed_ms(lambda: post(connection, batch), 30, warmup=3)
            results["batch_1000_http_p50_ms"] = round(percentile(samples, 0.5), 2)
            results["batch_1000_ms"] = results["batch_1000_http_p50_ms"]
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            post(connection, smoke.smoke_request_body())
            connection.close()
            print(f"throughput: {args.clients} client processes, <= {args.seconds:g} s ...", flush=True)
            rps, total = throughput(port, one, args.clients, args.seconds, args.max_requests)
            results.update(
                http_throughput_rps=round(rps, 1), throughput_requests=total, throughput_clients=args.clients
            )
        finally:
            process.terminate()
            process.wait(timeout=10)

    if not args.skip_make_run:
        print("timing `make run` (warm) ...", flush=True)
        make_env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
        results["make_run_warm_s"] = round(timed_command(["make", "--no-print-directory", "run"], make_env), 2)
    print_table(results)
    print(json.dumps({"results": results, "targets": TARGETS}, sort_keys=True))
    return 0


def print_table(results: dict[str, Any]) -> None:
    rows = [
        ("handler in process, 1 passenger, p50", "handler_p50_ms", "ms", "<="),
        ("handler in process, 1 passenger, p99", "handler_p99_ms", "ms", None),
        ("(discarded) pandas+ColumnTransformer p50", "naive_pandas_handler_p50_ms", "ms", None),
        ("HTTP loopback, 1 passenger, p50", "http_p50_ms", "ms", "<="),
        ("HTTP loopback, 1 passenger, p99", "http_p99_ms", "ms", "<="),
        ("HTTP throughput, concurrent clients", "http_throughput_rps", "req/s", ">="),
        ("batch of 1000, HTTP, p50", "batch_1000_ms", "ms", "<="),
        ("batch of 1000, in process, p50", "batch_1000_handler_p50_ms", "ms", None),
        ("local flow, cold MLflow store", "local_flow_cold_s", "s", None),
        ("local flow, warm", "local_flow_warm_s", "s", "<="),
        ("make run end to end (flow + synth), warm", "make_run_warm_s", "s", "<="),
    ]
    print(f"\n{'figure':40}{'value':>12}  {'unit':6}{'target':>10}  verdict")
    print("-" * 80)
    for label, key, unit, direction in rows:
        if key not in results:
            continue
        value = results[key]
        target = TARGETS.get(key) if direction else None
        verdict = ""
        if target is not None:
            met = value <= target if direction == "<=" else value >= target
            verdict = "met" if met else "MISSED"
        target_text = f"{direction} {target:g}" if target is not None else ""
        print(f"{label:40}{value:>12}  {unit:6}{target_text:>10}  {verdict}")
    print(
        f"\nmachine: {results['cpu_count']} cores, 1-min load average {results['load_average_1m']} at start "
        "(shared machine: figures are pessimistic)\n"
    )


if __name__ == "__main__":
    sys.exit(main())
