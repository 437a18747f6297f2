import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `run --metrics-file`: the Prometheus textfile, read by the reference parser (Python's
/// prometheus_client, Debian's python3-prometheus-client), over a 30 s run whose counters move.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct MetricsFileTests {
    /// The samples of a metrics file as the reference parser reads them: `name{labels}` -> value.
    static func parse(_ path: String) throws -> [String: Double] {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let result = try Shell.capture("/usr/bin/python3", ["-c", script, path])
        try #require(result.status == 0, "prometheus_client cannot parse \(path): \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Double]
        return try #require(object, "\(result.stdout)")
    }

    /// Private (anonymous) memory of `pid` in KiB: `Anonymous:` of /proc/PID/smaps_rollup.
    static func anonymousKiB(_ pid: Int32) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("Anonymous:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    static func ensureParser() {
        if FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/prometheus_client") { return }
        _ = try? Shell.capture("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "python3-prometheus-client"])
    }

    @Test("the README's grant (a root directory its group, the service's, may write): written by the service user; refused for root and for another group")
    func groupGrantedDirectory() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let home = try unprivilegedHome(for: host)
        func run(as nobody: Bool, group: gid_t, _ name: String) throws -> (Int32?, String, String) {
            let directory = home + "/" + name
            mkdir(directory, 0o775)
            chown(directory, 0, group)
            chmod(directory, 0o775)
            let metrics = directory + "/entropy-tunnel.prom"
            let arguments = ["run", "--host", host.endpoint, "--user", host.user, "--identity", home + "/id",
                             "--known-hosts", home + "/known_hosts", "--sink", "fifo", "--fifo", home + "/\(name).fifo",
                             "--state-file", home + "/\(name).state.json", "--metrics-file", metrics]
            let tunnel = nobody
                ? try TunnelProcess(setprivNobody + [tunnelBinary] + arguments, logPath: host.directory + "/\(name).log",
                                    executable: "/usr/bin/setpriv")
                : try TunnelProcess(arguments, logPath: host.directory + "/\(name).log")
            defer { tunnel.stop() }
            let exited = tunnel.waitForExit(within: 3)
            _ = waitUntil(10) { FileManager.default.fileExists(atPath: metrics) }
            let written = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? ""
            return (exited, written, tunnel.log)
        }
        let granted = try run(as: true, group: 65534, "granted")
        #expect(granted.0 == nil && granted.1.contains("entropy_tunnel_bytes_delivered_total"), "\(granted.2)")
        let asRoot = try run(as: false, group: 65534, "root")
        #expect(asRoot.0 == 78 && asRoot.2.contains("writable by its group"), "\(asRoot.2)")
        let otherGroup = try run(as: true, group: 4, "other-group")
        #expect(otherGroup.0 == 78 && otherGroup.2.contains("writable by its group"), "\(otherGroup.2)")
        print("groupGrantedDirectory: service user wrote \(granted.1.count) bytes; root exit \(asRoot.0.map(String.init) ?? "running"), another group exit \(otherGroup.0.map(String.init) ?? "running")")
    }

    @Test("a 30 s run (--kernel-interval 2, a stream of a zero window and 512 bytes that then ends): the file parses and the counters move")
    func countersMoveOverThirtySeconds() throws {
        Self.ensureParser()
        // Each connection: one all-zero 512-byte window (dropped by the health tests), 512 bytes
        // (8 feeds of 64 bytes: the kernel sink takes 64 bytes every 2 s, so 16 s), then the
        // command ends: a reconnect after at most --backoff-cap 1, at about 17 s.
        let host = try LoopbackHost(forcedCommand: "head -c 512 /dev/zero; head -c 512 /dev/urandom")
        defer { host.shutdown() }
        let metrics = host.directory + "/entropy-tunnel.prom"
        let common = ["run"] + connectionArguments(host) +
            ["--sink", "kernel", "--kernel-interval", "2", "--backoff-cap", "1", "--log-level", "warning"]
        let tunnel = try TunnelProcess(common + ["--state-dir", host.directory + "/seed", "--state-file", host.directory + "/state.json",
                                                 "--metrics-file", metrics, "--metrics-interval", "1"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        // The same daemon without metrics, for the memory comparison.
        let plain = try TunnelProcess(common + ["--state-dir", host.directory + "/seed2", "--state-file", host.directory + "/state2.json"],
                                      logPath: host.directory + "/run2.log")
        defer { plain.stop() }
        let started = Date()
        #expect(waitUntil(10) { ((try? Self.parse(metrics))?["entropy_tunnel_kernel_feeds_total"] ?? 0) >= 1 }, "\(tunnel.log)")
        let first = try Self.parse(metrics)
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        for name in ["entropy_tunnel_bytes_delivered_total", "entropy_tunnel_connected", "entropy_tunnel_reconnects_total",
                     "entropy_tunnel_health_windows_dropped_total", "entropy_tunnel_health_windows_passed_total",
                     "entropy_tunnel_kernel_bytes_mixed_total", "entropy_tunnel_kernel_bits_credited_total",
                     "entropy_tunnel_kernel_reseeds_total", "entropy_tunnel_kernel_feed_failures_total",
                     "entropy_tunnel_last_feed_timestamp_seconds", "entropy_tunnel_host_up", "entropy_tunnel_start_time_seconds",
                     "entropy_tunnel_info"] {
            let family = name.hasSuffix("_total") ? String(name.dropLast(6)) : name
            #expect(text.contains("# HELP \(name) ") && text.contains("# TYPE \(name) "), "no HELP/TYPE for \(name)")
            #expect(first.keys.contains { $0 == name || $0.hasPrefix(name + "{") || $0.hasPrefix(family + "_total") }, "no sample \(name)")
        }
        #expect(first["entropy_tunnel_info{mode=\"ioctl\",sink=\"kernel\",version=\"0.1.0\"}"] == 1, "\(first.keys.sorted())")
        #expect(first["entropy_tunnel_kernel_feed_failures_total{call=\"RNDADDENTROPY\",errno=\"EPERM\"}"] == 0)
        #expect(first["entropy_tunnel_host_up{host=\"\(host.endpoint)\"}"] != nil)
        // The second read: at the 30 s mark, from a file written after ten more feeds.
        let thirty = waitUntil(40) {
            Date().timeIntervalSince(started) >= 30 &&
                ((try? Self.parse(metrics))?["entropy_tunnel_last_feed_timestamp_seconds"] ?? 0) > (first["entropy_tunnel_last_feed_timestamp_seconds"] ?? 0) + 20
        }
        #expect(thirty)
        let second = try Self.parse(metrics)
        for key in Set(first.keys).union(second.keys).sorted() {
            print("metric \(key): \(first[key].map { "\($0)" } ?? "-") -> \(second[key].map { "\($0)" } ?? "-")")
        }
        // What a healthy root run moves; credits happen only before the CRNG is ready, failures
        // need a refusing kernel, and rngd restarts the rngd sink.
        for name in ["entropy_tunnel_bytes_delivered_total", "entropy_tunnel_reconnects_total",
                     "entropy_tunnel_health_windows_dropped_total", "entropy_tunnel_health_windows_passed_total",
                     "entropy_tunnel_kernel_bytes_mixed_total", "entropy_tunnel_kernel_reseeds_total",
                     "entropy_tunnel_kernel_feeds_total", "entropy_tunnel_last_feed_timestamp_seconds"] {
            #expect((second[name] ?? 0) > (first[name] ?? 0), "\(name) did not move: \(first[name] ?? -1) -> \(second[name] ?? -1)")
        }
        let withMetrics = Self.anonymousKiB(tunnel.pid), without = Self.anonymousKiB(plain.pid)
        print("private (Anonymous) memory after 30 s: with metrics \(withMetrics) KiB, without \(without) KiB")
        #expect(withMetrics > 0 && without > 0)
        // The daemon's own memory stays small (issue 20: <= 4 MiB) whatever the binary weighs. The
        // figure is the release binary's: under install/sanitize.sh ASan's shadow and quarantine
        // are most of it.
        if !underSanitizer {
            #expect(withMetrics <= 4096 && without <= 4096, "private memory \(withMetrics) / \(without) KiB")
        }
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        #expect(plain.stop() == 0, "\(plain.log)")
        // The stop writes the metrics once more.
        #expect((try Self.parse(metrics)["entropy_tunnel_bytes_delivered_total"] ?? 0) >= second["entropy_tunnel_bytes_delivered_total"] ?? 0)
    }
}
