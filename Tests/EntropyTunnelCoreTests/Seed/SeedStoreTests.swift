import EntropyTunnelCore
import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// Records what would reach the kernel, and answers as the kernel would (`KernelCredit.decide`)
/// for a CRNG that is `crngReady` or not. A fake stands in here because crediting the real pool
/// cannot be observed from user space (the counter is capped at 256 bits after boot, and this
/// machine's CRNG is ready); the real ioctl calls are checked through strace in SeedKillTests, and
/// the real credit at boot in install/vm-test.sh.
final class RecordingKernel: KernelInput {
    struct Call: Equatable {
        var bytes: [UInt8]
        var creditBits: Int
    }
    var calls: [Call] = []
    var crngReady = false

    func addEntropy(_ bytes: UnsafeRawBufferPointer, creditBits: Int) throws(TunnelError) -> KernelCredit {
        calls.append(Call(bytes: Array(bytes), creditBits: creditBits))
        return KernelCredit.decide(requested: creditBits, count: bytes.count, mode: .ioctl, crngReadyBefore: crngReady)
    }

    var credited: [Call] { calls.filter { $0.creditBits > 0 } }
}

/// SeedStore as values over a scratch directory: what is credited, when, and what is refused.
@Suite(.serialized)
struct SeedStoreTests {
    /// A fresh state directory path (not yet created) below a new scratch directory.
    func stateDirectory() throws -> String {
        try Scratch.directory("entropy-tunnel-seedtest", mode: 0o700) + "/state"
    }

    func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map(Array.init)
    }

    func write(_ bytes: [UInt8], to path: String) {
        createFile(atPath: path, contents: bytes, mode: 0o600)
    }

    @Test("save then load credits the seed exactly once, with 8 bits a byte; a second load finds only the new seed")
    func saveThenLoadCreditsOnce() throws {
        let store = SeedStore(directory: try stateDirectory())
        let saved = try store.save(extra: Array(repeating: 7, count: 100))
        #expect(saved.creditable && saved.bytes == SeedStore.size && saved.path.hasSuffix("/seed.credit"))
        var st = stat()
        #expect(stat(store.directory, &st) == 0 && st.st_mode & 0o777 == 0o700, "the directory is created mode 0700")
        let seed = try #require(contents(saved.path))
        #expect(seed.count == 64)
        #expect(seed != Array(repeating: 7, count: 64))

        let kernel = RecordingKernel()
        let first = try store.load(into: kernel, firstBoot: false)
        #expect(kernel.calls == [.init(bytes: seed, creditBits: 512)])
        #expect(first.creditedBits == 512 && first.loadedBytes == 64)
        let next = try #require(first.saved)
        #expect(next.creditable)
        let nextSeed = try #require(contents(next.path))
        #expect(nextSeed != seed, "the new seed is not the one just credited")

        let second = try store.load(into: kernel, firstBoot: false)
        #expect(kernel.credited.count == 2)
        #expect(kernel.credited[1].bytes == nextSeed && kernel.credited[0].bytes != nextSeed)
        #expect(second.loaded.count == 1)
        var counters = SeedCounters()
        counters.record(first)
        counters.record(second)
        #expect(counters == { var c = SeedCounters(); c.loaded = 2; c.credited = 2; c.saved = 2; return c }())
    }

    @Test("no seed at all: nothing reaches the kernel, a new seed is written")
    func firstRun() throws {
        let store = SeedStore(directory: try stateDirectory())
        let kernel = RecordingKernel()
        let result = try store.load(into: kernel, firstBoot: false)
        #expect(kernel.calls.isEmpty && result.loaded.isEmpty && result.saved != nil)
        #expect(result.summary.contains("no seed to load"))
    }

    @Test("after a load exactly one seed is left: the new one, not the seed just mixed in")
    func loadedSeedIsGoneBeforeSave() throws {
        let directory = try stateDirectory()
        let store = SeedStore(directory: directory)
        _ = try store.save(extra: [])
        let kernel = RecordingKernel()
        _ = try store.load(into: kernel, firstBoot: false)
        let seedsAfter = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("seed.") && $0 != "seed.lock" }
        #expect(seedsAfter == ["seed.credit"], "exactly one seed, the new one: \(seedsAfter)")
        #expect(contents(directory + "/seed.credit") != kernel.calls[0].bytes)
    }

    @Test("seed.no-credit is mixed in but never credited; saving a creditable seed removes the other name")
    func noCreditSeed() throws {
        let directory = try stateDirectory()
        let store = SeedStore(directory: directory)
        _ = try store.save(extra: [])
        try FileManager.default.moveItem(atPath: directory + "/seed.credit", toPath: directory + "/seed.no-credit")
        let kernel = RecordingKernel()
        let result = try store.load(into: kernel, firstBoot: false)
        #expect(kernel.calls.count == 1 && kernel.credited.isEmpty)
        #expect(result.loaded.first?.noCreditReason?.contains("before the kernel's CRNG was ready") == true)
        #expect(!FileManager.default.fileExists(atPath: directory + "/seed.no-credit"))
        #expect(FileManager.default.fileExists(atPath: directory + "/seed.credit"))
    }

    @Test("first boot, --no-credit: mixed without credit, with the reason")
    func noCreditWhen() throws {
        let store = SeedStore(directory: try stateDirectory())
        _ = try store.save(extra: [])
        let kernel = RecordingKernel()
        let firstBoot = try store.load(into: kernel, firstBoot: true)
        #expect(kernel.calls.count == 1 && kernel.credited.isEmpty)
        #expect(firstBoot.summary.contains("first boot"))

        var refusing = store
        refusing.noCreditReason = "--no-credit was given"
        let refused = try refusing.load(into: kernel, firstBoot: false)
        #expect(kernel.calls.count == 2 && kernel.credited.isEmpty)
        #expect(refused.summary.contains("mixed, 0 bits credited: --no-credit was given"))
    }

    @Test("a creditable seed loaded after the CRNG got ready is reported as mixed, 0 bits credited, and counted so")
    func crngAlreadyReady() throws {
        let store = SeedStore(directory: try stateDirectory())
        _ = try store.save(extra: [])
        let kernel = RecordingKernel()
        kernel.crngReady = true
        let result = try store.load(into: kernel, firstBoot: false)
        #expect(kernel.calls.count == 1 && kernel.calls[0].creditBits == 512, "the credit is asked for: the kernel decides")
        #expect(result.creditedBits == 0 && result.loaded.first?.creditedBits == 0)
        #expect(result.summary.contains("mixed, 0 bits credited: the kernel's CRNG was already ready"), "\(result.summary)")
        #expect(!result.summary.contains("credited 512"))
        var counters = SeedCounters()
        counters.record(result)
        #expect(counters.loaded == 1 && counters.credited == 0)
    }

    @Test("first boot is systemd's rule: /etc/machine-id missing, empty or 'uninitialized'")
    func firstBootRule() throws {
        let directory = try stateDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/machine-id"
        #expect(SeedStore.isFirstBoot(machineIDPath: path))
        for (text, first) in [("", true), ("\n", true), ("uninitialized\n", true), ("0123456789abcdef0123456789abcdef\n", false)] {
            write(Array(text.utf8), to: path)
            #expect(SeedStore.isFirstBoot(machineIDPath: path) == first, "machine-id \(text.debugDescription)")
        }
    }

    @Test("files of the wrong size are removed unloaded; 32 and 512 bytes are accepted", arguments: [0, 1, 31, 32, 512, 513, 4096])
    func sizes(size: Int) throws {
        let directory = try stateDirectory()
        let store = SeedStore(directory: directory)
        _ = try store.save(extra: [])
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        write(bytes, to: directory + "/seed.credit")
        let kernel = RecordingKernel()
        let result = try store.load(into: kernel, firstBoot: false)
        if (32...512).contains(size) {
            #expect(kernel.calls == [.init(bytes: bytes, creditBits: 8 * size)])
        } else {
            #expect(kernel.calls.isEmpty, "a \(size)-byte seed was loaded")
            #expect(result.skipped.count == 1 && result.skipped[0].contains("\(size) bytes, not 32-512"))
        }
        #expect(contents(directory + "/seed.credit") != bytes)
    }

    @Test("a seed that is a symbolic link is refused and removed, its target untouched; a seed directory is skipped")
    func symlinkRefused() throws {
        let directory = try stateDirectory()
        let store = SeedStore(directory: directory)
        _ = try store.save(extra: [])
        let target = FileSystemHelpers.parent(directory) + "/target"
        let planted = Array(repeating: UInt8(0x41), count: 64)
        write(planted, to: target)
        try FileManager.default.removeItem(atPath: directory + "/seed.credit")
        try FileManager.default.createSymbolicLink(atPath: directory + "/seed.credit", withDestinationPath: target)
        let kernel = RecordingKernel()
        let result = try store.load(into: kernel, firstBoot: false)
        #expect(kernel.calls.isEmpty)
        #expect(result.skipped.first?.contains("symbolic link") == true)
        #expect(contents(target) == planted)

        try FileManager.default.removeItem(atPath: directory + "/seed.credit")
        try FileManager.default.createDirectory(atPath: directory + "/seed.no-credit", withIntermediateDirectories: false)
        let skipped = try store.load(into: kernel, firstBoot: false)
        #expect(skipped.skipped.first?.contains("not a regular file") == true)
    }

    @Test("an unsafe state directory is a configuration error naming the path and the fix")
    func unsafeDirectory() throws {
        let directory = try stateDirectory()
        let store = SeedStore(directory: directory)
        _ = try store.save(extra: [])
        chmod(directory, 0o770)
        let kernel = RecordingKernel()
        let groupWritable = #expect(throws: TunnelError.self) { try store.load(into: kernel, firstBoot: false) }
        #expect(groupWritable?.code == .configuration)
        #expect(groupWritable?.message.contains("\(directory) is writable by group or others") == true)
        #expect(groupWritable?.message.contains("chmod 0700 \(directory)") == true)
        chmod(directory, 0o700)

        chown(directory, 65534, 65534)
        let foreign = #expect(throws: TunnelError.self) { try store.save(extra: []) }
        #expect(foreign?.code == .configuration && foreign?.message.contains("belongs to uid 65534") == true)
        chown(directory, 0, 0)

        let link = FileSystemHelpers.parent(directory) + "/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: directory)
        let linked = #expect(throws: TunnelError.self) { try SeedStore(directory: link).save(extra: []) }
        #expect(linked?.code == .configuration && linked?.message.contains("symbolic link") == true)
        #expect(kernel.calls.isEmpty)
    }

    @Test("two saves in a row give different 64-byte seeds (fresh getrandom bytes and the time in the hash)")
    func derivation() throws {
        let store = SeedStore(directory: try stateDirectory())
        let a = try store.save(extra: [1, 2, 3])
        let first = contents(a.path)
        _ = try store.save(extra: [1, 2, 3])
        #expect(contents(a.path) != first)
        #expect(contents(a.path)?.count == 64)
    }
}

enum FileSystemHelpers {
    static func parent(_ path: String) -> String {
        String(path[..<path.lastIndex(of: "/")!])
    }
}
