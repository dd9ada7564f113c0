"""Runs one fake provider until interrupted, for trying the gateway by hand:

    python -m fakes openai --api-key sk-test      # prints the base URL to use as OPENAI_BASE_URL
    python -m fakes anthropic --api-key sk-ant    # prints the base URL to use as ANTHROPIC_BASE_URL

It stops after --seconds (an hour unless told) or at Ctrl-C.
"""

from __future__ import annotations

import argparse
import threading

from fakes.anthropic_fake import FakeAnthropic
from fakes.openai_fake import FakeOpenAI


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fakes")
    parser.add_argument("kind", choices=["openai", "anthropic"])
    parser.add_argument("--api-key", required=True, help="the provider key the fake accepts")
    parser.add_argument("--chunk-delay", type=float, default=0.05, help="seconds between stream events")
    parser.add_argument("--seconds", type=float, default=3600.0, help="serve this long at most")
    options = parser.parse_args()
    kind = FakeOpenAI if options.kind == "openai" else FakeAnthropic
    fake = kind(api_key=options.api_key, chunk_delay=options.chunk_delay).start()
    print(fake.base_url, flush=True)
    try:
        threading.Event().wait(options.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        fake.close()


if __name__ == "__main__":
    main()
