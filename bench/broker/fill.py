"""Asks the broker's App Service endpoint for one token per resource, over keep-alive
connections from a few threads (standard library only), and checks every answer.

    BENCH_IDENTITY_HEADER=... python3 fill.py IDENTITY_ENDPOINT PREFIX COUNT [THREADS]

Resource i is PREFIX followed by i in five digits (api://bench-broker-00042). Prints one
JSON line: {"ok": n, "failed": n, "seconds": s, "distinct_tokens": n, "first_failure": ...};
exits 1 unless every request got a token.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit


def main() -> int:
    endpoint, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    secret = os.environ["BENCH_IDENTITY_HEADER"]
    url = urlsplit(endpoint)
    local = threading.local()

    def fetch(i: int) -> tuple[bool, str]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        query = urlencode({"resource": f"{prefix}{i:05d}", "api-version": "2019-08-01"})
        try:
            conn.request("GET", f"{url.path}?{query}", headers={"X-IDENTITY-HEADER": secret})
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as e:
            local.conn = None
            conn.close()
            return False, f"resource {i}: {e!r}"
        if resp.status != 200:
            return False, f"resource {i}: HTTP {resp.status} {body[:300]!r}"
        token = json.loads(body).get("access_token", "")
        return token.count(".") == 2, token if token.count(".") == 2 else f"resource {i}: no token in {body[:300]!r}"

    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(fetch, range(count)))
    seconds = time.monotonic() - start
    failures = [detail for ok, detail in results if not ok]
    tokens = {detail for ok, detail in results if ok}
    print(json.dumps({
        "ok": count - len(failures), "failed": len(failures), "seconds": round(seconds, 2),
        "distinct_tokens": len(tokens), "first_failure": failures[0] if failures else None,
    }))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
