import Testing
import TorchPickle

/// Python's unbounded ints: values from CPython (`pickle.encode_long`, `str()`).
@Suite("Python integers")
struct PythonIntTests {
    // (str(x), pickle.encode_long(x).hex()) as CPython 3.11 printed them.
    static let cases: [(String, String)] = [
        ("0", ""),
        ("1", "01"),
        ("-1", "ff"),
        ("127", "7f"),
        ("128", "8000"),
        ("-128", "80"),
        ("-129", "7fff"),
        ("255", "ff00"),
        ("256", "0001"),
        ("-256", "00ff"),
        ("9223372036854775807", "ffffffffffffff7f"),
        ("-9223372036854775808", "0000000000000080"),
        ("9223372036854775808", "000000000000008000"),
        ("18446744073709551616", "000000000000000001"),
        ("1267650600228229401496703205376", "00000000000000000000000010"),
        ("-1267650600228229401496703205376", "000000000000000000000000f0"),
        ("-1267650600228229401496703205377", "ffffffffffffffffffffffffef"),
        ("10715086071862673209484250490600018105614048117055336074437503883703510511249361224931983788156958581275946729175531468251871452856923140435984577574698574803934567774824230985421074605062371141877954182153046474983581941267398767559165543946077062914571196477686542167660429831652624386837205668081721", "393000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"),
        ("-10715086071862673209484250490600018105614048117055336074437503883703510511249361224931983788156958581275946729175531468251871452856923140435984577574698574803934567774824230985421074605062371141877954182153046474983581941267398767559165543946077062914571196477686542167660429831652624386837205668069376", "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ff"),
    ]

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test("two's complement bytes decode to CPython's value and encode back", arguments: cases)
    func roundTrip(_ decimal: String, _ hex: String) throws {
        let value = PythonInt(twosComplement: Self.bytes(hex))
        #expect(value.description == decimal)
        #expect(value.twosComplementBytes == Self.bytes(hex))
        let parsed = try #require(PythonInt(decimal: Substring(decimal)))
        #expect(parsed == value)
    }

    @Test("values that fit in Int are ints")
    func canonical() {
        #expect(Value.integer(PythonInt(twosComplement: Self.bytes("ffffffffffffff7f"))).int == Int.max)
        if case .bigInt = Value.integer(PythonInt(twosComplement: Self.bytes("000000000000008000"))) {} else {
            Issue.record("2**63 is a big int")
        }
    }

    @Test("decimal text longer than CPython's limit is refused")
    func digitLimit() {
        #expect(PythonInt(decimal: Substring(String(repeating: "9", count: 4301))) == nil)
        #expect(PythonInt(decimal: Substring(String(repeating: "9", count: 4300))) != nil)
        #expect(PythonInt(decimal: "12a") == nil)
    }
}
