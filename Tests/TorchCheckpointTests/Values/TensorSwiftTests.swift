import Foundation
import Testing
import TorchCheckpoint

/// Tensors in and out of Swift: factories shaped like torch's, construction
/// from arrays and memory, views, `contiguous()`, casts, and `scalars(as:)`
/// that never changes a value silently.
@Suite("Tensors in Swift: factories, memory, views, casts")
struct TensorSwiftTests {
    @Test("zeros, ones, full and arange need no try and hold what torch's do")
    func factories() throws {
        let z = Tensor.zeros([2, 3])
        #expect(z.dtype == .float32 && z.shape == [2, 3] && z.stride == [3, 1])
        #expect(try z.scalars(as: Float.self) == [Float](repeating: 0, count: 6))
        #expect(try Tensor.ones([2], dtype: .int32).scalars(as: Int32.self) == [1, 1])
        #expect(try Tensor.full([3], 2.5, dtype: .float64).scalars(as: Double.self) == [2.5, 2.5, 2.5])
        #expect(Tensor.arange(5).dtype == .int64)
        #expect(try Tensor.arange(5).scalars(as: Int64.self) == [0, 1, 2, 3, 4])
        #expect(try Tensor.arange(0, 1, step: 0.25, dtype: .float32).scalars(as: Float.self) == [0, 0.25, 0.5, 0.75])
        #expect(Tensor.zeros([0, 4]).elementCount == 0)
        #expect(Tensor.ones([2], requiresGrad: true).requiresGrad)
        #expect(Tensor.zeros([3]).description == "tensor([0., 0., 0.])")
    }

    @Test("seeded random tensors are the same for the same seed and have the expected spread")
    func random() throws {
        let a: [Float] = try Tensor.randn([1000], seed: 7).scalars(), b: [Float] = try Tensor.randn([1000], seed: 7).scalars()
        #expect(a == b)
        #expect(try Tensor.randn([1000], seed: 8).scalars(as: Float.self) != a)
        let mean = a.reduce(0, +) / 1000
        let sd = (a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1000).squareRoot()
        #expect(abs(mean) < 0.15 && abs(sd - 1) < 0.15)
        let u: [Double] = try Tensor.rand([500], seed: 1, dtype: .float64).scalars()
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test("from nested arrays, a scalar and Float16 values; ragged rows are refused")
    func arrays() throws {
        let m = try Tensor([[1, 2, 3], [4, 5, 6]] as [[Float]])
        #expect(m.shape == [2, 3] && m.description == "tensor([[1., 2., 3.],\n        [4., 5., 6.]])")
        #expect(try Tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]] as [[[Int64]]]).shape == [2, 2, 2])
        #expect(try Tensor(Float(3.5)).shape == [])
        #expect(throws: TensorError.self) { _ = try Tensor([[1, 2], [3]] as [[Float]]) }
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        let h = try Tensor([1.5, -2] as [Float16])
        #expect(h.dtype == .float16)
        #expect(try h.scalars(as: Float16.self) == [1.5, -2])
        #expect(try Tensor([0.1, 3] as [Float]).scalars(as: Float16.self) == [Float16(Float(0.1)), 3])
        #endif
    }

    final class Owned {
        let buffer: UnsafeMutableRawBufferPointer
        init(_ values: [Float]) {
            buffer = .allocate(byteCount: values.count * 4, alignment: 64)
            values.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
        deinit { buffer.deallocate() }
    }

    @Test("over memory the caller owns, without a copy; from copied bytes and Data")
    func memory() throws {
        let owned = Owned([1, 2, 3, 4])
        let t = try Tensor(borrowing: UnsafeRawBufferPointer(owned.buffer), owner: owned, dtype: .float32, shape: [2, 2])
        try t.storageBytes().withUnsafeBytes { #expect($0.baseAddress == UnsafeRawPointer(owned.buffer.baseAddress)) }
        #expect(try t.scalars(as: Float.self) == [1, 2, 3, 4])
        #expect(throws: TensorError.self) {
            _ = try Tensor(borrowing: UnsafeRawBufferPointer(owned.buffer), owner: owned, dtype: .float32, shape: [3])
        }
        let data = Data([0, 0, 128, 63, 0, 0, 0, 64])   // 1.0, 2.0 little-endian
        let d = try Tensor(data: data, dtype: .float32, shape: [2])
        #expect(try d.scalars(as: Float.self) == [1, 2])
        let copied = try data.withUnsafeBytes { try Tensor(copying: $0, dtype: .float32, shape: [2]) }
        #expect(try copied.scalars(as: Float.self) == [1, 2])
        #expect(try d.data(byteOrder: .little) == data)
    }

    @Test("views as PyTorch makes them: the fixture's t and its reshape and permute, same geometry and elements")
    func views() throws {
        let checkpoint = try Fixtures.open("views.pth")
        let base = try #require(checkpoint["base"]?.tensor), t = try #require(checkpoint["t"]?.tensor)
        let mine = try base.transposed(0, 1)
        #expect(mine.shape == t.shape && mine.stride == t.stride && mine.storage === base.storage)
        #expect(try Listing.sha256(of: mine) == Listing.sha256(of: t))
        #expect(try base.transposed(-1, -2).stride == t.stride)
        let flat = try base.reshaped([-1])
        #expect(flat.shape == [24] && flat.storage === base.storage)
        #expect(try base.reshaped([2, -1, 3]).shape == [2, 4, 3])
        #expect(throws: TensorError.self) { _ = try base.reshaped([5, -1]) }
        let copy = try t.contiguous()
        #expect(copy.isContiguous && copy.storage !== base.storage)
        #expect(try Listing.sha256(of: copy) == Listing.sha256(of: t))
        #expect(try t.reshaped([24]).storage !== base.storage)   // not contiguous: a copy, as torch.reshape makes
        let cube = try Tensor.arange(24, dtype: .float32).reshaped([2, 3, 4])
        let p = try cube.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3] && p.stride == [1, 12, 4])
        #expect(throws: TensorError.self) { _ = try cube.permuted([0, 0, 1]) }
        #expect(throws: TensorError.self) { _ = try cube.transposed(0, 3) }
    }

    @Test("scalars(as:) into an integer type never changes a value: 1.5 throws; to() truncates as torch does")
    func exactScalars() throws {
        let t = try Tensor([1.5, 2] as [Float])
        #expect(throws: TensorError.self) { _ = try t.scalars(as: Int.self) }
        #expect(try Tensor([1, -2] as [Float]).scalars(as: Int.self) == [1, -2])
        #expect(try t.to(.int64).scalars(as: Int64.self) == [1, 2])
        #expect(try Tensor([-1.7] as [Double]).long().scalars(as: Int64.self) == [-1])
        #expect(throws: TensorError.self) { _ = try Tensor([Float.nan]).scalars(as: Int32.self) }
        #expect(throws: TensorError.self) { _ = try Tensor([300] as [Int64]).scalars(as: Int8.self) }
    }

    @Test("casts are named as torch names them")
    func casts() throws {
        let t = try Tensor([1.5, -2.25] as [Float])
        #expect(try t.half().dtype == .float16 && t.double().dtype == .float64 && t.bfloat16().dtype == .bfloat16)
        #expect(try t.half().scalars(as: Float.self) == [1.5, -2.25])
        #expect(try t.bool().scalars(as: Bool.self) == [true, true])
        #expect(try t.int().dtype == .int32 && t.long().dtype == .int64 && t.float() === t)
        #expect(try t.to(.float64).description == "tensor([ 1.5000, -2.2500], dtype=torch.float64)")
    }
}
