//! `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`: the longest
//! common subsequence of two string values, computed and walked back as
//! Redis 7 does (the same table, the same tie-breaks), so the string and
//! the `IDX` ranges are the ones redis-server answers.

use std::time::Instant;

use super::super::db::Db;
use super::super::protocol::MAX_BULK_LEN;
use super::super::reply::Reply;
use super::super::value::Value;
use super::{key, not_an_integer, syntax_error};

pub(super) fn lcs(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let a = db
        .get(&key(&args[1]), now)
        .map(|e| e.value.to_bytes())
        .unwrap_or_default();
    let b = db
        .get(&key(&args[2]), now)
        .map(|e| e.value.to_bytes())
        .unwrap_or_default();
    let (mut len_only, mut idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        if opt.eq_ignore_case(b"idx") {
            idx = true;
        } else if opt.eq_ignore_case(b"len") {
            len_only = true;
        } else if opt.eq_ignore_case(b"withmatchlen") {
            with_len = true;
        } else if opt.eq_ignore_case(b"minmatchlen") && i + 1 < args.len() {
            match args[i + 1].to_i64() {
                Some(n) => min_len = n.max(0),
                None => return not_an_integer(),
            }
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    if idx && len_only {
        return Reply::err("If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (a.len(), b.len());
    // Redis refuses a table bigger than proto-max-bulk-len before
    // allocating it; so does this.
    let cells = (alen as u128 + 1) * (blen as u128 + 1);
    if cells * 4 > MAX_BULK_LEN as u128 {
        return Reply::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let w = blen + 1;
    let mut t = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    if len_only {
        return Reply::Integer(i64::from(total));
    }
    let mut result = vec![0u8; total as usize];
    let mut matches = Vec::new();
    // The walk back, as Redis' lcsCommand: `arange_start == alen` means no
    // range is open.
    let (mut ia, mut jb, mut left) = (alen, blen, total as usize);
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while ia > 0 && jb > 0 {
        let mut emit = false;
        if a[ia - 1] == b[jb - 1] {
            result[left - 1] = a[ia - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (ia - 1, ia - 1, jb - 1, jb - 1);
            } else if a_start == ia && b_start == jb {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            left -= 1;
            ia -= 1;
            jb -= 1;
        } else {
            if t[(ia - 1) * w + jb] > t[ia * w + jb - 1] {
                ia -= 1;
            } else {
                jb -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (a_end - a_start + 1) as i64;
            if idx && (min_len == 0 || match_len >= min_len) {
                let pair = |s: usize, e: usize| {
                    Reply::Array(vec![Reply::Integer(s as i64), Reply::Integer(e as i64)])
                };
                let mut m = vec![pair(a_start, a_end), pair(b_start, b_end)];
                if with_len {
                    m.push(Reply::Integer(match_len));
                }
                matches.push(Reply::Array(m));
            }
            a_start = alen;
        }
    }
    if idx {
        Reply::Map(vec![
            (Reply::text("matches"), Reply::Array(matches)),
            (Reply::text("len"), Reply::Integer(i64::from(total))),
        ])
    } else {
        Reply::Bulk(Value::from(bytes::Bytes::from(result)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bulk, run};
    use super::*;

    #[test]
    fn lcs_answers_the_string_the_length_and_the_ranges_redis_gives() {
        let mut db = Db::new();
        let t = Instant::now();
        run(&mut db, t, "MSET key1 ohmytext key2 mynewtext");
        assert_eq!(run(&mut db, t, "LCS key1 key2"), bulk("mytext"));
        assert_eq!(run(&mut db, t, "LCS key1 key2 LEN"), Reply::Integer(6));
        let range = |a: i64, b: i64, c: i64, d: i64, n: Option<i64>| {
            let mut v = vec![
                Reply::Array(vec![Reply::Integer(a), Reply::Integer(b)]),
                Reply::Array(vec![Reply::Integer(c), Reply::Integer(d)]),
            ];
            v.extend(n.map(Reply::Integer));
            Reply::Array(v)
        };
        // The examples of Redis' LCS documentation.
        assert_eq!(
            run(&mut db, t, "LCS key1 key2 IDX"),
            Reply::Map(vec![
                (
                    Reply::text("matches"),
                    Reply::Array(vec![range(4, 7, 5, 8, None), range(2, 3, 0, 1, None)])
                ),
                (Reply::text("len"), Reply::Integer(6)),
            ])
        );
        assert_eq!(
            run(&mut db, t, "LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
            Reply::Map(vec![
                (
                    Reply::text("matches"),
                    Reply::Array(vec![range(4, 7, 5, 8, Some(4))])
                ),
                (Reply::text("len"), Reply::Integer(6)),
            ])
        );
        assert_eq!(
            run(&mut db, t, "LCS key1 key2 IDX LEN"),
            Reply::err("If you want both the length and indexes, please just use IDX.")
        );
        assert_eq!(run(&mut db, t, "LCS key1 nokey"), bulk(""));
        assert_eq!(run(&mut db, t, "LCS key1 key2 FOO"), syntax_error());
    }
}
