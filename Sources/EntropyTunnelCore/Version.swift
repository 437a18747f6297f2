/// The version of entropy-tunnel: `--version`, the state file and the `entropy_tunnel_info` metric.
public enum EntropyTunnelVersion {
    public static let string = "0.1.0"
}
