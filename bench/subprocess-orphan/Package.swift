// swift-tools-version:6.1
// Measures whether a child started through swift-subprocess outlives its parent when the parent
// is killed with SIGKILL (what rngd must never do). Run by bench/subprocess-orphan.sh.
import PackageDescription

let package = Package(
    name: "subprocess-orphan",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/swiftlang/swift-subprocess", exact: "1.0.2", traits: []),
    ],
    targets: [
        .executableTarget(
            name: "orphan",
            dependencies: [.product(name: "Subprocess", package: "swift-subprocess")]
        ),
    ]
)
