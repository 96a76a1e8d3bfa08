"""What one login try costs: the argon2id hash and verification (RFC 9106 defaults of
argon2-cffi), and a whole `POST /login` through the real app on SQLite (TestClient).

    .venv/bin/python bench/auth_bench.py [--runs 10]

Prints the median and the spread of each; the machine and its load go with the figures in
docs/benchmarks.md (the test machine is shared: say so).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test helpers build the app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=10)
    args = p.parse_args()

    from argon2 import PasswordHasher

    h = PasswordHasher()
    hashes, verifies = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        stored = h.hash("correct horse battery")
        hashes.append(time.perf_counter() - t)
        t = time.perf_counter()
        h.verify(stored, "correct horse battery")
        verifies.append(time.perf_counter() - t)

    from alerts.auth import Role, create_user
    from tests.alerts.authkit import app_with_test_routes, client, form_token, runtime_on
    from tests.alerts.scenario import T0, Clock
    from worker.storage.db import upgrade

    logins = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        rt = runtime_on(url, Path(tmp))
        with rt.sessions.begin() as s:
            create_user(s, "bench", Role.viewer, T0, password="correct horse battery")
        c = client(app_with_test_routes(rt, Clock()))
        for _ in range(args.runs):
            token = form_token(c.get("/login").text)
            t = time.perf_counter()
            r = c.post(
                "/login",
                data={"name": "bench", "password": "correct horse battery", "csrf_token": token},
            )
            logins.append(time.perf_counter() - t)
            assert r.status_code == 303, r.status_code
            c.cookies.clear()
        rt.dispose()

    print(f"params: time_cost={h.time_cost} memory_cost={h.memory_cost} KiB "
          f"parallelism={h.parallelism}; runs={args.runs}; load={os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, xs in (("hash", hashes), ("verify", verifies), ("POST /login", logins)):
        print(f"{name:12} median {statistics.median(xs) * 1000:7.1f} ms   "
              f"min {min(xs) * 1000:7.1f}   max {max(xs) * 1000:7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
