//! Weft's rows go through the real transport: every file path delivers the
//! file's bytes, and only the copying paths are counted as copies (TLS: encryption apart).
//!
//! One test in its own binary, because the copy counter is process-wide.

use weft_benches::{measure_weft, Input, WeftPath};

#[test]
fn every_weft_path_delivers_the_file_and_counts_its_copies() {
    let len = 2 * (1 << 20) + 777;
    let input = Input::create(len).unwrap();
    for path in WeftPath::ALL {
        // `verify`: the receiver hashes what it read and measure_weft
        // fails on any difference from the file.
        let s = measure_weft(path, &input, true).unwrap_or_else(|e| panic!("{}: {e}", path.name()));
        assert_eq!(s.bytes, len, "{}", path.name());
        assert!(s.syscalls >= 1, "{}: {s:?}", path.name());
        match path {
            WeftPath::Sendfile | WeftPath::Splice => assert_eq!(s.copied, 0, "{}", path.name()),
            WeftPath::MmapWrite | WeftPath::ReadWrite => {
                assert_eq!(s.copied, len, "{}", path.name())
            }
            // The file is read into memory to be encrypted (counted); the
            // encryption's own write is counted apart.
            WeftPath::Tls => assert_eq!((s.copied, s.encrypted), (len, len), "{}", path.name()),
            // In-memory buffers are encrypted where they are: no copy.
            WeftPath::TlsMemory => {
                assert_eq!((s.copied, s.encrypted), (0, len), "{}", path.name())
            }
        }
    }
}
