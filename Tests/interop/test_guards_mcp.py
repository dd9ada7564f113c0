"""Content guards and session rules on the MCP plane, end to end: the contract sample
samples/policy-gateway.yaml with policies/defaults.yaml's guards (tool results: e-mail addresses and
card numbers masked; tool arguments: card numbers blocked) and its session rule (once web__fetch,
tagged untrusted, returned content in a session, mail__send, tagged egress, is denied there), in front
of samples/servers/agent_tools.py, driven by raw Streamable HTTP in both eras and by the official mcp
SDKs (1.x and 2.x). A webhook guard is tested against a local fake classifier.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mcp_support import mcp1_client, modern_body, modern_headers, wait_until
from test_policy import (  # noqa: F401  (pytest fixtures, used by name)
    POLICY_DENIED,
    PolicyStack,
    agent_tools,
    policy,
    start_policy_gateway,
)

pytestmark = pytest.mark.mcp

CONTACT = "https://shop.example.com/contact"
EMAIL = "alice@example.com"
CARD = "4111 1111 1111 1111"


def result_text(message: dict[str, Any]) -> str:
    assert "result" in message, message
    return "\n".join(part.get("text", "") for part in message["result"]["content"])


def audit_rows(stack: PolicyStack, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    response = stack.admin(f"/admin/audit?{query}")
    assert response.status_code == 200, response.text
    return response.json()["decisions"]


# --- Tool results ---------------------------------------------------------------------------------


def test_a_tool_results_email_and_card_are_masked_while_the_rest_arrives(policy: PolicyStack) -> None:
    researcher = policy.mcp("researcher")
    text = result_text(researcher.modern_call("web__fetch", {"url": CONTACT}))
    assert EMAIL not in text and CARD not in text and "4111" not in text, text
    assert "[EMAIL]" in text and "[CARD]" in text, text
    # Everything around the findings is intact.
    assert text.startswith("Contact us\nQuestions about your order? Write to [EMAIL].\n"), text
    assert "To pay by phone, read out the card on file: [CARD]." in text, text
    # A page with nothing to mask passes unchanged.
    plain = result_text(researcher.modern_call("web__fetch", {"url": "https://shop.example.com/about"}))
    assert plain == "Page at https://shop.example.com/about: nothing special here.", plain

    # The session era and both SDKs get the same masked text.
    session = researcher.raw_client("session")
    assert result_text(session.call("web__fetch", {"url": CONTACT})) == text
    session.close()
    driver = mcp1_client(researcher.mcp1_target(), [{"method": "tools/call", "name": "web__fetch", "arguments": {"url": CONTACT}}])
    assert EMAIL not in json.dumps(driver) and "[EMAIL]" in json.dumps(driver), driver

    async def call(client: Any) -> str:
        result = await client.call_tool("web__fetch", {"url": CONTACT})
        return "\n".join(getattr(part, "text", "") for part in result.content)

    assert researcher.mcp2("/mcp", "auto", call) == text

    # Audited with the guard and the detectors, never with what was found.
    rows = wait_until(
        lambda: [row for row in audit_rows(policy, agent="researcher") if row["decision"] == "redact"],
        5,
        "the redaction in the audit log",
    )
    assert rows[0]["rule"] == "defaults.yaml#mask-pii-in-tool-results", rows[0]
    assert rows[0]["action"] == "guard_tool_result" and rows[0]["target"] == "web__fetch", rows[0]
    assert "email" in rows[0]["reason"] and "payment_card" in rows[0]["reason"], rows[0]
    assert EMAIL not in json.dumps(rows) and "4111" not in json.dumps(rows)


# --- Tool arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        f"my card is {CARD}, thanks",
        "my card is 4111-1111-1111-1111",
        # Fullwidth digits are the same number once normalised.
        "card: \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11",
    ],
)
def test_a_card_number_in_tool_arguments_is_blocked_before_the_tool_sees_it(policy: PolicyStack, body: str) -> None:
    policy.tools.clear()
    message = policy.mcp("researcher").modern_call("mail__send", {"to": "bob@example.com", "body": body})
    error = message["error"]
    assert error["code"] == POLICY_DENIED, message
    assert error["message"].startswith("Blocked by policy:"), error
    assert "payment_card" in error["message"] and "tool arguments" in error["message"], error
    assert error["data"] == {"rule": "defaults.yaml#no-cards-in-tool-arguments", "decision": "block"}, error
    assert "4111" not in error["message"] and "\uff14" not in error["message"]
    assert policy.tools.calls() == [], "a blocked call reached the tool"


def test_arguments_without_a_card_pass_untouched(policy: PolicyStack) -> None:
    policy.tools.clear()
    # 16 digits that fail the Luhn check are an order number, not a card.
    body = "order 4111 1111 1111 1112 ships monday"
    message = policy.mcp("researcher").modern_call("mail__send", {"to": "bob@example.com", "body": body})
    # The result names the recipient, an e-mail address, which the result guard masks.
    assert result_text(message) == "sent to [EMAIL]", message
    assert policy.tools.calls("mail__send") == [
        {"server": "mail", "tool": "send", "arguments": {"to": "bob@example.com", "body": body}}
    ]


# --- Session rules --------------------------------------------------------------------------------


def test_after_web_fetch_mail_send_is_denied_in_that_session_and_allowed_in_a_fresh_one(policy: PolicyStack) -> None:
    researcher = policy.mcp("researcher")
    mail = {"to": "bob@example.com", "body": "hello"}
    session = researcher.raw_client("session")
    assert result_text(session.call("mail__send", mail, request_id=1)) == "sent to [EMAIL]"
    assert "nothing special" in result_text(session.call("web__fetch", {"url": "https://a.example.com/x"}, request_id=2))
    policy.tools.clear()
    refused = session.call("mail__send", mail, request_id=3)
    error = refused["error"]
    assert error["code"] == POLICY_DENIED, refused
    assert error["data"]["rule"] == "defaults.yaml#no-egress-after-untrusted", error
    # The denial names the earlier event that triggered it.
    assert "'mail__send' (tagged egress)" in error["message"], error
    assert "'web__fetch' (tagged untrusted) returned content" in error["message"], error
    assert policy.tools.calls() == []
    # Other tools still work in that session.
    assert result_text(session.call("files__read", {"path": "/srv/public/a.txt"}, request_id=4)) == "contents of /srv/public/a.txt"

    fresh = researcher.raw_client("session")
    assert result_text(fresh.call("mail__send", mail, request_id=1)) == "sent to [EMAIL]"
    fresh.close()
    # Ending the tainted session (DELETE) forgets it.
    assert session.http.delete(
        "/mcp", headers={**researcher.agent_headers, "Mcp-Session-Id": session.session_id or ""}
    ).status_code == 204
    session.close()


def test_the_mcp1_sdk_session_is_tainted_by_web_fetch(policy: PolicyStack) -> None:
    researcher = policy.mcp("researcher")
    mail = {"to": "bob@example.com", "body": "hello"}
    driver = mcp1_client(
        researcher.mcp1_target(),
        [
            {"method": "tools/call", "name": "mail__send", "arguments": mail},
            {"method": "tools/call", "name": "web__fetch", "arguments": {"url": "https://a.example.com/"}},
            {"method": "tools/call", "name": "mail__send", "arguments": mail},
        ],
    )
    first, _, third = driver["results"]
    assert "error" not in first, driver
    assert third["error"]["code"] == POLICY_DENIED and "no-egress-after-untrusted" in third["error"]["message"], driver
    # A new SDK session starts clean.
    again = mcp1_client(researcher.mcp1_target(), [{"method": "tools/call", "name": "mail__send", "arguments": mail}])
    assert "error" not in again["results"][0], again


def test_stateless_clients_are_grouped_by_the_run_header(policy: PolicyStack) -> None:
    researcher = policy.mcp("researcher")
    mail = {"to": "bob@example.com", "body": "hello"}

    def call(tool: str, arguments: dict[str, Any], run: str | None) -> dict[str, Any]:
        headers = modern_headers("tools/call", tool)
        if run is not None:
            headers["x-gatehouse-session"] = run
        response = researcher.post_mcp(modern_body("tools/call", {"name": tool, "arguments": arguments}), headers)
        assert response.status_code == 200, response.text
        from mcp_support import jsonrpc_response

        return jsonrpc_response(response.headers.get("content-type", ""), response.content)

    assert "result" in call("web__fetch", {"url": "https://a.example.com/"}, "run-1")
    denied = call("mail__send", mail, "run-1")
    assert denied["error"]["code"] == POLICY_DENIED and "no-egress-after-untrusted" in denied["error"]["message"]
    # Another run, or no run at all, is not tainted.
    assert "result" in call("mail__send", mail, "run-2")
    assert "result" in call("mail__send", mail, None)
    # The run belongs to the agent: support naming the same run is not affected (and may not
    # call mail__send anyway, which says default-deny, not the session rule).
    support = policy.mcp("support")
    response = support.post_mcp(
        modern_body("tools/call", {"name": "util__echo", "arguments": {"text": "x"}}),
        {**modern_headers("tools/call", "util__echo"), "x-gatehouse-session": "run-1"},
    )
    assert response.status_code == 200 and b'"isError":false' in response.content.replace(b" ", b"")


# --- Webhook guard --------------------------------------------------------------------------------


class FakeClassifier:
    """A webhook guard endpoint: answers per the `mode` a test sets, records what it was sent."""

    def __init__(self) -> None:
        self.mode = "allow"
        self.received: list[dict[str, Any]] = []
        classifier = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                classifier.received.append(body)
                mode = classifier.mode
                if mode == "slow":
                    time.sleep(2)
                if mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                if mode == "redact":
                    texts = body["texts"]
                    spans = []
                    for index, text in enumerate(texts):
                        start = text.find("teapots")
                        if start >= 0:
                            spans.append({"index": index, "start": start, "end": start + 7, "placeholder": "[PRODUCT]"})
                    answer = {"action": "redact", "redactions": spans}
                elif mode == "block":
                    answer = {"action": "block", "reason": "prompt injection (score 0.97)"}
                else:
                    answer = {"action": "allow"}
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/guard"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def classifier() -> Iterator[FakeClassifier]:
    fake = FakeClassifier()
    yield fake
    fake.close()


def add_webhook_guard(stack: PolicyStack, url: str, on_error: str) -> None:
    path = stack.policy_file("researcher.yaml")
    text = path.read_text()
    text += (
        "\nguards:\n"
        "  - id: classifier\n"
        "    flows: [tool_result]\n"
        "    tools: [web__fetch]\n"
        f"    webhook: {{url: '{url}', timeout: 500ms, on_error: {on_error}}}\n"
    )
    path.write_text(text)


INJECTION_PAGE = "https://shop.example.com/injection"


def wait_for_webhook(stack: PolicyStack, classifier: FakeClassifier) -> dict[str, Any]:
    researcher = stack.mcp("researcher")

    def reached() -> dict[str, Any] | None:
        before = len(classifier.received)
        message = researcher.modern_call("web__fetch", {"url": INJECTION_PAGE})
        return message if len(classifier.received) > before else None

    return wait_until(reached, 5, "the webhook guard in force after the policy edit")


def test_the_webhook_guard_blocks_redacts_and_allows(policy: PolicyStack, classifier: FakeClassifier) -> None:
    add_webhook_guard(policy, classifier.url, "block")
    classifier.mode = "allow"
    allowed = wait_for_webhook(policy, classifier)
    assert "twelve new teapots" in result_text(allowed), allowed
    sent = classifier.received[-1]
    assert sent["flow"] == "tool_result" and sent["agent"] == "researcher" and sent["subject"] == "web__fetch", sent
    assert sent["guard"] == "researcher.yaml#classifier", sent
    assert any("twelve new teapots" in text for text in sent["texts"]), sent

    researcher = policy.mcp("researcher")
    classifier.mode = "redact"
    redacted = result_text(researcher.modern_call("web__fetch", {"url": INJECTION_PAGE}))
    assert "twelve new [PRODUCT]" in redacted and "teapots" not in redacted, redacted

    classifier.mode = "block"
    blocked = researcher.modern_call("web__fetch", {"url": INJECTION_PAGE})
    error = blocked["error"]
    assert error["code"] == POLICY_DENIED and error["data"]["rule"] == "researcher.yaml#classifier", blocked
    assert "prompt injection (score 0.97)" in error["message"], blocked

    # The local guards ran first: the classifier never sees an e-mail address the gateway masked.
    classifier.mode = "allow"
    researcher.modern_call("web__fetch", {"url": CONTACT})
    assert EMAIL not in json.dumps(classifier.received[-1]) and "[EMAIL]" in json.dumps(classifier.received[-1])


@pytest.mark.parametrize("on_error", ["block", "allow"])
def test_a_failing_webhook_guard_fails_closed_or_open_as_configured(
    policy: PolicyStack, classifier: FakeClassifier, on_error: str
) -> None:
    add_webhook_guard(policy, classifier.url, on_error)
    wait_for_webhook(policy, classifier)
    researcher = policy.mcp("researcher")
    for mode in ("slow", "error"):
        classifier.mode = mode
        started = time.monotonic()
        message = researcher.modern_call("web__fetch", {"url": INJECTION_PAGE})
        assert time.monotonic() - started < 1.8, f"the 500ms timeout did not hold ({mode})"
        if on_error == "block":
            assert message["error"]["code"] == POLICY_DENIED, message
            assert "fails closed" in message["error"]["message"], message
        else:
            assert "twelve new teapots" in result_text(message), message
    if on_error == "allow":
        rows = wait_until(
            lambda: [row for row in audit_rows(policy, agent="researcher") if row["decision"] == "flag"],
            5,
            "the failed-open guard in the audit log",
        )
        assert "failing open" in rows[0]["reason"], rows[0]


# --- Prompts and resources ------------------------------------------------------------------------


def test_prompts_and_resources_pass_the_result_guards(start_mcp_gateway: Any, tmp_path: Any) -> None:
    from mcp_support import FIXTURE_SERVER, mcp_config, stdio_server

    policies = tmp_path / "guard-policies"
    policies.mkdir()
    (policies / "demo.yaml").write_text(
        "agents: [demo]\n"
        "servers: {allow: ['*']}\n"
        "tools: {allow: ['*']}\n"
        "guards:\n"
        "  - {id: pii, flows: [tool_result], detect: [email], action: redact}\n"
        "  - {id: motto, flows: [tool_result], keywords: [federated], placeholder: '[WORD]', action: redact}\n"
    )
    config = mcp_config([stdio_server("fix", [str(FIXTURE_SERVER)])]) + f"policy:\n  directory: {policies}\n"
    stack = start_mcp_gateway(config, up=["fix"])
    session = stack.raw_client("session")
    _, prompt = session.request("prompts/get", {"name": "fix__greet", "arguments": {"name": "ada@example.com"}})
    texts = [message["content"]["text"] for message in prompt["result"]["messages"]]
    assert texts == ["Hello, [EMAIL]!"], prompt
    _, motd = session.request("resources/read", {"uri": "fixture://motd"}, request_id=2)
    assert [item["text"] for item in motd["result"]["contents"]] == ["Tools are [WORD]."], motd
    # Structure is untouched: the URI and MIME type are not content.
    assert motd["result"]["contents"][0]["uri"] == "fixture://motd", motd
    _, templated = session.request("resources/read", {"uri": "fixture://greeting/bob@example.com"}, request_id=3)
    assert [item["text"] for item in templated["result"]["contents"]] == ["Hi [EMAIL]"], templated
    assert templated["result"]["contents"][0]["uri"] == "fixture://greeting/bob@example.com", templated
    session.close()


# --- A rule that spans both planes ----------------------------------------------------------------


def test_an_injection_in_a_tool_result_keeps_the_runs_llm_calls_on_internal_providers(policy: PolicyStack) -> None:
    """A run (x-gatehouse-session) whose tool result carried an injection marker may not call a model
    served by a provider not tagged internal; other runs, and the same run's tools, are unaffected."""
    import openai

    loaded_before = policy.admin("/admin/policy").json()["loaded_at"]
    defaults = policy.policy_file("defaults.yaml")
    text = defaults.read_text()
    text = text.replace(
        "tags:\n  tools:\n",
        "tags:\n  providers:\n    anthropic: [internal]\n  tools:\n",
    )
    text = text.replace(
        "session_rules:\n",
        "session_rules:\n"
        "  - id: internal-only-after-injection\n"
        "    scope: run\n"
        "    after: {detectors: [prompt_injection]}\n"
        "    deny: {llm_providers_not_tagged: [internal]}\n",
    )
    text = text.replace(
        "guards:\n", "guards:\n  - {id: flag-injection, flows: [tool_result], detect: [injection], action: flag}\n"
    )
    defaults.write_text(text)
    researcher = policy.mcp("researcher")

    def fetch(run: str) -> dict[str, Any]:
        headers = {**modern_headers("tools/call", "web__fetch"), "x-gatehouse-session": run}
        body = modern_body("tools/call", {"name": "web__fetch", "arguments": {"url": INJECTION_PAGE}})
        response = researcher.post_mcp(body, headers)
        from mcp_support import jsonrpc_response

        return jsonrpc_response(response.headers.get("content-type", ""), response.content)

    def rule_in_force() -> bool:
        state = policy.admin("/admin/policy").json()
        assert state["errors"] == [], state
        return bool(state["loaded_at"] != loaded_before)

    wait_until(rule_in_force, 5, "the edited defaults in force")
    # The injected page arrives (the guard only flags it).
    assert "Ignore all previous instructions" in result_text(fetch("run-a"))

    def chat(run: str, model: str) -> Any:
        client = policy.openai("researcher").with_options(default_headers={"x-gatehouse-session": run})
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])

    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat("run-a", "gpt-4o-mini")
    message = str(refused.value)
    assert "internal-only-after-injection" in message and "prompt_injection" in message, message
    assert "web__fetch" in message, message
    # The internal provider still serves the run, and another run may use any provider.
    assert chat("run-a", "claude-haiku-4-5").choices[0].message.content
    assert chat("run-b", "gpt-4o-mini").choices[0].message.content
