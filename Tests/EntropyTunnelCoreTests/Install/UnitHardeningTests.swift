import EntropyTunnelCore
import Testing

/// The one hardening block, as the tunnel's and the seed's units carry it.
struct UnitHardeningTests {
    /// systemd has no include: the two units each carry their hardening block. They must not
    /// drift apart; these are the only differences, each on purpose.
    @Test("the two units' hardening blocks differ only where they must (network, /dev/random, the nice limit, /tmp, the metrics directory)")
    func hardeningBlocksAgree() {
        func hardening(_ template: String) -> Set<Substring> {
            guard let start = template.range(of: "# --- Hardening ---"), let end = template.range(of: "[Install]") else { return [] }
            return Set(template[start.upperBound..<end.lowerBound].split(separator: "\n").filter { !$0.hasPrefix("#") })
        }
        let tunnel = hardening(ServiceUnit.template), seed = hardening(SeedServiceUnit.template)
        #expect(tunnel.count > 30 && seed.count > 30)
        // The tunnel connects out over IP, feeds /dev/random, and runs libdispatch's nice -4 thread.
        // PrivateTmp= only in the tunnel: in the seed unit it would order it after local-fs.target,
        // too late for its credit. The tunnel may write node_exporter's textfile directory.
        #expect(tunnel.subtracting(seed) == ["RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "DeviceAllow=/dev/random rw", "LimitNICE=-4",
                                             "PrivateTmp=yes", "ReadWritePaths=-/var/lib/prometheus/node-exporter"])
        // The seed needs no network at all.
        #expect(seed.subtracting(tunnel) == ["PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "IPAddressDeny=any"])
    }
}
