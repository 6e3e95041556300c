extension ZipArchive {
    /// Limits that protect a reader from malicious or corrupt archives.
    ///
    /// The defaults admit every real checkpoint; lower them when reading
    /// files from untrusted sources with tight memory.
    public struct Options: Sendable {
        /// The most central directory entries to accept, declared or found.
        ///
        /// Each entry costs memory when the archive is opened, so an archive
        /// that declares more is rejected before anything is allocated.
        public var maxEntryCount: Int = 1_000_000

        /// The largest size a compressed record may inflate to, in bytes.
        ///
        /// A guard against deflate bombs: inflation allocates exactly the
        /// size the central directory declares (never more, and never more
        /// than this), and fails if the data inflates to more or less.
        /// Stored records are not limited: they are read in place.
        public var maxInflatedRecordSize: UInt64 = 1 << 40

        /// The default limits.
        public init() {}
    }
}
