import GatehouseTracing
import Testing

private let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
private let spanID = "00f067aa0ba902b7"

@Suite("TraceParent")
struct TraceParentTests {
    @Test(arguments: [
        // (flags field, flags value, sampled)
        ("01", UInt8(0x01), true),
        ("00", 0x00, false),
        ("02", 0x02, false),
        ("03", 0x03, true),
        ("ff", 0xff, true),
        ("fe", 0xfe, false),
    ])
    func parsesVersion00(flagsField: String, flags: UInt8, sampled: Bool) throws {
        let parent = try #require(TraceParent(header: Substring("00-\(traceID)-\(spanID)-\(flagsField)")))
        #expect(parent.traceID == traceID)
        #expect(parent.parentSpanID == spanID)
        #expect(parent.flags == flags)
        #expect(parent.isSampled == sampled)
    }

    @Test(arguments: [
        "00-\(traceID)-\(spanID)-01",
        "00-\(traceID)-\(spanID)-00",
        "00-\(traceID)-\(spanID)-0a",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ])
    func descriptionRoundTrips(header: String) throws {
        let parent = try #require(TraceParent(header: Substring(header)))
        #expect(parent.description == header)
        #expect(TraceParent(header: Substring(parent.description)) == parent)
    }

    @Test(arguments: [
        "01-\(traceID)-\(spanID)-01-what-the-future-will-bring",
        "cc-\(traceID)-\(spanID)-01-x",
        "cc-\(traceID)-\(spanID)-01",
        "fe-\(traceID)-\(spanID)-01-",
    ])
    func acceptsHigherVersionAndIgnoresExtraFields(header: String) throws {
        let parent = try #require(TraceParent(header: Substring(header)))
        #expect(parent.traceID == traceID)
        #expect(parent.parentSpanID == spanID)
        #expect(parent.flags == 0x01)
        #expect(parent.isSampled)
        // We propagate the version we speak.
        #expect(parent.description == "00-\(traceID)-\(spanID)-01")
    }

    @Test(arguments: [
        // all-zero identifiers
        "00-00000000000000000000000000000000-\(spanID)-01",
        "00-\(traceID)-0000000000000000-01",
        // wrong lengths
        "00-\(traceID.dropLast())-\(spanID)-01",
        "00-\(traceID)a-\(spanID)-01",
        "00-\(traceID)-\(spanID.dropLast())-01",
        "00-\(traceID)-\(spanID)a-01",
        "00-\(traceID)-\(spanID)-1",
        "00-\(traceID)-\(spanID)-011",
        "0-\(traceID)-\(spanID)-01",
        "000-\(traceID)-\(spanID)-01",
        // uppercase hex
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-\(spanID)-01",
        "00-\(traceID)-00F067AA0BA902B7-01",
        "00-\(traceID)-\(spanID)-0A",
        "0A-\(traceID)-\(spanID)-01",
        // not hex
        "00-4bf92f3577b34da6a3ce929d0e0e473g-\(spanID)-01",
        "00-\(traceID)-00f067aa0ba902bz-01",
        "00-\(traceID)-\(spanID)-0g",
        "0x-\(traceID)-\(spanID)-01",
        // version ff is invalid
        "ff-\(traceID)-\(spanID)-01",
        // version 00 has exactly four fields
        "00-\(traceID)-\(spanID)-01-extra",
        "00-\(traceID)-\(spanID)-01-",
        // higher version: flags must still be exactly two digits
        "01-\(traceID)-\(spanID)-01x-extra",
        // structure
        "",
        "00",
        "00-\(traceID)-\(spanID)",
        "00-\(traceID)-\(spanID)-",
        "00_\(traceID)_\(spanID)_01",
        " 00-\(traceID)-\(spanID)-01",
        "00-\(traceID)-\(spanID)-01 ",
    ])
    func rejects(header: String) {
        #expect(TraceParent(header: Substring(header)) == nil)
    }
}
