extension ConfigFile.Values {
    /// The values that are set, as config-file keys and TOML values, in the order of the table of
    /// settings (the example file's): what `install` writes for the options it was given
    /// (defaults stay implicit).
    public var settings: [(key: String, value: Installer.ConfigValue)] {
        func seconds(_ d: Duration) -> Installer.ConfigValue {
            let s = d.seconds
            return s == s.rounded() && s < 1e9 ? .int(Int(s)) : .double(s)
        }
        var out: [(key: String, value: Installer.ConfigValue)] = []
        if let hosts, hosts.count > 1 { out.append(("host", .strings(hosts))) }
        if let port { out.append(("port", .int(port))) }
        if let user { out.append(("user", .string(user))) }
        if let identity { out.append(("identity", .string(identity))) }
        if let knownHosts { out.append(("known_hosts", .string(knownHosts))) }
        if let remoteCommand { out.append(("remote_command", .string(remoteCommand))) }
        if let window { out.append(("window", .string(window.description))) }
        if let connectTimeout { out.append(("connect_timeout", seconds(connectTimeout))) }
        if let keepaliveInterval { out.append(("keepalive_interval", seconds(keepaliveInterval))) }
        if let keepaliveCount { out.append(("keepalive_count", .int(keepaliveCount))) }
        if let backoffCap { out.append(("backoff_cap", seconds(backoffCap))) }
        if let failbackInterval { out.append(("failback_interval", seconds(failbackInterval))) }
        if let fifo { out.append(("fifo", .string(fifo))) }
        if let fifoSize { out.append(("fifo_size", .string(fifoSize.description))) }
        if let dataTimeout { out.append(("data_timeout", seconds(dataTimeout))) }
        if let fifoGroup { out.append(("fifo_group", .string(fifoGroup))) }
        if let sink { out.append(("sink", .string(sink))) }
        if let kernelInterval { out.append(("kernel_interval", seconds(kernelInterval))) }
        if let kernelBytes { out.append(("kernel_bytes", .int(kernelBytes.bytes))) }
        if let connection { out.append(("connection", .string(connection))) }
        if let reserve { out.append(("reserve", .string(reserve.description))) }
        if let stateDir { out.append(("state_dir", .string(stateDir))) }
        if let stateFile { out.append(("state_file", .string(stateFile))) }
        if let metricsFile { out.append(("metrics_file", .string(metricsFile))) }
        if let rngd { out.append(("rngd", .string(rngd))) }
        if let rngdArguments { out.append(("rngd_args", .strings(rngdArguments))) }
        if let healthMinEntropy { out.append(("health_min_entropy", .double(healthMinEntropy))) }
        if let healthAlpha { out.append(("health_alpha", .double(healthAlpha))) }
        if let logLevel { out.append(("log_level", .string(logLevel.rawValue))) }
        // In the one table's order (the example file's).
        let order = Dictionary(uniqueKeysWithValues: Settings.all.enumerated().map { ($1.key, $0) })
        return out.enumerated().sorted { (order[$0.element.key] ?? .max, $0.offset) < (order[$1.element.key] ?? .max, $1.offset) }
            .map(\.element)
    }
}
