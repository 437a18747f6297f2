// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "entropy-tunnel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "entropy-tunnel", targets: ["entropy-tunnel"]),
        .executable(name: "entropy-tunnel-testhost", targets: ["entropy-tunnel-testhost"]),
        // For Fuzz/, a package of its own: a package can use another's targets only as products.
        .library(name: "EntropyTunnelCore", targets: ["EntropyTunnelCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0", traits: []),
    ],
    targets: [
        // libssh2 from Debian's libssh2-1-dev: a module map and one header with inline shims.
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // pipe2, and the fork/exec that gives rngd a parent-death signal: what Glibc cannot.
        .target(name: "CSystemShims"),
        // All of the logic: SSH, FIFO sink, pump, supervisor, health tests, config, install.
        .target(
            name: "EntropyTunnelCore",
            dependencies: [
                "CLibSSH2",
                "CSystemShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: strict
        ),
        // The command line: parse, build the configuration, hand over.
        .executableTarget(
            name: "entropy-tunnel",
            dependencies: [
                "EntropyTunnelCore",
                "CSystemShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The project's own test harness: a real OpenSSH sshd on loopback with throwaway keys.
        .target(
            name: "TestHost",
            dependencies: [
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        // The harness as a command, for install/demo.sh and bench/.
        .executableTarget(
            name: "entropy-tunnel-testhost",
            dependencies: ["TestHost"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EntropyTunnelCoreTests",
            dependencies: ["EntropyTunnelCore", "TestHost", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["EntropyTunnelCore", "TestHost", "entropy-tunnel"],
            swiftSettings: strict
        ),
        // The service under a real systemd as PID 1, in a throw-away namespace box (needs root).
        .testTarget(
            name: "SystemdTests",
            dependencies: ["TestHost", "entropy-tunnel", "entropy-tunnel-testhost"],
            swiftSettings: strict
        ),
    ]
)
