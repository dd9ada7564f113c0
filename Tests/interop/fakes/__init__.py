"""Fake LLM providers for the interop suite: the upstreams the gateway calls, speaking the providers' wire formats.

`FakeOpenAI` serves `/v1/chat/completions`, `/v1/responses`, `/v1/embeddings` and `/v1/models` (base URL
`http://127.0.0.1:PORT/v1`); `FakeAnthropic` serves `/v1/messages` (base URL `http://127.0.0.1:PORT`). Both record
every request and the usage they billed, switch between failure modes through methods, and notice when a client
closes a connection before the reply ended.
"""

from fakes.anthropic_fake import FakeAnthropic
from fakes.openai_fake import FakeOpenAI
from fakes.server import FakeProvider, RecordedRequest

__all__ = ["FakeAnthropic", "FakeOpenAI", "FakeProvider", "RecordedRequest"]
