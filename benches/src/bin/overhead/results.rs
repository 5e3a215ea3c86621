//! Every figure of a run as one long table (cell, system, parameter,
//! metric, value, unit), written as CSV for the chart script and for
//! comparing runs, and looked up by the markdown summary.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::drive::Recorded;

/// One figure.
#[derive(Debug, Clone)]
pub struct Row {
    /// `unary`, `rate`, `stream`, `streams`, `memory`, `local`.
    pub cell: String,
    /// System label.
    pub system: String,
    /// Load parameter, e.g. `c=16`, `p99<=1ms`, `n=512`.
    pub param: String,
    /// Metric name, e.g. `p99`, `added_p99`, `cpu_per_req`.
    pub metric: String,
    /// The value.
    pub value: f64,
    /// Its unit (`us`, `req/s`, `MiB`, `streams`, `x`, `count`).
    pub unit: &'static str,
}

/// All figures and skip reasons of one run.
#[derive(Debug, Default)]
pub struct Results {
    rows: Vec<Row>,
    /// (system, reason) for every system that did not run.
    pub skipped: Vec<(String, String)>,
    /// Lines printed under the summary (errors seen, settings).
    pub notes: Vec<String>,
}

impl Results {
    /// Adds a figure.
    pub fn add(
        &mut self,
        cell: &str,
        system: &str,
        param: &str,
        metric: &str,
        value: f64,
        unit: &'static str,
    ) {
        self.rows.push(Row {
            cell: cell.into(),
            system: system.into(),
            param: param.into(),
            metric: metric.into(),
            value,
            unit,
        });
    }

    /// Adds a duration in microseconds.
    pub fn add_us(&mut self, cell: &str, system: &str, param: &str, metric: &str, d: Duration) {
        self.add(cell, system, param, metric, d.as_nanos() as f64 / 1e3, "us");
    }

    /// The failed calls of a run (a figure) and its first failure (a note).
    pub fn add_errors(&mut self, cell: &str, system: &str, param: &str, rec: &Recorded) {
        self.add(cell, system, param, "errors", rec.errors as f64, "count");
        if let Some(e) = &rec.first_error {
            self.notes.push(format!(
                "{cell} {param} {system}: {} errors, first: {e}",
                rec.errors
            ));
        }
    }

    /// A figure, if recorded.
    pub fn get(&self, cell: &str, system: &str, param: &str, metric: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| {
                r.cell == cell && r.system == system && r.param == param && r.metric == metric
            })
            .map(|r| r.value)
    }

    /// A figure formatted with `fmt`, or "—" when missing.
    pub fn show(
        &self,
        cell: &str,
        system: &str,
        param: &str,
        metric: &str,
        fmt: impl Fn(f64) -> String,
    ) -> String {
        self.get(cell, system, param, metric)
            .map_or_else(|| "—".into(), fmt)
    }

    /// Systems in the order they were first recorded.
    pub fn systems(&self, cell: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.rows.iter().filter(|r| r.cell == cell) {
            if !out.contains(&r.system) {
                out.push(r.system.clone());
            }
        }
        out
    }

    /// Writes the CSV (`run,cell,system,param,metric,value,unit`).
    pub fn write_csv(&self, path: &Path, run: &str) -> anyhow::Result<()> {
        let mut out = String::from("run,cell,system,param,metric,value,unit\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{run},{},{},{},{},{},{}",
                r.cell,
                r.system,
                r.param,
                r.metric,
                trim_float(r.value),
                r.unit
            );
        }
        for (system, reason) in &self.skipped {
            let reason: String = reason
                .chars()
                .map(|c| if c == ',' || c == '\n' { ';' } else { c })
                .collect();
            let _ = writeln!(out, "{run},skipped,{system},,reason,,{reason}");
        }
        std::fs::write(path, out)?;
        Ok(())
    }
}

fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Microseconds as `123 µs` / `1.23 ms`.
pub fn us(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.0} µs")
    }
}

/// A signed added figure in microseconds: `+123 µs`, `−4 µs`.
pub fn plus_us(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", us(v))
    } else {
        format!("−{}", us(-v))
    }
}
