extension RunConfiguration {
    /// What `run` checks before it starts, and a reload before it applies anything: every host
    /// listed once, the private key usable by this process, the known_hosts file readable. A
    /// problem here is one no host can fix: exit 78 at start; at a reload, one error in the log
    /// while the running configuration and its connection stay.
    public func validateForRun() throws(TunnelError) {
        // Host names are case-insensitive: rng.example and RNG.example:22 are one host.
        var seen = Set<HostSpec>()
        for host in hosts where !seen.insert(HostSpec(host: host.host.lowercased(), port: host.port)).inserted {
            throw TunnelError(.configuration,
                              "host \(host) is listed twice (--host or 'host' in the config file); list each host " +
                              "once, in order of preference: a host listed twice would be tried twice and counted twice")
        }
        try PrivateKeyFile.check(connection.identity)
        let knownHosts = try KnownHosts(path: connection.knownHosts)
        guard knownHosts.fileExists else {
            throw TunnelError(.configuration,
                              "known_hosts file \(connection.knownHosts) does not exist, so no host key can be checked; pin " +
                              "each host with `entropy-tunnel keys trust HOST --known-hosts \(connection.knownHosts)`, or " +
                              "point --known-hosts / known_hosts in the configuration at the file with the pins")
        }
    }
}
