extension PickleWriter {
    static let batchSize = 1000

    mutating func memoHit(_ object: AnyObject) -> Bool {
        guard let index = memoByObject[ObjectIdentifier(object)] else { return false }
        memoGet(index)
        return true
    }

    // MARK: list, tuple, dict, set

    mutating func saveList(_ l: PyList) throws(PickleError) {
        if memoHit(l) { return }
        write(Opcode.emptyList.rawValue)
        memoizeObject(l)
        try batchAppendsExact(l.items, tokens: l.itemTokens)
    }

    /// CPython's `batch_list_exact`: one item is `APPEND`; otherwise batches of
    /// 1000 in `MARK … APPENDS`.
    mutating func batchAppendsExact(_ items: [Value], tokens: TokenTable) throws(PickleError) {
        if items.isEmpty { return }
        if items.count == 1 {
            try save(items[0], token: tokens[0])
            write(Opcode.append.rawValue)
            return
        }
        var total = 0
        repeat {
            write(Opcode.mark.rawValue)
            var inBatch = 0
            while total < items.count {
                try save(items[total], token: tokens[total])
                total += 1
                inBatch += 1
                if inBatch == Self.batchSize { break }
            }
            write(Opcode.appends.rawValue)
        } while total < items.count
    }

    /// `_batch_appends` over an iterator (list items of a reduced object):
    /// `MARK … APPENDS` for batches of 2 or more, `APPEND` for a lone item.
    mutating func batchAppends(_ items: [Value], tokens: TokenTable) throws(PickleError) {
        var start = 0
        while true {
            let n = min(Self.batchSize, items.count - start)
            if n > 1 {
                write(Opcode.mark.rawValue)
                for i in start..<(start + n) { try save(items[i], token: tokens[i]) }
                write(Opcode.appends.rawValue)
            } else if n == 1 {
                try save(items[start], token: tokens[start])
                write(Opcode.append.rawValue)
            }
            start += n
            if n < Self.batchSize { return }
        }
    }

    mutating func saveTuple(_ t: PyTuple) throws(PickleError) {
        if t.kind == .torchSize {
            if memoHit(t) { return }
            // torch.Size.__reduce__: (torch.Size, (tuple(self),))
            try saveReduce(callable: .global(PyGlobal(module: "torch", name: "Size")),
                           arguments: [.tuple(PyTuple(t.items))], argumentTokens: [:])
            memoizeObject(t)
            return
        }
        if t.items.isEmpty {
            write(Opcode.emptyTuple.rawValue)
            return
        }
        if memoHit(t) { return }
        let n = t.items.count
        if n <= 3 {
            for (i, item) in t.items.enumerated() { try save(item, token: t.itemTokens[i]) }
            if let index = memoByObject[ObjectIdentifier(t)] {
                // The tuple was reached while saving its items (a recursive tuple).
                write(Array(repeating: Opcode.pop.rawValue, count: n))
                memoGet(index)
                return
            }
            write([Opcode.tuple1, .tuple2, .tuple3][n - 1].rawValue)
        } else {
            write(Opcode.mark.rawValue)
            for (i, item) in t.items.enumerated() { try save(item, token: t.itemTokens[i]) }
            if let index = memoByObject[ObjectIdentifier(t)] {
                write(Opcode.popMark.rawValue)
                memoGet(index)
                return
            }
            write(Opcode.tuple.rawValue)
        }
        memoizeObject(t)
    }

    mutating func saveDict(_ d: PyDict) throws(PickleError) {
        if memoHit(d) { return }
        switch d.kind {
        case .dict:
            write(Opcode.emptyDict.rawValue)
            memoizeObject(d)
            try batchSetItemsExact(d)
        case .orderedDict:
            if let form = provenance.pairsForms[ObjectIdentifier(d)] {
                // Python 2.7's OrderedDict.__reduce__: (cls, ([[k, v], ...],), state)
                var pairs: [Value] = []
                pairs.reserveCapacity(d.count)
                for i in 0..<d.count {
                    let kv = [d.keys[i], d.values[i]]
                    var tokens = TokenTable()
                    tokens[0] = d.itemTokens[2 * i]
                    tokens[1] = d.itemTokens[2 * i + 1]
                    if form.pairsAreLists {
                        let pair = PyList(kv)
                        pair.itemTokens = tokens
                        pairs.append(.list(pair))
                    } else {
                        let pair = PyTuple(kv)
                        pair.itemTokens = tokens
                        pairs.append(.tuple(pair))
                    }
                }
                let items: Value = form.inList ? .list(PyList(pairs)) : .tuple(PyTuple(pairs))
                try saveReduce(callable: .global(PyGlobal(module: "collections", name: "OrderedDict")), arguments: [items],
                               argumentTokens: [:])
                memoizeObject(d)
                if let state = d.state {
                    try save(state)
                    write(Opcode.build.rawValue)
                }
                return
            }
            // OrderedDict.__reduce__: (cls, (), state, None, items)
            try saveReduce(callable: .global(PyGlobal(module: "collections", name: "OrderedDict")), arguments: [], argumentTokens: [:])
            memoizeObject(d)
            try batchSetItems(d)
            if let state = d.state {
                try save(state)
                write(Opcode.build.rawValue)
            }
        case .counter:
            // Counter.__reduce__: (cls, (dict(self),))
            let plain = PyDict()
            for (k, v) in d.items { try? plain.set(v, for: k) }
            plain.itemTokens = d.itemTokens
            try saveReduce(callable: .global(PyGlobal(module: "collections", name: "Counter")), arguments: [.dict(plain)], argumentTokens: [:])
            memoizeObject(d)
        case .defaultDict(let factory):
            // defaultdict.__reduce__: (cls, (factory,) or (), None, None, items)
            let args: [Value] = factory.isNone ? [] : [factory]
            try saveReduce(callable: .global(PyGlobal(module: "collections", name: "defaultdict")), arguments: args, argumentTokens: [:])
            memoizeObject(d)
            try batchSetItems(d)
        }
    }

    /// CPython's `batch_dict_exact`: one item is `SETITEM`; otherwise
    /// `MARK … SETITEMS` batches of 1000 while a batch comes out full (so a
    /// dict of exactly 1000 items ends with an empty batch).
    mutating func batchSetItemsExact(_ d: PyDict) throws(PickleError) {
        let n = d.count
        if n == 0 { return }
        if n == 1 {
            try save(d.keys[0], token: d.itemTokens[0])
            try save(d.values[0], token: d.itemTokens[1])
            write(Opcode.setItem.rawValue)
            return
        }
        var i = 0
        var inBatch = 0
        repeat {
            write(Opcode.mark.rawValue)
            inBatch = 0
            while i < n {
                try save(d.keys[i], token: d.itemTokens[2 * i])
                try save(d.values[i], token: d.itemTokens[2 * i + 1])
                i += 1
                inBatch += 1
                if inBatch == Self.batchSize { break }
            }
            write(Opcode.setItems.rawValue)
        } while inBatch == Self.batchSize
    }

    /// `_batch_setitems` over an iterator: `MARK … SETITEMS` for batches of 2
    /// or more, `SETITEM` for a lone item.
    mutating func batchSetItems(_ d: PyDict) throws(PickleError) {
        var start = 0
        while true {
            let n = min(Self.batchSize, d.count - start)
            if n > 1 {
                write(Opcode.mark.rawValue)
                for i in start..<(start + n) {
                    try save(d.keys[i], token: d.itemTokens[2 * i])
                    try save(d.values[i], token: d.itemTokens[2 * i + 1])
                }
                write(Opcode.setItems.rawValue)
            } else if n == 1 {
                try save(d.keys[start], token: d.itemTokens[2 * start])
                try save(d.values[start], token: d.itemTokens[2 * start + 1])
                write(Opcode.setItem.rawValue)
            }
            start += n
            if n < Self.batchSize { return }
        }
    }

    mutating func saveSet(_ s: PySet) throws(PickleError) {
        if memoHit(s) { return }
        if proto < 4 {
            // set.__reduce__ / frozenset: (cls, (list(self),))
            let items = PyList(s.items)
            items.itemTokens = s.itemTokens
            try saveReduce(callable: .global(PyGlobal(module: "builtins", name: s.isFrozen ? "frozenset" : "set")),
                           arguments: [.list(items)], argumentTokens: [:])
            memoizeObject(s)
            return
        }
        if s.isFrozen {
            write(Opcode.mark.rawValue)
            for (i, item) in s.items.enumerated() { try save(item, token: s.itemTokens[i]) }
            if let index = memoByObject[ObjectIdentifier(s)] {
                write(Opcode.popMark.rawValue)
                memoGet(index)
                return
            }
            write(Opcode.frozenSet.rawValue)
            memoizeObject(s)
            return
        }
        write(Opcode.emptySet.rawValue)
        memoizeObject(s)
        if s.items.isEmpty { return }
        var i = 0
        var inBatch = 0
        repeat {
            write(Opcode.mark.rawValue)
            inBatch = 0
            while i < s.items.count {
                try save(s.items[i], token: s.itemTokens[i])
                i += 1
                inBatch += 1
                if inBatch == Self.batchSize { break }
            }
            write(Opcode.addItems.rawValue)
        } while inBatch == Self.batchSize
    }

    // MARK: Reduce and objects

    /// `save_reduce`'s first half: the callable, the argument tuple, `REDUCE`.
    /// The caller memoizes the result and writes items and state.
    mutating func saveReduce(callable: Value, arguments: [Value], argumentTokens: TokenTable) throws(PickleError) {
        try save(callable)
        let args = PyTuple(arguments)
        args.itemTokens = argumentTokens
        try save(.tuple(args))
        write(Opcode.reduce.rawValue)
    }

    mutating func saveObject(_ o: PyObject) throws(PickleError) {
        if memoHit(o) { return }
        switch o.construction {
        case .newObject:
            try save(o.callable)
            let args = PyTuple(o.arguments)
            args.itemTokens = o.argumentTokens.itemTokens
            try save(.tuple(args))
            write(Opcode.newObj.rawValue)
        case .newObjectWithKeywords:
            guard proto >= 4, let kwargs = o.keywordArguments else {
                throw PickleError(.unsupported, "NEWOBJ_EX needs protocol 4 or later", offset: output.count, opcode: .newObjEx)
            }
            try save(o.callable)
            let args = PyTuple(o.arguments)
            args.itemTokens = o.argumentTokens.itemTokens
            try save(.tuple(args))
            try save(kwargs)
            write(Opcode.newObjEx.rawValue)
        case .reduce, .inst, .obj:
            try saveReduce(callable: o.callable, arguments: o.arguments, argumentTokens: o.argumentTokens.itemTokens)
        }
        memoizeObject(o)
        if !o.listItems.isEmpty { try batchAppends(o.listItems, tokens: o.listTokens.itemTokens) }
        if let d = o.dictItems { try batchSetItems(d) }
        if let state = o.state {
            try save(state)
            write(Opcode.build.rawValue)
        }
    }

    // MARK: numpy

    mutating func saveArray(_ a: NDArray) throws(PickleError) {
        if memoHit(a) { return }
        guard let origin = a.origin else {
            throw PickleError(.unsupported, "a numpy array built in Swift cannot be pickled yet", offset: output.count, opcode: nil)
        }
        try saveReduce(callable: origin.callable, arguments: origin.arguments, argumentTokens: origin.tokens)
        memoizeObject(a)
        if let state = a.buildState {
            try save(state)
            write(Opcode.build.rawValue)
        }
    }

    mutating func saveNumpyDType(_ d: NumpyDType) throws(PickleError) {
        if memoHit(d) { return }
        let origin = d.origin ?? (.global(PyGlobal(module: "numpy", name: "dtype")), [.string(d.typeString), .bool(false), .bool(true)], [:])
        try saveReduce(callable: origin.callable, arguments: origin.arguments, argumentTokens: origin.tokens)
        memoizeObject(d)
        if let state = d.state {
            try save(state)
            write(Opcode.build.rawValue)
        }
    }
}
