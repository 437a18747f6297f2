import Logging
import ServiceLifecycle
import UnixSignals

/// SIGUSR1 (`systemctl kill -s USR1 entropy-tunnel`): the kernel sink feeds and reseeds now,
/// out of schedule: after a VM was restored from a snapshot or cloned, when the kernel's CRNG
/// state is shared with another machine.
final class FeedNowService: Service, Sendable {
    let trigger: KernelFeedTrigger
    let logger: Logger

    init(trigger: KernelFeedTrigger, logger: Logger) {
        self.trigger = trigger
        self.logger = logger
    }

    func run() async {
        let signals = await UnixSignalsSequence(trapping: .sigusr1)
        await cancelWhenGracefulShutdown {
            for await _ in signals { self.trigger.fire() }
        }
    }
}
