import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP, which would end the process by default, is caught and logged: the daemon keeps its
/// configuration and connection (re-reading the configuration on SIGHUP is not supported yet;
/// restart the service to apply a changed config file).
final class HangupService: Service, Sendable {
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func run() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                self.logger.notice("""
                    SIGHUP received and ignored: the configuration is read only at start; \
                    run `systemctl restart entropy-tunnel` to apply changes
                    """)
            }
        }
    }
}
