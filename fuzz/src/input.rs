//! A cursor over fuzzer bytes: every read succeeds (zeros once exhausted),
//! so any byte string is a valid input.

/// Reads configuration values off the front of a fuzz input.
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Wraps `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// One byte, or 0 when exhausted.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }

    /// Eight bytes, big-endian.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| acc << 8 | u64::from(self.u8()))
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Reads up to 8 raw cut positions (the count is the low bits of one byte).
pub fn raw_cuts(input: &mut Input<'_>) -> Vec<u16> {
    let n = usize::from(input.u8() % 9);
    (0..n).map(|_| input.u16()).collect()
}

/// Cuts `payload` at the raw positions (taken modulo its length): the
/// chunks a peer's reads might deliver, in order, none empty.
pub fn chunks<'a>(payload: &'a [u8], raw: &[u16]) -> Vec<&'a [u8]> {
    let len = payload.len();
    let mut cuts: Vec<usize> = raw
        .iter()
        .map(|&c| {
            if len == 0 {
                0
            } else {
                usize::from(c) % (len + 1)
            }
        })
        .collect();
    cuts.push(0);
    cuts.push(len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| &payload[w[0]..w[1]]).collect()
}
