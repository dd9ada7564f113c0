internal import Foundation
internal import GatehouseConfig
internal import GatehouseJSON
internal import Yams

/// Reads policy files: one per agent (or several agents), plus the shared `defaults.yaml`.
/// Every problem is reported with file, line and key (`ConfigDiagnostic`), all at once.
struct PolicyFileDecoder {
    /// What a file said, before the defaults are merged in.
    struct Decoded {
        var agents: [(name: String, node: Node)] = []
        var groups: [(name: String, node: Node)] = []
        var policy: AgentPolicy
        var unlistedAgents: (PolicySet.UnlistedAgents, rule: String)?
        var tags = PolicyTags()
    }

    static let agentFileKeys = [
        "agents", "groups", "description", "models", "servers", "tools", "limits", "budgets", "denials", "guards",
        "session_rules", "tracing",
    ]
    static let budgetKeys = ["daily_usd", "monthly_usd"]
    static let defaultsFileKeys = [
        "unlisted_agents", "tags", "description", "models", "servers", "tools", "limits", "denials", "guards",
        "session_rules", "tracing",
    ]
    static let tracingKeys = ["capture_content", "max_content_bytes"]
    static let guardKeys = [
        "id", "flows", "detect", "regex", "keywords", "placeholder", "action", "models", "tools", "webhook",
    ]
    static let webhookKeys = ["url", "timeout", "on_error"]
    static let sessionRuleKeys = ["id", "scope", "window", "after", "deny", "action"]
    static let sessionAfterKeys = ["tool_tags", "detectors"]
    static let sessionDenyKeys = ["tool_tags", "llm_providers_not_tagged"]
    static let nameSectionKeys = ["allow", "deny"]
    static let toolSectionKeys = ["allow", "deny", "list_only"]
    static let toolRuleKeys = ["id", "name", "names", "when"]
    static let conditionKeys = [
        "argument", "normalize", "equals", "one_of", "prefix", "regex", "min", "max", "min_length", "max_length",
        "present", "optional", "scheme", "host",
    ]
    static let limitKeys = ["id", "tool", "server", "model", "requests", "concurrent", "tokens", "per"]
    static let tagSectionKeys = ["tools", "servers", "models", "providers"]

    /// Largest count a limit may name: each admitted request of a window is remembered.
    static let maximumRequestsPerWindow = 1_000_000

    var reader: ConfigReader
    let fileName: String

    init(file: String, displayName: String, environment: [String: String]) {
        self.reader = ConfigReader(file: file, environment: environment)
        self.fileName = displayName
    }

    mutating func decode(yaml: String, isDefaults: Bool) -> Decoded? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            reader.report(nil, path: "", "invalid YAML: \(error)")
            return nil
        }
        var decoded = Decoded(policy: AgentPolicy(file: fileName))
        guard let root else { return decoded }
        let allowed = isDefaults ? Self.defaultsFileKeys : Self.agentFileKeys
        guard let entries = reader.mapping(root, path: "", allowedKeys: allowed) else { return nil }
        if !isDefaults {
            if let node = entries["agents"] { decoded.agents = agentNames(node, path: "agents") }
            if let node = entries["groups"] { decoded.groups = agentNames(node, path: "groups") }
            if entries["agents"] == nil && entries["groups"] == nil {
                reader.report(
                    root,
                    path: "agents",
                    "a policy file must name its agents or groups",
                    hint: "add 'agents: [name]' or 'groups: [name]'"
                )
            }
        }
        if let node = entries["unlisted_agents"],
            let value = reader.choice(
                node,
                path: "unlisted_agents",
                options: PolicySet.UnlistedAgents.allCases.map(\.rawValue)
            ),
            let choice = PolicySet.UnlistedAgents(rawValue: value)
        {
            decoded.unlistedAgents = (choice, "\(fileName)#unlisted_agents")
        }
        if let node = entries["tags"] { decoded.tags = tags(node) }
        if let node = entries["models"] {
            (decoded.policy.modelAllow, decoded.policy.modelDeny) = nameSection(node, path: "models")
        }
        if let node = entries["servers"] {
            (decoded.policy.serverAllow, decoded.policy.serverDeny) = nameSection(node, path: "servers")
        }
        if let node = entries["tools"] { toolSection(node, into: &decoded.policy) }
        if let node = entries["limits"] { decoded.policy.limits = limits(node) }
        if let node = entries["budgets"] { decoded.policy.budgets = budgets(node) }
        if let node = entries["guards"] { decoded.policy.guards = guards(node) }
        if let node = entries["session_rules"] { decoded.policy.sessionRules = sessionRules(node) }
        if let node = entries["tracing"] { decoded.policy.contentCapture = contentCapture(node) }
        if let node = entries["denials"],
            let value = reader.choice(node, path: "denials", options: DenialStyle.allCases.map(\.rawValue)),
            let style = DenialStyle(rawValue: value)
        {
            decoded.policy.denialStyle = style
        }
        return decoded
    }

    private mutating func agentNames(_ node: Node, path: String) -> [(String, Node)] {
        if node.scalar != nil {
            return reader.nonEmptyString(node, path: path).map { [($0, node)] } ?? []
        }
        guard let items = reader.sequence(node, path: path) else { return [] }
        return items.enumerated().compactMap { index, item in
            reader.nonEmptyString(item, path: "\(path)[\(index)]").map { ($0, item) }
        }
    }

    private mutating func globs(_ node: Node, path: String) -> [(Glob, Node)] {
        if node.scalar != nil {
            return reader.nonEmptyString(node, path: path).map { [(Glob($0), node)] } ?? []
        }
        guard let items = reader.sequence(node, path: path) else { return [] }
        return items.enumerated().compactMap { index, item in
            reader.nonEmptyString(item, path: "\(path)[\(index)]").map { (Glob($0), item) }
        }
    }

    private mutating func nameRules(_ node: Node, path: String) -> [NameRule] {
        globs(node, path: path).enumerated().map { index, entry in
            NameRule(id: "\(fileName)#\(path)[\(index)]", names: [entry.0])
        }
    }

    private mutating func nameSection(_ node: Node, path: String) -> (allow: [NameRule], deny: [NameRule]) {
        guard let entries = reader.mapping(node, path: path, allowedKeys: Self.nameSectionKeys) else { return ([], []) }
        let allow = entries["allow"].map { nameRules($0, path: "\(path).allow") } ?? []
        let deny = entries["deny"].map { nameRules($0, path: "\(path).deny") } ?? []
        return (allow, deny)
    }

    private mutating func toolSection(_ node: Node, into policy: inout AgentPolicy) {
        guard let entries = reader.mapping(node, path: "tools", allowedKeys: Self.toolSectionKeys) else { return }
        if let node = entries["allow"] { policy.toolAllow = toolRules(node, path: "tools.allow") }
        if let node = entries["deny"] { policy.toolDeny = toolRules(node, path: "tools.deny") }
        if let node = entries["list_only"] { policy.toolListOnly = nameRules(node, path: "tools.list_only") }
    }

    private mutating func toolRules(_ node: Node, path: String) -> [ToolRule] {
        guard let items = reader.sequence(node, path: path) else { return [] }
        var rules: [ToolRule] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            let defaultID = "\(fileName)#\(itemPath)"
            if item.scalar != nil {
                if let name = reader.nonEmptyString(item, path: itemPath) {
                    rules.append(ToolRule(id: defaultID, names: [Glob(name)], conditions: []))
                }
                continue
            }
            guard let entries = reader.mapping(item, path: itemPath, allowedKeys: Self.toolRuleKeys) else { continue }
            var names: [Glob] = []
            if let node = entries["name"] { names += globs(node, path: "\(itemPath).name").map(\.0) }
            if let node = entries["names"] { names += globs(node, path: "\(itemPath).names").map(\.0) }
            if names.isEmpty {
                reader.report(
                    item,
                    path: "\(itemPath).name",
                    "a tool rule needs a name",
                    hint: "for example name: files__read"
                )
                continue
            }
            var id = defaultID
            if let node = entries["id"], let text = reader.nonEmptyString(node, path: "\(itemPath).id") {
                id = "\(fileName)#\(text)"
            }
            var conditions: [ArgumentCondition] = []
            if let node = entries["when"], let list = reader.sequence(node, path: "\(itemPath).when") {
                for (conditionIndex, conditionNode) in list.enumerated() {
                    if let condition = condition(conditionNode, path: "\(itemPath).when[\(conditionIndex)]") {
                        conditions.append(condition)
                    }
                }
            }
            rules.append(ToolRule(id: id, names: names, conditions: conditions))
        }
        return rules
    }

    private mutating func condition(_ node: Node, path: String) -> ArgumentCondition? {
        guard let entries = reader.mapping(node, path: path, allowedKeys: Self.conditionKeys) else { return nil }
        let problemsBefore = reader.diagnostics.count
        guard let argumentNode = entries["argument"] else {
            reader.report(
                node,
                path: "\(path).argument",
                "a condition needs an argument path",
                hint: "for example argument: path"
            )
            return nil
        }
        guard let text = reader.nonEmptyString(argumentNode, path: "\(path).argument") else { return nil }
        guard let argumentPath = ArgumentPath.parse(text) else {
            reader.report(
                argumentNode,
                path: "\(path).argument",
                "not an argument path",
                hint: "write keys with dots and list positions in brackets: options.files[0].path, items[*].url"
            )
            return nil
        }
        var normalizer = ArgumentNormalizer.none
        if let node = entries["normalize"],
            let value = reader.choice(
                node,
                path: "\(path).normalize",
                options: ArgumentNormalizer.allCases.map(\.rawValue)
            ),
            let choice = ArgumentNormalizer(rawValue: value)
        {
            normalizer = choice
        }
        var checks: [ArgumentCheck] = []
        if let node = entries["equals"], let value = jsonValue(node, path: "\(path).equals") {
            checks.append(.equals(value))
        }
        if let node = entries["one_of"], let list = reader.sequence(node, path: "\(path).one_of") {
            checks.append(.oneOf(list.enumerated().compactMap { jsonValue($1, path: "\(path).one_of[\($0)]") }))
        }
        if let node = entries["prefix"], let prefix = reader.nonEmptyString(node, path: "\(path).prefix") {
            if normalizer == .path {
                switch PathNormalizer.normalize(prefix) {
                case .success(let normalized):
                    // `/srv/public/` admits what is inside the directory; `/srv/public` the directory too.
                    checks.append(.prefix(prefix.hasSuffix("/") && normalized != "/" ? normalized + "/" : normalized))
                case .failure(let refusal): reader.report(node, path: "\(path).prefix", refusal.reason)
                }
            } else {
                checks.append(.prefix(prefix))
            }
        }
        if let node = entries["regex"], let source = reader.nonEmptyString(node, path: "\(path).regex") {
            if let compiled = try? NSRegularExpression(pattern: source) {
                checks.append(.regex(source: source, compiled: compiled))
            } else {
                reader.report(node, path: "\(path).regex", "not a valid regular expression")
            }
        }
        let minimum = entries["min"].flatMap {
            reader.decimal($0, path: "\(path).min", range: -1e18...1e18, example: "0")
        }
        let maximum = entries["max"].flatMap {
            reader.decimal($0, path: "\(path).max", range: -1e18...1e18, example: "100")
        }
        if minimum != nil || maximum != nil { checks.append(.range(minimum: minimum, maximum: maximum)) }
        let shortest = entries["min_length"].flatMap {
            reader.integer($0, path: "\(path).min_length", range: 0...Int(Int32.max), example: "1")
        }
        let longest = entries["max_length"].flatMap {
            reader.integer($0, path: "\(path).max_length", range: 0...Int(Int32.max), example: "200")
        }
        if shortest != nil || longest != nil { checks.append(.length(minimum: shortest, maximum: longest)) }
        if let node = entries["present"],
            let value = reader.choice(node, path: "\(path).present", options: ["true", "false"])
        {
            checks.append(.present(value == "true"))
        }
        var isOptional = false
        if let node = entries["optional"],
            let value = reader.choice(node, path: "\(path).optional", options: ["true", "false"])
        {
            isOptional = value == "true"
        }
        for key in ["scheme", "host"] where entries[key] != nil && normalizer != .url {
            reader.report(entries[key], path: "\(path).\(key)", "'\(key)' needs 'normalize: url'")
        }
        if normalizer == .url {
            if let node = entries["scheme"] {
                checks.append(.scheme(globs(node, path: "\(path).scheme").map { $0.0.description.lowercased() }))
            }
            if let node = entries["host"] {
                checks.append(.host(globs(node, path: "\(path).host").map { Glob($0.0.description.lowercased()) }))
            }
        }
        if checks.isEmpty && reader.diagnostics.count == problemsBefore {
            reader.report(
                node,
                path: path,
                "a condition needs at least one check",
                hint: "equals, one_of, prefix, regex, min, max, min_length, max_length, present, scheme or host"
            )
            return nil
        }
        return ArgumentCondition(path: argumentPath, normalizer: normalizer, checks: checks, isOptional: isOptional)
    }

    /// A YAML scalar as the JSON value an argument would carry: numbers and booleans as such
    /// (unless quoted), everything else a string.
    private mutating func jsonValue(_ node: Node, path: String) -> JSONValue? {
        guard let scalar = node.scalar, let text = reader.string(node, path: path) else {
            reader.report(node, path: path, "expected a single value")
            return nil
        }
        if scalar.style == .plain {
            if text == "true" || text == "false" { return .bool(text == "true") }
            if text == "null" { return .null }
            if Double(text) != nil, text.first.map({ $0.isNumber || $0 == "-" }) == true { return .number(text) }
        }
        return .string(text)
    }

    private mutating func limits(_ node: Node) -> [LimitRule] {
        guard let items = reader.sequence(node, path: "limits") else { return [] }
        var rules: [LimitRule] = []
        for (index, item) in items.enumerated() {
            let path = "limits[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowedKeys: Self.limitKeys) else { continue }
            let id = ruleID(entries, path: path)
            let selectors = ["tool", "server", "model"].filter { entries[$0] != nil }
            guard selectors.count <= 1 else {
                reader.report(item, path: path, "a limit counts one of tool, server or model, not several")
                continue
            }
            var scope = LimitScope.agent
            if let key = selectors.first, let node = entries[key],
                let text = reader.nonEmptyString(node, path: "\(path).\(key)")
            {
                switch key {
                case "tool": scope = .tool(Glob(text))
                case "server": scope = .server(Glob(text))
                default: scope = .model(Glob(text))
                }
            }
            let kinds = ["requests", "concurrent", "tokens"].filter { entries[$0] != nil }
            guard kinds.count == 1, let kindKey = kinds.first, let kindNode = entries[kindKey] else {
                reader.report(
                    item,
                    path: path,
                    "a limit sets exactly one of requests, concurrent or tokens",
                    hint: "for example requests: 10 with per: 1m"
                )
                continue
            }
            guard
                let count = reader.integer(
                    kindNode,
                    path: "\(path).\(kindKey)",
                    range: 1...(kindKey == "tokens" ? Int(Int32.max) : Self.maximumRequestsPerWindow),
                    example: "10"
                )
            else { continue }
            if kindKey == "concurrent" {
                if entries["per"] != nil {
                    reader.report(entries["per"], path: "\(path).per", "a concurrency limit has no window")
                    continue
                }
                rules.append(LimitRule(id: id, scope: scope, kind: .concurrent(count)))
                continue
            }
            if kindKey == "tokens", selectors.first == "tool" || selectors.first == "server" {
                reader.report(item, path: path, "token limits count LLM calls: per agent or per model")
                continue
            }
            guard let perNode = entries["per"] else {
                reader.report(item, path: "\(path).per", "a \(kindKey) limit needs a window", hint: "per: 1m, 1h or 1d")
                continue
            }
            guard
                let window = reader.duration(
                    perNode,
                    path: "\(path).per",
                    range: .seconds(1)...Duration.seconds(31 * 86_400),
                    example: "1m"
                )
            else { continue }
            if window.components.attoseconds != 0 {
                reader.report(perNode, path: "\(path).per", "a window is a whole number of seconds")
                continue
            }
            rules.append(
                LimitRule(
                    id: id,
                    scope: scope,
                    kind: kindKey == "tokens" ? .tokens(count, per: window) : .requests(count, per: window)
                )
            )
        }
        return rules
    }

    private mutating func budgets(_ node: Node) -> [BudgetRule] {
        guard let entries = reader.mapping(node, path: "budgets", allowedKeys: Self.budgetKeys) else { return [] }
        var rules: [BudgetRule] = []
        for (key, period) in [("daily_usd", BudgetPeriod.day), ("monthly_usd", .month)] {
            guard let node = entries[key],
                let usd = reader.decimal(node, path: "budgets.\(key)", range: 0...1_000_000_000, example: "25")
            else { continue }
            rules.append(
                BudgetRule(id: "\(fileName)#budgets.\(key)", period: period, picoUSD: Int64((usd * 1e12).rounded()))
            )
        }
        return rules
    }

    /// `tracing:`: whether the agent's traces carry its prompts, completions, tool arguments and
    /// results, and how much of each.
    private mutating func contentCapture(_ node: Node) -> TraceContentCapture? {
        guard let entries = reader.mapping(node, path: "tracing", allowedKeys: Self.tracingKeys) else { return nil }
        var capture = TraceContentCapture(isEnabled: false)
        if let node = entries["capture_content"] {
            guard let value = reader.choice(node, path: "tracing.capture_content", options: ["true", "false"]) else {
                return nil
            }
            capture.isEnabled = value == "true"
        }
        if let node = entries["max_content_bytes"],
            let bytes = reader.byteSize(
                node,
                path: "tracing.max_content_bytes",
                range: 16...TraceContentCapture.largestLimit,
                example: "4096"
            )
        {
            capture.maximumBytes = bytes
        }
        return capture
    }

    /// A rule's id as denials and the audit log show it: `file#id` when the rule names itself,
    /// else `file#path` (`researcher.yaml#guards[0]`).
    private mutating func ruleID(_ entries: [String: Node], path: String) -> String {
        guard let node = entries["id"], let text = reader.nonEmptyString(node, path: "\(path).id") else {
            return "\(fileName)#\(path)"
        }
        return "\(fileName)#\(text)"
    }

    private mutating func names(_ node: Node, path: String) -> [String] {
        globs(node, path: path).map(\.0.description)
    }

    private mutating func guards(_ node: Node) -> [GuardRule] {
        guard let items = reader.sequence(node, path: "guards") else { return [] }
        var rules: [GuardRule] = []
        for (index, item) in items.enumerated() {
            let path = "guards[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowedKeys: Self.guardKeys) else { continue }
            let id = ruleID(entries, path: path)
            guard let flowsNode = entries["flows"] else {
                reader.report(
                    item,
                    path: "\(path).flows",
                    "a guard names the flows it watches",
                    hint: "flows: [tool_result]"
                )
                continue
            }
            var flows: Set<GuardFlow> = []
            for (position, name) in names(flowsNode, path: "\(path).flows").enumerated() {
                guard let flow = GuardFlow(rawValue: name) else {
                    reader.report(
                        flowsNode.sequence?[position] ?? flowsNode,
                        path: "\(path).flows",
                        "unknown flow '\(name)'; flows are \(GuardFlow.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                    continue
                }
                flows.insert(flow)
            }
            var action = GuardAction.block
            if let node = entries["action"] {
                guard
                    let value = reader.choice(
                        node,
                        path: "\(path).action",
                        options: GuardAction.allCases.map(\.rawValue)
                    ),
                    let chosen = GuardAction(rawValue: value)
                else { continue }
                action = chosen
            }
            var subjects: [Glob] = []
            for key in ["models", "tools"] {
                guard let node = entries[key] else { continue }
                let wanted: Set<GuardFlow> = key == "models" ? [.prompt, .completion] : [.toolArguments, .toolResult]
                if flows.isDisjoint(with: wanted) {
                    reader.report(
                        node,
                        path: "\(path).\(key)",
                        "\(key) narrows \(key == "models" ? "prompt and completion" : "tool") flows, and this guard watches none"
                    )
                }
                subjects += globs(node, path: "\(path).\(key)").map(\.0)
            }
            let placeholder = entries["placeholder"].flatMap { reader.nonEmptyString($0, path: "\(path).placeholder") }
            var specs: [DetectorSpec] = []
            var detectorNames: [String] = []
            if let node = entries["detect"] {
                do {
                    let builtins = try DetectorSet.builtins(named: names(node, path: "\(path).detect"))
                    specs += builtins.map { .builtin($0) }
                    detectorNames += builtins.map(\.rawValue)
                } catch {
                    reader.report(node, path: "\(path).detect", error.message)
                }
            }
            let customName = id.split(separator: "#").last.map(String.init) ?? id
            if let node = entries["regex"] {
                for (position, (pattern, _)) in globs(node, path: "\(path).regex").enumerated() {
                    let name = "\(customName)/regex[\(position)]"
                    specs.append(
                        .regex(
                            name: name,
                            pattern: pattern.description,
                            caseInsensitive: true,
                            placeholder: placeholder ?? "[REDACTED]"
                        )
                    )
                    detectorNames.append(name)
                }
            }
            if let node = entries["keywords"] {
                let words = names(node, path: "\(path).keywords")
                if !words.isEmpty {
                    let name = "\(customName)/keywords"
                    specs.append(.keywords(name: name, words: words, placeholder: placeholder ?? "[REDACTED]"))
                    detectorNames.append(name)
                }
            }
            var webhook: WebhookGuardSettings?
            if let node = entries["webhook"] {
                guard let settings = webhookSettings(node, path: "\(path).webhook") else { continue }
                webhook = settings
            }
            if webhook != nil && !specs.isEmpty {
                reader.report(
                    item,
                    path: path,
                    "a guard is either a webhook or detectors, not both",
                    hint: "write two guards"
                )
                continue
            }
            if webhook == nil && specs.isEmpty {
                reader.report(
                    item,
                    path: path,
                    "a guard needs detect, regex, keywords or webhook",
                    hint: "detect: [email, payment_card]"
                )
                continue
            }
            let detectors: DetectorSet
            do {
                detectors = try DetectorSet(specs)
            } catch {
                reader.report(entries["regex"] ?? item, path: "\(path).regex", error.message)
                continue
            }
            rules.append(
                GuardRule(
                    id: id,
                    flows: flows,
                    subjects: subjects,
                    detectorNames: detectorNames,
                    specs: specs,
                    detectors: detectors,
                    action: action,
                    webhook: webhook
                )
            )
        }
        return rules
    }

    private mutating func webhookSettings(_ node: Node, path: String) -> WebhookGuardSettings? {
        guard let entries = reader.mapping(node, path: path, allowedKeys: Self.webhookKeys) else { return nil }
        guard let urlNode = entries["url"] else {
            reader.report(node, path: "\(path).url", "a webhook guard needs the url it posts to")
            return nil
        }
        guard let url = reader.baseURL(urlNode, path: "\(path).url", example: "http://127.0.0.1:9000/guard") else {
            return nil
        }
        var timeout: Duration = .seconds(2)
        if let node = entries["timeout"] {
            guard
                let value = reader.duration(
                    node,
                    path: "\(path).timeout",
                    range: .milliseconds(10)...Duration.seconds(60),
                    example: "500ms"
                )
            else { return nil }
            timeout = value
        }
        var failClosed = true
        if let node = entries["on_error"] {
            guard let value = reader.choice(node, path: "\(path).on_error", options: ["allow", "block"]) else {
                return nil
            }
            failClosed = value == "block"
        }
        return WebhookGuardSettings(url: url, timeout: timeout, failClosed: failClosed)
    }

    private mutating func sessionRules(_ node: Node) -> [SessionRule] {
        guard let items = reader.sequence(node, path: "session_rules") else { return [] }
        var rules: [SessionRule] = []
        for (index, item) in items.enumerated() {
            let path = "session_rules[\(index)]"
            guard let entries = reader.mapping(item, path: path, allowedKeys: Self.sessionRuleKeys) else { continue }
            let id = ruleID(entries, path: path)
            var scope = SessionRule.Scope.mcpSession
            if let node = entries["scope"] {
                guard let value = reader.choice(node, path: "\(path).scope", options: ["mcp_session", "run", "agent"])
                else {
                    continue
                }
                switch value {
                case "run": scope = .run
                case "agent":
                    var window: Duration = .seconds(3600)
                    if let windowNode = entries["window"] {
                        guard
                            let value = reader.duration(
                                windowNode,
                                path: "\(path).window",
                                range: .seconds(1)...Duration.seconds(31 * 86_400),
                                example: "1h"
                            )
                        else { continue }
                        window = value
                    }
                    scope = .agent(window: window)
                default: scope = .mcpSession
                }
            }
            if entries["window"] != nil, case .agent = scope {
            } else if let node = entries["window"] {
                reader.report(
                    node,
                    path: "\(path).window",
                    "only scope: agent has a window; sessions and runs end by themselves"
                )
                continue
            }
            guard let afterNode = entries["after"],
                let after = reader.mapping(afterNode, path: "\(path).after", allowedKeys: Self.sessionAfterKeys)
            else {
                if entries["after"] == nil {
                    reader.report(
                        item,
                        path: "\(path).after",
                        "a session rule says what must have happened",
                        hint: "after: {tool_tags: [untrusted]}"
                    )
                }
                continue
            }
            let afterTags = Set(after["tool_tags"].map { names($0, path: "\(path).after.tool_tags") } ?? [])
            var afterDetectors: Set<String> = []
            if let node = after["detectors"] {
                let listed = names(node, path: "\(path).after.detectors")
                for name in listed {
                    // A group stands for its detectors; a custom detector is named by its guard
                    // (`guard-id/regex[0]`).
                    let builtins = (try? DetectorSet.builtins(named: [name])) ?? []
                    afterDetectors.formUnion(builtins.isEmpty ? [name] : builtins.map(\.rawValue))
                }
            }
            guard !afterTags.isEmpty || !afterDetectors.isEmpty else {
                reader.report(afterNode, path: "\(path).after", "name tool_tags or detectors")
                continue
            }
            guard let denyNode = entries["deny"],
                let deny = reader.mapping(denyNode, path: "\(path).deny", allowedKeys: Self.sessionDenyKeys)
            else {
                if entries["deny"] == nil {
                    reader.report(
                        item,
                        path: "\(path).deny",
                        "a session rule says what it then denies",
                        hint: "deny: {tool_tags: [egress]}"
                    )
                }
                continue
            }
            let denyTags = Set(deny["tool_tags"].map { names($0, path: "\(path).deny.tool_tags") } ?? [])
            let providerTags = deny["llm_providers_not_tagged"].map {
                Set(names($0, path: "\(path).deny.llm_providers_not_tagged"))
            }
            guard !denyTags.isEmpty || !(providerTags ?? []).isEmpty else {
                reader.report(denyNode, path: "\(path).deny", "name tool_tags or llm_providers_not_tagged")
                continue
            }
            var consequence = SessionRule.Consequence.deny
            if let node = entries["action"] {
                guard
                    let value = reader.choice(
                        node,
                        path: "\(path).action",
                        options: SessionRule.Consequence.allCases.map(\.rawValue)
                    ),
                    let chosen = SessionRule.Consequence(rawValue: value)
                else { continue }
                consequence = chosen
            }
            rules.append(
                SessionRule(
                    id: id,
                    scope: scope,
                    afterToolTags: afterTags,
                    afterDetectors: afterDetectors,
                    denyToolTags: denyTags,
                    denyProvidersNotTagged: providerTags,
                    consequence: consequence
                )
            )
        }
        return rules
    }

    private mutating func tags(_ node: Node) -> PolicyTags {
        var tags = PolicyTags()
        guard let entries = reader.mapping(node, path: "tags", allowedKeys: Self.tagSectionKeys) else { return tags }
        for key in Self.tagSectionKeys {
            guard let section = entries[key] else { continue }
            guard let mapping = section.mapping else {
                reader.report(
                    section,
                    path: "tags.\(key)",
                    "expected a mapping of names to tag lists",
                    hint: "web__fetch: [untrusted]"
                )
                continue
            }
            var list: [(Glob, [String])] = []
            for (nameNode, valuesNode) in mapping {
                guard let name = nameNode.scalar?.string, !name.isEmpty else {
                    reader.report(nameNode, path: "tags.\(key)", "names must be plain text")
                    continue
                }
                let values = globs(valuesNode, path: "tags.\(key).\(name)").map(\.0.description)
                list.append((Glob(name), values))
            }
            switch key {
            case "tools": tags.tools = list
            case "servers": tags.servers = list
            case "models": tags.models = list
            default: tags.providers = list
            }
        }
        return tags
    }
}
