//! `INCRBYFLOAT`'s arithmetic, as redis-server does it on x86-64: numbers
//! read with `strtold` into an x87 80-bit `long double` (a 64-bit
//! significand), added with round-half-even, and printed with `%.17Lf`
//! with the trailing zeros cut. Rust has no `long double`, so this module
//! computes it exactly with a small big-integer type: the answers are
//! Redis' digit for digit, noise included (`1000.1` reads back as
//! `1000.09999999999999998`).

use std::cmp::Ordering;

/// Longest decimal exponent (or digit count) accepted; beyond it `strtold`
/// overflows or underflows, which Redis reports as not a valid float.
const MAX_DECIMAL_EXPONENT: i64 = 5000;

/// Longest string read as a number, as Redis' `MAX_LONG_DOUBLE_CHARS`.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Largest binary exponent of a finite x87 extended value (of its top bit).
const MAX_BINARY_EXPONENT: i64 = 16383;

/// An x87 extended value: `(-1)^neg × mant × 2^exp`, `mant` with its top bit
/// set (or zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ext {
    neg: bool,
    mant: u64,
    exp: i64,
}

impl Ext {
    /// Zero, what a missing key counts as.
    pub(super) const ZERO: Ext = Ext {
        neg: false,
        mant: 0,
        exp: 0,
    };
}

/// What a string reads as with Redis' `getLongDoubleFromObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Parsed {
    Finite(Ext),
    Infinite,
}

/// An unsigned big integer, little-endian 32-bit limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(n: u64) -> Big {
        let mut b = Big(vec![n as u32, (n >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> i64 {
        match self.0.last() {
            None => 0,
            Some(top) => 32 * (self.0.len() as i64 - 1) + (32 - top.leading_zeros() as i64),
        }
    }

    fn bit(&self, i: i64) -> bool {
        let (limb, bit) = ((i / 32) as usize, i % 32);
        i >= 0 && self.0.get(limb).is_some_and(|l| (l >> bit) & 1 == 1)
    }

    /// Whether any bit below `i` is set.
    fn any_below(&self, i: i64) -> bool {
        (0..i.min(self.bits())).any(|b| self.bit(b))
    }

    fn mul_small(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for l in &mut self.0 {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    /// Divides by `d` in place; returns the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*l);
            *l = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    fn pow10(n: i64) -> Big {
        let mut b = Big::from_u64(1);
        for _ in 0..n {
            b.mul_small(10, 0);
        }
        b
    }

    fn shl(&self, n: i64) -> Big {
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            out.push((l << bits) | carry);
            carry = if bits == 0 { 0 } else { l >> (32 - bits) };
        }
        out.push(carry);
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, n: i64) -> Big {
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let src = self.0.get(limbs..).unwrap_or(&[]);
        let mut out = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            let hi = src.get(i + 1).copied().unwrap_or(0);
            out.push(if bits == 0 {
                l
            } else {
                (l >> bits) | (hi << (32 - bits))
            });
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self - other`, `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = self.0.clone();
        let mut borrow = 0i64;
        for (i, l) in out.iter_mut().enumerate() {
            let v = i64::from(*l) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            *l = v.rem_euclid(1 << 32) as u32;
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let v = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        let mut b = Big(out);
        b.trim();
        b
    }

    fn to_u64(&self) -> u64 {
        self.0
            .iter()
            .rev()
            .fold(0u64, |acc, &l| (acc << 32) | u64::from(l))
    }

    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// Rounds `n × 2^exp` (with `sticky` set when nonzero bits were already
/// dropped below it) to a 64-bit significand, half to even.
fn round(neg: bool, n: &Big, exp: i64, sticky: bool) -> Option<Ext> {
    if n.is_zero() {
        return Some(Ext {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let extra = n.bits() - 64;
    let (mut mant, mut exp) = if extra <= 0 {
        (n.shl(-extra).to_u64(), exp + extra)
    } else {
        let mut m = n.shr(extra).to_u64();
        let half = n.bit(extra - 1);
        let rest = sticky || n.any_below(extra - 1);
        if half && (rest || m & 1 == 1) {
            m = m.wrapping_add(1);
            if m == 0 {
                return finite(neg, 1 << 63, exp + extra + 1);
            }
        }
        (m, exp + extra)
    };
    if mant == 0 {
        mant = 1 << 63;
        exp += 1;
    }
    finite(neg, mant, exp)
}

fn finite(neg: bool, mant: u64, exp: i64) -> Option<Ext> {
    (exp + 63 <= MAX_BINARY_EXPONENT).then_some(Ext { neg, mant, exp })
}

/// Reads `s` as Redis' `getLongDoubleFromObject` does: no leading space,
/// the whole string consumed, no NaN, no overflow; decimal (with an
/// exponent), `0x` hexadecimal (with a `p` exponent), `inf`/`infinity`.
pub(super) fn parse(s: &[u8]) -> Option<Parsed> {
    // Redis' string2ld refuses a string of its buffer's size or more
    // (MAX_LONG_DOUBLE_CHARS), before looking at it.
    if s.len() >= MAX_LONG_DOUBLE_CHARS {
        return None;
    }
    let (neg, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(Parsed::Infinite);
    }
    let (radix, body) = match lower.strip_prefix(b"0x") {
        Some(rest) => (16u32, rest.to_vec()),
        None => (10, lower),
    };
    let exp_mark = if radix == 16 { b'p' } else { b'e' };
    let (mantissa, exponent) = match body.iter().position(|&b| b == exp_mark) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (&body[..], None),
    };
    let mut digits = Big::from_u64(0);
    let (mut seen, mut frac, mut dot) = (0i64, 0i64, false);
    for &c in mantissa {
        match c {
            b'.' if !dot => dot = true,
            _ => {
                let d = char::from(c).to_digit(radix)?;
                seen += 1;
                if seen > MAX_DECIMAL_EXPONENT {
                    return None;
                }
                digits.mul_small(radix, d);
                if dot {
                    frac += 1;
                }
            }
        }
    }
    if seen == 0 {
        return None;
    }
    let e = match exponent {
        None => 0,
        Some(e) => {
            let (eneg, ed) = match e.first() {
                Some(b'-') => (true, &e[1..]),
                Some(b'+') => (false, &e[1..]),
                _ => (false, e),
            };
            if ed.is_empty() || !ed.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = std::str::from_utf8(ed).ok()?.parse::<i64>().ok()?;
            if eneg {
                -v
            } else {
                v
            }
        }
    };
    if digits.is_zero() {
        return Some(Parsed::Finite(Ext {
            neg,
            mant: 0,
            exp: 0,
        }));
    }
    let ext = if radix == 16 {
        // Each hexadecimal fraction digit is 4 bits; the exponent is binary.
        let exp = e.checked_sub(4 * frac)?;
        if exp.abs() > 4 * MAX_BINARY_EXPONENT {
            return None;
        }
        round(neg, &digits, exp, false)?
    } else {
        let k = e.checked_sub(frac)?;
        if k.abs() > MAX_DECIMAL_EXPONENT {
            return None;
        }
        if k >= 0 {
            let mut n = digits;
            for _ in 0..k {
                n.mul_small(10, 0);
            }
            round(neg, &n, 0, false)?
        } else {
            divide(neg, &digits, &Big::pow10(-k))?
        }
    };
    // strtold's underflow (a nonzero number too small) is ERANGE: refused.
    if ext.mant != 0 && ext.exp + 63 < -16382 {
        return None;
    }
    Some(Parsed::Finite(ext))
}

/// `num / den` rounded to an [`Ext`], by binary long division of a
/// quotient of 65 to 67 bits.
fn divide(neg: bool, num: &Big, den: &Big) -> Option<Ext> {
    let s = 66 + den.bits() - num.bits();
    let (mut n, d) = if s >= 0 {
        (num.shl(s), den.clone())
    } else {
        (num.clone(), den.shl(-s))
    };
    let mut q = Big::from_u64(0);
    for i in (0..68).rev() {
        let shifted = d.shl(i);
        q = q.shl(1);
        if n.cmp(&shifted) != Ordering::Less {
            n = n.sub(&shifted);
            q = q.add(&Big::from_u64(1));
        }
    }
    round(neg, &q, -s, !n.is_zero())
}

/// `a + b`, rounded once, as x87 adds; `None` on overflow to infinity.
pub(super) fn add(a: Ext, b: Ext) -> Option<Ext> {
    if a.mant == 0 {
        return Some(b);
    }
    if b.mant == 0 {
        return Some(a);
    }
    // When one is far below the other's last bit, it cannot change the
    // rounded sum (the larger one is exactly representable).
    let (big, small) = if a.exp >= b.exp { (a, b) } else { (b, a) };
    let gap = big.exp - small.exp;
    if gap > 70 {
        return Some(big);
    }
    let x = Big::from_u64(big.mant).shl(gap);
    let y = Big::from_u64(small.mant);
    let (neg, n) = if big.neg == small.neg {
        (big.neg, x.add(&y))
    } else {
        match x.cmp(&y) {
            Ordering::Less => (small.neg, y.sub(&x)),
            _ => (big.neg, x.sub(&y)),
        }
    };
    if n.is_zero() {
        return Some(Ext {
            neg: false,
            mant: 0,
            exp: 0,
        });
    }
    round(neg, &n, small.exp, false)
}

/// `a × b`, schoolbook.
fn mul(a: &Big, b: &Big) -> Big {
    b.0.iter().enumerate().fold(Big(vec![]), |acc, (i, &limb)| {
        let mut part = a.clone();
        part.mul_small(limb, 0);
        acc.add(&part.shl(32 * i as i64))
    })
}

/// `v` as Redis prints it (`%.17Lf`, trailing zeros and a trailing `.`
/// removed, `-0` as `0`).
pub(super) fn format(v: Ext) -> String {
    // v × 10^17, rounded half to even to an integer: the printed digits.
    let scaled = mul(&Big::from_u64(v.mant), &Big::pow10(17));
    let x = if v.exp >= 0 {
        scaled.shl(v.exp)
    } else {
        let drop = -v.exp;
        let mut q = scaled.shr(drop);
        let half = scaled.bit(drop - 1);
        let rest = scaled.any_below(drop - 1);
        if half && (rest || q.bit(0)) {
            q = q.add(&Big::from_u64(1));
        }
        q
    };
    let digits = format!("{:0>18}", x.to_decimal());
    let (int, frac) = digits.split_at(digits.len() - 17);
    let frac = frac.trim_end_matches('0');
    let mut out = String::with_capacity(digits.len() + 2);
    if v.neg {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if out == "-0" {
        out = "0".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        match (parse(a.as_bytes())?, parse(b.as_bytes())?) {
            (Parsed::Finite(a), Parsed::Finite(b)) => add(a, b).map(format),
            _ => None,
        }
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        // Each expected text is what redis-server 7 on x86-64 answers.
        for (a, b, want) in [
            ("0", "1000.1", "1000.09999999999999998"),
            ("0", "12345.678", "12345.67799999999999994"),
            ("0", "0.1", "0.1"),
            ("0", "3.0e3", "3000"),
            ("0", "1e-20", "0"),
            ("0", "-0.0", "0"),
            ("0", "5.0e+2", "500"),
            ("0", "0x10", "16"),
            ("0", "10.5", "10.5"),
            ("0.1", "0.2", "0.3"),
            ("123456789.123", "0.001", "123456789.12399999999615829"),
            ("10.50", "0.1", "10.6"),
            ("5.0e3", "2.0e2", "5200"),
            ("-5", "3", "-2"),
        ] {
            assert_eq!(sum(a, b).as_deref(), Some(want), "{a} + {b}");
        }
    }

    #[test]
    fn what_strtold_refuses_is_refused() {
        for s in [
            " 1", "1.5abc", "", "-", "nan", "1e", "0x", "1e99999", "1e-99999", ".",
        ] {
            assert_eq!(parse(s.as_bytes()), None, "{s:?}");
        }
        assert_eq!(parse(b"inf"), Some(Parsed::Infinite));
        assert_eq!(parse(b"-Infinity"), Some(Parsed::Infinite));
    }

    #[test]
    fn overflow_to_infinity_is_reported() {
        let big = "1.7976931348623157e308";
        let Some(Parsed::Finite(v)) = parse(big.as_bytes()) else {
            panic!("a double's max is a finite long double");
        };
        // Redis' answer to INCRBYFLOAT of this onto itself, every digit.
        assert_eq!(
            add(v, v).map(format).as_deref(),
            Some(
                "359538626972463139991842093548208868096772893888658356970628841530353257046248\
                 792709403737216774171128857586838851041378617416726902272110715794556052955234\
                 146997955372576789671236326588091188869859074894581254961338834769297758245552\
                 436667197907705664206565009503223382416235440319971852753604933726679072768"
            )
        );
        let Some(Parsed::Finite(huge)) = parse(b"1e4932") else {
            panic!("1e4932 is finite");
        };
        assert_eq!(add(huge, huge), None);
    }
}
