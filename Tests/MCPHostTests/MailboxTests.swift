import Testing

@testable import MCPHost

@Suite("Mailbox")
struct MailboxTests {
    /// `next()` from a task cancelled at once: whatever is queued, or nil when nothing is. Whether
    /// the cancellation lands before or after the wait begins, the answer is the same.
    static func cancelledNext(_ mailbox: Mailbox<Int>) async -> Int? {
        let waiting = Task { await mailbox.next() }
        waiting.cancel()
        return await waiting.value
    }

    @Test func postedElementsComeOutInOrder() async {
        let mailbox = Mailbox<Int>(capacity: 8)
        mailbox.post(1)
        mailbox.post(2)
        mailbox.post(3)
        #expect(await mailbox.next() == 1)
        #expect(await mailbox.next() == 2)
        #expect(await mailbox.next() == 3)
        #expect(await Self.cancelledNext(mailbox) == nil)
    }

    @Test func nextWaitsForAPost() async {
        let mailbox = Mailbox<Int>(capacity: 8)
        async let received = mailbox.next()
        mailbox.post(7)
        #expect(await received == 7)
        // The element went to the waiter, not into the queue.
        #expect(await Self.cancelledNext(mailbox) == nil)
    }

    @Test func cancelledWaitLeavesTheMailboxUsable() async {
        let mailbox = Mailbox<Int>(capacity: 8)
        #expect(await Self.cancelledNext(mailbox) == nil)
        #expect(await Self.cancelledNext(mailbox) == nil)
        mailbox.post(5)
        #expect(await mailbox.next() == 5)
        async let received = mailbox.next()
        mailbox.post(6)
        #expect(await received == 6)
    }

    @Test func queuedElementsOutliveACancelledWait() async {
        let mailbox = Mailbox<Int>(capacity: 8)
        mailbox.post(9)
        #expect(await Self.cancelledNext(mailbox) == 9)
        #expect(await Self.cancelledNext(mailbox) == nil)
    }

    @Test func fullMailboxDropsTheOldest() async {
        let mailbox = Mailbox<Int>(capacity: 2)
        for element in 1...5 { mailbox.post(element) }
        #expect(await mailbox.next() == 4)
        #expect(await mailbox.next() == 5)
        #expect(await Self.cancelledNext(mailbox) == nil)
    }
}
