/// A request the translator cannot express in the upstream's API (`n` > 1, tool-call arguments that are
/// not JSON, a content part with no equivalent…). The serving layer answers it as a 400
/// `invalid_request_error` in the client's dialect; `param` names the offending field when known.
public struct TranslationError: Error, Sendable, Equatable {
    public let message: String
    public let param: String?

    public init(message: String, param: String? = nil) {
        self.message = message
        self.param = param
    }
}
