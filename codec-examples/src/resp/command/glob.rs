//! Redis' glob patterns (`stringmatchlen`), as `KEYS`, `SCAN MATCH` and
//! `CONFIG GET` use them: `*`, `?`, `[abc]`, `[^a-z]`, and `\` to escape.

/// Whether `text` matches `pattern`, ignoring ASCII case when `nocase`.
///
/// A port of Redis' `stringmatchlen`, including its quirks (an unclosed
/// `[` class ends at the end of the pattern; a reversed range `[z-a]` is
/// the range `a-z`) and its cut-off that keeps `*a*a*a*b`-style patterns
/// from taking exponential time.
pub(super) fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, text, nocase, &mut skip_longer)
}

fn match_from(pattern: &[u8], text: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
    // A pattern byte past the end reads as NUL, as in the C original.
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let (mut p, mut s) = (0usize, 0usize);
    while p < pattern.len() && s < text.len() {
        match at(p) {
            b'*' => {
                while p + 1 < pattern.len() && at(p + 1) == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < text.len() {
                    if match_from(&pattern[p + 1..], &text[s..], nocase, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let c = text[s];
                let mut hit = false;
                loop {
                    let left = pattern.len().saturating_sub(p);
                    if at(p) == b'\\' && left >= 2 {
                        p += 1;
                        if at(p) == c {
                            hit = true;
                        }
                    } else if at(p) == b']' {
                        break;
                    } else if left == 0 {
                        p -= 1;
                        break;
                    } else if left >= 3 && at(p + 1) == b'-' {
                        let (mut lo, mut hi) = (at(p), at(p + 2));
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo, hi, c) = (fold(lo), fold(hi), fold(c));
                        p += 2;
                        if c >= lo && c <= hi {
                            hit = true;
                        }
                    } else if fold(at(p)) == fold(c) {
                        hit = true;
                    }
                    p += 1;
                }
                if hit == not {
                    return false;
                }
                s += 1;
            }
            b => {
                let b = if b == b'\\' && pattern.len() - p >= 2 {
                    p += 1;
                    at(p)
                } else {
                    b
                };
                if fold(b) != fold(text[s]) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == text.len() {
            while at(p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == text.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_as_in_redis() {
        for (pattern, text, want) in [
            ("*", "", false), // as in Redis: only the shortcut for a lone `*` matches ""
            ("*", "abc", true),
            ("a*", "abc", true),
            ("a*c", "abc", true),
            ("a*d", "abc", false),
            ("?b?", "abc", true),
            ("??", "abc", false),
            ("[ab]bc", "abc", true),
            ("[^a]bc", "abc", false),
            ("[a-c]*", "bcd", true),
            ("[c-a]*", "bcd", true),
            ("k\\*", "k*", true),
            ("k\\*", "kx", false),
            ("[\\]]", "]", true),
            ("k[", "k", false),
            ("k[ab", "ka", true),
            ("", "", true),
            ("", "a", false),
            ("a**", "a", true),
        ] {
            assert_eq!(
                matches(pattern.as_bytes(), text.as_bytes(), false),
                want,
                "{pattern} ~ {text}"
            );
        }
        assert!(!matches(b"SAVE", b"save", false));
        assert!(matches(b"SAVE", b"save", true));
        assert!(matches(b"[A-C]x", b"bx", true));
    }

    #[test]
    fn many_stars_do_not_take_exponential_time() {
        let text = vec![b'a'; 64];
        let pattern = b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!matches(pattern, &text, false));
    }
}
