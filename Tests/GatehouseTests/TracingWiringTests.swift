import Foundation
import GatehouseTracing
import Testing

@testable import gatehouse

@Suite struct TracingWiringTests {
    @Test func retryAfterInSecondsOrAsADate() {
        #expect(HTTPSpanTransport.retryAfter("3") == .seconds(3))
        #expect(HTTPSpanTransport.retryAfter(" 0 ") == .seconds(0))
        #expect(HTTPSpanTransport.retryAfter(nil) == nil)
        #expect(HTTPSpanTransport.retryAfter("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_784_000_000)
        let later = "Tue, 14 Jul 2026 03:33:30 GMT"
        let wait = HTTPSpanTransport.retryAfter(later, now: now)
        let expected = Date(timeIntervalSince1970: 1_784_000_010)
        #expect(wait == .milliseconds(Int(expected.timeIntervalSince(now) * 1000)))
        #expect(wait == .seconds(10))
    }
}
