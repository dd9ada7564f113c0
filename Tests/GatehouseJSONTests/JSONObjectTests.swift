import GatehouseJSON
import Testing

@Suite("JSONObject")
struct JSONObjectTests {
    private func abc() -> JSONObject {
        JSONObject(["a": JSONValue(1), "b": JSONValue(2), "c": JSONValue(3)])
    }

    @Test func readsTheMemberWithTheKey() {
        let object = abc()
        #expect(object["b"] == .number("2"))
        #expect(object["missing"] == nil)
        #expect(object.keys == ["a", "b", "c"])
        #expect(!object.isEmpty)
        #expect(JSONObject().isEmpty)
    }

    @Test func settingAnExistingKeyReplacesItInPlace() {
        var object = abc()
        object["b"] = .string("x")
        #expect(object.keys == ["a", "b", "c"])
        #expect(object["b"] == .string("x"))
        #expect(JSONValue.object(object).serializedString == #"{"a":1,"b":"x","c":3}"#)
    }

    @Test func settingANewKeyAppendsIt() {
        var object = abc()
        object["d"] = .bool(true)
        #expect(object.keys == ["a", "b", "c", "d"])
        #expect(JSONValue.object(object).serializedString == #"{"a":1,"b":2,"c":3,"d":true}"#)
    }

    @Test func settingNilRemovesTheKey() {
        var object = abc()
        object["a"] = nil
        #expect(object.keys == ["b", "c"])
        object["missing"] = nil
        #expect(object.keys == ["b", "c"])
        #expect(JSONValue.object(object).serializedString == #"{"b":2,"c":3}"#)
    }

    @Test func settingNullStoresNullRatherThanRemoving() {
        var object = abc()
        object["b"] = .null
        #expect(object.keys == ["a", "b", "c"])
        #expect(object["b"] == .null)
    }

    @Test func removeValueReturnsTheRemovedValue() {
        var object = abc()
        #expect(object.removeValue(forKey: "c") == .number("3"))
        #expect(object.removeValue(forKey: "c") == nil)
        #expect(object.keys == ["a", "b"])
    }

    @Test func duplicateKeysAreReadAndWrittenAtTheFirstOccurrence() throws {
        var object = try #require(try JSONValue.parse(#"{"k":1,"x":0,"k":2}"#).objectValue)
        #expect(object["k"] == .number("1"))
        object["k"] = .number("9")
        #expect(JSONValue.object(object).serializedString == #"{"k":9,"x":0,"k":2}"#)
        object["k"] = nil
        #expect(object["k"] == .number("2"))
        #expect(object.keys == ["x", "k"])
    }

    @Test func membersInitialiserKeepsOrder() {
        let object = JSONObject(members: [
            .init(key: "second", value: .null),
            .init(key: "first", value: .bool(false)),
        ])
        #expect(object.keys == ["second", "first"])
        #expect(object.members[1] == JSONObject.Member(key: "first", value: .bool(false)))
    }
}

@Suite("JSONValue accessors")
struct JSONValueAccessorTests {
    @Test func integerInitialiserWritesTheDecimalLiteral() {
        #expect(JSONValue(0) == .number("0"))
        #expect(JSONValue(-17) == .number("-17"))
    }

    @Test(arguments: [
        ("42", 42 as Int?),
        ("-0", 0),
        ("-7", -7),
        ("1.50", nil),
        ("1e3", nil),
        ("99999999999999999999", nil),
    ])
    func intValue(literal: String, expected: Int?) {
        #expect(JSONValue.number(literal).intValue == expected)
    }

    @Test func doubleValueReadsFractionsAndExponents() {
        #expect(JSONValue.number("1.50").doubleValue == 1.5)
        #expect(JSONValue.number("2e-3").doubleValue == 0.002)
        #expect(JSONValue.string("1").doubleValue == nil)
    }

    @Test func typedAccessorsReturnNilForOtherKinds() {
        let string = JSONValue.string("s")
        #expect(string.stringValue == "s")
        #expect(string.boolValue == nil)
        #expect(string.objectValue == nil)
        #expect(string.arrayValue == nil)
        #expect(string.intValue == nil)
        #expect(string["key"] == nil)
        #expect(JSONValue.bool(false).boolValue == false)
        #expect(JSONValue.array([.null]).arrayValue == [.null])
        #expect(JSONValue.null.isNull)
        #expect(!JSONValue.number("0").isNull)
    }

    @Test func subscriptReadsObjectMembers() throws {
        let value = try JSONValue.parse(#"{"a":{"b":[true]}}"#)
        #expect(value["a"]?["b"] == .array([.bool(true)]))
        #expect(value["a"]?["missing"] == nil)
        #expect(value["a"]?["b"]?["c"] == nil)
    }
}
