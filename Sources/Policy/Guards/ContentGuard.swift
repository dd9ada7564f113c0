internal import GatehouseCore
public import GatehouseJSON

/// The guards of one flow that apply to one caller and subject, ready to check content. The plane
/// asks the policy for it (`PolicyDecisionPoint.contentGuard`); nil means no guard applies, so a
/// flow without guards costs one lookup. Every guard decision (flag, redact, block) goes to the
/// audit log with its guard and detectors, never with the text it found.
public struct ContentGuard: Sendable {
    public let flow: GuardFlow
    public let context: GuardContext
    let rules: [GuardRule]
    /// The merged detectors of the block guards, compiled when the policy loaded (nil when no
    /// block guard applies, or when they differ per subject and must be merged now).
    let precompiledStreamDetectors: DetectorSet?
    let auditSink: (any DecisionAuditSink)?
    let webhookClient: (any GuardWebhookClient)?

    /// Checks texts in order of cost: block guards on the original texts, flag guards, redact
    /// guards (each on the previous one's output), then webhook guards, which see the texts as
    /// already redacted, so an external service is never sent what a local guard masked.
    public func check(_ texts: [String]) async -> GuardOutcome {
        var fired: [String] = []
        var decisions: [PolicyDecision] = []
        func note(_ names: [String]) {
            for name in names where !fired.contains(name) { fired.append(name) }
        }
        for rule in rules where rule.action == .block && rule.webhook == nil {
            for text in texts {
                guard let match = rule.detectors.firstMatch(in: text) else { continue }
                note([match.detector])
                let decision = blockDecision(rule, detectors: [match.detector])
                await audit(decision)
                return GuardOutcome(verdict: .blocked(decision), detectors: fired, decisions: [decision])
            }
        }
        for rule in rules where rule.action == .flag && rule.webhook == nil {
            let names = Self.detectorNames(texts.flatMap { rule.detectors.scan($0) })
            guard !names.isEmpty else { continue }
            note(names)
            let decision = PolicyDecision(
                effect: .flag,
                rule: rule.id,
                reason: "guard '\(rule.id)' found \(Self.list(names)) in \(flow.noun)"
            )
            decisions.append(decision)
            await audit(decision)
        }
        var current = texts
        var changed = false
        for rule in rules where rule.action == .redact && rule.webhook == nil {
            var found: [DetectorMatch] = []
            for index in current.indices {
                let matches = rule.detectors.scan(current[index])
                guard !matches.isEmpty else { continue }
                found += matches
                current[index] = Redaction.apply(matches, to: current[index])
                changed = true
            }
            guard !found.isEmpty else { continue }
            let names = Self.detectorNames(found)
            note(names)
            let decision = PolicyDecision(
                effect: .redact,
                rule: rule.id,
                reason: "guard '\(rule.id)' masked \(found.count) finding(s) of \(Self.list(names)) in \(flow.noun)"
            )
            decisions.append(decision)
            await audit(decision)
        }
        for rule in rules where rule.webhook != nil && rule.action != .allow {
            guard let webhook = rule.webhook else { continue }
            switch await askWebhook(rule, webhook, texts: current) {
            case .allow:
                continue
            case .redact(let redacted):
                note([rule.id])
                if redacted != current {
                    current = redacted
                    changed = true
                    let decision = PolicyDecision(
                        effect: .redact,
                        rule: rule.id,
                        reason: "webhook guard '\(rule.id)' masked parts of \(flow.noun)"
                    )
                    decisions.append(decision)
                    await audit(decision)
                }
            case .block(let reason):
                note([rule.id])
                let decision = PolicyDecision(
                    effect: .block,
                    rule: rule.id,
                    reason: "webhook guard '\(rule.id)' blocked \(flow.noun): \(reason)"
                )
                await audit(decision)
                return GuardOutcome(verdict: .blocked(decision), detectors: fired, decisions: decisions + [decision])
            }
        }
        return GuardOutcome(verdict: changed ? .redacted(current) : .pass, detectors: fired, decisions: decisions)
    }

    /// Text as a trace may keep it: what the local redact guards mask, masked; nil when a local
    /// block guard matches (the text is then withheld). Audits nothing: the decisions on the
    /// content itself were already taken and audited.
    public func maskedForCapture(_ text: String) -> String? {
        // A webhook's verdict cannot be asked again without sending the text out once more.
        if rules.contains(where: { $0.webhook != nil && $0.action != .allow && $0.action != .flag }) { return nil }
        for rule in rules where rule.action == .block && rule.webhook == nil {
            if rule.detectors.firstMatch(in: text) != nil { return nil }
        }
        var current = text
        for rule in rules where rule.action == .redact && rule.webhook == nil {
            let matches = rule.detectors.scan(current)
            if !matches.isEmpty { current = Redaction.apply(matches, to: current) }
        }
        return current
    }

    /// Checks the text of a JSON document (`GuardedJSON` says which strings are text); a
    /// redaction comes back as the document with its strings masked.
    public func check(
        json value: JSONValue,
        reading: GuardedJSON
    ) async -> (outcome: GuardOutcome, redacted: JSONValue?) {
        let texts = reading.texts(in: value)
        guard !texts.isEmpty else { return (.pass, nil) }
        let outcome = await check(texts)
        if case .redacted(let masked) = outcome.verdict {
            return (outcome, reading.replacing(value, with: masked))
        }
        return (outcome, nil)
    }

    // MARK: - Streams

    /// The local detectors of the flow's block guards, for a streamed completion: a scanner that
    /// holds back a bounded tail so a pattern split across deltas is still caught. nil when no
    /// block guard applies (flag and redact guards, and webhook guards, read the finished text).
    public func streamScanner(holdBack: Int = 64) -> StreamScanner? {
        let blocking = rules.filter { $0.action == .block && $0.webhook == nil }
        guard !blocking.isEmpty else { return nil }
        if blocking.count == 1, let only = blocking.first {
            return StreamScanner(detectors: only.detectors, holdBack: holdBack)
        }
        if let precompiledStreamDetectors {
            return StreamScanner(detectors: precompiledStreamDetectors, holdBack: holdBack)
        }
        guard let merged = try? DetectorSet(blocking.flatMap(\.specs)) else { return nil }
        return StreamScanner(detectors: merged, holdBack: holdBack)
    }

    /// The decision for a stream a scanner stopped, audited.
    public func streamBlocked(by match: DetectorMatch) async -> PolicyDecision {
        let rule =
            rules.first { $0.action == .block && $0.webhook == nil && $0.detectorNames.contains(match.detector) }
            ?? rules.first { $0.action == .block && $0.webhook == nil }
        let decision =
            rule.map { blockDecision($0, detectors: [match.detector]) }
            ?? PolicyDecision(effect: .block, rule: "guard", reason: "\(match.detector) found in \(flow.noun)")
        await audit(decision)
        return decision
    }

    // MARK: - Helpers

    private func blockDecision(_ rule: GuardRule, detectors: [String]) -> PolicyDecision {
        PolicyDecision(
            effect: .block,
            rule: rule.id,
            reason: "guard '\(rule.id)' found \(Self.list(detectors)) in \(flow.noun)"
        )
    }

    private func askWebhook(
        _ rule: GuardRule,
        _ webhook: WebhookGuardSettings,
        texts: [String]
    ) async -> WebhookGuardCodec.Answer {
        let failure: String
        if let client = webhookClient {
            let body = WebhookGuardCodec.request(flow: flow, guardID: rule.id, context: context, texts: texts)
            do {
                let answer = try await client.post(url: webhook.url, body: body, timeout: webhook.timeout)
                if (200..<300).contains(answer.status) {
                    switch WebhookGuardCodec.answer(answer.body, texts: texts) {
                    case .success(let decided): return decided
                    case .failure(let problem): failure = problem.message
                    }
                } else {
                    failure = "it answered HTTP \(answer.status)"
                }
            } catch {
                failure = "it did not answer within \(webhook.timeout) or could not be reached"
            }
        } else {
            failure = "no webhook client is configured"
        }
        let reason = "webhook guard '\(rule.id)' failed (\(failure))"
        if webhook.failClosed {
            return .block(reason: "the guard failed and fails closed (\(failure))")
        }
        await audit(PolicyDecision(effect: .flag, rule: rule.id, reason: "\(reason); failing open"))
        return .allow
    }

    private func audit(_ decision: PolicyDecision) async {
        guard let auditSink else { return }
        await auditSink.record(
            DecisionRecord(
                plane: flow.plane,
                action: flow.auditAction,
                target: context.subject,
                agent: context.identity.agentName,
                requestID: context.requestID?.description,
                decision: decision.effect,
                rule: decision.rule,
                reason: decision.reason
            )
        )
    }

    private static func detectorNames(_ matches: [DetectorMatch]) -> [String] {
        var names: [String] = []
        for match in matches where !names.contains(match.detector) { names.append(match.detector) }
        return names
    }

    private static func list(_ names: [String]) -> String {
        names.joined(separator: ", ")
    }
}
