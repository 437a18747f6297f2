// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for every parser of outside input, in a package of their own: an executable
// that calls LLVMFuzzerRunDriver links only with -sanitize=fuzzer, which the main package's
// normal `swift build` does not use. Build and run with install/fuzz.sh.
let package = Package(
    name: "entropy-tunnel-fuzz",
    dependencies: [
        .package(name: "entropy-tunnel", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "entropy-tunnel-fuzz",
            dependencies: [.product(name: "EntropyTunnelCore", package: "entropy-tunnel")],
            swiftSettings: [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)
