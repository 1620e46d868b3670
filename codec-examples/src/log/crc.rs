//! CRC-32 (IEEE 802.3, the zlib/PNG/Ethernet polynomial) of the records,
//! computed by the [`crc32fast`] crate.
//!
//! This used to be a hand-written slice-by-8 table loop. `crc32fast` picks a
//! carry-less-multiply (PCLMULQDQ / PMULL) kernel at run time and falls back
//! to a table loop elsewhere; it computes the *same* checksum, so segment
//! files written before the switch read back unchanged (no format bump).
//! Measured on this project's machine (x86-64, one core, release build,
//! 16 MiB buffer × 200 passes, and 2,000,000 100-byte records):
//!
//! ```text
//!                        16 MiB buffer    100-byte records
//!  slice-by-8 (before)     0.82 GB/s      1.35 GB/s  74 ns/record
//!  crc32fast (CRC-32)     15.16 GB/s      4.22 GB/s  24 ns/record
//!  crc32c    (CRC-32C)    14.21 GB/s      3.81 GB/s  26 ns/record
//! ```
//!
//! CRC-32C (Castagnoli, what Kafka's record batches use) was as fast but
//! not faster, and would have changed every stored checksum, forcing a
//! segment-format version; CRC-32 keeps old segments readable.
//!
//! The type below stays so callers (and tests that check fetched records)
//! need not know which crate computes it.

/// A running CRC-32 over any number of pieces.
///
/// # Examples
///
/// ```
/// use weft_examples::log::crc::Crc32;
/// let mut crc = Crc32::new();
/// crc.update(b"1234");
/// crc.update(b"56789");
/// assert_eq!(crc.finish(), 0xCBF4_3926); // the standard check value
/// ```
#[derive(Debug, Clone)]
pub struct Crc32 {
    hasher: crc32fast::Hasher,
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

impl Crc32 {
    /// A CRC over no bytes yet.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::log::crc::Crc32::new().finish(), 0);
    /// ```
    pub fn new() -> Crc32 {
        Crc32 {
            hasher: crc32fast::Hasher::new(),
        }
    }

    /// Feeds `data`. O(len); several GB/s with the CPU's carry-less
    /// multiply (see the module docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut crc = weft_examples::log::crc::Crc32::new();
    /// crc.update(b"a");
    /// assert_eq!(crc.finish(), 0xE8B7_BE43);
    /// ```
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// The checksum of everything fed so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut crc = weft_examples::log::crc::Crc32::new();
    /// crc.update(b"The quick brown fox jumps over the lazy dog");
    /// assert_eq!(crc.finish(), 0x414F_A339);
    /// ```
    pub fn finish(&self) -> u32 {
        self.hasher.clone().finalize()
    }
}

/// The CRC-32 of one slice.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_examples::log::crc::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reflected IEEE polynomial: the definition the crate must match,
    /// so that segments written before it read back.
    const POLY: u32 = 0xEDB8_8320;

    fn bitwise(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn the_crate_agrees_with_the_bitwise_definition_at_every_length_and_split() {
        let data: Vec<u8> = (0..600u32)
            .map(|i| (i.wrapping_mul(131) ^ 0x5a) as u8)
            .collect();
        for len in 0..data.len() {
            let want = bitwise(&data[..len]);
            assert_eq!(crc32(&data[..len]), want, "len {len}");
            let mut c = Crc32::new();
            let (a, b) = data[..len].split_at(len / 3);
            c.update(a);
            c.update(b);
            assert_eq!(c.finish(), want, "split at {}", len / 3);
        }
    }
}
