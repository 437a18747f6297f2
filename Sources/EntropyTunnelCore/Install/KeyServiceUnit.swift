/// The first-boot key unit `install --per-instance-key` writes: `install/entropy-tunnel-key.service.in`,
/// embedded (a test checks the two are identical), with its placeholders filled in. It makes the
/// machine's client key when there is none (`keys generate --config ... --owner entropy-tunnel`),
/// before the tunnel starts, and logs the line to run on the entropy host.
public struct KeyServiceUnit: Sendable {
    /// The unit's name.
    public static let name = "entropy-tunnel-key.service"
    /// Where `install` puts it.
    public static let defaultPath = "/etc/systemd/system/entropy-tunnel-key.service"

    public var binary: String
    public var configPath: String
    /// The private key it makes (`ConditionPathExists=!` skips it once there).
    public var identity: String

    public init(binary: String = ServiceUnit.defaultBinary, configPath: String = ConfigFile.defaultPath,
                identity: String = "/etc/entropy-tunnel/id_ed25519") {
        self.binary = binary
        self.configPath = configPath
        self.identity = identity
    }

    /// The unit file's text.
    public var text: String {
        Self.template
            .replacing("@BINARY@", with: binary)
            .replacing("@CONFIG@", with: configPath)
            .replacing("@IDENTITY@", with: identity)
            .replacing("@KEYDIR@", with: FileSystem.parent(of: identity))
    }

    /// The template, byte for byte as in `install/entropy-tunnel-key.service.in`.
    public static let template = #"""
# entropy-tunnel-key.service: written by `entropy-tunnel install --per-instance-key` from
# install/entropy-tunnel-key.service.in. An image staged with `install --root DIR --per-instance-key`
# holds no client key: each machine made from it makes its own at its first boot, before the
# tunnel starts, and logs the line to run on the entropy host (journalctl -u entropy-tunnel-key).
# Later boots skip it (the key exists). `entropy-tunnel check` shows the same line until a host
# accepts the key.
[Unit]
Description=entropy-tunnel: make this machine's own client key at its first boot
ConditionPathExists=!@IDENTITY@
After=systemd-sysusers.service
Before=entropy-tunnel.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=@BINARY@ keys generate --config @CONFIG@ --owner entropy-tunnel
UMask=0077
# Root (it gives the key to the service user), but it writes only the key's directory.
ProtectSystem=strict
ReadWritePaths=@KEYDIR@
ProtectHome=yes
PrivateTmp=yes
PrivateNetwork=yes
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target

"""#
}
