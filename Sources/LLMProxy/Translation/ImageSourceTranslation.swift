internal import GatehouseJSON

/// OpenAI `image_url.url` ⇄ Anthropic image `source`.
enum ImageSourceTranslation {
    /// The media types Anthropic accepts for base64 images.
    static let anthropicMediaTypes: Set<String> = ["image/jpeg", "image/png", "image/gif", "image/webp"]

    /// `data:<media type>;base64,<data>` → a base64 source; `https://…` (or `http://…`) → a url source.
    static func anthropicSource(fromImageURL url: String, param: String) throws(TranslationError) -> JSONObject {
        let lowercased = url.lowercased()
        if lowercased.hasPrefix("https://") || lowercased.hasPrefix("http://") {
            return JSONObject(["type": .string("url"), "url": .string(url)])
        }
        guard lowercased.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else {
            throw TranslationError(message: "image_url must be an https URL or a base64 data URL", param: param)
        }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].split(separator: ";")
        var mediaType = header.first.map { $0.lowercased() } ?? ""
        // Browsers and SDKs write the non-standard `image/jpg`.
        if mediaType == "image/jpg" { mediaType = "image/jpeg" }
        guard header.dropFirst().contains(where: { $0.lowercased() == "base64" }) else {
            throw TranslationError(message: "image data URLs must be base64-encoded", param: param)
        }
        guard anthropicMediaTypes.contains(mediaType) else {
            throw TranslationError(
                message:
                    "image media type '\(mediaType)' is not supported; use image/jpeg, image/png, image/gif or image/webp",
                param: param
            )
        }
        let data = String(url[url.index(after: comma)...])
        guard !data.isEmpty else { throw TranslationError(message: "image data URL is empty", param: param) }
        return JSONObject(["type": .string("base64"), "media_type": .string(mediaType), "data": .string(data)])
    }

    /// A base64 source → a data URL; a url source → its URL. File sources have no OpenAI equivalent.
    static func imageURL(fromAnthropicSource source: JSONObject?, param: String) throws(TranslationError) -> String {
        switch source?["type"]?.stringValue {
        case "base64":
            guard let mediaType = source?["media_type"]?.stringValue, let data = source?["data"]?.stringValue else {
                throw TranslationError(message: "base64 image source needs media_type and data", param: param)
            }
            return "data:\(mediaType);base64,\(data)"
        case "url":
            guard let url = source?["url"]?.stringValue else {
                throw TranslationError(message: "url image source needs url", param: param)
            }
            return url
        case let type:
            throw TranslationError(
                message: "image source type '\(type ?? "missing")' cannot be sent to this model",
                param: param
            )
        }
    }
}
