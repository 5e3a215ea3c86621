//! NVIDIA GPU figures, when a GPU is present: `nvidia-smi` is looked up on
//! PATH once; without it the list stays empty (no GPU is not an error).
//! Sampled in the background so `Stats` never waits for a process.

use std::sync::Mutex;

/// One GPU's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuSample {
    pub index: u32,
    pub name: String,
    /// Utilisation, percent.
    pub utilization_percent: f64,
    /// Memory used, bytes.
    pub memory_used_bytes: u64,
    /// Memory total, bytes.
    pub memory_total_bytes: u64,
}

/// The latest samples.
#[derive(Default)]
pub struct GpuMonitor {
    latest: Mutex<Vec<GpuSample>>,
}

impl GpuMonitor {
    /// Latest samples (empty without a GPU).
    pub fn latest(&self) -> Vec<GpuSample> {
        self.latest.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Queries nvidia-smi once, if it exists.
    pub async fn sample(&self) {
        let Some(smi) = crate::exec_path::find_on_path("nvidia-smi") else {
            return;
        };
        let output = tokio::process::Command::new(smi)
            .args([
                "--query-gpu=index,name,utilization.gpu,memory.used,memory.total",
                "--format=csv,noheader,nounits",
            ])
            .kill_on_drop(true)
            .output()
            .await;
        let Ok(output) = output else { return };
        if !output.status.success() {
            return;
        }
        let samples = parse(&String::from_utf8_lossy(&output.stdout));
        if let Ok(mut latest) = self.latest.lock() {
            *latest = samples;
        }
    }
}

/// Parses `index, name, util %, used MiB, total MiB` lines.
fn parse(text: &str) -> Vec<GpuSample> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() != 5 {
                return None;
            }
            Some(GpuSample {
                index: f[0].parse().ok()?,
                name: f[1].to_string(),
                utilization_percent: f[2].parse().unwrap_or(0.0),
                memory_used_bytes: f[3].parse::<u64>().ok()? * 1024 * 1024,
                memory_total_bytes: f[4].parse::<u64>().ok()? * 1024 * 1024,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_nvidia_smi_csv() {
        let s = parse("0, NVIDIA A10G, 37, 1024, 23028\nnot a gpu line\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "NVIDIA A10G");
        assert_eq!(s[0].memory_used_bytes, 1024 * 1024 * 1024);
    }
}
