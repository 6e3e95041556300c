import Foundation
import Testing
import TorchCheckpoint

/// Values as Swift code writes and reads them: literals, Python's equality,
/// subscripts that do what Python's do, and a `None` that is not `Optional.none`.
@Suite("Values in Swift: literals, equality, subscripts")
struct ValueAPITests {
    @Test("literals build dicts, lists, strings and numbers, in the order written")
    func literals() {
        let state: Value = ["labels": ["cat", "dog"], "lr": 0.1, "step": 3, "flag": true, "none": .None]
        #expect(state.description == "{'labels': ['cat', 'dog'], 'lr': 0.1, 'step': 3, 'flag': True, 'none': None}")
        let keys: Value = [0: "a", 1: "b"]
        #expect(keys[0] == "a" && keys[1] == "b")
        let list: PyList = [1, 2.5, "x"]
        #expect(list.description == "[1, 2.5, 'x']")
        let dict: PyDict = ["a": 1]
        #expect(dict.description == "{'a': 1}")
    }

    @Test("== is Python's: numbers across bool, int and float, containers by content, dicts in any order, OrderedDicts in order")
    func equality() throws {
        #expect(Value.int(1) == .float(1.0) && Value.bool(true) == .int(1))
        #expect(Value.float(.nan) != .float(.nan))
        #expect(("a" as Value) != ["a"])
        let a: Value = ["x": [1, 2], "y": "z"], b: Value = ["y": "z", "x": [1.0, 2.0]]
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        let ordered = PyDict(kind: .orderedDict), reordered = PyDict(kind: .orderedDict)
        ordered["x"] = 1; ordered["y"] = 2
        reordered["y"] = 2; reordered["x"] = 1
        #expect(Value.dict(ordered) != .dict(reordered))
        #expect(Value.list(PyList([1])) != .tuple(PyTuple([1])))
        #expect(Value.bytes([1, 2]) == .byteArray([1, 2]))
        // Tensors compare by identity, as Python's default == of objects would (elements: CheckpointDiff).
        let t = try Tensor(scalars: [Float(1)], shape: [1]), u = try Tensor(scalars: [Float(1)], shape: [1])
        #expect(Value.tensor(t) == .tensor(t) && Value.tensor(t) != .tensor(u))
    }

    @Test("a dict that contains itself compares and hashes without recursing forever")
    func cycles() {
        let d = PyDict()
        d["self"] = .dict(d)
        #expect(Value.dict(d) == .dict(d))
        let e = PyDict()
        e["self"] = .dict(e)
        #expect(Value.dict(d) == .dict(e))
        _ = Value.dict(d).hashValue
        d["self"] = nil
        e["self"] = nil
    }

    @Test("an Int subscript finds an int key of a dict: PyTorch's optimizer state")
    func intKeys() throws {
        let checkpoint = try Fixtures.open("training_checkpoint.ckpt")
        let state = try #require(checkpoint[path: "optimizer_state_dict", "state", 0])
        #expect(state["exp_avg"]?.tensor != nil)
        #expect(checkpoint["optimizer_state_dict"]?["state"]?[0]?["step"] != nil)
        #expect(checkpoint["optimizer_state_dict"]?["param_groups"]?[0]?["lr"]?.double != nil)
        #expect(checkpoint["optimizer_state_dict"]?["param_groups"]?[-1] == checkpoint["optimizer_state_dict"]?["param_groups"]?[0])
    }

    @Test("setting nil removes a key, as del d[key]; setting a value replaces it in place")
    func removal() {
        let d: Value = ["a": 1, "b": 2, "c": 3]
        d["b"] = nil
        #expect(d.description == "{'a': 1, 'c': 3}")
        d["a"] = 10
        #expect(d.description == "{'a': 10, 'c': 3}")
        d[5] = "five"
        d[5] = nil
        #expect(d.dict?.count == 2)
        let l: Value = [1, 2, 3]
        l[-1] = 30
        #expect(l == [1, 2, 30])
    }

    @Test("None is spelled as Python spells it; the old .none still works, deprecated")
    func none() {
        let value: Value? = Value.None
        #expect(value != nil)
        #expect(value == .None)
        #expect(Value.None.isNone && Value.None.description == "None")
    }
}

@Suite("Values from Swift values")
struct ValueFromSwiftTests {
    @Test("strings, numbers, arrays and tensors become Python values, and lists of str come back")
    func conversions() throws {
        let labels = ["cat", "dog"]
        #expect(Value(labels).description == "['cat', 'dog']")
        #expect(Value(labels).strings == labels)
        #expect(Value([1, 2]).description == "[1, 2]" && Value([0.5]).description == "[0.5]")
        #expect(Value("x") == "x" && Value(3) == 3 && Value(2.5) == 2.5 && Value(true) == true)
        #expect(Value(["a": Value(1)]).description == "{'a': 1}")
        #expect(Value([1, 2]).strings == nil)
        let t = Tensor.zeros([1])
        #expect(Value(t).tensor === t)
    }
}
