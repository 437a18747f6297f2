import EntropyTunnelCore
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

@Suite struct RngdCommandTests {
    /// A scratch directory with an executable `rngd`, a non-executable `rngd`, and nothing.
    final class Tree {
        let root: String
        init() {
            root = try! Scratch.directory("et-rngd-locate", mode: 0o700)
            for dir in ["exec", "plain", "empty"] { mkdir(root + "/" + dir, 0o755) }
            for (dir, mode) in [("exec", 0o755), ("plain", 0o644)] as [(String, mode_t)] {
                let fd = open(root + "/" + dir + "/rngd", O_CREAT | O_WRONLY | O_CLOEXEC, mode)
                _ = "#!/bin/sh\n".withCString { write(fd, $0, 10) }
                close(fd)
            }
        }
        deinit {
            for path in ["exec/rngd", "plain/rngd"] { unlink(root + "/" + path) }
            for dir in ["exec", "plain", "empty"] { rmdir(root + "/" + dir) }
            rmdir(root)
        }
    }

    @Test func searchesPathInOrderAndSkipsNonExecutables() throws {
        let tree = Tree()
        let found = try RngdCommand.locate(
            explicitPath: nil, searchPath: "\(tree.root)/empty:\(tree.root)/plain:relative:\(tree.root)/exec",
            fallbackDirectories: [])
        #expect(found == "\(tree.root)/exec/rngd")
    }

    @Test func fallsBackToSbinDirectories() throws {
        let tree = Tree()
        let found = try RngdCommand.locate(explicitPath: nil, searchPath: "\(tree.root)/empty",
                                           fallbackDirectories: ["\(tree.root)/exec"])
        #expect(found == "\(tree.root)/exec/rngd")
    }

    @Test func explicitPathWins() throws {
        let tree = Tree()
        #expect(try RngdCommand.locate(explicitPath: "\(tree.root)/exec/rngd", searchPath: nil,
                                       fallbackDirectories: []) == "\(tree.root)/exec/rngd")
    }

    @Test func missingRngdNamesTheDebianPackage() {
        let tree = Tree()
        do {
            _ = try RngdCommand.locate(explicitPath: nil, searchPath: "\(tree.root)/empty:\(tree.root)/plain",
                                       fallbackDirectories: ["\(tree.root)/empty"])
            Issue.record("locate found an rngd that is not there")
        } catch {
            #expect(error.code == .rngd)
            #expect(error.message.hasPrefix("rngd not found"))
            #expect(error.message.contains("apt-get install rng-tools5"))
        }
    }

    @Test func unusableExplicitPathIsAnError() {
        let tree = Tree()
        for path in ["\(tree.root)/plain/rngd", "\(tree.root)/none", "\(tree.root)/exec"] {
            do {
                _ = try RngdCommand.locate(explicitPath: path, searchPath: nil)
                Issue.record("accepted \(path)")
            } catch {
                #expect(error.code == .rngd)
                #expect(error.message.contains("--rngd \(path)"))
                #expect(error.message.contains("rng-tools5"))
            }
        }
    }
}
