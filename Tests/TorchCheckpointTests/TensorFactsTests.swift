import Foundation
import Testing
import TorchCheckpoint

/// What PyTorch says about each tensor beyond the listing
/// (fixtures/expectations.json, from tools/make_expectations.py): flags as
/// saved, device, conj/neg bits, quantization, storage sharing, values.
@Suite("Tensors decode as PyTorch decodes them")
struct TensorFactsTests {
    static let fixtures = Fixtures.checkpoints.filter { Fixtures.expectations[$0] != nil }

    @Test("dtype, shape, flags, device, layout and bits", arguments: fixtures)
    func facts(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let expected = try #require((Fixtures.expectations[name] as? [String: Any])?["tensors"] as? [[String: Any]])
        for e in expected {
            let path = try #require(e["path"] as? [Any])
            let t = try #require(checkpoint.tensor(at: path), "no tensor at \(path)")
            let at = "\(name) \(path)"
            #expect(t.dtype.name == e["dtype"] as? String, "\(at)")
            #expect(t.shape == e["shape"] as? [Int], "\(at)")
            #expect(t.requiresGrad == e["requires_grad"] as? Bool, "\(at)")
            #expect(t.isParameter == e["parameter"] as? Bool, "\(at)")
            #expect(t.layout.rawValue == e["layout"] as? String, "\(at)")
            #expect(t.device.description == e["device"] as? String, "\(at)")
            if let conj = e["conj"] as? Bool { #expect(t.isConjugated == conj, "\(at)") }
            if let neg = e["neg"] as? Bool { #expect(t.isNegated == neg, "\(at)") }
            let subclass = e["subclass"] as? String
            if subclass == "torch.Tensor" || subclass == "torch.nn.parameter.Parameter" {
                #expect(t.subclass == nil, "\(at)")
            } else {
                #expect(t.subclass?.qualifiedName == subclass, "\(at)")
            }
            if let nnz = e["nnz"] as? Int {
                switch t.sparse {
                case .coo(let indices, _, _)?: #expect(indices.shape.last == nnz, "\(at)")
                case .compressed(_, let plain, _)?: #expect(plain.shape.last == nnz, "\(at)")
                case nil: Issue.record("\(at): no sparse components")
                }
            }
        }
    }

    @Test("elements convert as tensor.to(float64) and to(int64) do", arguments: fixtures)
    func values(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let expected = try #require((Fixtures.expectations[name] as? [String: Any])?["tensors"] as? [[String: Any]])
        for e in expected {
            guard let values = e["values"] as? [Any], let path = e["path"] as? [Any],
                  let t = checkpoint.tensor(at: path) else { continue }
            let at = "\(name) \(path)"
            if t.dtype.isComplex {
                let ours = try t.complexScalars()
                let theirs = values.compactMap { $0 as? [String] }.map { (Double($0[0])!, Double($0[1])!) }
                #expect(ours.count == theirs.count, "\(at)")
                for (a, b) in zip(ours, theirs) {
                    #expect(same(a.real, b.0) && same(a.imag, b.1), "\(at): \(a) vs \(b)")
                }
            } else if t.dtype.isFloatingPoint {
                let ours: [Double] = try t.scalars()
                let theirs = values.compactMap { ($0 as? String).flatMap(Double.init) }
                #expect(ours.count == theirs.count, "\(at)")
                for (i, (a, b)) in zip(ours, theirs).enumerated() {
                    #expect(same(a, b), "\(at)[\(i)]: \(a) vs \(b)")
                }
            } else if t.dtype == .uint64 {
                let ours: [UInt64] = try t.scalars()
                #expect(ours.map(String.init) == values.compactMap { $0 as? String }, "\(at)")
            } else {
                let ours: [Int64] = try t.scalars()
                #expect(ours.map(String.init) == values.compactMap { $0 as? String }, "\(at)")
            }
        }
    }

    @Test("quantization parameters", arguments: ["quantized.pth"])
    func quantization(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let expected = try #require((Fixtures.expectations[name] as? [String: Any])?["tensors"] as? [[String: Any]])
        for e in expected {
            guard let q = e["quantization"] as? [String: Any], let path = e["path"] as? [Any] else { continue }
            let t = try #require(checkpoint.tensor(at: path))
            let quantization = try #require(t.quantization)
            #expect(quantization.qscheme == q["qscheme"] as? String)
            switch quantization {
            case .perTensorAffine(let scale, let zeroPoint):
                #expect(scale == Double(q["scale"] as? String ?? ""))
                #expect(zeroPoint == q["zero_point"] as? Int)
            case .perChannelAffine(let scales, let zeroPoints, let axis, _):
                #expect(axis == q["axis"] as? Int)
                #expect(try scales.scalars(as: Double.self) == (q["scales"] as? [String])?.compactMap(Double.init))
                #expect(try zeroPoints.scalars(as: Double.self) == (q["zero_points"] as? [String])?.compactMap(Double.init))
            }
        }
    }

    @Test("tensors that share a storage in PyTorch share one Storage here, read once", arguments: fixtures)
    func storageSharing(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let expected = try #require((Fixtures.expectations[name] as? [String: Any])?["tensors"] as? [[String: Any]])
        var groupToStorage: [Int: ObjectIdentifier] = [:]
        var storageToGroup: [ObjectIdentifier: Int] = [:]
        for e in expected {
            guard let group = e["storage_group"] as? Int, let path = e["path"] as? [Any],
                  let storage = checkpoint.tensor(at: path)?.storage else { continue }
            let id = ObjectIdentifier(storage)
            #expect(groupToStorage[group, default: id] == id, "\(name) \(path): PyTorch shares a storage we split")
            #expect(storageToGroup[id, default: group] == group, "\(name) \(path): we share a storage PyTorch splits")
            groupToStorage[group] = id
            storageToGroup[id] = group
        }
    }

    @Test("backward hooks as pickled: an empty OrderedDict (torch 1.0 and later), None, or the dict as given")
    func backwardHooks() throws {
        let checkpoint = try Fixtures.open("state_dict.pth")
        for (_, t) in checkpoint.tensors {
            let hooks = try #require(t.backwardHooks.dict)
            #expect(hooks.kind.pythonName == "OrderedDict")
            #expect(hooks.isEmpty)
        }
        let plain = Tensor(dtype: .float32, shape: [1], stride: [1], storage: nil)
        #expect(plain.backwardHooks.isNone)
        let given = PyDict(kind: .orderedDict)
        try given.set(.int(1), for: "hook")
        let hooked = Tensor(dtype: .float32, shape: [1], stride: [1], storage: nil, backwardHooks: .dict(given))
        #expect(hooked.backwardHooks.dict === given)
    }

    private func same(_ a: Double, _ b: Double) -> Bool {
        (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign)
    }
}
