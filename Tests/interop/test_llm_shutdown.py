"""Graceful shutdown with a stream still open: the gateway ends it cleanly and exits 0 in time."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from conftest import LLMStack

USER = [{"role": "user", "content": "Say hello to the gateway"}]


@pytest.mark.llm
def test_sigterm_ends_an_open_stream_with_an_error_event_and_exits_0(llm: LLMStack) -> None:
    import openai

    llm.primary.stream_then_hang(2)  # the role chunk and "Hello ", then the provider goes silent
    received: list[str] = []
    failure: list[BaseException] = []
    first_content = threading.Event()

    def read_stream() -> None:
        try:
            for chunk in llm.openai_client().chat.completions.create(
                model="gpt-4o-mini", messages=USER, stream=True
            ):
                received.append(chunk.choices[0].delta.content or "")
                if "".join(received):
                    first_content.set()
        except BaseException as error:  # the assertion below names what arrived
            failure.append(error)
            first_content.set()

    reader = threading.Thread(target=read_stream, daemon=True)
    reader.start()
    assert first_content.wait(10), "the stream never started"

    started = time.monotonic()
    exit_code = llm.gateway.stop(signal.SIGTERM, timeout=8)
    elapsed = time.monotonic() - started
    reader.join(5)

    assert exit_code == 0
    assert elapsed < 5.0, f"shutdown took {elapsed:.2f} s"
    assert "".join(received) == "Hello "
    # The stream ended with the OpenAI error frame (the SDK raises APIError on it), not a cut connection.
    assert len(failure) == 1 and isinstance(failure[0], openai.APIError), repr(failure)
    assert "shutting down" in str(failure[0])
