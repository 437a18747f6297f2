import EntropyTunnelCore
import Testing

/// Sizes as --window and the config file spell them, and as `status` prints them.
@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("512", 512), ("64K", 65536), ("64k", 65536), ("2M", 2 << 20), ("1G", 1 << 30),
        ("16KiB", 16384), ("3mb", 3 << 20), (" 8K ", 8192), ("0", 0),
    ])
    func parses(text: String, bytes: Int) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "K", "-1", "1.5M", "64Q", "12 34", "99999999999999999999G", "0x10"])
    func rejectsNonsense(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test func printsShortestExactForm() {
        #expect(ByteSize(bytes: 65536).description == "64K")
        #expect(ByteSize(bytes: 2 << 20).description == "2M")
        #expect(ByteSize(bytes: 1000).description == "1000")
        #expect(ByteSize(bytes: 1536).description == "1536")
    }

    @Test("human: bytes below 1 KiB, then binary units with one decimal, up to the largest count")
    func human() {
        #expect(ByteSize.human(0) == "0 B" && ByteSize.human(1023) == "1023 B" && ByteSize.human(4096) == "4.0 KiB")
        #expect(ByteSize.human(1_288_490_189) == "1.2 GiB" && ByteSize.human(.max) == "16.0 EiB")
    }
}
