internal import AsyncHTTPClient
internal import NIOCore
internal import NIOHTTP1
internal import Policy

/// Posts webhook guards' requests (the Policy module opens no sockets): JSON in, JSON out, the
/// guard's timeout for the whole exchange, at most 1 MiB of answer, no redirects followed.
struct WebhookGuardClient: GuardWebhookClient {
    static let maximumAnswerSize = 1 << 20

    func post(url: String, body: [UInt8], timeout: Duration) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let response = try await HTTPClient.shared.execute(request, deadline: deadline)
        let answer = try await response.body.collect(upTo: Self.maximumAnswerSize)
        return (Int(response.status.code), Array(answer.readableBytesView))
    }
}
