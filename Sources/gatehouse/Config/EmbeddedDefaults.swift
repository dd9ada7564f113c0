/// The configuration `gatehouse serve` runs with when no `--config` is given: the same text as
/// `samples/gatehouse.yaml` (a test keeps the two identical), compiled in so that a fresh checkout
/// starts with no file to find.
enum EmbeddedDefaults {
    static let sourceName = "<embedded defaults>"

    static let yaml = #"""
        # Gatehouse configuration: the defaults that `gatehouse serve` runs with when no --config is given.
        # Every key is documented in docs/configuration.md. ${VAR} reads an environment variable;
        # ${VAR:-default} falls back to the default when VAR is unset or empty.

        server:
          listen: 127.0.0.1:4000
          max_body_size: 4MiB
          max_header_size: 32KiB
          idle_timeout: 60s
          request_head_timeout: 10s
          request_body_timeout: 30s
          shutdown_grace_period: 3s

        store:
          path: .gatehouse/gatehouse.db
          write_queue_capacity: 1024

        logging:
          level: info
          format: text

        admin:
          # Unset or empty: the admin API answers 401 to every call.
          token: ${GATEHOUSE_ADMIN_TOKEN:-}

        agents:
          - name: demo
            api_keys:
              # Unset or empty: no key can authenticate as `demo`, and proxy endpoints answer 401.
              - ${GATEHOUSE_API_KEY:-}

        """#
}
