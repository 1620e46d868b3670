//! Rows of the two tables, and their output: aligned text, JSON, SVG.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::Serialize;

/// Bytes in a GiB.
const GIB: f64 = (1u64 << 30) as f64;
/// Bytes in a MiB.
const MIB: f64 = (1u64 << 20) as f64;

/// What one measured run of one path saw.
///
/// # Examples
///
/// ```
/// use weft_benches::Sample;
/// let s = Sample { bytes: 1 << 30, secs: 0.5, cpu_secs: 0.25, syscalls: 1024, copied: 0, encrypted: 0 };
/// assert_eq!(s.gbps(), (1u64 << 30) as f64 / 0.5 / 1e9);
/// assert_eq!(s.cpu_s_per_gib(), 0.25);
/// assert_eq!(s.syscalls_per_mib(), 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Payload bytes the receiver got.
    pub bytes: u64,
    /// Wall time from the first send to the receiver's end of stream.
    pub secs: f64,
    /// User + system CPU time of the sending thread.
    pub cpu_secs: f64,
    /// System calls the sender made.
    pub syscalls: u64,
    /// Payload bytes that went through user space on the sender.
    pub copied: u64,
    /// Payload bytes the sender's encryption wrote (TLS rows; 0 otherwise):
    /// the work TLS costs, kept apart from `copied`.
    pub encrypted: u64,
}

impl Sample {
    /// Throughput in GB/s (10^9 bytes per second).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = weft_benches::Sample { bytes: 2_000_000_000, secs: 1.0, cpu_secs: 0.0, syscalls: 0, copied: 0, encrypted: 0 };
    /// assert_eq!(s.gbps(), 2.0);
    /// ```
    pub fn gbps(&self) -> f64 {
        ratio(self.bytes as f64, self.secs) / 1e9
    }

    /// Sender CPU seconds per GiB sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = weft_benches::Sample { bytes: 1 << 29, secs: 1.0, cpu_secs: 0.1, syscalls: 0, copied: 0, encrypted: 0 };
    /// assert_eq!(s.cpu_s_per_gib(), 0.2);
    /// ```
    pub fn cpu_s_per_gib(&self) -> f64 {
        ratio(self.cpu_secs, self.bytes as f64 / GIB)
    }

    /// System calls per MiB sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = weft_benches::Sample { bytes: 4 << 20, secs: 1.0, cpu_secs: 0.0, syscalls: 2, copied: 0, encrypted: 0 };
    /// assert_eq!(s.syscalls_per_mib(), 0.5);
    /// ```
    pub fn syscalls_per_mib(&self) -> f64 {
        ratio(self.syscalls as f64, self.bytes as f64 / MIB)
    }

    /// User-space bytes copied per byte sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = weft_benches::Sample { bytes: 10, secs: 1.0, cpu_secs: 0.0, syscalls: 0, copied: 10, encrypted: 0 };
    /// assert_eq!(s.copied_per_byte(), 1.0);
    /// ```
    pub fn copied_per_byte(&self) -> f64 {
        ratio(self.copied as f64, self.bytes as f64)
    }

    /// Bytes written by encryption per byte received (1.0 for TLS rows).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = weft_benches::Sample { bytes: 10, secs: 1.0, cpu_secs: 0.0, syscalls: 0, copied: 0, encrypted: 10 };
    /// assert_eq!(s.encrypted_per_byte(), 1.0);
    /// ```
    pub fn encrypted_per_byte(&self) -> f64 {
        if self.bytes == 0 {
            0.0
        } else {
            self.encrypted as f64 / self.bytes as f64
        }
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// Extra fields of a frame-table row.
///
/// # Examples
///
/// ```
/// let f = weft_benches::FrameInfo { pieces: 8, piece_bytes: 1024, method: "writev".into(), frames: 10, syscalls_per_frame: 1.0 };
/// assert_eq!(f.pieces * f.piece_bytes, 8192);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameInfo {
    /// Pieces per frame.
    pub pieces: usize,
    /// Bytes per piece.
    pub piece_bytes: usize,
    /// How the frame was sent (see [`crate::FrameMethod::name`]).
    pub method: String,
    /// Frames sent.
    pub frames: u64,
    /// System calls per frame.
    pub syscalls_per_frame: f64,
}

/// One row of either table, as printed and as written to JSON.
///
/// # Examples
///
/// ```
/// use weft_benches::{Row, Sample};
/// let s = |secs| Sample { bytes: 1 << 30, secs, cpu_secs: 0.5, syscalls: 1, copied: 0, encrypted: 0 };
/// let row = Row::from_samples("sendfile", &[s(1.0), s(0.5), s(2.0)]);
/// assert_eq!(row.gbps, s(1.0).gbps());
/// assert_eq!(row.gbps_min, s(2.0).gbps());
/// assert_eq!(row.runs, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Which table: `"copy"` or `"frames"`.
    pub table: String,
    /// The path's name (`"sendfile"`, `"weft FileRegion"`, ...).
    pub path: String,
    /// Median throughput over the runs, GB/s (10^9 bytes/s).
    pub gbps: f64,
    /// Slowest run, GB/s.
    pub gbps_min: f64,
    /// Fastest run, GB/s.
    pub gbps_max: f64,
    /// Median sender CPU (user + sys) seconds per GiB.
    pub cpu_s_per_gib: f64,
    /// Median system calls per MiB sent.
    pub syscalls_per_mib: f64,
    /// Median user-space bytes copied per byte sent.
    pub copied_per_byte: f64,
    /// Median bytes written by encryption per byte sent (TLS rows).
    pub encrypted_per_byte: f64,
    /// Runs measured.
    pub runs: usize,
    /// Bytes sent per run.
    pub bytes: u64,
    /// The article's CPU copies for this path, if it has a line for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_cpu_copies: Option<u32>,
    /// The article's user/kernel mode switches for this path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_mode_switches: Option<u32>,
    /// Frame-table fields.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub frame: Option<FrameInfo>,
}

impl Row {
    /// A copy-table row from the samples of its runs (medians, with the
    /// throughput range).
    ///
    /// # Examples
    ///
    /// ```
    /// let row = weft_benches::Row::from_samples("x", &[]);
    /// assert_eq!((row.gbps, row.runs), (0.0, 0));
    /// ```
    pub fn from_samples(path: &str, samples: &[Sample]) -> Row {
        let pick = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
        let gbps: Vec<f64> = samples.iter().map(Sample::gbps).collect();
        Row {
            table: "copy".into(),
            path: path.into(),
            gbps: median(gbps.clone()),
            gbps_min: if gbps.is_empty() {
                0.0
            } else {
                gbps.iter().copied().fold(f64::INFINITY, f64::min)
            },
            gbps_max: gbps.iter().copied().fold(0.0, f64::max),
            cpu_s_per_gib: pick(Sample::cpu_s_per_gib),
            syscalls_per_mib: pick(Sample::syscalls_per_mib),
            copied_per_byte: pick(Sample::copied_per_byte),
            encrypted_per_byte: pick(Sample::encrypted_per_byte),
            runs: samples.len(),
            bytes: samples.first().map_or(0, |s| s.bytes),
            article_cpu_copies: None,
            article_mode_switches: None,
            frame: None,
        }
    }
}

/// Median of `v` (mean of the middle two for an even count; 0 if empty).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Renders rows as aligned text tables (copy table, then frame table).
///
/// # Examples
///
/// ```
/// use weft_benches::{render_tables, Row};
/// let text = render_tables(&[Row::from_samples("sendfile", &[])]);
/// assert!(text.contains("sendfile"));
/// ```
pub fn render_tables(rows: &[Row]) -> String {
    let mut out = String::new();
    let copy: Vec<&Row> = rows.iter().filter(|r| r.frame.is_none()).collect();
    if !copy.is_empty() {
        let head = [
            "path",
            "GB/s median (min-max)",
            "CPU s/GiB",
            "syscalls/MiB",
            "copied/B",
            "encrypted/B",
            "article CPU copies",
            "article mode switches",
        ];
        let body: Vec<Vec<String>> = copy
            .iter()
            .map(|r| {
                vec![
                    r.path.clone(),
                    format!("{:.2} ({:.2}-{:.2})", r.gbps, r.gbps_min, r.gbps_max),
                    format!("{:.3}", r.cpu_s_per_gib),
                    format!("{:.3}", r.syscalls_per_mib),
                    format!("{:.2}", r.copied_per_byte),
                    format!("{:.2}", r.encrypted_per_byte),
                    opt(r.article_cpu_copies),
                    opt(r.article_mode_switches),
                ]
            })
            .collect();
        let bytes = copy.first().map_or(0, |r| r.bytes);
        let runs = copy.first().map_or(0, |r| r.runs);
        let _ = writeln!(
            out,
            "File -> loopback TCP, {} MiB per run, median of {runs} runs",
            bytes >> 20
        );
        out.push_str(&align(&head, &body));
    }
    let frames: Vec<&Row> = rows.iter().filter(|r| r.frame.is_some()).collect();
    if !frames.is_empty() {
        let head = [
            "pieces x size",
            "method",
            "GB/s",
            "syscalls/frame",
            "CPU s/GiB",
            "copied/B",
            "frames",
        ];
        let body: Vec<Vec<String>> = frames
            .iter()
            .filter_map(|r| {
                let f = r.frame.as_ref()?;
                Some(vec![
                    format!("{} x {}", f.pieces, size_label(f.piece_bytes)),
                    f.method.clone(),
                    format!("{:.3}", r.gbps),
                    format!("{:.2}", f.syscalls_per_frame),
                    format!("{:.3}", r.cpu_s_per_gib),
                    format!("{:.2}", r.copied_per_byte),
                    f.frames.to_string(),
                ])
            })
            .collect();
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("Frames of N pieces -> loopback TCP (TCP_NODELAY), one run per cell\n");
        out.push_str(&align(&head, &body));
    }
    out
}

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// `64` -> `"64B"`, `1024` -> `"1KiB"`, `16384` -> `"16KiB"`.
pub(crate) fn size_label(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{}MiB", n >> 20)
    } else if n >= 1024 && n % 1024 == 0 {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}B")
    }
}

fn align(head: &[&str], body: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in body {
        for (i, cell) in row.iter().enumerate() {
            if let Some(wi) = w.get_mut(i) {
                *wi = (*wi).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let width = w.get(i).copied().unwrap_or(0);
            if i == 0 {
                let _ = write!(s, "{c:<width$}");
            } else {
                let _ = write!(s, "  {c:>width$}");
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(head.iter().map(|h| (*h).to_string()).collect());
    out.push_str(&line(w.iter().map(|n| "-".repeat(*n)).collect()));
    for row in body {
        out.push_str(&line(row.clone()));
    }
    out
}

/// Writes rows as a JSON array to `path`.
///
/// # Errors
///
/// Any error creating or writing the file.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("out.json");
/// weft_benches::write_json(&p, &[weft_benches::Row::from_samples("splice", &[])]).unwrap();
/// let text = std::fs::read_to_string(&p).unwrap();
/// assert!(text.contains("\"path\": \"splice\""));
/// ```
pub fn write_json(path: &Path, rows: &[Row]) -> io::Result<()> {
    let text = serde_json::to_string_pretty(rows).map_err(io::Error::other)?;
    std::fs::write(path, text + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secs: f64, syscalls: u64) -> Sample {
        Sample {
            bytes: 1 << 30,
            secs,
            cpu_secs: secs / 2.0,
            syscalls,
            copied: 1 << 29,
            encrypted: 0,
        }
    }

    #[test]
    fn median_of_odd_count_is_the_middle_value() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn median_of_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn row_takes_medians_and_the_throughput_range() {
        let row = Row::from_samples("p", &[sample(1.0, 10), sample(4.0, 30), sample(2.0, 20)]);
        assert_eq!(row.gbps, sample(2.0, 0).gbps());
        assert_eq!(row.gbps_min, sample(4.0, 0).gbps());
        assert_eq!(row.gbps_max, sample(1.0, 0).gbps());
        assert_eq!(row.cpu_s_per_gib, 1.0);
        assert_eq!(row.syscalls_per_mib, 20.0 / 1024.0);
        assert_eq!(row.copied_per_byte, 0.5);
    }

    #[test]
    fn zero_bytes_give_zero_rates_not_nan() {
        let s = Sample {
            bytes: 0,
            secs: 0.0,
            cpu_secs: 0.0,
            syscalls: 3,
            copied: 0,
            encrypted: 0,
        };
        assert_eq!(
            (
                s.gbps(),
                s.cpu_s_per_gib(),
                s.syscalls_per_mib(),
                s.copied_per_byte()
            ),
            (0.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn size_labels_use_binary_units() {
        assert_eq!(size_label(64), "64B");
        assert_eq!(size_label(1024), "1KiB");
        assert_eq!(size_label(16 * 1024), "16KiB");
        assert_eq!(size_label(1 << 20), "1MiB");
    }

    #[test]
    fn table_columns_line_up() {
        let rows = [
            Row::from_samples("a", &[sample(1.0, 1)]),
            Row::from_samples("longer name", &[sample(1.0, 1)]),
        ];
        let text = render_tables(&rows);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        let width = lines[0].len();
        assert!(lines.iter().all(|l| l.len() == width), "{text}");
    }
}
