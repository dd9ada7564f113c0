"""Time to first byte of streamed chat completions, for bench/guard-run: sends N streaming
requests one after another on one keep-alive connection and prints the median time to the
response's first byte and to the first text delta, in microseconds:

    python3 bench/ttfb.py URL KEY N      ->   "TTFB first_byte_us=... first_text_us=..."
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
import urllib.parse

BODY = json.dumps(
    {"model": "bench-stream", "stream": True, "messages": [{"role": "user", "content": "Write one sentence."}]}
).encode()


def main() -> None:
    url = urllib.parse.urlsplit(sys.argv[1])
    key, count = sys.argv[2], int(sys.argv[3])
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    first_byte: list[float] = []
    first_text: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request(
            "POST",
            url.path,
            body=BODY,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        first_byte.append(time.perf_counter() - started)
        seen_text = False
        while line := response.readline():
            if not seen_text and line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line:
                first_text.append(time.perf_counter() - started)
                seen_text = True
        if response.status != 200 or not seen_text:
            sys.exit(f"ttfb: status {response.status}, text seen: {seen_text}")
    print(
        f"TTFB first_byte_us={statistics.median(first_byte) * 1e6:.0f} "
        f"first_text_us={statistics.median(first_text) * 1e6:.0f}"
    )


if __name__ == "__main__":
    main()
