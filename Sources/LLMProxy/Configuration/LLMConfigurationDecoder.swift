internal import Foundation
public import GatehouseConfig
internal import GatehouseCore
public import Yams

/// Reads the LLM plane's sections (`providers`, `models`, `prices`, `upstream`) and checks that
/// they refer to each other correctly: every deployment names a provider that exists, model
/// names and aliases are unique.
public enum LLMConfigurationDecoder {
    /// Every key of the LLM plane's sections, by section (`providers[]` is one list item); the
    /// executable's schema test holds `docs/gatehouse.schema.json` to them.
    public static let knownKeys: [String: [String]] = [
        "providers[]": ["name", "type", "base_url", "api_key", "api_version", "anthropic_version", "headers"],
        "models[]": ["name", "aliases", "deployments", "retries", "default_max_tokens"],
        "models[].deployments[]": [
            "provider", "model", "weight", "priority", "first_byte_timeout", "cooldown",
        ],
        "prices.*": ["input", "output", "cached_input", "cache_write"],
        "upstream": ["connect_timeout", "idle_timeout", "proxy"],
    ]

    static func keys(_ section: String) -> [String] { knownKeys[section] ?? [] }

    /// Reads `providers`, `models`, `prices` and `upstream` from the top-level sections.
    public static func decode(_ sections: [String: Node], reader: inout ConfigReader) -> LLMProxyConfiguration {
        var configuration = LLMProxyConfiguration()
        if let node = sections["upstream"] { decodeUpstream(node, into: &configuration, reader: &reader) }
        if let node = sections["providers"] { configuration.providers = decodeProviders(node, reader: &reader) }
        if let node = sections["models"] {
            configuration.models = decodeModels(node, providers: configuration.providers, reader: &reader)
        }
        if let node = sections["prices"] {
            configuration.prices = PriceTable.shippedDefaults.merging(decodePrices(node, reader: &reader))
        }
        return configuration
    }

    private static func decodeUpstream(
        _ node: Node,
        into configuration: inout LLMProxyConfiguration,
        reader: inout ConfigReader
    ) {
        guard let entries = reader.mapping(node, path: "upstream", allowedKeys: Self.keys("upstream"))
        else {
            return
        }
        let range: ClosedRange<Duration> = .milliseconds(100)...Duration.seconds(3600)
        if let node = entries["connect_timeout"],
            let value = reader.duration(node, path: "upstream.connect_timeout", range: range, example: "10s")
        {
            configuration.upstreamConnectTimeout = value
        }
        if let node = entries["idle_timeout"],
            let value = reader.duration(node, path: "upstream.idle_timeout", range: range, example: "120s")
        {
            configuration.upstreamIdleTimeout = value
        }
        if let node = entries["proxy"], let text = reader.nonEmptyString(node, path: "upstream.proxy") {
            if let address = ListenAddress.parse(text) {
                configuration.upstreamProxy = UpstreamProxy(host: address.host, port: address.port)
            } else {
                reader.report(
                    node,
                    path: "upstream.proxy",
                    "expected HOST:PORT of an HTTP proxy",
                    hint: "for example 10.0.0.1:3128"
                )
            }
        }
    }

    private static func decodeProviders(_ node: Node, reader: inout ConfigReader) -> [ProviderDefinition] {
        guard let items = reader.sequence(node, path: "providers") else { return [] }
        var providers: [ProviderDefinition] = []
        var names: Set<String> = []
        for (index, item) in items.enumerated() {
            let path = "providers[\(index)]"
            guard
                let entries = reader.mapping(item, path: path, allowedKeys: Self.keys("providers[]"))
            else {
                continue
            }
            guard let nameNode = entries["name"], let name = reader.nonEmptyString(nameNode, path: "\(path).name")
            else {
                if entries["name"] == nil { reader.report(item, path: "\(path).name", "every provider needs a name") }
                continue
            }
            guard names.insert(name).inserted else {
                reader.report(
                    nameNode,
                    path: "\(path).name",
                    "provider '\(name)' is defined twice",
                    hint: "names must be unique"
                )
                continue
            }
            guard let typeNode = entries["type"],
                let type = reader.choice(typeNode, path: "\(path).type", options: ["openai", "azure", "anthropic"])
            else {
                if entries["type"] == nil {
                    reader.report(
                        item,
                        path: "\(path).type",
                        "every provider needs a type",
                        hint: "openai, azure or anthropic"
                    )
                }
                continue
            }
            let kind: ProviderDefinition.Kind
            switch type {
            case "azure":
                guard let versionNode = entries["api_version"],
                    let version = reader.nonEmptyString(versionNode, path: "\(path).api_version")
                else {
                    if entries["api_version"] == nil {
                        reader.report(
                            item,
                            path: "\(path).api_version",
                            "an azure provider needs api_version",
                            hint: "for example 2024-10-21"
                        )
                    }
                    continue
                }
                kind = .azure(apiVersion: version)
            case "anthropic":
                let version = entries["anthropic_version"].flatMap {
                    reader.nonEmptyString($0, path: "\(path).anthropic_version")
                }
                kind = .anthropic(version: version ?? "2023-06-01")
            default:
                kind = .openAI
            }
            let defaultURL: String
            switch kind {
            case .openAI: defaultURL = "https://api.openai.com/v1"
            case .anthropic: defaultURL = "https://api.anthropic.com"
            case .azure: defaultURL = ""
            }
            var baseURL = defaultURL
            if let urlNode = entries["base_url"] {
                guard let url = reader.baseURL(urlNode, path: "\(path).base_url", example: "https://api.openai.com/v1")
                else {
                    continue
                }
                baseURL = url
            } else if defaultURL.isEmpty {
                reader.report(
                    item,
                    path: "\(path).base_url",
                    "an azure provider needs base_url",
                    hint: "https://NAME.openai.azure.com"
                )
                continue
            }
            var apiKey = Secret("")
            if let keyNode = entries["api_key"], let key = reader.secret(keyNode, path: "\(path).api_key") {
                apiKey = key
            }
            var headers: [ProviderDefinition.Header] = []
            if let headersNode = entries["headers"] {
                if let mapping = headersNode.mapping {
                    for (keyNode, valueNode) in mapping {
                        guard let headerName = keyNode.scalar?.string, !headerName.isEmpty else { continue }
                        if let value = reader.secret(valueNode, path: "\(path).headers.\(headerName)") {
                            headers.append(ProviderDefinition.Header(name: headerName.lowercased(), value: value))
                        }
                    }
                } else {
                    reader.report(headersNode, path: "\(path).headers", "expected a mapping of header names to values")
                }
            }
            providers.append(
                ProviderDefinition(name: name, kind: kind, baseURL: baseURL, apiKey: apiKey, headers: headers)
            )
        }
        return providers
    }

    private static func decodeModels(
        _ node: Node,
        providers: [ProviderDefinition],
        reader: inout ConfigReader
    ) -> [ModelRoute] {
        guard let items = reader.sequence(node, path: "models") else { return [] }
        let providerNames = Set(providers.map(\.name))
        var routes: [ModelRoute] = []
        var names: Set<String> = []
        for (index, item) in items.enumerated() {
            let path = "models[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowedKeys: Self.keys("models[]"))
            else {
                continue
            }
            guard let nameNode = entries["name"], let name = reader.nonEmptyString(nameNode, path: "\(path).name")
            else {
                if entries["name"] == nil { reader.report(item, path: "\(path).name", "every model needs a name") }
                continue
            }
            guard names.insert(name).inserted else {
                reader.report(
                    nameNode,
                    path: "\(path).name",
                    "model name '\(name)' is used twice",
                    hint: "names and aliases must be unique"
                )
                continue
            }
            var aliases: [String] = []
            if let aliasesNode = entries["aliases"],
                let aliasNodes = reader.sequence(aliasesNode, path: "\(path).aliases")
            {
                for (aliasIndex, aliasNode) in aliasNodes.enumerated() {
                    guard let alias = reader.nonEmptyString(aliasNode, path: "\(path).aliases[\(aliasIndex)]") else {
                        continue
                    }
                    if names.insert(alias).inserted {
                        aliases.append(alias)
                    } else {
                        reader.report(
                            aliasNode,
                            path: "\(path).aliases[\(aliasIndex)]",
                            "model name '\(alias)' is used twice"
                        )
                    }
                }
            }
            var deployments: [Deployment] = []
            if let deploymentsNode = entries["deployments"],
                let deploymentNodes = reader.sequence(deploymentsNode, path: "\(path).deployments")
            {
                for (deploymentIndex, deploymentNode) in deploymentNodes.enumerated() {
                    if let deployment = decodeDeployment(
                        deploymentNode,
                        path: "\(path).deployments[\(deploymentIndex)]",
                        providerNames: providerNames,
                        reader: &reader
                    ) {
                        deployments.append(deployment)
                    }
                }
            }
            if deployments.isEmpty, entries["deployments"].map({ $0.sequence?.isEmpty ?? false }) ?? true {
                reader.report(
                    item,
                    path: "\(path).deployments",
                    "a model needs at least one deployment",
                    hint: "add '- provider: NAME'"
                )
                continue
            }
            var route = ModelRoute(name: name, aliases: aliases, deployments: deployments)
            if let node = entries["retries"],
                let retries = reader.integer(node, path: "\(path).retries", range: 0...5, example: "1")
            {
                route.retries = retries
            }
            if let node = entries["default_max_tokens"],
                let tokens = reader.integer(
                    node,
                    path: "\(path).default_max_tokens",
                    range: 1...1_000_000,
                    example: "4096"
                )
            {
                route.defaultMaxTokens = tokens
            }
            routes.append(route)
        }
        return routes
    }

    private static func decodeDeployment(
        _ node: Node,
        path: String,
        providerNames: Set<String>,
        reader: inout ConfigReader
    ) -> Deployment? {
        guard
            let entries = reader.mapping(
                node,
                path: path,
                allowedKeys: Self.keys("models[].deployments[]")
            )
        else { return nil }
        guard let providerNode = entries["provider"],
            let provider = reader.nonEmptyString(providerNode, path: "\(path).provider")
        else {
            if entries["provider"] == nil {
                reader.report(node, path: "\(path).provider", "every deployment needs a provider")
            }
            return nil
        }
        guard providerNames.contains(provider) else {
            let suggestion =
                ConfigReader.nearest(to: provider, in: Array(providerNames)).map { "did you mean '\($0)'?" }
                ?? "define it under providers:"
            reader.report(
                providerNode,
                path: "\(path).provider",
                "no provider is named '\(provider)'",
                hint: suggestion
            )
            return nil
        }
        guard let modelNode = entries["model"], let model = reader.nonEmptyString(modelNode, path: "\(path).model")
        else {
            if entries["model"] == nil {
                reader.report(node, path: "\(path).model", "every deployment needs the provider's model name")
            }
            return nil
        }
        var deployment = Deployment(provider: provider, model: model)
        if let node = entries["weight"],
            let weight = reader.integer(node, path: "\(path).weight", range: 0...1_000_000, example: "1")
        {
            deployment.weight = weight
        }
        if let node = entries["priority"],
            let priority = reader.integer(node, path: "\(path).priority", range: 0...100, example: "0")
        {
            deployment.priority = priority
        }
        let range: ClosedRange<Duration> = .milliseconds(100)...Duration.seconds(3600)
        if let node = entries["first_byte_timeout"],
            let value = reader.duration(node, path: "\(path).first_byte_timeout", range: range, example: "30s")
        {
            deployment.firstByteTimeout = value
        }
        if let node = entries["cooldown"],
            let value = reader.duration(
                node,
                path: "\(path).cooldown",
                range: .zero...Duration.seconds(3600),
                example: "10s"
            )
        {
            deployment.cooldown = value
        }
        return deployment
    }

    private static func decodePrices(_ node: Node, reader: inout ConfigReader) -> [String: ModelPrice] {
        guard let mapping = node.mapping else {
            reader.report(node, path: "prices", "expected a mapping of upstream model names to prices")
            return [:]
        }
        var prices: [String: ModelPrice] = [:]
        for (keyNode, valueNode) in mapping {
            guard let model = keyNode.scalar?.string, !model.isEmpty else {
                reader.report(keyNode, path: "prices", "model names must be plain names")
                continue
            }
            let path = "prices.\(model)"
            guard
                let entries = reader.mapping(
                    valueNode,
                    path: path,
                    allowedKeys: Self.keys("prices.*")
                )
            else {
                continue
            }
            func amount(_ key: String, reader: inout ConfigReader) -> Double? {
                entries[key].flatMap {
                    reader.decimal($0, path: "\(path).\(key)", range: 0...1_000_000, example: "0.15")
                }
            }
            guard let input = amount("input", reader: &reader), let output = amount("output", reader: &reader) else {
                if entries["input"] == nil || entries["output"] == nil {
                    reader.report(valueNode, path: path, "a price needs input and output (USD per million tokens)")
                }
                continue
            }
            prices[model] = ModelPrice(
                inputPerMillion: input,
                outputPerMillion: output,
                cachedInputPerMillion: amount("cached_input", reader: &reader),
                cacheWritePerMillion: amount("cache_write", reader: &reader)
            )
        }
        return prices
    }
}
