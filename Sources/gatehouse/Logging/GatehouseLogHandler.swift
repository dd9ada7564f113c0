internal import CoreFoundation
internal import Foundation
internal import Logging
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#endif

/// The level every logger of the process obeys. Shared so that a config reload changes the level
/// of loggers that already exist.
final class SharedLogLevel: Sendable {
    private let level: Atomic<UInt8>

    init(_ level: Logger.Level) {
        self.level = Atomic(Self.code(level))
    }

    var value: Logger.Level {
        get { Logger.Level.allCases[Int(level.load(ordering: .relaxed))] }
        set { level.store(Self.code(newValue), ordering: .relaxed) }
    }

    func set(_ newLevel: Logger.Level) { level.store(Self.code(newLevel), ordering: .relaxed) }

    private static func code(_ level: Logger.Level) -> UInt8 {
        UInt8(Logger.Level.allCases.firstIndex(of: level) ?? 2)
    }
}

/// Writes whole lines to standard error, one `write` per line so concurrent lines never interleave.
final class LogLineWriter: Sendable {
    static let standardError = LogLineWriter()
    private let lock = Mutex(())

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                guard let start = buffer.baseAddress else { return }
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(2, start + offset, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }
}

/// Human-readable lines (`2026-11-25T17:00:00.123Z info gatehouse: listening url=…`) or JSON lines
/// (`{"time":…,"level":…,"label":…,"message":…,<metadata>…}`), both on standard error.
struct GatehouseLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    let sharedLevel: SharedLogLevel
    let writer: LogLineWriter
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: LogFormat, sharedLevel: SharedLogLevel, writer: LogLineWriter = .standardError) {
        self.label = label
        self.format = format
        self.sharedLevel = sharedLevel
        self.writer = writer
    }

    var logLevel: Logger.Level {
        get { sharedLevel.value }
        set { sharedLevel.set(newValue) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        let time = UTCTimestamp.now()
        switch format {
        case .text:
            var line = "\(time) \(event.level) \(label): \(event.message)"
            for key in merged.keys.sorted() {
                line += " \(key)=\(merged[key].map(Self.flatten) ?? "")"
            }
            writer.write(line)
        case .json:
            var line = "{\"time\":\(JSONText.quote(time)),\"level\":\(JSONText.quote(event.level.rawValue)),"
            line += "\"label\":\(JSONText.quote(label)),\"message\":\(JSONText.quote(event.message.description))"
            for key in merged.keys.sorted() where !["time", "level", "label", "message"].contains(key) {
                line += ",\(JSONText.quote(key)):\(JSONText.quote(merged[key].map(Self.flatten) ?? ""))"
            }
            line += "}"
            writer.write(line)
        }
    }

    private static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let values):
            "{" + values.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",")
                + "}"
        }
    }

}

/// Minimal JSON string quoting for log lines and other hand-built JSON.
enum JSONText {
    static func quote(_ text: String) -> String {
        var output = "\""
        output.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }
}

/// Wall-clock time as ISO 8601 UTC with milliseconds (`2026-11-25T17:00:00.123Z`), without a
/// formatter object: cheap enough for every log line and usage row.
enum UTCTimestamp {
    static func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return format(seconds: now.tv_sec, milliseconds: Int32(now.tv_nsec / 1_000_000))
    }

    static func string(from date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        let seconds = Int(milliseconds / 1000)
        return format(seconds: seconds, milliseconds: Int32(Int(milliseconds) - seconds * 1000))
    }

    /// Reads back what `now()` and `string(from:)` write.
    static func date(from text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    private static func format(seconds: Int, milliseconds: Int32) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Digits written by hand: String(format:) goes through Foundation's formatter, which is
        // slow enough to show on the request path (every usage and audit row has a timestamp).
        var bytes = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at offset: Int, digits: Int) {
            var value = value
            for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, at: 0, digits: 4)
        bytes[4] = UInt8(ascii: "-")
        put(Int(parts.tm_mon) + 1, at: 5, digits: 2)
        bytes[7] = UInt8(ascii: "-")
        put(Int(parts.tm_mday), at: 8, digits: 2)
        bytes[10] = UInt8(ascii: "T")
        put(Int(parts.tm_hour), at: 11, digits: 2)
        bytes[13] = UInt8(ascii: ":")
        put(Int(parts.tm_min), at: 14, digits: 2)
        bytes[16] = UInt8(ascii: ":")
        put(Int(parts.tm_sec), at: 17, digits: 2)
        bytes[19] = UInt8(ascii: ".")
        put(Int(milliseconds), at: 20, digits: 3)
        bytes[23] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }
}
