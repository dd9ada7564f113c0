"""Writes the policy-heavy configuration of bench/policy-run into a directory: 20 agents
(`bench` and agent02 … agent20), 10 rules each (200 in all, plus the shared ones), argument
conditions on every tool rule (path and URL normalisers, regexes, lengths, ranges), and limits that
count every call without ever refusing one. The `bench` agent's call is decided by the last of its
allow rules, so every rule before it is evaluated.

    python3 bench/policy_heavy.py DIRECTORY
"""

from __future__ import annotations

import pathlib
import sys

AGENTS = ["bench"] + [f"agent{number:02d}" for number in range(2, 21)]


def agent_policy(agent: str) -> str:
    return f"""agents: [{agent}]
models:
  allow: [bench-model, bench-stream, "gpt-*"]
  deny: ["*-audio", "*-realtime"]
tools:
  allow:
    - name: files__read
      when:
        - argument: path
          normalize: path
          prefix: /srv/{agent}/
    - name: web__fetch
      when:
        - argument: url
          normalize: url
          scheme: [https]
          host: ["*.example.com"]
    - name: shop__order
      when:
        - argument: quantity
          min: 1
          max: 10
        - argument: items[*].sku
          regex: "[A-Z]{{3}}-[0-9]+"
    - name: "bench__echo"
      when:
        - argument: text
          max_length: 1000
        - argument: text
          regex: "[a-z ]*"
        - argument: mode
          optional: true
          one_of: [plain, loud]
  deny:
    - name: files__read
      when:
        - argument: path
          normalize: path
          prefix: /srv/{agent}/private
    - name: "*__exec*"
limits:
  - tool: bench__echo
    requests: 1000000
    per: 1m
  - concurrent: 10000
  - model: "bench-*"
    tokens: 1000000000
    per: 1m
"""


def main() -> None:
    directory = pathlib.Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "defaults.yaml").write_text(
        "unlisted_agents: deny\n"
        "tools:\n  deny: ['*__delete*', '*__drop*']\n"
        "tags:\n  tools:\n    web__fetch: [untrusted]\n"
    )
    for agent in AGENTS:
        (directory / f"{agent}.yaml").write_text(agent_policy(agent))


if __name__ == "__main__":
    main()
