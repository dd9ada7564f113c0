/// `stop_reason` ⇄ `finish_reason`. Values neither API documents map to the plain "the turn ended"
/// value of the other side, because both SDKs treat unknown values as opaque strings anyway.
public enum StopReasonMapping {
    /// Anthropic `stop_reason` → OpenAI `finish_reason`.
    /// `pause_turn` becomes `stop` although the turn is unfinished: OpenAI has no way to say so.
    public static func openAIFinishReason(fromAnthropic stopReason: String) -> String {
        switch stopReason {
        case "end_turn", "stop_sequence", "pause_turn": "stop"
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"
        }
    }

    /// OpenAI `finish_reason` → Anthropic `stop_reason`.
    /// `stop` becomes `end_turn`: OpenAI does not say whether a stop string matched.
    public static func anthropicStopReason(fromOpenAI finishReason: String) -> String {
        switch finishReason {
        case "stop": "end_turn"
        case "length": "max_tokens"
        case "tool_calls", "function_call": "tool_use"
        case "content_filter": "refusal"
        default: "end_turn"
        }
    }
}
