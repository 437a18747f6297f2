import EntropyTunnelCore
import Testing

/// The tunnel unit's drop-in for `fifo_group` and a metrics directory outside the template's.
struct ServiceDropInTests {
    @Test("the unit's drop-in: a supplementary group and fchown for fifo_group; ReadWritePaths= only for a metrics directory the template does not cover")
    func dropIn() throws {
        #expect(ServiceDropIn(fifoGroup: nil, metricsFile: nil).text == nil)
        #expect(ServiceDropIn(fifoGroup: nil, metricsFile: "/var/lib/prometheus/node-exporter/et.prom").text == nil)
        #expect(ServiceDropIn(fifoGroup: nil, metricsFile: "/run/entropy-tunnel/metrics.prom").text == nil)
        let both = try #require(ServiceDropIn(fifoGroup: "rngd", metricsFile: "/srv/metrics/et.prom").text)
        let directives = both.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(directives == ["[Service]", "SupplementaryGroups=rngd", "SystemCallFilter=fchown", "ReadWritePaths=-/srv/metrics"])
        // A directory systemd would split or expand, or a newline that would start a directive of its own.
        for path in ["/srv/my metrics/et.prom", "/srv/%h/et.prom", "/srv/x\nExecStartPre=/bin/sh/et.prom"] {
            #expect(throws: TunnelError.self) { try ServiceDropIn(fifoGroup: nil, metricsFile: path).check() }
            #expect(ServiceDropIn(fifoGroup: nil, metricsFile: path).text == nil)
        }
        try ServiceDropIn(fifoGroup: "rngd", metricsFile: "/srv/metrics/et.prom").check()
    }
}
