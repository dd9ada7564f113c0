internal import HTTPTypes
internal import NIOCore
internal import NIOHTTPTypes

/// Closes connections whose requests arrive too slowly (slowloris and slow-body clients), so a
/// client cannot hold a connection, and the memory behind it, forever.
///
/// Two deadlines: the request head must be complete within `headTimeout` of its first byte, and
/// the body within `bodyTimeout` of the head. Time spent idle between requests is the idle
/// timeout's business, and time spent producing the response is the handler's.
///
/// This handler sits after the HTTP codec, where it sees heads and ends; on being added it places
/// a companion at the front of the pipeline that notices the first raw byte of each request.
final class SlowClientGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    enum Phase { case idle, receivingHead, receivingBody, responding }

    private let headTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private(set) var phase = Phase.idle
    private var deadline: Scheduled<Void>?

    init(headTimeout: TimeAmount, bodyTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        try? context.pipeline.syncOperations.addHandler(RequestStartObserver(guard: self), position: .first)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    /// Called by the companion for the first raw bytes of a request.
    fileprivate func requestBytesArrived(channel: any Channel) {
        guard phase == .idle else { return }
        phase = .receivingHead
        arm(headTimeout, channel: channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            phase = .receivingBody
            arm(bodyTimeout, channel: context.channel)
        case .body:
            break
        case .end:
            phase = .responding
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), phase == .responding {
            phase = .idle
        }
        context.write(data, promise: promise)
    }

    private func arm(_ timeout: TimeAmount, channel: any Channel) {
        deadline?.cancel()
        deadline = channel.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }
}

/// Sees raw bytes before the HTTP decoder, and tells the guard when a new request starts. It also
/// treats a client's end of input during a response as the client leaving, as nginx does: the
/// server keeps half-closed connections open, and without this a stream whose provider is silent
/// would run on for a client that is gone.
private final class RequestStartObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    // Both handlers live on the channel's event loop; the guard holds no reference back, so no cycle.
    private let requestGuard: SlowClientGuard

    init(guard requestGuard: SlowClientGuard) {
        self.requestGuard = requestGuard
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        requestGuard.requestBytesArrived(channel: context.channel)
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent, requestGuard.phase == .responding {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
