import Testing
@testable import RESP

@Suite struct KeyspaceNotificationTests {
    private func message(_ channel: String, _ payload: [UInt8]) -> PublishedMessage {
        PublishedMessage(pattern: Array("__key*".utf8), channel: Array(channel.utf8), payload: payload)
    }

    @Test func readsKeyEventChannels() {
        let key: [UInt8] = Array("user:".utf8) + [0x00, 0xFF]
        let notification = KeyspaceNotification(message("__keyevent@12__:hset", key))
        #expect(notification == KeyspaceNotification(database: 12, key: key, event: "hset"))
    }

    @Test func readsKeySpaceChannelsWhoseKeysContainTheSeparator() {
        let notification = KeyspaceNotification(message("__keyspace@0__:a:__:b", Array("expired".utf8)))
        #expect(notification == KeyspaceNotification(database: 0, key: Array("a:__:b".utf8), event: "expired"))
    }

    @Test(arguments: ["news", "__keyevent@x__:set", "__keyevent@-1__:set", "__keyevent@3:set", "__keyspace@__:k"])
    func ignoresOtherChannels(_ channel: String) {
        #expect(KeyspaceNotification(message(channel, [])) == nil)
    }

    @Test func readsPushedPatternMessagesOnly() {
        let push = RESPValue.array([.bulk(Array("pmessage".utf8)), .bulk(Array("__keyevent@0__:*".utf8)),
                                    .bulk(Array("__keyevent@0__:del".utf8)), .bulk(Array("k".utf8))])
        #expect(PublishedMessage(push)?.payload == Array("k".utf8))
        let confirmation = RESPValue.array([.bulk(Array("psubscribe".utf8)), .bulk(Array("__keyevent@0__:*".utf8)), .integer(1)])
        #expect(PublishedMessage(confirmation) == nil)
    }

    @Test func patternsNameTheDatabase() {
        #expect(KeyspaceChannel.keyevent.pattern(database: 3) == "__keyevent@3__:*")
        #expect(KeyspaceChannel.keyspace.pattern(database: 0) == "__keyspace@0__:*")
    }
}

@Suite struct KeyspaceEventFlagsTests {
    @Test(arguments: [("AKE", ""), ("KEA", ""), ("AE", ""), ("AK", ""), ("", "Eg$lshzxet"), ("Ex", "g$lshzet"), ("KA", ""),
                      ("Eg$lshzx", "et")])
    func namesWhatIsMissing(_ value: String, _ missing: String) {
        #expect(KeyspaceEventFlags(value).missing == missing)
    }

    @Test func prefersKeyEvents() {
        #expect(KeyspaceEventFlags("AKE").channel == .keyevent)
        #expect(KeyspaceEventFlags("AK").channel == .keyspace)
        #expect(KeyspaceEventFlags("A").channel == nil)
    }

    @Test func enablingKeepsWhatWasSet() {
        #expect(KeyspaceEventFlags("").enablingChanges.description == "Eg$lshzxet")
        #expect(KeyspaceEventFlags("Kxm").enablingChanges.description == "KEg$lshzxetm")
        #expect(KeyspaceEventFlags("AKE").enablingChanges.description == "KEg$lshzxetd")
        #expect(KeyspaceEventFlags("Ex").enablingChanges.missing.isEmpty)
    }
}
