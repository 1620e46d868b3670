//! A `CompositeBuf` operation sequence checked, after every operation,
//! against a `Vec<u8>` model: same length, same bytes, `Buf::chunk` never
//! empty while bytes remain, and no copy recorded by operations that are
//! documented not to copy.
//!
//! Shared by `fuzz/fuzz_targets/composite_ops.rs` and the proptest replay
//! in `buf/tests/fuzz_inputs.rs` (through `#[path]`).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::IoSlice;

use bytes::{Buf, Bytes};
use weft_buf::{measure_copies, CompositeBuf};

use crate::input::Input;

/// Operations per input, at most.
pub const MAX_OPS: usize = 96;

fn seg(input: &mut Input<'_>, shared: &Bytes) -> Bytes {
    let sel = input.u8();
    let n = usize::from(sel % 32);
    if sel & 0x80 != 0 && !shared.is_empty() {
        // A slice of a shared buffer: segments that alias one allocation.
        let start = usize::from(input.u8()) % shared.len();
        let end = (start + n).min(shared.len());
        shared.slice(start..end)
    } else {
        Bytes::copy_from_slice(input.bytes(n))
    }
}

fn contents(buf: &CompositeBuf) -> Vec<u8> {
    buf.segments()
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect()
}

fn hash_of(h: &impl Hash) -> u64 {
    let mut s = DefaultHasher::new();
    h.hash(&mut s);
    s.finish()
}

fn check_same(buf: &CompositeBuf, model: &[u8], what: &str) {
    assert_eq!(buf.len(), model.len(), "{what}: len");
    assert_eq!(buf.is_empty(), model.is_empty(), "{what}: is_empty");
    assert_eq!(buf.remaining(), model.len(), "{what}: remaining");
    assert_eq!(contents(buf), model, "{what}: bytes");
    assert_eq!(
        buf.segments().iter().map(Bytes::len).sum::<usize>(),
        model.len(),
        "{what}: segment lengths"
    );
    assert_eq!(
        buf.chunk().is_empty(),
        model.is_empty(),
        "{what}: chunk() empty with bytes left"
    );
    assert!(*buf == *model, "{what}: PartialEq<[u8]>");
}

fn naive_find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    if needle.is_empty() {
        return Some(from);
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Runs the operation sequence encoded by `data`.
pub fn ops(data: &[u8]) {
    let mut input = Input::new(data);
    let shared = Bytes::copy_from_slice(input.bytes(64));
    let mut buf = CompositeBuf::new();
    let mut model: Vec<u8> = Vec::new();
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        let a = usize::from(input.u16());
        let len = model.len();
        let at = if len == 0 { 0 } else { a % (len + 1) };
        let (what, copied) = measure_copies(|| match op % 26 {
            0 | 1 => {
                let s = seg(&mut input, &shared);
                model.extend_from_slice(&s);
                buf.push(s);
                "push"
            }
            2 => {
                let s = seg(&mut input, &shared);
                model.splice(0..0, s.iter().copied());
                buf.push_front(s);
                "push_front"
            }
            3 => {
                let mut other = CompositeBuf::new();
                for _ in 0..(a % 4) {
                    let s = seg(&mut input, &shared);
                    model.extend_from_slice(&s);
                    other.push(s);
                }
                buf.append(other);
                "append"
            }
            4 => {
                let head = buf.split_to(at);
                let want: Vec<u8> = model.drain(..at).collect();
                check_same(&head, &want, "split_to head");
                "split_to"
            }
            5 => {
                let tail = buf.split_off(at);
                let want = model.split_off(at);
                check_same(&tail, &want, "split_off tail");
                "split_off"
            }
            6 => {
                buf.truncate(a);
                model.truncate(a);
                "truncate"
            }
            7 => {
                buf.advance(at);
                model.drain(..at);
                "advance"
            }
            8 => {
                let b = usize::from(input.u16());
                let end = if len == 0 { 0 } else { b % (len + 1) };
                let (s, e) = (at.min(end), at.max(end));
                let slice = buf.slice(s..e);
                check_same(&slice, &model[s..e], "slice");
                let inclusive = buf.try_slice(s..=e);
                assert_eq!(inclusive.is_ok(), e < len, "try_slice ..= bounds");
                if let Ok(sl) = inclusive {
                    check_same(&sl, &model[s..=e], "slice ..=");
                }
                assert!(
                    buf.try_slice(..len + 1 + (a % 3)).is_err(),
                    "slice past the end"
                );
                assert!(buf.try_slice(e..s).is_err() || e == s, "reversed slice");
                "slice"
            }
            9 => {
                let needle = input.bytes(a % 5).to_vec();
                assert_eq!(
                    buf.find(&needle),
                    naive_find(&model, &needle, 0),
                    "find {needle:?}"
                );
                let from = usize::from(input.u8());
                assert_eq!(
                    buf.find_from(&needle, from),
                    naive_find(&model, &needle, from),
                    "find_from {needle:?} {from}"
                );
                assert_eq!(
                    buf.starts_with(&needle),
                    model.starts_with(&needle),
                    "starts_with"
                );
                "find"
            }
            10 => {
                let byte = input.u8();
                assert_eq!(
                    buf.find_byte(byte),
                    naive_find(&model, &[byte], 0),
                    "find_byte"
                );
                assert_eq!(
                    buf.find_byte_from(byte, at),
                    naive_find(&model, &[byte], at),
                    "find_byte_from"
                );
                "find_byte"
            }
            11 => {
                let nbytes = usize::from(input.u8() % 10);
                let got_be = buf.try_get_uint_at(a, nbytes);
                let got_le = buf.try_get_uint_le_at(a, nbytes);
                let fits =
                    (1..=8).contains(&nbytes) && a.checked_add(nbytes).is_some_and(|e| e <= len);
                assert_eq!(
                    got_be.is_ok(),
                    fits,
                    "try_get_uint_at({a}, {nbytes}) on {len}"
                );
                assert_eq!(
                    got_le.is_ok(),
                    fits,
                    "try_get_uint_le_at({a}, {nbytes}) on {len}"
                );
                if fits {
                    let raw = &model[a..a + nbytes];
                    let be = raw.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
                    let le = raw
                        .iter()
                        .rev()
                        .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
                    assert_eq!(got_be.unwrap(), be);
                    assert_eq!(got_le.unwrap(), le);
                }
                "uint_at"
            }
            12 => {
                let idx = if len == 0 { a % 3 } else { a % (len + 3) };
                let ok = |n: usize| idx + n <= len;
                assert_eq!(buf.try_get_u8_at(idx).ok(), ok(1).then(|| model[idx]));
                assert_eq!(
                    buf.try_get_u16_at(idx).ok(),
                    ok(2).then(|| u16::from_be_bytes(model[idx..idx + 2].try_into().unwrap()))
                );
                assert_eq!(
                    buf.try_get_u32_le_at(idx).ok(),
                    ok(4).then(|| u32::from_le_bytes(model[idx..idx + 4].try_into().unwrap()))
                );
                assert_eq!(
                    buf.try_get_i64_at(idx).ok(),
                    ok(8).then(|| i64::from_be_bytes(model[idx..idx + 8].try_into().unwrap()))
                );
                let mut dst = vec![0u8; usize::from(input.u8() % 24)];
                let r = buf.try_copy_out(idx, &mut dst);
                // Copying nothing succeeds at any index (nothing to read).
                assert_eq!(r.is_ok(), dst.is_empty() || ok(dst.len()), "try_copy_out");
                if r.is_ok() && !dst.is_empty() {
                    assert_eq!(dst, model[idx..idx + dst.len()]);
                }
                "get_at"
            }
            13 => {
                let segs = buf.segments().len();
                let (b, c) = measure_copies(|| buf.to_bytes());
                assert_eq!(&b[..], &model[..], "to_bytes");
                let want = if segs > 1 { len as u64 } else { 0 };
                assert_eq!(c, want, "to_bytes copies");
                "to_bytes"
            }
            14 => {
                let flat = buf.consolidate();
                assert_eq!(&flat[..], &model[..], "consolidate");
                assert!(buf.segments().len() <= 1, "consolidate left segments");
                "consolidate"
            }
            15 => {
                let b = usize::from(input.u16());
                let end = if len == 0 { 0 } else { b % (len + 1) };
                let (s, e) = (at.min(end), at.max(end));
                let x = input.u8();
                buf.modify(s..e, |m| m.iter_mut().for_each(|v| *v ^= x));
                model[s..e].iter_mut().for_each(|v| *v ^= x);
                "modify"
            }
            16 => {
                let mut slots = vec![IoSlice::new(&[]); a % 6];
                let n = buf.chunks_vectored(&mut slots);
                assert!(n <= slots.len());
                let got: Vec<u8> = slots[..n].iter().flat_map(|s| s.iter().copied()).collect();
                assert!(model.starts_with(&got), "chunks_vectored not a prefix");
                if !slots.is_empty() && !model.is_empty() {
                    assert!(
                        n > 0 && !slots[0].is_empty(),
                        "chunks_vectored gave nothing"
                    );
                }
                "chunks_vectored"
            }
            17 => {
                let b = buf.copy_to_bytes(at);
                let want: Vec<u8> = model.drain(..at).collect();
                assert_eq!(&b[..], &want[..], "copy_to_bytes");
                "copy_to_bytes"
            }
            18 => {
                if a % 8 == 0 {
                    buf.clear();
                    model.clear();
                }
                "clear"
            }
            19 => {
                let other: CompositeBuf = buf.segments().iter().cloned().collect();
                assert!(other == buf, "collected clone differs");
                let flat = Bytes::copy_from_slice(&model);
                assert!(buf == flat, "PartialEq<Bytes>");
                let rebuilt: CompositeBuf = model
                    .chunks(a % 7 + 1)
                    .map(Bytes::copy_from_slice)
                    .collect();
                assert!(rebuilt == buf, "resegmented differs");
                assert_eq!(
                    hash_of(&rebuilt),
                    hash_of(&buf),
                    "hash depends on segmentation"
                );
                "eq_hash"
            }
            20 => {
                let mut into = 0;
                for s in buf.clone().into_segments() {
                    assert!(!s.is_empty(), "empty segment");
                    into += s.len();
                }
                assert_eq!(into, len);
                "into_segments"
            }
            21 => {
                // Drain through the Buf interface as a reader would.
                let mut c = buf.clone();
                let mut got = Vec::with_capacity(len);
                let mut guard = 0;
                while c.has_remaining() {
                    let ch = c.chunk();
                    assert!(!ch.is_empty(), "empty chunk with bytes remaining");
                    let n = ch.len().min(a % 13 + 1);
                    got.extend_from_slice(&ch[..n]);
                    c.advance(n);
                    guard += 1;
                    assert!(guard <= len + 1, "Buf drain does not progress");
                }
                assert_eq!(got, model);
                "buf_drain"
            }
            22 => {
                let s = Bytes::copy_from_slice(input.bytes(a % 300));
                model.extend_from_slice(&s);
                buf.push(s);
                "push_big"
            }
            23 => {
                // Many tiny segments, so lookups go through the offset table.
                for _ in 0..(a % 48) {
                    let n = usize::from(input.u8() % 3) + 1;
                    let s = Bytes::copy_from_slice(input.bytes(n));
                    model.extend_from_slice(&s);
                    buf.push(s);
                }
                "push_many"
            }
            24 => {
                // A run of indexed reads in order from `at` (the hint's
                // sequential case), then on a slice of the buffer.
                for i in at..(at + 64).min(len) {
                    let want = model
                        .get(i..i + 4)
                        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
                    assert_eq!(buf.try_get_u32_at(i).ok(), want, "sweep get_u32_at({i})");
                }
                let end = (at + usize::from(input.u8())).min(len);
                let sl = buf.slice(at..end);
                let part = &model[at..end];
                for i in (0..part.len()).rev() {
                    assert_eq!(sl.get_u8_at(i), part[i], "slice get_u8_at({i})");
                }
                "sweep_at"
            }
            _ => {
                let v = format!("{buf:?}");
                assert!(!v.is_empty());
                "debug"
            }
        });
        let copy_free = !matches!(
            what,
            "to_bytes" | "consolidate" | "modify" | "copy_to_bytes"
        );
        if copy_free {
            assert_eq!(copied, 0, "{what} copied {copied} bytes");
        }
        check_same(&buf, &model, what);
    }
}
