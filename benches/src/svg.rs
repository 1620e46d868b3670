//! The `--svg` bar chart: throughput and sender CPU per path.

use std::io;
use std::path::Path;

use plotters::prelude::*;

use crate::Row;

/// Draws the copy-table rows of `rows` as two horizontal bar charts side by
/// side (GB/s with the min-max range as a throughput, and CPU s/GiB) into an
/// SVG file at `path`.
///
/// # Errors
///
/// Any error from drawing or writing the file.
///
/// # Examples
///
/// ```
/// use weft_benches::{write_svg, Row, Sample};
/// let s = Sample { bytes: 1 << 30, secs: 0.5, cpu_secs: 0.3, syscalls: 1, copied: 0, encrypted: 0 };
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("chart.svg");
/// write_svg(&p, &[Row::from_samples("sendfile", &[s])]).unwrap();
/// assert!(std::fs::read_to_string(&p).unwrap().contains("<svg"));
/// ```
pub fn write_svg(path: &Path, rows: &[Row]) -> io::Result<()> {
    let rows: Vec<&Row> = rows.iter().filter(|r| r.frame.is_none()).collect();
    draw(path, &rows).map_err(|e| io::Error::other(e.to_string()))
}

fn draw(path: &Path, rows: &[&Row]) -> Result<(), Box<dyn std::error::Error>> {
    let n = rows.len().max(1);
    let height = 90 + 36 * u32::try_from(n).unwrap_or(u32::MAX / 64);
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let names: Vec<String> = rows.iter().map(|r| r.path.clone()).collect();

    for (area, throughput) in [(&left, true), (&right, false)] {
        let (title, color) = if throughput {
            ("Throughput, GB/s (median, min-max)", BLUE)
        } else {
            ("Sender CPU, s/GiB (user + sys)", RED)
        };
        let value = |r: &Row| if throughput { r.gbps } else { r.cpu_s_per_gib };
        let extent = |r: &Row| {
            if throughput {
                r.gbps_max.max(r.gbps)
            } else {
                r.cpu_s_per_gib
            }
        };
        let max = rows.iter().map(|r| extent(r)).fold(0.0, f64::max).max(1e-3) * 1.1;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(if throughput { 150 } else { 20 })
            .build_cartesian_2d(0f64..max, (0..n - 1).into_segmented())?;
        let label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if throughput => {
                names.get(n - 1 - *i).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label)
            .draw()?;
        // Row 0 at the top: segment n - 1.
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let i = n - 1 - i;
            let v = value(r);
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (v, SegmentValue::Exact(i + 1)),
                ],
                color.mix(0.7).filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            bar
        }))?;
        if throughput {
            chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
                let i = n - 1 - i;
                PathElement::new(
                    vec![
                        (r.gbps_min, SegmentValue::CenterOf(i)),
                        (r.gbps_max, SegmentValue::CenterOf(i)),
                    ],
                    BLACK.stroke_width(2),
                )
            }))?;
        }
    }
    root.present()?;
    Ok(())
}
