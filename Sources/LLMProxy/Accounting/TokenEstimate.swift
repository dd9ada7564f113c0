internal import GatehouseJSON
internal import NIOCore

/// What a call will likely cost in tokens before it is made, for token limits to reserve: the
/// prompt at about four bytes a token, plus the request's own output maximum or, without one, a
/// modest guess (a route's default maximum is a ceiling, far above most answers). Settled with
/// the real usage when the call ends.
enum TokenEstimate {
    /// The output reserved when neither the request nor the route bounds it.
    static let unboundedOutputGuess = 256

    static func likely(_ envelope: RequestEnvelope) -> Int {
        let prompt = envelope.body.readableBytes / 4
        var output: Int?
        for key in ["max_completion_tokens", "max_tokens", "max_output_tokens"] {
            if let member = envelope.object.member(key),
                let value = envelope.body.jsonValue(at: member.valueRange)?.intValue, value > 0
            {
                output = value
                break
            }
        }
        let bound = output ?? unboundedOutputGuess
        return prompt.addingReportingOverflow(min(bound, 1 << 24)).partialValue
    }
}
