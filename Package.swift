// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "gatehouse",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gatehouse", targets: ["gatehouse"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"6.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "GatehouseCore", exclude: ["README.md"], swiftSettings: strictSettings),
        .target(name: "GatehouseJSON", exclude: ["README.md"], swiftSettings: strictSettings),
        .target(
            name: "GatehouseConfig",
            dependencies: ["GatehouseCore", .product(name: "Yams", package: "Yams")],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "GatehouseSSE",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        // fork/exec with a new process group and a parent-death signal: not expressible in Swift.
        .target(name: "CGatehouseSpawn"),
        .target(
            name: "Store",
            dependencies: [
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Policy",
            dependencies: [
                "GatehouseCore", "GatehouseConfig", "GatehouseJSON",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        // OTLP's trace export types, generated once from the OpenTelemetry protos (see its README).
        .target(
            name: "OTLPProtos",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["README.md", "pre_encoded_trace.proto"],
            // Generated code only: its message storage is accessed one field at a time, and the
            // runtime exclusivity checks on those accesses were a tenth of the cost of encoding a span.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        // The module is `GatehouseTracing` because swift-distributed-tracing (used by Hummingbird)
        // already owns the module name `Tracing`; the folder keeps the architecture's name.
        .target(
            name: "GatehouseTracing",
            dependencies: [
                "GatehouseCore", "GatehouseConfig", "GatehouseJSON", "OTLPProtos", "Store",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Tracing",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LLMProxy",
            dependencies: [
                "GatehouseCore", "GatehouseConfig", "Policy", "GatehouseTracing",
                "GatehouseJSON", "GatehouseSSE",
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MCPHost",
            dependencies: [
                "GatehouseCore", "GatehouseConfig", "Policy", "GatehouseTracing",
                "GatehouseJSON", "GatehouseSSE", "CGatehouseSpawn",
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "gatehouse",
            dependencies: [
                "GatehouseCore", "GatehouseConfig", "Store", "Policy", "GatehouseTracing", "LLMProxy", "MCPHost",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "GatehouseCoreTests", dependencies: ["GatehouseCore"]),
        .testTarget(name: "GatehouseJSONTests", dependencies: ["GatehouseJSON"]),
        .testTarget(
            name: "PolicyTests",
            dependencies: ["Policy", "GatehouseCore", "GatehouseConfig", "GatehouseJSON"]
        ),
        .testTarget(
            name: "GatehouseTracingTests",
            dependencies: ["GatehouseTracing", "GatehouseJSON", "OTLPProtos", "Store"]
        ),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Store", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "LLMProxyTests",
            dependencies: [
                "LLMProxy", "GatehouseJSON", "GatehouseSSE", "GatehouseCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "MCPHostTests",
            dependencies: [
                "MCPHost", "GatehouseJSON", "GatehouseCore", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "GatehouseTests",
            dependencies: [
                "gatehouse", "GatehouseCore", "GatehouseConfig", "Policy", "Store", "LLMProxy", "MCPHost",
                "GatehouseTracing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
