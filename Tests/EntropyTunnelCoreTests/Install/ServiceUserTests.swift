import EntropyTunnelCore
import Foundation
import Testing
import TestHost

/// The units' user: the embedded sysusers.d file, and its ids as an image's own passwd file has them.
struct ServiceUserTests {
    let repository = #filePath.components(separatedBy: "/Tests/")[0]

    @Test("the embedded sysusers.d file is install/entropy-tunnel.sysusers, byte for byte, and declares the units' user")
    func sysusersFile() throws {
        let file = try String(contentsOfFile: repository + "/install/entropy-tunnel.sysusers", encoding: .utf8)
        #expect(ServiceUser.sysusersText == file)
        let lines = file.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines == [#"u entropy-tunnel - "entropy-tunnel service" /nonexistent /usr/sbin/nologin"#])
        #expect(ServiceUser.name == "entropy-tunnel" && ServiceUnit.template.contains("\nUser=entropy-tunnel\n")
                && SeedServiceUnit.template.contains("\nUser=entropy-tunnel\n"))
    }

    @Test("the service user's ids are read from the image's own passwd file, not from this machine's")
    func idsInPasswd() throws {
        let dir = try Scratch.directory("entropy-tunnel-passwd")
        let path = dir + "/passwd"
        try """
            root:x:0:0:root:/root:/bin/bash
            entropy-tunnel-old:x:5:5::/:/bin/false
            broken-line
            entropy-tunnel:x:998:997:entropy-tunnel service:/nonexistent:/usr/sbin/nologin

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let ids = try #require(ServiceUser.ids(inPasswd: path))
        #expect(ids.uid == 998 && ids.gid == 997)
        #expect(ServiceUser.ids(inPasswd: path, user: "nobody-here") == nil)
        #expect(ServiceUser.ids(inPasswd: dir + "/missing") == nil)
        try "entropy-tunnel:x:abc:997::/:/bin/sh\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ServiceUser.ids(inPasswd: path) == nil, "a uid that is not a number is no user")
    }
}
