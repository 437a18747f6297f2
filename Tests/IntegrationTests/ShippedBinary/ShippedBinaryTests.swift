import Foundation
import TestHost
import Testing

/// What the shipped binary may link: FoundationEssentials at most, never Foundation itself nor
/// ICU (34 MB of data that TOMLKit once brought in), whatever the build (dynamic here, static in
/// the .deb).
struct ShippedBinaryTests {
    /// What `binary` links to that it must not: NEEDED entries and symbols of Foundation, its
    /// internationalization layer and ICU.
    static func forbiddenLinks(_ binary: String) throws -> [String] {
        let needed = try Shell.capture("/usr/bin/readelf", ["-d", binary]).stdout
        var found = needed.split(separator: "\n").filter { line in
            line.contains("(NEEDED)") && ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so", "libicu"]
                .contains { line.contains($0) }
        }.map(String.init)
        // Defined symbols of a static build (nm), imported ones of a dynamic build (nm -D).
        for flags in [["--defined-only"], ["-D", "--undefined-only"]] {
            let symbols = try Shell.capture("/usr/bin/nm", flags + [binary]).stdout
            for line in symbols.split(separator: "\n") {
                let name = line.split(separator: " ").last ?? ""
                if name.contains("icudt") || name.hasPrefix("$s10Foundation") || name.hasPrefix("$s31FoundationInternationalization")
                    || name.hasPrefix("$s12_FoundationICU") {
                    found.append(String(name))
                    if found.count > 20 { return found }
                }
            }
        }
        return found
    }

    @Test("entropy-tunnel links neither Foundation nor ICU (FoundationEssentials at most); the check finds them where they are")
    func noFoundationNoICU() throws {
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/nm") {
            _ = try? Shell.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "binutils")
        }
        let found = try Self.forbiddenLinks(tunnelBinary)
        #expect(found.isEmpty, "\(tunnelBinary) links: \(found.prefix(10))")
        // The test bundle imports Foundation: the check must see it there.
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let inBundle = (try? Self.forbiddenLinks(bundle)) ?? []
        #expect(!inBundle.isEmpty, "the check finds no Foundation in \(bundle), which imports it")
    }
}
